"""ha_probe: six tasks that report which worker ran them; molecule/ha (Airflow 2.0.2) and molecule/ha3 (3.3.2) trigger
it through the REST API."""
import socket
import time
from datetime import datetime

try:  # Airflow 3: the task SDK and the standard provider
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG
    NO_SCHEDULE = {"schedule": None}
except ImportError:  # Airflow 2.0
    from airflow import DAG
    from airflow.operators.python import PythonOperator
    NO_SCHEDULE = {"schedule_interval": None}


def where_am_i():
    time.sleep(2)
    return socket.getfqdn()


with DAG(
    dag_id="ha_probe",
    start_date=datetime(2021, 1, 1),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=True,
    **NO_SCHEDULE,
) as dag:
    for i in range(6):
        PythonOperator(task_id="probe_%d" % i, python_callable=where_am_i)
