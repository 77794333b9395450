#!/usr/bin/env python3
"""make bench: measure the collection on this machine, in one run, and print one table (also written to a file).

Measurements, never assertions on time. Each step boots its own test-bed machines (tools/testbed/testbed) and takes
them down again:

  pip        one bare `pip install` of the pinned Airflow (constraints shipped in the collection) from the package
             index, on one fresh host, no pip cache: the yardstick
  fresh-2    site.yml on two fresh Airflow hosts (+ the stand-ins prepared beforehand, not timed), with the
             controller's wheelhouse (downloaded once, shared read-only by every host)
  noop-2     site.yml again on the same hosts: time and changed count
  failover   power off airflow1, trigger a DAG run through airflow2: seconds to the first task start and to success
  fresh-4    site.yml on four fresh Airflow hosts
  provision  playbooks/provision.yml against moto (one region): first run, re-run, and the tasks that wait

usage: tools/bench/bench.py [--steps pip,fresh,failover,four,provision] [--out FILE]
"""

import argparse
import base64
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TESTBED = os.path.join(ROOT, "tests", "testbed", "testbed")
PY37 = os.environ.get("HA_AIRFLOW_PYTHON37", "/root/.pyenv/versions/3.7.16")
AIRFLOW_VERSION = "2.0.2"
CONSTRAINTS = os.path.join(ROOT, "roles", "airflow", "files", "constraints",
                           "apache-airflow-%s-python3.7.txt" % AIRFLOW_VERSION)
EXTRAS = "amazon,celery,postgres,redis"
PROBE_DAG = os.path.join(ROOT, "molecule", "ha", "files", "ha_probe.py")
ENV = dict(os.environ, PATH=os.path.join(ROOT, ".venv", "bin") + os.pathsep + os.environ["PATH"],
           ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), HA_AIRFLOW_PYTHON37=PY37)


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def run(argv, **kw):
    return subprocess.run(argv, cwd=ROOT, env=kw.pop("env", ENV), check=True, **kw)


