#!/usr/bin/env python3
"""Fault figures on a twin cluster (issue 11): how long work waits when a host, the broker or the database goes away.

Measured, never asserted. Each figure is the median of --runs samples, with min and max:

  host-loss -> retry running   a 30 s task runs; the plug of its host is pulled (`twin ec2 NAME power-off`, EC2 still
                               says running); seconds until its next try runs on the other host (zombie detection)
  host-loss -> run success     the same, until that DAG run ends `success`
  LB errors after host loss    during the same power-off: /health asked through the load balancer every 0.2 s for
                               the next 90 s; seconds from the first failed answer to the last (0 when none failed),
                               and how many failed
  broker failover -> success   `twin failover NAME redis` (ElastiCache: the replica is promoted, the primary name moves);
                               seconds from the failover's start until a run triggered right after it ends `success`
  database failover -> success `twin failover NAME rds` (RDS Multi-AZ: the standby is promoted, the name moves); the same

The powered-off host gets its power back after each sample and must be healthy again before the next one.
The DAGs (bench_fault: one 30 s task, retries 3, retry_delay 10 s; bench_quick: one 1 s task) go into the twin's
EFS folder. The cluster's settings are what the inventory gives (airflow_zombie_task_threshold and the others).

usage: tools/bench/faults.py --twin NAME [--runs N] [--json] [--keep]
  NAME is a twin (tools/twin) with a cluster on it, e.g. `lab` after `make lab`. When NAME is not up, faults.py brings
  it up with site.yml (as `make lab` does) and removes it at the end, unless --keep.
Prints a markdown table (or, with --json, the samples and the figures as JSON) on stdout; progress on stderr.
Exit status 0 when every sample was taken, 1 otherwise (the table then says which failed). Run as root.
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TWIN = os.path.join(ROOT, "tools", "twin", "twin")
STATE_ROOT = os.environ.get("TWIN_STATE", "/var/lib/ha-airflow-twin")
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
ENV = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
           ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
AIRFLOW = "sudo env AIRFLOW_HOME=/var/lib/airflow AIRFLOW_CONFIG=/var/lib/airflow/airflow.cfg " \
          "runuser -u airflow -- /opt/airflow/venv/bin/airflow"

FAULT_DAG = '''"""bench_fault (tools/bench/faults.py): one 30 s task, retries 3, 10 s apart."""
import time
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.python import PythonOperator

with DAG(dag_id="bench_fault", start_date=datetime(2021, 1, 1), schedule_interval=None, catchup=False,
         max_active_runs=1, is_paused_upon_creation=False,
         default_args={"retries": 3, "retry_delay": timedelta(seconds=10)}) as dag:
    PythonOperator(task_id="work", python_callable=lambda: time.sleep(30))
'''
QUICK_DAG = '''"""bench_quick (tools/bench/faults.py): one 1 s task."""
import time
from datetime import datetime

from airflow import DAG
from airflow.operators.python import PythonOperator

with DAG(dag_id="bench_quick", start_date=datetime(2021, 1, 1), schedule_interval=None, catchup=False,
         max_active_runs=16, is_paused_upon_creation=False, default_args={"retries": 0}) as dag:
    PythonOperator(task_id="work", python_callable=lambda: time.sleep(1))
'''
# Runs on a host under the Airflow virtualenv's Python (psycopg2); libpq reads PG* from the environment.
QUERY = r'''
import json, sys, psycopg2, psycopg2.extras
with psycopg2.connect("") as c, c.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
    cur.execute(sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:]))
    print(json.dumps([dict(r) for r in cur.fetchall()], default=str))
'''


class BenchError(Exception):
    """A sample that could not be taken: one line."""


def log(msg):
    sys.stderr.write("faults: %s\n" % msg)
    sys.stderr.flush()


def run(argv, check=True, **kw):
    proc = subprocess.run(argv, cwd=ROOT, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False, **kw)
    if check and proc.returncode != 0:
        raise BenchError("%s failed: %s" % (" ".join(argv[:4]), (proc.stderr.strip().splitlines() or ["?"])[-1]))
    return proc


def yaml_value(path, key):
    """The value of a top-level `key: value` line (the twin's inventory files are flat for what is read here)."""
    import yaml  # the controller's venv has PyYAML (Ansible's dependency)
    with open(path) as fh:
        return yaml.safe_load(fh)[key]


class Cluster:
    """The Airflow hosts of a twin, reached as ec2-user with the twin's key, as the inventory does."""

    def __init__(self, name):
        self.name = name
        self.sdir = os.path.join(STATE_ROOT, name)
        inv = os.path.join(self.sdir, "inventory", "group_vars", "all")
        infra = yaml_value(os.path.join(inv, "ha_airflow_infra.yml"), "ha_airflow_infra")
        self.pg = {"PGHOST": infra["rds_endpoint"], "PGUSER": infra["db_username"], "PGDATABASE": infra["db_name"],
                   "PGPASSWORD": yaml_value(os.path.join(inv, "twin.yml"), "vault_rds_password"),
                   "PGCONNECT_TIMEOUT": "5"}
        self.alb_name = infra["alb_dns_name"]
        self._components = {}
        self.refresh()

    def refresh(self):
        status = json.loads(run([TWIN, "status", self.name]).stdout)
        world = status.get("world", {})
        self.alb_address = world.get("alb_host")
        self.hosts = dict(world.get("instances", {}))
        self.fqdn = {"ip-" + m["address"].replace(".", "-"): iid for iid, m in self.hosts.items()}

    def ssh(self, iid, command, stdin=None, timeout=120, check=True):
        argv = ["ssh", "-q", "-i", os.path.join(self.sdir, "id_ed25519"), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
                "ec2-user@" + self.hosts[iid]["address"], command]
        try:
            proc = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BenchError("ssh %s timed out: %s" % (iid, command[:80])) from None
        if check and proc.returncode != 0:
            raise BenchError("on %s: %s: %s" % (iid, command[:80], (proc.stderr.strip().splitlines() or ["?"])[-1]))
        return proc.stdout

    def query(self, iid, sql, **params):
        env = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in self.pg.items())
        cmd = "env %s /opt/airflow/venv/bin/python - %s %s" % (
            env, shlex.quote(sql), " ".join(shlex.quote("%s=%s" % kv) for kv in params.items()))
        return json.loads(self.ssh(iid, cmd, stdin=QUERY))

    def trigger(self, iid, dag, run_id):
        self.ssh(iid, "%s dags trigger -r %s %s >/dev/null" % (AIRFLOW, shlex.quote(run_id), dag))

    def run_row(self, iid, run_id):
        rows = self.query(iid, "SELECT r.state AS run_state, ti.state, ti.hostname, ti.try_number FROM dag_run r "
                          "LEFT JOIN task_instance ti ON ti.dag_id = r.dag_id AND ti.execution_date = r.execution_date "
                          "WHERE r.run_id = %(run)s", run=run_id)
        return rows[0] if rows else {}

    def components(self, iid):
        """The Airflow components of a host: its airflow-<component>.service units."""
        if iid not in self._components:
            out = self.ssh(iid, "systemctl list-unit-files --no-legend 'airflow-*.service'", timeout=30)
            self._components[iid] = sorted(line.split()[0][len("airflow-"):-len(".service")]
                                           for line in out.splitlines() if line.strip()
                                           and not line.startswith("airflow-resume"))
        return self._components[iid]

    def schedulers(self):
        """The hosts that run a scheduler (they trigger, and read the database)."""
        return sorted(i for i in self.hosts if "scheduler" in self.components(i))

    def healthy(self, iid):
        """Every component of the host active, its /health healthy and its scheduler heartbeating."""
        try:
            parts = self.components(iid)
            active = self.ssh(iid, "systemctl is-active %s" % " ".join("airflow-%s" % c for c in parts),
                              timeout=20, check=False).split()
            if active != ["active"] * len(parts):
                return False
            if "webserver" in parts:
                health = json.loads(self.ssh(iid, "curl -sf http://127.0.0.1:8080/health", timeout=20))
                if any(health.get(k, {}).get("status") != "healthy" for k in ("metadatabase", "scheduler")):
                    return False
            if "scheduler" in parts:
                fqdn = "ip-" + self.hosts[iid]["address"].replace(".", "-")
                beat = self.query(iid, "SELECT count(*) AS n FROM job WHERE job_type = 'SchedulerJob' AND state ="
                                  " 'running' AND hostname = %(h)s AND latest_heartbeat > now() - interval '30 seconds'",
                                  h=fqdn)
                return beat[0]["n"] > 0
            return True
        except (BenchError, ValueError):
            return False

    def wait(self, what, predicate, timeout, every=2.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(every)
        raise BenchError("%s: not within %d s" % (what, timeout))


def lb_errors(cluster, seconds, stop):
    """Ask /health through the load balancer every 0.2 s for `seconds`: [monotonic times of failed answers], count."""
    failed, asked = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stop.is_set():
        asked += 1
        req = urllib.request.Request("http://%s/health" % cluster.alb_address, headers={"Host": cluster.alb_name})
        try:
            with urllib.request.urlopen(req, timeout=3) as resp:
                body = json.loads(resp.read())
            ok = all(body.get(k, {}).get("status") == "healthy" for k in ("metadatabase", "scheduler"))
        except (OSError, ValueError, urllib.error.URLError):
            ok = False
        if not ok:
            failed.append(time.monotonic())
        time.sleep(0.2)
    return failed, asked


def host_loss(cluster, n, prefix):
    """One power-off of the host running bench_fault's task: seconds to the retry running, to success; LB errors."""
    cluster.refresh()
    live = cluster.schedulers()[0]
    run_id = "%s-host-loss-%d" % (prefix, n)
    cluster.trigger(live, "bench_fault", run_id)
    row = cluster.wait("the task of %s running" % run_id,
                       lambda: _when(cluster.run_row(live, run_id), lambda r: r.get("state") == "running", lambda r: r),
                       180)
    victim = cluster.fqdn[row["hostname"]]
    survivor = [i for i in cluster.schedulers() if i != victim][0]
    lb_result = {}
    stop = threading.Event()
    watcher = threading.Thread(target=lambda: lb_result.update(zip(("failed", "asked"), lb_errors(cluster, 90, stop))))
    t0 = time.monotonic()
    run([TWIN, "ec2", cluster.name, "power-off", victim])
    watcher.start()
    log("%s: powered off %s (%s)" % (run_id, cluster.hosts[victim]["name"], victim))
    try:
        retry = cluster.wait("a retry of %s running" % run_id, lambda: _when(
            cluster.run_row(survivor, run_id),
            lambda r: (r.get("state") == "running" and r.get("try_number", 1) > 1) or r.get("run_state") == "success",
            lambda r: time.monotonic()), 600, every=1)
        done = cluster.wait("%s ending" % run_id, lambda: _when(
            cluster.run_row(survivor, run_id), _ended, lambda r: (time.monotonic(), r)), 600, every=1)
        watcher.join()
    finally:
        stop.set()
        run([TWIN, "ec2", cluster.name, "power-on", victim])
        cluster.wait("%s healthy again" % victim, lambda: cluster.healthy(victim), 600, every=5)
    if done[1].get("run_state") != "success":
        raise BenchError("%s ended %s" % (run_id, done[1]))
    failed = lb_result.get("failed", [])
    return {"retry_running": retry - t0, "success": done[0] - t0,
            "lb_window": (failed[-1] - failed[0] + 0.2) if failed else 0.0, "lb_failed": len(failed),
            "lb_asked": lb_result.get("asked", 0), "try": done[1].get("try_number")}


def failover(cluster, service, n, prefix):
    """`twin failover NAME service`, then a run of bench_quick: seconds from the failover's start to its success."""
    cluster.refresh()
    host = cluster.schedulers()[0]
    run_id = "%s-%s-failover-%d" % (prefix, service, n)
    t0 = time.monotonic()
    run([TWIN, "failover", cluster.name, service])
    # The database may be failing over: trigger until the run exists.
    cluster.wait("triggering %s" % run_id, lambda: _trigger_once(cluster, host, run_id), 180, every=1)
    end = cluster.wait("%s ending" % run_id, lambda: _when(
        _row_or_empty(cluster, host, run_id), _ended, lambda r: (time.monotonic(), r)), 600, every=1)
    if end[1].get("run_state") != "success":
        raise BenchError("%s ended %s" % (run_id, end[1]))
    # Every host healthy before the next sample (their schedulers and workers reconnected).
    for iid in cluster.hosts:
        cluster.wait("%s healthy" % iid, lambda iid=iid: cluster.healthy(iid), 300, every=5)
    return {"success": end[0] - t0}


def _trigger_once(cluster, host, run_id):
    try:
        cluster.trigger(host, "bench_quick", run_id)
        return True
    except BenchError as exc:
        return "already exists" in str(exc)


def _when(row, test, result):
    """result(row) once test(row) holds, else None (what Cluster.wait polls for)."""
    return result(row) if test(row) else None


def _ended(row):
    return row.get("run_state") in ("success", "failed")


def _row_or_empty(cluster, host, run_id):
    try:
        return cluster.run_row(host, run_id)
    except (BenchError, ValueError):
        return {}


def figure(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def bring_up(name):
    log("twin %s is not up: bringing a cluster up on it (site.yml), as make lab does" % name)
    archive = run([os.path.join(ROOT, "tools", "python-archive", "build")]).stdout.strip().splitlines()[-1]
    run([os.path.join(ROOT, "tools", "wheelhouse.sh")])
    env = dict(ENV, HA_AIRFLOW_PYTHON_ARCHIVE=archive)
    if subprocess.run([TWIN, "up", name], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=False).returncode != 0:
        raise BenchError("twin up %s failed (its reason is above)" % name)
    twin_env = run([TWIN, "env", name]).stdout
    # One `export A=1 B=2 ...` line: every assignment on it (the credentials file and the keys among them).
    for line in twin_env.splitlines():
        if line.startswith("export "):
            for word in shlex.split(line[len("export "):]):
                key, _sep, value = word.partition("=")
                ENV[key] = value
    proc = subprocess.run(["ansible-playbook", "-i", os.path.join(STATE_ROOT, name, "inventory"), "site.yml"],
                          cwd=ROOT, env=ENV, stdout=sys.stderr, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise BenchError("site.yml on twin %s failed (rc %d)" % (name, proc.returncode))


def take_down(name):
    log("removing twin %s (teardown.yml, twin down)" % name)
    subprocess.run(["ansible-playbook", "-i", os.path.join(STATE_ROOT, name, "inventory"), "playbooks/teardown.yml"],
                   cwd=ROOT, env=ENV, stdout=sys.stderr, stderr=subprocess.STDOUT, check=False)
    subprocess.run([TWIN, "down", name], cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, check=False)


def table(figures, failures, runs):
    rows = [("hard power-off of the task's host -> its retry running", figures.get("retry_running"), "s"),
            ("hard power-off of the task's host -> that run's success", figures.get("host_success"), "s"),
            ("load balancer errors after a host loss: first to last failed /health", figures.get("lb_window"), "s"),
            ("load balancer errors after a host loss: failed /health answers (every 0.2 s)", figures.get("lb_failed"),
             ""),
            ("broker (ElastiCache) failover -> next task success", figures.get("redis"), "s"),
            ("database (RDS Multi-AZ) failover -> next task success", figures.get("rds"), "s")]
    out = ["| measurement | median | min | max | samples |", "|---|---|---|---|---|"]
    for label, fig, unit in rows:
        if fig is None:
            out.append("| %s | - | - | - | 0 |" % label)
            continue
        fmt = "%.0f" if unit == "" else "%.1f " + unit
        cells = (label, fmt % fig["median"], fmt % fig["min"], fmt % fig["max"], fig["n"])
        out.append("| %s | %s | %s | %s | %d |" % cells)
    out += ["", "Twin: moto + booted test-bed machines; failovers take seconds here, not the 60-120 s of RDS or the "
            "tens of seconds of ElastiCache. Samples asked: %d of each." % runs]
    out += ["", "Not taken: " + "; ".join(failures)] if failures else []
    return "\n".join(out)


def main():
    venv_python = os.path.join(VENV_BIN, "python")
    if os.path.exists(venv_python) and os.path.realpath(sys.prefix) != os.path.realpath(os.path.dirname(VENV_BIN)):
        # The controller's venv has what this reads the twin's inventory with (PyYAML), and the twin's own moto.
        os.execv(venv_python, [venv_python, os.path.abspath(__file__)] + sys.argv[1:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--twin", required=True, help="the twin's name (e.g. lab)")
    p.add_argument("--runs", type=int, default=3, help="samples of each figure (default 3)")
    p.add_argument("--json", action="store_true", help="JSON on stdout instead of a markdown table")
    p.add_argument("--keep", action="store_true", help="keep a twin this script brought up")
    args = p.parse_args()
    if os.geteuid() != 0:
        log("error: run as root (the twin powers machines off and on)")
        return 1
    status = json.loads(run([TWIN, "status", args.twin]).stdout)
    started_here = not status.get("up")
    failures, samples = [], {"host_loss": [], "redis": [], "rds": []}
    try:
        if started_here:
            bring_up(args.twin)
        for line in run([TWIN, "env", args.twin]).stdout.splitlines():
            if line.startswith("export "):
                key, value = line[len("export "):].split("=", 1) if "=" in line else (line[len("export "):], "")
                ENV[key] = shlex.split(value)[0] if value else ""
        cluster = Cluster(args.twin)
        dags = os.path.join(cluster.sdir, "efs", "dags")
        for name, text in (("bench_fault.py", FAULT_DAG), ("bench_quick.py", QUICK_DAG)):
            with open(os.path.join(dags, name), "w") as fh:
                fh.write(text)
            os.chown(os.path.join(dags, name), 50000, 50000)
        first = cluster.schedulers()[0]
        for dag in ("bench_fault", "bench_quick"):
            cluster.wait("%s known to the schedulers" % dag, lambda dag=dag: cluster.ssh(
                first, "%s dags unpause %s" % (AIRFLOW, dag), check=False, timeout=120) != "", 300, every=5)
        prefix = "bench-%s" % time.strftime("%H%M%S")
        for n in range(1, args.runs + 1):
            for key, func in (("host_loss", lambda: host_loss(cluster, n, prefix)),
                              ("redis", lambda: failover(cluster, "redis", n, prefix)),
                              ("rds", lambda: failover(cluster, "rds", n, prefix))):
                try:
                    sample = func()
                    samples[key].append(sample)
                    rounded = {k: round(v, 1) if isinstance(v, float) else v for k, v in sample.items()}
                    log("%s #%d: %s" % (key, n, json.dumps(rounded)))
                except BenchError as exc:
                    failures.append("%s #%d: %s" % (key, n, exc))
                    log("%s #%d failed: %s" % (key, n, exc))
    except BenchError as exc:
        failures.append(str(exc))
    finally:
        if started_here and not args.keep:
            take_down(args.twin)
    figures = {"retry_running": figure([s["retry_running"] for s in samples["host_loss"]]),
               "host_success": figure([s["success"] for s in samples["host_loss"]]),
               "lb_window": figure([s["lb_window"] for s in samples["host_loss"]]),
               "lb_failed": figure([s["lb_failed"] for s in samples["host_loss"]]),
               "redis": figure([s["success"] for s in samples["redis"]]),
               "rds": figure([s["success"] for s in samples["rds"]])}
    if args.json:
        json.dump({"twin": args.twin, "runs": args.runs, "figures": figures, "samples": samples,
                   "failures": failures}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(table(figures, failures, args.runs))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
