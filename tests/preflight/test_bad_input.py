"""Bad input fails in preflight, with a message that says what to fix, before any host is changed.

Boots one Debian 12 machine on the test bed (bed `preflight`, logged in as ec2-user; a CPython 3.7 bound read-only
for the python_executable cases), runs the real playbooks/configure.yml once per case with good inventory values
plus the case's bad ones, and requires that: the run fails; the failing task belongs to the first play (the
preflight of every role); its message contains the expected hint. A baseline run with only good values (Python 3.7
from the archive of tools/python-archive/build) goes through in check mode (so the cases fail because of their bad
value, and a dry run on a fresh host passes). At the end the machine must still be untouched: no Python prefix, no
virtualenv, no airflow user, no NFS client, the same fstab.

Run: pytest -q tests/preflight   (as root; `make preflight`)
"""

import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTBED = os.path.join(REPO, "tools", "testbed", "testbed")
ARCHIVE_BUILD = os.path.join(REPO, "tools", "python-archive", "build")
BED = "preflight"
PY37 = os.environ.get("HA_AIRFLOW_PYTHON37", "/root/.pyenv/versions/3.7.16")
PREFLIGHT_PLAY = "Check the input of every role on every Airflow host before changing any"

FERNET_NEW = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="  # test values: URL-safe base64 of 32 bytes
FERNET_OLD = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="

GOOD = {
    "shared_storage_efs_id": "fs-0123abcd",
    "shared_storage_region": "cn-north-1",
    "shared_storage_mount_state": "present",
    # "python_archive_src" is added by the `bed` fixture: the archive tools/python-archive/build makes from PY37.
    "airflow_db_host": "db.example.internal",
    "airflow_db_password": "good-password",
    "airflow_redis_host": "redis.example.internal",
    # Two keys, newest first, as while rotating: the baseline proves a rotation pair is accepted.
    "airflow_fernet_key": "%s,%s" % (FERNET_NEW, FERNET_OLD),
}

NO_ARCHIVE = {"python_archive_src": ""}

# How the example inventories feed their vault.yml to the airflow role (inventories/*/group_vars/all/main.yml).
VAULT_MAP = {
    "airflow_db_password": "vault_rds_password",
    "airflow_redis_password": "vault_redis_auth_token",
    "airflow_fernet_key": "vault_airflow_fernet_key",
    "airflow_webserver_secret_key": "vault_airflow_webserver_secret_key",
    "airflow_admin_password": "vault_airflow_admin_password",
}
with open(os.path.join(REPO, "inventories", "cn-north-1", "group_vars", "all", "vault.yml")) as _fh:
    EXAMPLE_VAULT = yaml.safe_load(_fh)

