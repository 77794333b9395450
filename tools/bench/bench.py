#!/usr/bin/env python3
"""make bench: measure the collection on this machine, like with like, and print one table (also written to a file).

Measurements, never assertions on time. Every step boots its own test-bed machines (tools/testbed/testbed, beds
named bench*) and takes them down again. Each figure is the median of --runs samples (default 3; BENCH_RUNS, or
--quick / `make bench QUICK=1` for one), with min and max. One sample of every step is taken before the next sample
of any, so a machine that slows down part way slows every step alike.

  bare       one bare `pip install` of Airflow on one fresh host, per package source (the yardstick): the same
             command the airflow role runs (same flags, constraints, extras), into a fresh venv, with pip's cache
             empty (a fresh host) and the Python 3.7 archive already unpacked (not timed)
  converge   site.yml on two fresh hosts (stand-ins for RDS, ElastiCache and the ALB prepared first, not timed),
             then again (the no-op): wall time, changed count, controller CPU, a timeline per task
  one        the same on one host, wheelhouse source: the converge against the bare install on equal terms (with two
             hosts, two pip installs share this machine's cores; on EC2 each host has its own)
  four       the same on four hosts, wheelhouse source: controller CPU per host against two hosts
  provision  playbooks/provision.yml against moto (cn-north-1, the infra role's defaults): first run, re-run
  failover   power off airflow1 of the last two-host cluster, trigger a DAG run through airflow2
  faults     tools/bench/faults.py --twin benchf --runs N, when that script exists (issue 11); its output
             (markdown) goes into the report as it is

Package sources (--modes): `wheelhouse` (tools/wheelhouse.sh's folder, bound read-only on every host, as on EFS:
pip --no-index --find-links) and `index` (PyPI, through the host's NAT). Each has its own bare install, and each
ratio divides two figures of the same sample.

Controller CPU: user+system seconds of ansible-playbook and everything it starts (forks, ssh clients and their
ControlPersist masters), read from a cgroup of its own per run; the masters of a run end with it, so every run opens
its own connections. The machines' own CPU (pip, Airflow) is not in it.

usage: tools/bench/bench.py [--runs N | --quick] [--modes wheelhouse,index]
                            [--steps bare,converge,one,four,provision,failover,faults] [--out FILE] [--docs FILE]
  --docs FILE   also add the table to FILE (default docs/bench.md for a full run; a --quick run writes only --out)
  --no-docs     never touch docs/bench.md
"""

