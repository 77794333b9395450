"""site_glue: the workload this collection exists for - one GlueJobOperator task (the amazon provider) that runs the
account's Glue job site-probe and waits for it, with the default connection aws_default and no keys anywhere: boto3
on the worker takes the instance role's credentials from the instance metadata (IMDSv2) and reaches Glue by its
regional name (glue.cn-north-1.amazonaws.com.cn). The operator reads the job (glue:GetJob), starts a run and polls it.
"""
from datetime import datetime

from airflow import DAG

try:  # amazon provider 2.1+ (Airflow 3.x)
    from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
except ImportError:  # amazon provider 1.3.0 (Airflow 2.0.2)
    from airflow.providers.amazon.aws.operators.glue import AwsGlueJobOperator as GlueJobOperator

with DAG(
    dag_id="site_glue",
    start_date=datetime(2021, 1, 1),
    schedule_interval=None,
    catchup=False,
    is_paused_upon_creation=False,
) as dag:
    GlueJobOperator(task_id="glue_job", job_name="site-probe", retries=0)