# (case id, bad values, text the failure message must contain, or a tuple of texts it must all contain)
CASES = [
    # shared_storage
    ("mount-point-empty", {"shared_storage_mount_point": ""}, "shared_storage_mount_point is ''"),
    ("mount-point-relative", {"shared_storage_mount_point": "airflow"}, "set it to an absolute path"),
    ("mount-target-empty", {"shared_storage_efs_id": "", "shared_storage_efs_dns_name": ""}, "The mount target is empty"),
    ("efs-id-malformed", {"shared_storage_efs_id": "fs-xyz"}, "is not an EFS file system id"),
    ("efs-id-without-region", {"shared_storage_region": ""}, "set it to the file system's region"),
    ("efs-dns-name-url", {"shared_storage_efs_dns_name": "nfs://fs-0123abcd.efs.cn-north-1.amazonaws.com.cn"},
     "is not a host name"),
    ("nfs-options-without-nfsvers", {"shared_storage_nfs_options": ["hard", "timeo=600"]}, "exactly one nfsvers=4.1"),
    ("nfs-options-comma-joined", {"shared_storage_nfs_options": ["nfsvers=4.1,hard"]}, "one option per item"),
    ("mount-state-unknown", {"shared_storage_mount_state": "auto"}, "shared_storage_mount_state must be one of"),
    ("efs-utils-not-packaged", {"shared_storage_efs_utils": True}, "has no amazon-efs-utils package"),
    ("shared-dir-escapes", {"shared_storage_directories": [{"path": "../etc"}]}, "without '..'"),
    # python
    ("python-version-malformed", {"python_version": "three"}, "python_version is 'three'"),
    ("interpreter-missing", dict(NO_ARCHIVE, python_executable="/opt/python3.7/bin/python3.7"),
     "does not exist or is not executable"),
    ("interpreter-relative", dict(NO_ARCHIVE, python_executable="python3.7"), "give the absolute path of the interpreter"),
    ("interpreter-wrong-version", dict(NO_ARCHIVE, python_executable="/usr/bin/python3"), "but python_version is 3.7"),
    ("python-not-packaged", NO_ARCHIVE, "does not package Python 3.7"),
    ("python-not-packaged-hint", NO_ARCHIVE, "tools/python-archive/build"),
    ("interpreter-not-for-unprivileged", dict(NO_ARCHIVE, python_executable="/srv/private/python3.7"),
     "does not run as the unprivileged user"),
    ("interpreter-and-archive", {"python_executable": PY37 + "/bin/python3.7"}, "not several"),
    ("archive-missing", {"python_archive_src": "/nonexistent/cpython-3.7.16-x86_64-linux.tar.gz"},
     "is not a file on the controller: build it with tools/python-archive/build"),
    ("archive-checksum-mismatch", {"python_archive_checksum": "0" * 64}, "not python_archive_checksum"),
    ("archive-url-without-checksum", dict(NO_ARCHIVE, python_archive_url="https://mirror.example.cn/cpython-3.7.tar.gz"),
     "python_archive_checksum its sha256"),
    ("archive-url-not-a-url", dict(NO_ARCHIVE, python_archive_url="mirror.example.cn/cpython-3.7.tar.gz",
                                   python_archive_checksum="a" * 64), "python_archive_url needs"),
    ("archive-prefix-relative", {"python_install_prefix": "opt/python3.7"}, "python_install_prefix is 'opt/python3.7'"),
    ("archive-prefix-shared", {"python_install_prefix": "/usr/local"}, "give an absolute folder of its own"),
    # airflow
    ("airflow-version-unknown", {"airflow_version": "2.0"}, "airflow_version '2.0' is not supported"),
    ("venv-inside-airflow-home", {"airflow_venv": "/var/lib/airflow/venv"}, "which the airflow user owns"),
    ("executor-unknown", {"airflow_executor": "KubernetesExecutor"}, "airflow_executor must be one of"),
    ("broker-missing-for-celery", {"airflow_redis_host": ""}, "The Celery broker URL is empty"),
    ("broker-wrong-scheme", {"airflow_broker_url": "http://redis.example.internal:6379/0"},
     "does not start with redis://"),
    ("fernet-key-malformed", {"airflow_fernet_key": "not-a-fernet-key"}, "is not a Fernet key"),
    ("fernet-key-too-short", {"airflow_fernet_key": "QUJD" * 8}, "is not a Fernet key"),
    ("fernet-key-rotation-old-malformed", {"airflow_fernet_key": FERNET_NEW + ",not-a-fernet-key"},
     "Fernet key 2 of airflow_fernet_key is not a Fernet key"),
    ("db-password-missing", {"airflow_db_password": ""}, "airflow_db_password (keep it in Ansible Vault)"),
    ("db-host-missing", {"airflow_db_host": ""}, "it needs airflow_db_host"),
    ("sql-alchemy-conn-not-postgresql", {"airflow_sql_alchemy_conn": "mysql://a:b@c/d"}, "postgresql+psycopg2://"),
    ("db-sslmode-unknown", {"airflow_db_sslmode": "maybe"}, "airflow_db_sslmode must be one of"),
    ("component-unknown", {"airflow_components": ["webserver", "triggerer"]}, "airflow_components is"),
    ("components-empty", {"airflow_components": []}, "list one or more of"),
    ("worker-without-celery", {"airflow_executor": "LocalExecutor"}, "which need airflow_executor CeleryExecutor"),
    ("webserver-secret-short", {"airflow_webserver_secret_key": "Xq7secretZ"}, "32 characters or more"),
    ("webserver-secret-31", {"airflow_webserver_secret_key": "s" * 31}, "airflow_webserver_secret_key needs 32"),
    ("jwt-secret-31", {"airflow_jwt_secret": "j" * 31}, "airflow_jwt_secret needs 32"),
    ("admin-password-7", {"airflow_admin_password": "p" * 7}, "airflow_admin_password needs 8"),
    ("visibility-timeout-zero", {"airflow_celery_visibility_timeout": 0}, "airflow_celery_visibility_timeout is 0"),
    ("zombie-threshold-under-three-heartbeats", {"airflow_zombie_task_threshold": 10},
     "airflow_zombie_task_threshold (10) at least three heartbeats long"),
    ("lb-target-id-missing", {"airflow_lb_target_group_arn":
                              "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:targetgroup/airflow-webserver/1",
                              "airflow_lb_target_id": ""}, "airflow_lb_target_id '' is not an EC2 instance id"),
    ("aws-region-malformed", {"airflow_aws_region": "China North"}, "airflow_aws_region is 'China North'"),
    ("requires-mounts-relative", {"airflow_requires_mounts": ["airflow"]}, "airflow_requires_mounts is"),
    ("webserver-port-out-of-range", {"airflow_webserver_port": 70000}, "airflow_webserver_port must be 1-65535"),
    ("wheelhouse-missing", {"airflow_pip_wheelhouse": "/nonexistent/wheels"}, "is not a directory"),
    ("config-overrides-flat", {"airflow_config_overrides": {"core": "parallelism=8"}}, "must map sections to dicts"),
    ("uid-not-a-number", {"airflow_uid": "airflow"}, "airflow_uid"),
    ("constraints-file-missing", {"airflow_constraints_file": "/nonexistent/constraints.txt"},
     "No constraints file for apache-airflow"),
    # A role's preflight reports every problem of its settings at once, not only the first.
    ("three-problems-at-once", {"airflow_celery_visibility_timeout": 0, "airflow_webserver_port": 70000,
                                "airflow_aws_region": "China North"},
     ("airflow_celery_visibility_timeout is 0", "airflow_webserver_port must be 1-65535",
      "airflow_aws_region is 'China North'")),
] + [
    # Every CHANGE-ME value of the example vault files, as group_vars/all/main.yml maps it: the message names the
    # variable (and never prints the value).
    ("placeholder-" + var, {var: EXAMPLE_VAULT[vault_var]}, var + " is still the example placeholder")
    for var, vault_var in sorted(VAULT_MAP.items())
]