import argparse
import datetime
import glob
import json
import os
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import base64
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TESTBED = os.path.join(ROOT, "tools", "testbed", "testbed")
FAULTS = os.path.join(ROOT, "tools", "bench", "faults.py")
DOCS = os.path.join(ROOT, "docs", "bench.md")
DOCS_MARKER = "<!-- make bench adds each run below this line, newest first -->"
AIRFLOW_VERSION = "2.0.2"
PYTHON_VERSION = "3.7"
CONSTRAINTS_DIR = os.path.join(ROOT, "roles", "airflow", "files", "constraints")
CONSTRAINTS = "apache-airflow-%s-python%s.txt" % (AIRFLOW_VERSION, PYTHON_VERSION)
EXTRAS = "celery,postgres,redis,amazon"  # the airflow role's default airflow_extras, in its order
PYTHON_PREFIX = "/opt/ha_airflow/python%s" % PYTHON_VERSION  # the python role's default python_install_prefix
PROBE_DAG = os.path.join(ROOT, "molecule", "ha", "files", "ha_probe.py")
CGROUP_ROOT = "/sys/fs/cgroup/unified"
# moto (tools/twin) and faults.py run on the controller's venv, whose moto the twin is written for.
VENV_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
MODES = ("wheelhouse", "index")
STEPS = ("bare", "converge", "one", "four", "provision", "failover", "faults")
ENV = dict(os.environ, PATH=os.path.join(ROOT, ".venv", "bin") + os.pathsep + os.environ["PATH"],
           ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
# The controller's own pip settings (find-links, extra indexes) must not leak into anything measured.
for _name in [n for n in ENV if n.startswith("PIP_")]:
    del ENV[_name]

# Where the time of a site.yml run goes: the first rule that matches a task (its play's file, its own file, its
# action) names its phase. Handlers restart services: "services".
PHASES = (
    ("connect", "connect, facts, preflight"),
    ("packages", "package install (NFS client, Python 3.7)"),
    ("install", "Airflow install (user, venv, pip)"),
    ("configure", "configuration (mount, secrets, airflow.cfg, units)"),
    ("database", "database (schema, admin user)"),
    ("services", "services start to healthy"),
    ("verify", "verify (playbooks/verify.yml)"),
    ("other", "includes and the rest"),
    ("startup", "controller start-up and exit (no task)"),
)
PACKAGE_ACTIONS = {"ansible.builtin.apt", "ansible.builtin.package", "ansible.builtin.dnf", "apt", "package", "dnf"}


def phase_of(task):
    path, play = task["path"], task["play_path"]
    if "playbooks/verify.yml" in play:
        return "verify"
    if task["handler"]:
        return "services"
    if re.search(r"/(preflight|vars|preflight_aws)\.yml:", path) or "playbooks/site.yml" in path \
            or "playbooks/configure.yml" in path or task["action"] in ("ansible.builtin.setup", "gather_facts",
                                                                       "ansible.builtin.gather_facts"):
        return "connect"
    if "roles/python/" in path:
        return "packages"
    if "roles/shared_storage/" in path:
        return "packages" if task["action"] in PACKAGE_ACTIONS else "configure"
    for name, phase in (("install", "install"), ("look", "install"), ("secrets", "configure"), ("configure", "configure"),
                        ("database", "database"), ("services", "services"), ("health", "services")):
        if "roles/airflow/tasks/%s.yml" % name in path:
            return phase
    return "other"


def log(msg):
    sys.stderr.write("bench: [%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def run(argv, **kw):
    return subprocess.run(argv, cwd=ROOT, env=kw.pop("env", ENV), check=True, **kw)


def testbed(*args):
    out = subprocess.run([TESTBED] + list(args), cwd=ROOT, env=ENV, check=True, stdout=subprocess.PIPE).stdout
    return json.loads(out) if out.strip().startswith(b"{") else out


def python_archive():
    """The Python 3.7 archive (tools/python-archive/build prints its path). Asked twice at most: the build can die
    of a SIGPIPE (rc 141) in its library lookup (`ldconfig -p | awk '... exit'` under pipefail)."""
    build = os.path.join(ROOT, "tools", "python-archive", "build")
    for attempt in (1, 2):
        proc = subprocess.run([build], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True, check=False)
        if proc.returncode == 0:
            return proc.stdout.strip()
        log("tools/python-archive/build failed (rc=%d), attempt %d" % (proc.returncode, attempt))
    raise SystemExit("bench: no Python 3.7 archive: tools/python-archive/build failed twice (above)")


def fail_summary(argv, rc, logfile, text):
    last = (re.findall(r"^fatal: .*$", text, re.M) or [text[-500:]])[-1][:600]
    return "%s failed (rc=%d); see %s: %s" % (os.path.basename(argv[0]), rc, logfile, last)


class Accounting:
    """CPU seconds by cgroup (v2): each measured run in a cgroup of its own, this process and everything else it starts
    in `self`; the bench's machines are the test bed's cgroups of the beds named bench*. Without a cgroup v2 (not
    root), run CPU falls back to getrusage of the waited-for children, which misses daemonised ssh masters."""

    def __init__(self):
        self.base = os.path.join(CGROUP_ROOT, "ha-airflow-bench", str(os.getpid()))
        self.count = 0
        try:
            os.makedirs(os.path.join(self.base, "self"))
            with open(os.path.join(self.base, "self", "cgroup.procs"), "w") as handle:
                handle.write(str(os.getpid()))
            self.enabled = True
        except OSError as exc:
            log("no cgroup v2 for CPU accounting (%s): falling back to getrusage" % exc)
            self.enabled = False

    @staticmethod
    def usage(path):
        try:
            with open(os.path.join(path, "cpu.stat")) as handle:
                return int(re.search(r"^usage_usec (\d+)", handle.read(), re.M).group(1)) / 1e6
        except (OSError, AttributeError):
            return 0.0

    def new_group(self):
        if not self.enabled:
            return None
        self.count += 1
        path = os.path.join(self.base, "run-%d" % self.count)
        os.makedirs(path)
        return path

    @staticmethod
    def end_group(path):
        """Stop what a run left in its cgroup (its ssh ControlPersist masters: processes this bench started)."""
        for attempt in range(50):
            with open(os.path.join(path, "cgroup.procs")) as handle:
                pids = [int(p) for p in handle.read().split()]
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGTERM if attempt < 25 else signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        try:
            os.rmdir(path)
        except OSError:
            pass

    def groups_ours(self):
        groups = [self.base] if self.enabled else []
        return groups + glob.glob(os.path.join(CGROUP_ROOT, "ha-airflow-testbed", "bench*"))

    def close(self):
        if not self.enabled:
            return
        for path in glob.glob(os.path.join(self.base, "run-*")):
            self.end_group(path)
        # Back to the parent's cgroup, so the folders can go.
        try:
            with open(os.path.join(CGROUP_ROOT, "cgroup.procs"), "w") as handle:
                handle.write(str(os.getpid()))
            os.rmdir(os.path.join(self.base, "self"))
            os.rmdir(self.base)
        except OSError:
            pass


class Sampler(threading.Thread):
    """Every few seconds: the machine's busy CPU (/proc/stat) minus the bench's own (its cgroups), and the load."""

    def __init__(self, accounting, every=3.0):
        super().__init__(daemon=True)
        self.accounting, self.every = accounting, every
        self.others, self.loads = [], []
        self.stop = threading.Event()

    @staticmethod
    def busy():
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait
        return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")

    def ours(self):
        return {path: Accounting.usage(path) for path in self.accounting.groups_ours()}

    def run(self):
        last_t, last_busy, last_ours = time.monotonic(), self.busy(), self.ours()
        while not self.stop.wait(self.every):
            now, busy, ours = time.monotonic(), self.busy(), self.ours()
            ours_delta = sum(v - last_ours.get(k, 0.0) for k, v in ours.items())
            self.others.append(max(0.0, (busy - last_busy - ours_delta) / (now - last_t)))
            self.loads.append(os.getloadavg()[0])
            last_t, last_busy, last_ours = now, busy, ours

    def summary(self):
        if not self.others:
            return "not sampled"
        return ("others' CPU during the run: mean %.2f cores, max %.2f (of %d); load average mean %.1f, max %.1f"
                % (statistics.mean(self.others), max(self.others), os.cpu_count(),
                   statistics.mean(self.loads), max(self.loads)))


class Bench:
    def __init__(self, workdir, archive, wheelhouse):
        self.workdir, self.archive, self.wheelhouse = workdir, archive, wheelhouse
        self.accounting = Accounting()
        self.env = dict(ENV, HA_AIRFLOW_PYTHON_ARCHIVE=archive,
                        ANSIBLE_CALLBACK_PLUGINS=os.path.join(ROOT, "tools", "bench", "callback"),
                        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks,bench_timeline",
                        ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")

    def timed(self, argv, label, env=None):
        """Run argv (a command, or ansible-playbook) with its output in <label>.log; return a dict of wall seconds,
        controller CPU seconds, output text and (for ansible-playbook) the timeline. Raises on failure."""
        logfile = os.path.join(self.workdir, label + ".log")
        timeline = os.path.join(self.workdir, label + ".timeline.json")
        env = dict(env or self.env, BENCH_TIMELINE=timeline)
        group = self.accounting.new_group()

        def enter_group():
            if group:
                with open(os.path.join(group, "cgroup.procs"), "w") as handle:
                    handle.write(str(os.getpid()))

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        with open(logfile, "w") as out:
            proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=False,
                                  preexec_fn=enter_group)
        wall = time.monotonic() - start
        if group:
            cpu = Accounting.usage(group)
            self.accounting.end_group(group)
        else:
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        with open(logfile, errors="replace") as handle:
            text = handle.read()
        if proc.returncode != 0:
            raise RuntimeError(fail_summary(argv, proc.returncode, logfile, text))
        result = {"wall": wall, "cpu": cpu, "text": text, "label": label}
        if os.path.exists(timeline):
            with open(timeline) as handle:
                result["timeline"] = json.load(handle)
        return result


class Cluster:
    """A lab-shaped bed: infra (PostgreSQL, Redis), lb (HAProxy), airflow1..N; its own inventory under workdir, with
    the lab's group_vars (inventories/lab). The Python 3.7 archive is installed by the python role, as on EC2."""

    def __init__(self, bench, name, hosts, mode):
        self.bench, self.name, self.hosts, self.mode = bench, name, hosts, mode
        binds = [{"src": "{bed_dir}/shared", "dst": "/airflow"}]
        if mode == "wheelhouse":
            binds.append({"src": bench.wheelhouse, "dst": "/opt/wheelhouse", "ro": True})
        self.spec = {"machines": [{"name": "infra"}, {"name": "lb"}]
                     + [{"name": "airflow%d" % i, "binds": binds} for i in range(1, hosts + 1)]}
        self.inventory = os.path.join(bench.workdir, "inventory-%s-%s" % (name, mode))
        # The lab's group_vars install from /opt/wheelhouse; the index mode from PyPI.
        self.extra = {} if mode == "wheelhouse" else {"airflow_pip_wheelhouse": ""}
        self.address, self.bed_dir = {}, None

    def up(self):
        spec_file = os.path.join(self.bench.workdir, "%s-%s.json" % (self.name, self.mode))
        with open(spec_file, "w") as handle:
            json.dump(self.spec, handle)
        testbed("down", self.name)
        shutil.rmtree(os.path.expanduser("~/.ha_airflow/%s" % self.name), ignore_errors=True)
        bed = testbed("up", self.name, "--spec", spec_file)
        self.address = {m["name"]: m["address"] for m in bed["machines"]}
        self.bed_dir = bed["bed_dir"]
        os.makedirs(self.inventory, exist_ok=True)
        link = os.path.join(self.inventory, "group_vars")
        if not os.path.islink(link):
            os.symlink(os.path.join(ROOT, "inventories", "lab", "group_vars"), link)
        airflow = {"airflow%d" % i: {"ansible_host": self.address["airflow%d" % i]} for i in range(1, self.hosts + 1)}
        inventory = {"all": {
            "vars": {"ansible_user": "ec2-user", "ansible_ssh_private_key_file": os.path.join(self.bed_dir, "id_ed25519"),
                     "lab_name": self.name,
                     "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"},
            "children": {
                "airflow": {"hosts": airflow},
                "standin_database": {"hosts": {"infra": {"ansible_host": self.address["infra"]}}},
                "standin_broker": {"hosts": {"infra": {}}},
                "standin_loadbalancer": {"hosts": {"lb": {"ansible_host": self.address["lb"]}}},
            }}}
        with open(os.path.join(self.inventory, "hosts.json"), "w") as handle:
            json.dump(inventory, handle)
        log("%s (%s): stand-ins (not timed)" % (self.name, self.mode))
        self.bench.timed(["ansible-playbook", "-i", self.inventory, "tools/testbed/standins.yml"],
                         "%s-%s-prepare" % (self.name, self.mode))

    def site(self, label):
        log("%s (%s): site.yml, %s" % (self.name, self.mode, label))
        argv = ["ansible-playbook", "-i", self.inventory, "site.yml"]
        if self.extra:
            argv += ["-e", json.dumps(self.extra)]
        return self.bench.timed(argv, label)

    def down(self):
        testbed("down", self.name)


def bare_install(bench, mode, label):
    """One bare pip install of Airflow on one fresh host: the airflow role's pip command, nothing else timed."""
    binds = [{"src": CONSTRAINTS_DIR, "dst": "/opt/constraints", "ro": True}]
    if mode == "wheelhouse":
        binds.append({"src": bench.wheelhouse, "dst": "/opt/wheelhouse", "ro": True})
    spec_file = os.path.join(bench.workdir, "benchbare-%s.json" % label)
    with open(spec_file, "w") as handle:
        json.dump({"machines": [{"name": "bare1", "binds": binds}]}, handle)
    testbed("down", "benchbare")
    bed = testbed("up", "benchbare", "--spec", spec_file)
    try:
        inventory = os.path.join(bench.workdir, "inventory-benchbare.json")
        with open(inventory, "w") as handle:
            json.dump({"all": {"hosts": {"bare1": {"ansible_host": bed["machines"][0]["address"]}}, "vars": {
                "ansible_user": "ec2-user", "ansible_ssh_private_key_file": os.path.join(bed["bed_dir"], "id_ed25519"),
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"}}}, handle)
        log("bare (%s): the Python 3.7 archive through the python role (not timed)" % mode)
        bench.timed(["ansible-playbook", "-i", inventory, "tools/bench/bare.yml",
                     "-e", json.dumps({"python_archive_src": bench.archive})], label + "-prepare")
        venv = "/root/bare-venv"
        testbed("ssh", "benchbare", "bare1", shlex.join(
            ["sudo", "%s/bin/python%s" % (PYTHON_PREFIX, PYTHON_VERSION), "-m", "venv", venv]))
        pip = ["sudo", venv + "/bin/pip", "install", "--disable-pip-version-check", "--no-input",
               "--constraint", "/opt/constraints/" + CONSTRAINTS]
        if mode == "wheelhouse":
            pip += ["--no-index", "--find-links", "/opt/wheelhouse"]
        pip.append("apache-airflow[%s]==%s" % (EXTRAS, AIRFLOW_VERSION))
        log("bare (%s): %s" % (mode, " ".join(pip[1:])))
        return bench.timed([TESTBED, "ssh", "benchbare", "bare1", shlex.join(pip)], label)["wall"]
    finally:
        testbed("down", "benchbare")


def changed_count(result):
    stats = (result.get("timeline") or {}).get("stats")
    if stats:
        return sum(s.get("changed", 0) for s in stats.values())
    return sum(int(n) for n in re.findall(r"changed=(\d+)", result["text"].split("PLAY RECAP")[-1]))


def task_walls(timeline):
    """Each task's wall seconds: from its start to the next task's start (the last one: to the end of the run)."""
    tasks = timeline["tasks"]
    walls = []
    for i, task in enumerate(tasks):
        end = tasks[i + 1]["start"] if i + 1 < len(tasks) else timeline["end"]
        walls.append((task, max(0.0, end - task["start"])))
    return walls


def phases(result):
    out = dict.fromkeys((phase[0] for phase in PHASES), 0.0)
    timeline = result.get("timeline")
    if not timeline:
        return None
    for task, wall in task_walls(timeline):
        out[phase_of(task)] += wall
    out["startup"] = max(0.0, result["wall"] - sum(out.values()))
    return out


def health_proof(result, hosts):
    """Which Airflow hosts passed the health check of roles/airflow/tasks/health.yml in a run (its asserts all ran
    and passed there: units active and steady, the health endpoint, the scheduler's heartbeat), and whether the load
    balancer's health endpoint answered healthy (playbooks/verify.yml)."""
    timeline = result.get("timeline") or {"tasks": []}
    passed = {h: None for h in hosts}
    load_balancer = False
    for task in timeline["tasks"]:
        if "roles/airflow/tasks/health" in task["path"] and task["action"] in ("ansible.builtin.assert", "assert"):
            for host in passed:
                status = task["hosts"].get(host, {}).get("status")
                passed[host] = (passed[host] is not False) and status == "ok"
        if "playbooks/verify.yml" in task["path"] and task["action"] in ("ansible.builtin.uri", "uri"):
            load_balancer = any(r["status"] == "ok" for r in task["hosts"].values())
    return {h: bool(p) for h, p in passed.items()}, load_balancer


# Actions that run on the controller, without a round trip to the host.
LOCAL_ACTIONS = {"assert", "set_fact", "debug", "fail", "meta", "include_tasks", "include_role", "import_tasks",
                 "import_role", "include_vars", "validate_argument_spec", "add_host", "group_by", "pause",
                 "set_stats"}


def remote_runs(result, hosts):
    """Module runs on the hosts (loop items counted, skipped ones not), per host, and the tasks each host saw."""
    runs, tasks = {h: 0 for h in hosts}, {h: 0 for h in hosts}
    for task in (result.get("timeline") or {"tasks": []})["tasks"]:
        action = task["action"].rsplit(".", 1)[-1]
        for host, res in task["hosts"].items():
            if host not in runs:
                continue
            tasks[host] += 1
            if action not in LOCAL_ACTIONS and task["delegate_to"] not in ("localhost", "127.0.0.1") \
                    and res["status"] != "skipped":
                runs[host] += res.get("items", 1)
    return runs, tasks


def where(path):
    """roles/airflow/tasks/x.yml:12, relative to the repository (the collection's link resolved)."""
    if not path:
        return ""
    file, line = path.rsplit(":", 1) if ":" in path else (path, "")
    return "%s:%s" % (os.path.relpath(os.path.realpath(file), ROOT), line)


def slowest(result, count=10):
    timeline = result.get("timeline")
    if not timeline:
        return []
    walls = sorted(task_walls(timeline), key=lambda tw: -tw[1])[:count]
    return [(wall, task["name"], where(task["path"])) for task, wall in walls]


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


def step_failover(cluster):
    """Power off airflow1; trigger a run through airflow2; seconds to the first task start and to run success."""
    with open(os.path.expanduser("~/.ha_airflow/%s/admin_password" % cluster.name)) as handle:
        password = handle.read().strip()
    api = {h: Api(cluster.address[h], password) for h in ("airflow1", "airflow2")}
    shutil.copy(PROBE_DAG, os.path.join(cluster.bed_dir, "shared", "dags", "ha_probe.py"))
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
    return {"to_first_task_start": (min(parse_ts(t["start_date"]) for t in tis) - off).total_seconds(),
            "to_first_task_success": (min(parse_ts(t["end_date"]) for t in tis) - off).total_seconds(),
            "to_run_success": (max(parse_ts(t["end_date"]) for t in tis) - off).total_seconds(),
            "tasks": len(tis), "hosts": sorted({t["hostname"] for t in tis})}


def step_provision(bench, label):
    """provision.yml against moto in cn-north-1, a fresh moto each sample: first run, then the re-run."""
    ctl = os.path.join(ROOT, "tools", "twin", "moto_ctl.py")
    state = os.path.join(bench.workdir, "moto-" + label)
    run([VENV_PYTHON, ctl, "start", state], stdout=subprocess.DEVNULL)
    try:
        env = dict(bench.env, AWS_CONFIG_FILE=os.path.join(state, "aws_config"), AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing", AWS_SHARED_CREDENTIALS_FILE=os.path.join(state, "none"),
                   HA_AIRFLOW_TWIN_BOOT_SECONDS="15")
        # The role's defaults in cn-north-1 (as the earlier rows), with what it cannot default: test values for
        # moto, not secrets. The Airflow version as the example inventories set it; this sample's outputs file.
        extra = {"airflow_version": AIRFLOW_VERSION, "infra_region": "cn-north-1",
                 "infra_rds_password": "moto-only-Passw0rd", "infra_redis_auth_token": "moto-only-auth-token-0123456789",
                 "infra_rds_skip_final_snapshot": True, "infra_alb_ingress_cidrs": ["198.51.100.0/24"],
                 "infra_poll_delay": 1, "infra_outputs_file": os.path.join(state, "ha_airflow_infra.yml")}
        argv = ["ansible-playbook", "playbooks/provision.yml", "-e", json.dumps(extra)]
        log("provision: first run against moto (cn-north-1)")
        first = bench.timed(argv, label + "-first", env)
        log("provision: re-run")
        second = bench.timed(argv, label + "-rerun", env)
        return first, second
    finally:
        run([VENV_PYTHON, ctl, "stop", state], stdout=subprocess.DEVNULL)


def fmt_s(values):
    return "%.0f s" % statistics.median(values) if values else "—"


def spread(values, unit="s", digits=0):
    if not values:
        return "—", "—", "—"
    f = "%%.%df %s" % (digits, unit) if unit else "%%.%dfx" % digits
    return f % statistics.median(values), f % min(values), f % max(values)


def git_revision():
    rev = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                         check=False).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, stdout=subprocess.PIPE,
                           text=True, check=False).stdout.strip()
    return rev + ("+local changes" if dirty else "")


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        mem = int(re.search(r"MemTotal:\s+(\d+)", handle.read()).group(1)) / 1024 / 1024
    return "%s, %d cores, %.0f GiB, Linux %s" % (model, os.cpu_count(), mem, os.uname().release)


class Report:
    def __init__(self, runs, modes):
        self.runs, self.modes = runs, modes
        self.samples = {}  # key -> list of values
        self.results = {}  # key -> list of run results (timelines) for phases
        self.notes, self.failures, self.extra_sections = [], [], []

    def add(self, key, value):
        self.samples.setdefault(key, []).append(value)

    def keep(self, key, result):
        self.results.setdefault(key, []).append(result)

    def get(self, key):
        return self.samples.get(key, [])

    def row(self, rows, what, key, ratio_key=None, ratio_label="", target="", unit="s", digits=0):
        med, lo, hi = spread(self.get(key), unit, digits)
        ratio = ""
        if ratio_key and self.get(ratio_key):
            r_med, r_lo, r_hi = spread(self.get(ratio_key), "", 2)
            ratio = "%s %s (%s–%s)" % (r_med, ratio_label, r_lo, r_hi)
        if self.get(key) or ratio:
            rows.append("| %s | %s | %s | %s | %s | %s |" % (what, med, lo, hi, ratio, target))

    def median_result(self, key):
        results = self.results.get(key) or []
        if not results:
            return None
        ordered = sorted(results, key=lambda r: r["wall"])
        return ordered[(len(ordered) - 1) // 2]

    def render(self, header):
        out = header + ["", "| measurement | median | min | max | ratio: median of the runs' own (min–max) | target |",
                        "|---|---|---|---|---|---|"]
        rows = []
        for mode in self.modes:
            src = ("wheelhouse: pip --no-index --find-links, the folder bound read-only on each host"
                   if mode == "wheelhouse" else "index: PyPI through the host's NAT")
            self.row(rows, "**%s** — bare pip install, one host, pip cache empty" % src, "bare-" + mode)
            self.row(rows, "%s — fresh site.yml, two hosts" % mode, "fresh2-" + mode, "ratio-fresh-" + mode,
                     "bare", "≤ 1.50x")
            changed = self.get("noop-changed-" + mode)
            self.row(rows, "%s — no-op site.yml, two hosts (changed=%s)" % (
                mode, ",".join(str(c) for c in sorted(set(changed))) if changed else "?"),
                "noop2-" + mode, "ratio-noop-" + mode, "fresh", "≤ 0.10x")
        self.row(rows, "wheelhouse — fresh site.yml, **one** host (no other host's pip on the same cores)", "fresh1",
                 "ratio-fresh1", "bare")
        self.row(rows, "wheelhouse — no-op site.yml, one host", "noop1", "ratio-noop1", "fresh")
        self.row(rows, "controller CPU per host, fresh, two hosts", "cpu-fresh2", unit="s", digits=1)
        self.row(rows, "controller CPU per host, fresh, four hosts", "cpu-fresh4", "ratio-cpu-fresh", "two hosts",
                 "0.90–1.10x", unit="s", digits=1)
        self.row(rows, "controller CPU per host added (four hosts' total − two hosts', ÷ 2), fresh", "cpu-fresh-marginal",
                 "ratio-cpu-fresh-marginal", "two hosts' per host", unit="s", digits=1)
        self.row(rows, "controller CPU per host, no-op, two hosts", "cpu-noop2", unit="s", digits=1)
        self.row(rows, "controller CPU per host, no-op, four hosts", "cpu-noop4", "ratio-cpu-noop", "two hosts",
                 "0.90–1.10x", unit="s", digits=1)
        self.row(rows, "controller CPU per host added (four hosts' total − two hosts', ÷ 2), no-op", "cpu-noop-marginal",
                 "ratio-cpu-noop-marginal", "two hosts' per host", unit="s", digits=1)
        self.row(rows, "wall: fresh site.yml, four hosts (wheelhouse)", "fresh4", "ratio-fresh4", "two hosts")
        self.row(rows, "wall: no-op site.yml, four hosts", "noop4")
        self.row(rows, "provision against moto, first run", "prov-first")
        self.row(rows, "provision against moto, re-run (changed=%s)" % ",".join(
            str(c) for c in sorted(set(self.get("prov-changed")))), "prov-rerun", "ratio-prov", "first", "≤ 0.35x")
        self.row(rows, "controller CPU, provision re-run", "cpu-prov-rerun", unit="s", digits=1)
        for key, what in (("fo-start", "failover: power-off → first task starts"),
                          ("fo-success", "failover: power-off → first task succeeds"),
                          ("fo-run", "failover: power-off → DAG run succeeds")):
            self.row(rows, what, key)
        out += rows

        # Where the time goes: the run whose wall time is the median of its kind.
        kinds = [(k, t) for mode in self.modes for k, t in (("fresh2-" + mode, "fresh, " + mode),
                                                            ("noop2-" + mode, "no-op, " + mode))]
        kinds = [(k, t) for k, t in kinds if self.median_result(k) and self.median_result(k).get("timeline")]
        if kinds:
            out += ["", "Where the time goes (the median run of each kind; seconds of wall time, two hosts):", "",
                    "| phase | " + " | ".join(kind[1] for kind in kinds) + " |", "|---|" + "---|" * len(kinds)]
            per = [phases(self.median_result(kind[0])) for kind in kinds]
            for key, label in PHASES:
                out.append("| %s | %s |" % (label, " | ".join("%.1f" % p[key] for p in per)))
            out.append("| **total** | %s |" % " | ".join("%.1f" % self.median_result(kind[0])["wall"] for kind in kinds))
            counts = [remote_runs(self.median_result(kind[0]), ["airflow1", "airflow2"]) for kind in kinds]
            out.append("| tasks / module runs on the host, airflow1 | %s |" % " | ".join(
                "%d / %d" % (tasks["airflow1"], runs["airflow1"]) for runs, tasks in counts))
            for key, title in kinds:
                top = slowest(self.median_result(key))
                if not top:
                    continue
                out += ["", "Ten slowest tasks, %s (median run):" % title, "", "| s | task | where |", "|---|---|---|"]
                out += ["| %.1f | %s | %s |" % (wall, name.replace("|", "\\|"), where) for wall, name, where in top]
        proofs = self.get("noop-health")
        if proofs:
            out += ["", "The health check (roles/airflow/tasks/health.yml: units active and steady, the health endpoint, "
                    "the scheduler's heartbeat) in each no-op: " + " — ".join(proofs)]
        out += self.extra_sections
        if self.notes:
            out += [""] + self.notes
        if self.failures:
            out += ["", "Failed:"] + ["- %s" % f for f in self.failures]
        return "\n".join(out) + "\n"


def write_docs(path, text):
    """Add this run's table to docs/bench.md below the marker, newest first; earlier runs stay."""
    with open(path) as handle:
        doc = handle.read()
    if DOCS_MARKER not in doc:
        doc = doc.rstrip("\n") + "\n\n" + DOCS_MARKER + "\n"
    head, tail = doc.split(DOCS_MARKER, 1)
    section = re.sub(r"^# ", "### ", text, count=1, flags=re.M)
    with open(path, "w") as handle:
        handle.write(head + DOCS_MARKER + "\n\n" + section.rstrip("\n") + "\n" + tail)


def main():
    parser = argparse.ArgumentParser(description="make bench", formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
                        help="one run of each (development); the docs are left alone")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "bench.md"))
    parser.add_argument("--docs", default=None)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    runs = 1 if args.quick else max(1, args.runs)
    modes = [m for m in args.modes.split(",") if m]
    steps = set(s for s in args.steps.split(",") if s)
    unknown = (set(modes) - set(MODES)) | (steps - set(STEPS))
    if unknown:
        parser.error("unknown mode or step %s: modes are %s, steps %s" % (
            ", ".join(sorted(unknown)), ",".join(MODES), ",".join(STEPS)))
    if os.geteuid() != 0:
        parser.error("run as root: the bench boots test-bed machines")
    docs = None if args.no_docs or (args.quick and not args.docs) else (args.docs or DOCS)

    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="bench-", dir=os.path.join(ROOT, "build"))
    log("logs in %s" % workdir)
    archive = python_archive()
    wheelhouse = subprocess.run([os.path.join(ROOT, "tools", "wheelhouse.sh"), AIRFLOW_VERSION], cwd=ROOT, env=ENV,
                                check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    bench = Bench(workdir, archive, wheelhouse)
    report = Report(runs, modes)
    sampler = Sampler(bench.accounting)
    load_start = os.getloadavg()
    started = datetime.datetime.now()
    wall_start = time.monotonic()
    sampler.start()

    def attempt(name, func):
        try:
            return func()
        except Exception as exc:  # a measurement that failed is reported, and the run goes on
            report.failures.append("%s: %s" % (name, exc))
            log("FAILED %s: %s" % (name, exc))
            return None

    def converge(name, hosts, mode, sample, last):
        cluster = Cluster(bench, name, hosts, mode)
        tag = "%d-%s-%d" % (hosts, mode, sample)
        try:
            cluster.up()
            fresh = cluster.site("fresh" + tag)
            noop = cluster.site("noop" + tag)
            airflow_hosts = ["airflow%d" % i for i in range(1, hosts + 1)]
            per_host, lb = health_proof(noop, airflow_hosts)
            if hosts == 2:
                report.add("fresh2-" + mode, fresh["wall"])
                report.add("noop2-" + mode, noop["wall"])
                report.add("noop-changed-" + mode, changed_count(noop))
                report.add("ratio-noop-" + mode, noop["wall"] / fresh["wall"])
                bare = report.get("bare-" + mode)
                if len(bare) == sample:
                    report.add("ratio-fresh-" + mode, fresh["wall"] / bare[-1])
                report.keep("fresh2-" + mode, fresh)
                report.keep("noop2-" + mode, noop)
                report.add("noop-health", "%s #%d: %s; load balancer %s" % (
                    mode, sample, ", ".join("%s %s" % (h, "passed" if ok else "NOT CHECKED")
                                            for h, ok in sorted(per_host.items())),
                    "healthy" if lb else "NOT CHECKED"))
            else:
                report.add("fresh%d" % hosts, fresh["wall"])
                report.add("noop%d" % hosts, noop["wall"])
                bare = report.get("bare-" + mode)
                if hosts == 1 and len(bare) == sample:
                    report.add("ratio-fresh1", fresh["wall"] / bare[-1])
                    report.add("ratio-noop1", noop["wall"] / fresh["wall"])
            if mode == "wheelhouse":
                report.add("cpu-fresh%d" % hosts, fresh["cpu"] / hosts)
                report.add("cpu-noop%d" % hosts, noop["cpu"] / hosts)
            if last and hosts == 2 and mode == "wheelhouse" and "failover" in steps:
                fo = attempt("failover", lambda: step_failover(cluster))
                if fo:
                    report.add("fo-start", fo["to_first_task_start"])
                    report.add("fo-success", fo["to_first_task_success"])
                    report.add("fo-run", fo["to_run_success"])
        finally:
            cluster.down()

    try:
        for sample in range(1, runs + 1):
            log("=== sample %d of %d" % (sample, runs))
            for mode in modes:
                if "bare" in steps:
                    got = attempt("bare %s #%d" % (mode, sample),
                                  lambda: bare_install(bench, mode, "bare-%s-%d" % (mode, sample)))
                    if got:
                        report.add("bare-" + mode, got)
                if "converge" in steps:
                    attempt("converge %s #%d" % (mode, sample),
                            lambda: converge("bench2", 2, mode, sample, sample == runs))
            if "one" in steps:
                attempt("one host #%d" % sample, lambda: converge("bench1", 1, "wheelhouse", sample, False))
            if "four" in steps:
                attempt("four hosts #%d" % sample, lambda: converge("bench4", 4, "wheelhouse", sample, False))
            if "provision" in steps:
                got = attempt("provision #%d" % sample, lambda: step_provision(bench, "provision-%d" % sample))
                if got:
                    first, second = got
                    report.add("prov-first", first["wall"])
                    report.add("prov-rerun", second["wall"])
                    report.add("prov-changed", changed_count(second))
                    report.add("ratio-prov", second["wall"] / first["wall"])
                    report.add("cpu-prov-rerun", second["cpu"])
        # Ratios of the four-host figures: sample by sample, against the two-host run of the same sample.
        for kind in ("fresh", "noop"):
            for two, four in zip(report.get("cpu-%s2" % kind), report.get("cpu-%s4" % kind)):
                report.add("ratio-cpu-" + kind, four / two)
                # Per host of the two extra hosts: what a host adds, without the run's fixed cost.
                marginal = (four * 4 - two * 2) / 2
                report.add("cpu-%s-marginal" % kind, marginal)
                report.add("ratio-cpu-%s-marginal" % kind, marginal / two)
        for two, four in zip(report.get("fresh2-wheelhouse"), report.get("fresh4")):
            report.add("ratio-fresh4", four / two)
        if "faults" in steps and os.path.exists(FAULTS):
            log("faults: %s --twin benchf --runs %d" % (FAULTS, runs))
            argv = [FAULTS] if os.access(FAULTS, os.X_OK) else [VENV_PYTHON, FAULTS]
            proc = subprocess.run(argv + ["--twin", "benchf", "--runs", str(runs)], cwd=ROOT,
                                  env=bench.env, stdout=subprocess.PIPE, text=True, check=False)
            report.extra_sections += ["", "### Faults (tools/bench/faults.py)", "", proc.stdout.rstrip()]
            if proc.returncode != 0:
                report.failures.append("faults.py exited %d" % proc.returncode)
    finally:
        sampler.stop.set()
        sampler.join()
        bench.accounting.close()

    minutes = (time.monotonic() - wall_start) / 60
    header = ["# make bench — %s, %s, %d run%s (%.0f min)" % (started.strftime("%Y-%m-%d %H:%M"), git_revision(), runs,
                                                              "" if runs == 1 else "s", minutes),
              "",
              "Machine: %s. Load average at the start %.1f; %s." % (machine(), load_start[0], sampler.summary()),
              "Airflow %s on Python %s (the archive of tools/python-archive/build), Debian 12 test-bed hosts. "
              "Steps: %s; package sources: %s." % (AIRFLOW_VERSION, PYTHON_VERSION, ", ".join(
                  step for step in STEPS if step in steps), ", ".join(modes))]
    # Busy means other work took CPU while the bench ran (sampled). The load average at the start is a moving average
    # over the last minute: after other work ends it stays high for a while on an idle machine, so it decides only
    # when nothing was sampled.
    busy = statistics.mean(sampler.others) > 0.5 if sampler.others else load_start[0] > 3
    if busy:
        header.append("**The machine was busy with other work during this run: the figures are slower than on a "
                      "quiet machine, and noisier.**")
    text = report.render(header)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as handle:
        handle.write(text)
    if docs:
        write_docs(docs, text)
    print(text)
    log("written to %s%s; logs in %s" % (args.out, " and " + docs if docs else "", workdir))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
