"""ha_quick: one short task that reports the worker it ran on; no retries, so a run succeeds only if its first try does.

The site scenario triggers it during faults (work that arrives while a host is lost), continuously during a rolling
change (through the load balancer's REST API: every run must succeed while the hosts restart one at a time), and to
prove where tasks land (a host that rejoined, a host that was added).
"""
import socket
import time
from datetime import datetime

from airflow import DAG
from airflow.operators.python import PythonOperator


def where_am_i():
    time.sleep(3)
    return socket.getfqdn()


with DAG(
    dag_id="ha_quick",
    start_date=datetime(2021, 1, 1),
    schedule_interval=None,
    catchup=False,
    max_active_runs=16,
    is_paused_upon_creation=False,
    default_args={"retries": 0},
) as dag:
    PythonOperator(task_id="where", python_callable=where_am_i)