def _run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False, **kw)


@pytest.fixture(scope="module")
def bed():
    if os.geteuid() != 0:
        pytest.skip("the test bed needs root")
    build = _run([ARCHIVE_BUILD, PY37])
    assert build.returncode == 0, build.stderr
    archive = build.stdout.strip()
    tmp = tempfile.mkdtemp(prefix="ha-airflow-preflight-")
    spec = os.path.join(tmp, "spec.json")
    with open(spec, "w") as fh:
        json.dump({"machines": [{"name": "host1", "binds": [{"src": PY37, "dst": PY37, "ro": True}]}]}, fh)
    up = _run([TESTBED, "up", BED, "--spec", spec])
    assert up.returncode == 0, up.stderr
    machine = json.loads(up.stdout)["machines"][0]
    # Test fixture: an interpreter behind a folder only root may enter, for the "not runnable by an unprivileged
    # user" case. (The test bed itself makes /root traversable for the Python 3.7 bound under it.)
    fixture = ("sudo mkdir -p -m 0700 /srv/private && sudo ln -sfn %s/bin/python3.7 /srv/private/python3.7"
               " && sha1sum /etc/fstab /etc/passwd" % PY37)
    prepared = _run([TESTBED, "ssh", BED, "host1", fixture])
    assert prepared.returncode == 0, prepared.stderr
    inventory = os.path.join(tmp, "hosts.ini")
    with open(inventory, "w") as fh:
        fh.write("[airflow]\nhost1 ansible_host=%s ansible_user=%s ansible_port=%s ansible_ssh_private_key_file=%s "
                 "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n"
                 % (machine["address"], machine["user"], machine["port"], machine["identity_file"]))
    yield {"inventory": inventory, "tmp": tmp, "sums": prepared.stdout, "archive": archive}
    _run([TESTBED, "down", BED])
    shutil.rmtree(tmp, ignore_errors=True)