def timed(argv, logfile, env=None):
    """Run argv, output to logfile; return (seconds, output). Raises with the log's tail on failure."""
    start = time.monotonic()
    with open(logfile, "w") as out:
        proc = subprocess.run(argv, cwd=ROOT, env=env or ENV, stdout=out, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - start
    text = open(logfile).read()
    if proc.returncode != 0:
        raise RuntimeError("%s failed (rc=%d); see %s: %s" % (argv[0], proc.returncode, logfile,
                           (re.findall(r"^fatal: .*$", text, re.M) or [text[-500:]])[-1][:600]))
    return seconds, text


def recap(text):
    """Sum of changed= and the task count over every host of a PLAY RECAP."""
    changed = sum(int(n) for n in re.findall(r"changed=(\d+)", text.split("PLAY RECAP")[-1]))
    return changed


def testbed(*args):
    out = subprocess.run([TESTBED] + list(args), cwd=ROOT, env=ENV, check=True, stdout=subprocess.PIPE).stdout
    return json.loads(out) if out.strip().startswith(b"{") else out


class Cluster:
    """A lab-shaped bed: infra (PostgreSQL, Redis), lb (HAProxy), airflow1..N; its own inventory under workdir."""

    def __init__(self, name, hosts, workdir, wheelhouse):
        self.name, self.hosts, self.workdir = name, hosts, workdir
        airflow_binds = [
            {"src": "{bed_dir}/shared", "dst": "/airflow"},
            {"src": PY37, "dst": "/root/.pyenv/versions/3.7.16", "ro": True},
            {"src": wheelhouse, "dst": "/opt/wheelhouse", "ro": True},
        ]
        self.spec = {"machines": [{"name": "infra"}, {"name": "lb"}]
                     + [{"name": "airflow%d" % i, "binds": airflow_binds} for i in range(1, hosts + 1)]}
        self.inventory = os.path.join(workdir, "inventory-%s" % name)

    def up(self):
        spec_file = os.path.join(self.workdir, "%s.json" % self.name)
        with open(spec_file, "w") as fh:
            json.dump(self.spec, fh)
        testbed("down", self.name)
        shutil.rmtree(os.path.expanduser("~/.ha_airflow/%s" % self.name), ignore_errors=True)
        bed = testbed("up", self.name, "--spec", spec_file)
        self.address = {m["name"]: m["address"] for m in bed["machines"]}
        self.bed_dir = bed["bed_dir"]
        key = os.path.join(self.bed_dir, "id_ed25519")
        os.makedirs(self.inventory, exist_ok=True)
        link = os.path.join(self.inventory, "group_vars")
        if not os.path.islink(link):
            os.symlink(os.path.join(ROOT, "inventories", "lab", "group_vars"), link)
        airflow = {"airflow%d" % i: {"ansible_host": self.address["airflow%d" % i]} for i in range(1, self.hosts + 1)}
        inventory = {"all": {
            "vars": {"ansible_user": "ec2-user", "ansible_ssh_private_key_file": key, "lab_name": self.name,
                     "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"},
            "children": {
                "airflow": {"hosts": airflow},
                "standin_database": {"hosts": {"infra": {"ansible_host": self.address["infra"]}}},
                "standin_broker": {"hosts": {"infra": {}}},
                "standin_loadbalancer": {"hosts": {"lb": {"ansible_host": self.address["lb"]}}},
            }}}
        with open(os.path.join(self.inventory, "hosts.json"), "w") as fh:
            json.dump(inventory, fh)
        log("%s: prepare (stand-ins, not timed)" % self.name)
        timed(["ansible-playbook", "-i", self.inventory, "tools/testbed/standins.yml"],
              os.path.join(self.workdir, "%s-prepare.log" % self.name))

    def site(self, label):
        log("%s: site.yml (%s)" % (self.name, label))
        return timed(["ansible-playbook", "-i", self.inventory, "site.yml"],
                     os.path.join(self.workdir, "%s-%s.log" % (self.name, label)))

    def down(self):
        testbed("down", self.name)


class Api:
    def __init__(self, address, password):
        self.base = "http://%s:8080/api/v1" % address
        self.auth = "Basic " + base64.b64encode(("admin:%s" % password).encode()).decode()

    def call(self, path, method="GET", body=None):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": self.auth, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"{}")


def wait(what, predicate, timeout, delay=1.0):
    end = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            pass
        if time.monotonic() > end:
            raise RuntimeError("timed out after %ds waiting for %s" % (timeout, what))
        time.sleep(delay)


def parse_ts(value):
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def step_pip(workdir):
    """One bare pip install of the pinned Airflow on one fresh host, straight from the index, no cache."""
    spec = {"machines": [{"name": "pip1", "binds": [
        {"src": PY37, "dst": "/root/.pyenv/versions/3.7.16", "ro": True},
        {"src": os.path.dirname(CONSTRAINTS), "dst": "/opt/constraints", "ro": True}]}]}
    spec_file = os.path.join(workdir, "benchpip.json")
    with open(spec_file, "w") as fh:
        json.dump(spec, fh)
    testbed("down", "benchpip")
    testbed("up", "benchpip", "--spec", spec_file)
    try:
        py = "/root/.pyenv/versions/3.7.16/bin/python3.7"
        testbed("ssh", "benchpip", "pip1", py, "-m", "venv", "/root/venv")
        log("pip: bare pip install of apache-airflow[%s]==%s on one host" % (EXTRAS, AIRFLOW_VERSION))
        seconds, output = timed([TESTBED, "ssh", "benchpip", "pip1", "/root/venv/bin/pip", "install", "--no-cache-dir",
                                 "-q", "-c", "/opt/constraints/" + os.path.basename(CONSTRAINTS),
                                 "apache-airflow[%s]==%s" % (EXTRAS, AIRFLOW_VERSION)],
                                os.path.join(workdir, "pip.log"))
    finally:
        testbed("down", "benchpip")
    return seconds


def step_failover(cluster):
    """Power off airflow1; trigger a run through airflow2; seconds to the first task start and to run success."""
    password = open(os.path.expanduser("~/.ha_airflow/%s/admin_password" % cluster.name)).read().strip()
    api = {h: Api(cluster.address[h], password) for h in ("airflow1", "airflow2")}
    dags = os.path.join(cluster.bed_dir, "shared", "dags")
    shutil.copy(PROBE_DAG, os.path.join(dags, "ha_probe.py"))
    wait("the probe DAG to be parsed", lambda: api["airflow2"].call("/dags/ha_probe"), 120, 2)
    api["airflow1"].call("/dags/ha_probe?update_mask=is_paused", "PATCH", {"is_paused": False})

    def run_once(via, run_id, timeout):
        api[via].call("/dags/ha_probe/dagRuns", "POST", {"dag_run_id": run_id})
        state = wait("run %s" % run_id, lambda: api[via].call("/dags/ha_probe/dagRuns/%s" % run_id)["state"]
                     in ("success", "failed") and api[via].call("/dags/ha_probe/dagRuns/%s" % run_id), timeout)
        if state["state"] != "success":
            raise RuntimeError("run %s ended %s" % (run_id, state["state"]))
        return api[via].call("/dags/ha_probe/dagRuns/%s/taskInstances" % run_id)["task_instances"]

    log("failover: a run on the healthy cluster")
    run_once("airflow2", "bench-healthy", 300)
    log("failover: power off airflow1, trigger through airflow2")
    off = datetime.datetime.now(datetime.timezone.utc)
    testbed("stop", cluster.name, "airflow1", "--force")
    tis = run_once("airflow2", "bench-airflow1-off", 300)
    first_start = min(parse_ts(t["start_date"]) for t in tis)
    last_end = max(parse_ts(t["end_date"]) for t in tis)
    first_success = min(parse_ts(t["end_date"]) for t in tis)
    hosts = sorted({t["hostname"] for t in tis})
    return {"to_first_task_start": (first_start - off).total_seconds(),
            "to_first_task_success": (first_success - off).total_seconds(),
            "to_run_success": (last_end - off).total_seconds(), "hosts": hosts}


def step_provision(workdir):
    """provision.yml against moto in cn-north-1: first run, re-run, the tasks that wait."""
    ctl = os.path.join(ROOT, "tools", "twin", "moto_ctl.py")
    state = os.path.join(workdir, "moto")
    run([sys.executable, ctl, "start", state], stdout=subprocess.DEVNULL)
    try:
        env = dict(ENV, AWS_CONFIG_FILE=os.path.join(state, "aws_config"), AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing", AWS_SHARED_CREDENTIALS_FILE=os.path.join(state, "none"))
        # The same values as molecule/aws's converge (test values for moto, not secrets).
        extra = {"infra_region": "cn-north-1", "infra_rds_password": "moto-only-Passw0rd",
                 "infra_rds_skip_final_snapshot": True, "infra_alb_ingress_cidrs": ["198.51.100.0/24"],
                 "infra_poll_delay": 1, "infra_outputs_file": os.path.join(workdir, "ha_airflow_infra.yml")}
        argv = ["ansible-playbook", "playbooks/provision.yml", "-e", json.dumps(extra)]
        log("provision: first run against moto (cn-north-1)")
        first, text = timed(argv, os.path.join(workdir, "provision-1.log"), env)
        log("provision: re-run")
        second, text2 = timed(argv, os.path.join(workdir, "provision-2.log"), env)
        waits = len(set(re.findall(r"^TASK \[([^\]]*[Ww]ait[^\]]*)\]", text, re.M)))
        return first, second, recap(text2), waits
    finally:
        run([sys.executable, ctl, "stop", state], stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description="make bench")
    parser.add_argument("--steps", default="pip,fresh,failover,four,provision")
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "bench.md"))
    args = parser.parse_args()
    steps = set(args.steps.split(","))
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="bench-", dir=os.path.join(ROOT, "build"))
    rows, failures = [], []
    log("logs in %s" % workdir)

    start = time.monotonic()
    wheelhouse = subprocess.run([os.path.join(ROOT, "tests", "wheelhouse.sh"), AIRFLOW_VERSION,
                                 os.path.join(PY37, "bin", "python3.7")],
                                cwd=ROOT, env=ENV, check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    rows.append(("wheelhouse on the controller (cached after the first build)", "%.0f s" % (time.monotonic() - start), ""))

    results = {}

    def attempt(name, func):
        try:
            return func()
        except Exception as exc:  # a measurement that failed is reported, and the run goes on
            failures.append("%s: %s" % (name, exc))
            log("FAILED %s: %s" % (name, exc))
            return None

    if "pip" in steps:
        results["pip"] = attempt("pip", lambda: step_pip(workdir))
        if results["pip"]:
            rows.append(("bare pip install of Airflow %s, one host" % AIRFLOW_VERSION, "%.0f s" % results["pip"], "1.00"))

    if steps & {"fresh", "failover"}:
        two = Cluster("bench2", 2, workdir, wheelhouse)

        def fresh_and_noop():
            two.up()
            fresh, fresh_text = two.site("fresh")
            noop, text = two.site("noop")
            return fresh, noop, recap(text)
        try:
            got = attempt("fresh-2", fresh_and_noop)
            if got:
                fresh, noop, changed = got
                results["fresh2"] = fresh
                ratio = "%.2fx pip" % (fresh / results["pip"]) if results.get("pip") else ""
                rows.append(("fresh site.yml, two hosts", "%.0f s" % fresh, ratio))
                rows.append(("no-op re-run, two hosts (changed=%d)" % changed, "%.0f s" % noop,
                             "%.2fx fresh" % (noop / fresh)))
                if "failover" in steps:
                    fo = attempt("failover", lambda: step_failover(two))
                    if fo:
                        rows.append(("failover: power-off → first task starts on %s" % ",".join(fo["hosts"]),
                                     "%.0f s" % fo["to_first_task_start"], ""))
                        rows.append(("failover: power-off → first task succeeds", "%.0f s" % fo["to_first_task_success"], ""))
                        rows.append(("failover: power-off → DAG run (6 tasks) succeeds", "%.0f s" % fo["to_run_success"], ""))
        finally:
            two.down()

    if "four" in steps:
        four = Cluster("bench4", 4, workdir, wheelhouse)
        try:
            def fresh4():
                four.up()
                return four.site("fresh")[0]
            got = attempt("fresh-4", fresh4)
            if got:
                ratio = "%.2fx two hosts" % (got / results["fresh2"]) if results.get("fresh2") else ""
                rows.append(("fresh site.yml, four hosts", "%.0f s" % got, ratio))
        finally:
            four.down()

    if "provision" in steps:
        got = attempt("provision", lambda: step_provision(workdir))
        if got:
            first, second, changed, waits = got
            rows.append(("provision against moto, first run (%d tasks wait)" % waits, "%.0f s" % first, ""))
            rows.append(("provision re-run (changed=%d)" % changed, "%.0f s" % second, "%.2fx first" % (second / first)))

    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    table = ["# make bench — %s, %d cores, one run" % (stamp, os.cpu_count()), "",
             "| measurement | time | ratio |", "|---|---|---|"]
    table += ["| %s | %s | %s |" % row for row in rows]
    if failures:
        table += ["", "Failed:"] + ["- %s" % f for f in failures]
    text = "\n".join(table) + "\n"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write(text)
    print(text)
    log("written to %s; logs in %s" % (args.out, workdir))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
