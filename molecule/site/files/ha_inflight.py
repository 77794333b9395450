"""ha_inflight: one task that works for 40 s, the length of a short Glue job run, and logs each attempt.

Every attempt appends a start line and, if it lives, an end line to /airflow/dags/.attempts/<run_id>.log on the
shared folder, with its host, pid and try number: the fault tests read it to prove that no attempt of a run
overlapped another (no task ran twice at the same time) and which try finished.
Retries: 3, 10 s apart: a task whose host dies is failed by the scheduler's zombie detection
(scheduler_zombie_task_threshold) and retried on a live worker; the try number shows it.
"""
import os
import socket
import time
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.python import PythonOperator

LOG_DIR = "/airflow/dags/.attempts"


def work(**context):
    ti = context["ti"]
    os.makedirs(LOG_DIR, exist_ok=True)
    path = os.path.join(LOG_DIR, "%s.log" % context["run_id"])

    def log(event):
        with open(path, "a") as fh:
            fh.write("%s %.3f %s %d %d\n" % (event, time.time(), socket.getfqdn(), os.getpid(), ti.try_number))

    log("start")
    time.sleep(40)
    log("end")
    return socket.getfqdn()


with DAG(
    dag_id="ha_inflight",
    start_date=datetime(2021, 1, 1),
    schedule_interval=None,
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    default_args={"retries": 3, "retry_delay": timedelta(seconds=10)},
) as dag:
    PythonOperator(task_id="work", python_callable=work)