def _playbook(bed, name, values, check=False):
    extra = os.path.join(bed["tmp"], name + ".json")
    with open(extra, "w") as fh:
        merged = dict(GOOD, python_archive_src=bed["archive"], airflow_secrets_dir=os.path.join(bed["tmp"], "secrets"))
        merged.update(values)
        json.dump(merged, fh)
    # Only the json callback (the stdout one): ansible.cfg's profile_tasks would print into the JSON.
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json", ANSIBLE_NOCOLOR="1")
    argv = ["ansible-playbook", "-i", bed["inventory"], "-e", "@" + extra, "playbooks/configure.yml"]
    proc = _run(argv + (["--check"] if check else []), cwd=REPO, env=env)
    return proc


def _failures(proc):
    """(play name, task name, message) of every failed task in a json-callback result."""
    start = proc.stdout.find("{")
    report = json.loads(proc.stdout[start:])
    found = []
    for play in report["plays"]:
        for task in play["tasks"]:
            for result in task["hosts"].values():
                if result.get("failed"):
                    # A loop's own msg is generic: the items carry the real ones.
                    msgs = [result.get("msg", "")] + [item.get("msg", "") for item in result.get("results", [])
                                                      if item.get("failed")]
                    msg = " ".join(" ".join(m) if isinstance(m, list) else str(m) for m in msgs)
                    found.append((play["play"]["name"], task["task"]["name"], msg))
    return found


@pytest.fixture(scope="module")
def results(bed):
    # The baseline first (it also proves a dry run on a fresh host passes), then every case, a few at a time.
    baseline = _playbook(bed, "baseline", {}, check=True)
    with ThreadPoolExecutor(max_workers=6) as pool:
        runs = dict(zip([c[0] for c in CASES], pool.map(lambda c: _playbook(bed, c[0], c[1]), CASES)))
    after = _run([TESTBED, "ssh", BED, "host1",
                  "sha1sum /etc/fstab /etc/passwd; test ! -e /opt/airflow && test ! -e /var/lib/airflow"
                  " && test ! -e /opt/ha_airflow"
                  " && ! dpkg -s nfs-common >/dev/null 2>&1 && echo untouched"])
    return {"baseline": baseline, "runs": runs, "after": after}


def test_enough_cases():
    assert len(CASES) >= 20
    assert len({c[0] for c in CASES}) == len(CASES)


def test_good_input_passes_in_check_mode(results):
    proc = results["baseline"]
    assert proc.returncode == 0, _failures(proc) or proc.stderr[-2000:]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_fails_in_preflight(results, case):
    name, _values, hint = case
    proc = results["runs"][name]
    assert proc.returncode != 0, "configure.yml passed with bad input %s" % name
    failures = _failures(proc)
    assert failures, proc.stderr[-2000:]
    play, task, msg = failures[0]
    assert play == PREFLIGHT_PLAY, "failed outside the preflight play: %s / %s: %s" % (play, task, msg)
    for part in hint if isinstance(hint, tuple) else (hint,):
        assert part in msg, "message does not say what to fix (%r expected): %s" % (part, msg)


def test_no_case_changed_the_host(bed, results):
    after = results["after"]
    assert after.returncode == 0 and "untouched" in after.stdout, after.stdout + after.stderr
    assert after.stdout.split("untouched")[0].strip() == bed["sums"].strip()


SECRET_VARS = ("airflow_webserver_secret_key", "airflow_jwt_secret", "airflow_admin_password", "airflow_fernet_key",
               "airflow_db_password")


@pytest.mark.parametrize("case", [c for c in CASES if set(c[1]) & set(SECRET_VARS)],
                         ids=[c[0] for c in CASES if set(c[1]) & set(SECRET_VARS)])
def test_rejected_secret_never_printed(results, case):
    name, values, _hint = case
    proc = results["runs"][name]
    for var in SECRET_VARS:
        value = str(values.get(var, ""))
        # Each part of a rotation list too (fernet keys are given as "new,old").
        for part in [p for p in value.split(",") if len(p) >= 5]:
            assert part not in proc.stdout + proc.stderr, "%s printed the value of %s" % (name, var)
