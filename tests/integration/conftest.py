"""Fixtures of the integration tests: the PostgreSQL cluster and Airflow venvs that run.sh prepared, and a way to run
one module task through ansible-playbook against localhost (the module on the system Python, driving the venv).

Every test that uses the ``airflow`` fixture runs once per Airflow that run.sh installed (HA_AIRFLOW_IT_VERSIONS):
2.0.2 on Python 3.7 and 3.3.2 on Python 3.11. What differs between them, as the tests see it, is in AIRFLOWS."""

import json
import os
import subprocess
import uuid

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SYSTEM_PYTHON = "/usr/bin/python3"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"

# What the tests expect of each Airflow:
#   family      the module's version_family
#   create      the CLI words that create the schema of an empty database; upgrade: migrate one that is behind
#   conn        the variable of sql_alchemy_conn
#   environment what else every module call gets (Airflow 3: the FAB auth manager, whose users airflow_user manages)
#   fab         whether the FAB provider keeps a schema of its own (alembic_version_fab)
#   last_table  a table the newest migration alters: a session reading it blocks that migration
AIRFLOWS = {
    "2.0.2": dict(family="2.0-2.2", create=["db", "init"], upgrade=["db", "upgrade"],
                  conn="AIRFLOW__CORE__SQL_ALCHEMY_CONN", environment={}, fab=False, last_table="dag"),
    "3.3.2": dict(family="3.x", create=["db", "migrate"], upgrade=["db", "migrate"],
                  conn="AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                  environment={"AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER}, fab=True,
                  last_table="asset_partition_dag_run"),
}
VERSIONS = os.environ.get("HA_AIRFLOW_IT_VERSIONS", " ".join(AIRFLOWS)).split()


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit("%s is not set: run the integration tests through tests/integration/run.sh" % name, 2)
    return value


class Postgres:
    def __init__(self):
        self.bin = _env("HA_AIRFLOW_IT_PGBIN")
        self.port = int(_env("HA_AIRFLOW_IT_PGPORT"))
        self.superpw = _env("HA_AIRFLOW_IT_PGPASSWORD")
        # One login role per session (pytest-xdist workers each have theirs); its password must never show in output.
        self.role = "airflow_" + uuid.uuid4().hex[:8]
        self.password = "af-" + uuid.uuid4().hex[:16]
        self.sql("CREATE ROLE %s LOGIN PASSWORD '%s'" % (self.role, self.password))

    def sql(self, statement, db="postgres", user="postgres"):
        env = dict(os.environ, PGPASSWORD=self.superpw)
        out = subprocess.run([os.path.join(self.bin, "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", user,
                              "-d", db, "-v", "ON_ERROR_STOP=1", "-tAqc", statement],
                             env=env, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True)
        return out.stdout.strip()

    def fresh_db(self):
        name = "af_" + uuid.uuid4().hex[:10]
        self.sql("CREATE DATABASE %s OWNER %s" % (name, self.role))
        return name

    def url(self, db, password=None, port=None):
        return "postgresql+psycopg2://%s:%s@127.0.0.1:%d/%s" % (
            self.role, self.password if password is None else password, port or self.port, db)

    def tables(self, db):
        return int(self.sql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'", db))

    def revision(self, db, table="alembic_version"):
        return self.sql("SELECT version_num FROM %s" % table, db)


@pytest.fixture(scope="session")
def pg():
    return Postgres()


@pytest.fixture(scope="session", params=VERSIONS)
def airflow(request):
    """One Airflow venv (parametrized: every test that uses it runs against each version) and what to expect of it."""
    version = request.param
    exe = _env("HA_AIRFLOW_IT_AIRFLOW_" + version.replace(".", "_"))
    return dict(AIRFLOWS[version], version=version, exe=exe, python=os.path.join(os.path.dirname(exe), "python"))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    """xdist (--dist loadgroup): the tests of a file that share a module-scoped database (the user tests) stay on one
    worker per Airflow; every other test goes to whichever worker is free."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "airflow" not in callspec.params:
            continue
        if "migrated" in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group("%s-%s" % (item.module.__name__, callspec.params["airflow"])))


class Ansible:
    """Runs one task of a module through ansible-playbook; the task's result (json callback)."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path

    def playbook(self, module, args):
        path = self.tmp / ("play-%s.yml" % uuid.uuid4().hex[:8])
        play = [dict(name="integration", hosts="localhost", gather_facts=False,
                     tasks=[{"name": "module under test", "ha_airflow.aws." + module: args}])]
        path.write_text(json.dumps(play))  # JSON is YAML
        return str(path)

    def command(self, module, args, check=False, verbose=False):
        argv = ["ansible-playbook", "-i", "localhost,", "-c", "local", "-e",
                "ansible_python_interpreter=" + SYSTEM_PYTHON, self.playbook(module, args)]
        if check:
            argv.append("--check")
        if verbose:
            argv.append("-vvv")
        stdout = "ansible.builtin.default" if verbose else "ansible.posix.json"
        # No extra callbacks (ansible.cfg enables profile_tasks, whose output would break the JSON): list only the
        # stdout callback, since ansible-core 2.19 refuses an empty list entry.
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(TOP, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_STDOUT_CALLBACK=stdout, ANSIBLE_CALLBACKS_ENABLED=stdout, ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
        return argv, env

    def start(self, module, args, check=False):
        argv, env = self.command(module, args, check)
        return subprocess.Popen(argv, env=env, cwd=TOP, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True)

    @staticmethod
    def result(proc):
        out, err = proc.communicate(timeout=600)
        try:
            report = json.loads(out)
            return report["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError):
            raise AssertionError("ansible-playbook gave no task result (rc=%s)\n%s\n%s" % (proc.returncode, out, err))

    def run(self, module, args, check=False):
        return self.result(self.start(module, args, check))

    def verbose(self, module, args):
        """-vvv with the default callback: everything a user would see, as text."""
        argv, env = self.command(module, args, verbose=True)
        proc = subprocess.run(argv, env=env, cwd=TOP, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=600, check=False)
        return proc.returncode, proc.stdout


@pytest.fixture
def ansible(tmp_path):
    return Ansible(tmp_path)


def environment(airflow, pg, db):
    """What the module and the CLI get: the connection in the variable this Airflow reads, and its extras."""
    return dict(airflow["environment"], **{airflow["conn"]: pg.url(db), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})


@pytest.fixture(scope="session")
def airflow_env(airflow, pg):
    """environment() for a database name."""
    return lambda db: environment(airflow, pg, db)


@pytest.fixture
def db_args(pg, airflow, tmp_path):
    """Module arguments for a fresh, empty database of its own."""
    db = pg.fresh_db()
    home = tmp_path / "airflow_home"
    home.mkdir()
    return dict(airflow_executable=airflow["exe"], airflow_home=str(home), environment=environment(airflow, pg, db)), db
