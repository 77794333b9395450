"""ha_glue: the Glue pattern on Airflow 3 - one GlueJobOperator task (the Amazon provider) that creates the Glue job
when it is missing, starts a run and polls it to the end, from a Celery worker. molecule/ha3 runs it against moto
(the connection aws_moto names moto's endpoint); on AWS the same DAG would use the hosts' instance profile."""
from datetime import datetime

from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.sdk import DAG

with DAG(
    dag_id="ha_glue",
    start_date=datetime(2021, 1, 1),
    schedule=None,
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=True,
) as dag:
    GlueJobOperator(
        task_id="glue_job",
        aws_conn_id="aws_moto",
        job_name="ha-airflow-probe",
        script_location="s3://ha-airflow-glue-scripts/probe.py",
        iam_role_name="ha-airflow-glue",
        create_job_kwargs={"GlueVersion": "4.0", "WorkerType": "G.1X", "NumberOfWorkers": 2},
        job_poll_interval=2,
        wait_for_completion=True,
    )
