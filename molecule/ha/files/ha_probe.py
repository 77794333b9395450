"""ha_probe: six tasks that report which worker ran them; molecule/ha/verify.yml triggers it through the REST API."""
import socket
import time
from datetime import datetime

from airflow import DAG
from airflow.operators.python import PythonOperator


def where_am_i():
    time.sleep(2)
    return socket.getfqdn()


with DAG(
    dag_id="ha_probe",
    start_date=datetime(2021, 1, 1),
    schedule_interval=None,
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=True,
) as dag:
    for i in range(6):
        PythonOperator(task_id="probe_%d" % i, python_callable=where_am_i)
