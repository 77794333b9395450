"""The introspection helper (HELPER_SOURCE) run in this interpreter against a stand-in Airflow package that behaves
like Airflow 2.0.x where it matters: importing it writes airflow.cfg and webserver_config.py into AIRFLOW_HOME when
they are missing, its migration scripts import it, and starting the webserver's app (cached_app) syncs FAB roles and
permissions. Check mode must do none of that; a hung migration must be stopped at the timeout."""

import io
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest
from werkzeug.security import generate_password_hash

from ansible_collections.ha_airflow.aws.plugins.module_utils import _airflow
from ansible_collections.ha_airflow.aws.plugins.module_utils._airflow_helper import HELPER_SOURCE

AIRFLOW_INIT = '''
import os
# What Airflow 2.0.x does when imported (airflow.configuration): create AIRFLOW_HOME, write a default airflow.cfg
# and webserver_config.py when they are missing.
_home = os.path.expanduser(os.environ.get("AIRFLOW_HOME", "~/airflow"))
os.makedirs(_home, exist_ok=True)
_cfg = os.environ.get("AIRFLOW_CONFIG") or os.path.join(_home, "airflow.cfg")
if not os.path.exists(_cfg):
    with open(_cfg, "w") as _f:
        _f.write("[core]\\n")
if not os.path.exists(os.path.join(_home, "webserver_config.py")):
    with open(os.path.join(_home, "webserver_config.py"), "w") as _f:
        _f.write("# default\\n")
__version__ = "2.0.2"
'''

CACHED_APP = '''
import os


def cached_app():
    # Starting the webserver's app: Flask-AppBuilder syncs roles and permissions into the database.
    open(os.path.join(os.environ["AIRFLOW_HOME"], "fab-permissions-synced"), "w").close()
    raise RuntimeError("the stand-in has no security manager")
'''

MIGRATIONS = {
    "1_first.py": "import airflow  # noqa\nrevision = 'aaa111'\ndown_revision = None\n",
    "2_second.py": "from airflow import settings  # noqa\nrevision = 'bbb222'\ndown_revision = 'aaa111'\n",
    "3_branch.py": "revision: str = 'bbx222'\ndown_revision = 'aaa111'\n",
    "4_merge.py": "import airflow  # noqa\nrevision = 'ccc333'\ndown_revision = ('bbb222', 'bbx222')\n",
    "README": "not a migration\n",
}
HEADS = ["ccc333"]


class SqliteReadOnly:
    """Stands in for the helper's ReadOnlyDatabase (SQLAlchemy is not installed here): same interface, sqlite3,
    opened read-only, an absent file is an empty database."""

    def __init__(self, url):
        assert url.startswith("sqlite:///"), url
        self.path = url[len("sqlite:///"):]
        self.dialect = "sqlite"
        self.url = url
        self.conn = (sqlite3.connect("file:%s?mode=ro" % self.path, uri=True)
                     if os.path.isfile(self.path) else None)

    def tables(self):
        if self.conn is None:
            return set()
        return set(row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))

    def rows(self, sql, params=None):
        return [tuple(row) for row in self.conn.execute(sql, params or {})]

    def close(self):
        if self.conn is not None:
            self.conn.close()


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """A stand-in Airflow on sys.path, an empty AIRFLOW_HOME and a SQLite database URL in the environment."""
    site = tmp_path / "site"
    package = site / "airflow"
    versions = package / "migrations" / "versions"
    versions.mkdir(parents=True)
    (package / "__init__.py").write_text(AIRFLOW_INIT)
    (package / "settings.py").write_text("")
    (package / "version.py").write_text("version = '2.0.2'\n")
    (package / "www").mkdir()
    (package / "www" / "__init__.py").write_text("")
    (package / "www" / "app.py").write_text(CACHED_APP)
    for name, text in MIGRATIONS.items():
        (versions / name).write_text(text)
    home = tmp_path / "home"
    home.mkdir()
    database = tmp_path / "db" / "airflow.db"
    database.parent.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    monkeypatch.delenv("AIRFLOW_CONFIG", raising=False)
    for name in [n for n in os.environ if n.startswith("AIRFLOW__")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AIRFLOW__CORE__SQL_ALCHEMY_CONN", "sqlite:///%s" % database)
    for name in [n for n in sys.modules if n == "airflow" or n.startswith("airflow.")]:
        monkeypatch.delitem(sys.modules, name)
    # no installed distribution "apache-airflow" here: the version comes from the package itself
    namespace = {"__name__": "helper_under_test"}
    exec(compile(HELPER_SOURCE, "<helper>", "exec"), namespace)  # pylint: disable=exec-used
    namespace["ReadOnlyDatabase"] = SqliteReadOnly
    yield dict(helper=namespace, home=home, database=database, package=package)
    for name in [n for n in sys.modules if n == "airflow" or n.startswith("airflow.")]:
        del sys.modules[name]


def call(helper, action, request, monkeypatch, capsys):
    """Run the helper's main() as the module does: action in argv, the request on stdin; its parsed answer."""
    monkeypatch.setattr("sys.argv", ["-c", action])
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(request)))
    capsys.readouterr()
    helper["main"]()
    return _airflow.parse_helper_output(capsys.readouterr().out)


def make_database(path, revision=None, users=()):
    conn = sqlite3.connect(str(path))
    if revision:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
    if users is not None:
        conn.execute("CREATE TABLE ab_role (id INTEGER PRIMARY KEY, name VARCHAR(64))")
        conn.execute("CREATE TABLE ab_user (id INTEGER PRIMARY KEY, first_name VARCHAR(64), last_name VARCHAR(64), "
                     "username VARCHAR(64), password VARCHAR(256), active BOOLEAN, email VARCHAR(64))")
        conn.execute("CREATE TABLE ab_user_role (id INTEGER PRIMARY KEY, user_id INTEGER, role_id INTEGER)")
        conn.executemany("INSERT INTO ab_role (id, name) VALUES (?, ?)", [(1, "Admin"), (2, "Auditors")])
        for number, (username, password, roles) in enumerate(users, 1):
            conn.execute("INSERT INTO ab_user VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (number, "Ada", "Lovelace", username, generate_password_hash(password), 1,
                          "%s@example.com" % username))
            for role in roles:
                conn.execute("INSERT INTO ab_user_role (user_id, role_id) VALUES (?, ?)",
                             (number, {"Admin": 1, "Auditors": 2}[role]))
    conn.commit()
    conn.close()


def airflow_imported():
    return any(n == "airflow" or n.startswith("airflow.") for n in sys.modules)


# --- check mode: read the database, start nothing, write nothing ------------------------------------------------

def test_check_mode_db_inspect_writes_no_file(stand_in, monkeypatch, capsys):
    make_database(stand_in["database"], revision="bbb222", users=None)
    answer = call(stand_in["helper"], "db_inspect", {"check_mode": True}, monkeypatch, capsys)
    assert "error" not in answer, answer
    assert answer["airflow_version"] == "2.0.2"
    assert (answer["current"], answer["heads"], answer["state"]) == (["bbb222"], HEADS, "behind")
    assert answer["dialect"] == "sqlite"
    assert os.listdir(str(stand_in["home"])) == [], "check mode wrote into AIRFLOW_HOME"
    assert not airflow_imported(), "check mode imported airflow (which writes airflow.cfg and webserver_config.py)"


def test_check_mode_on_a_fresh_home_and_no_database(stand_in, monkeypatch, capsys):
    # Nothing exists yet: not the database file (SQLite would create it on connect), not airflow.cfg.
    answer = call(stand_in["helper"], "db_inspect", {"check_mode": True}, monkeypatch, capsys)
    assert (answer["current"], answer["state"]) == ([], "empty")
    assert not stand_in["database"].exists(), "check mode created the database file"
    assert os.listdir(str(stand_in["home"])) == []
    assert not airflow_imported()


@pytest.mark.parametrize("revision, state", [("ccc333", "current"), ("aaa111", "behind"), ("zzz999", "ahead")])
def test_check_mode_schema_states(stand_in, monkeypatch, capsys, revision, state):
    make_database(stand_in["database"], revision=revision, users=None)
    assert call(stand_in["helper"], "db_inspect", {"check_mode": True}, monkeypatch, capsys)["state"] == state


def test_check_mode_user_inspect_reads_without_the_security_manager(stand_in, monkeypatch, capsys):
    make_database(stand_in["database"], revision="ccc333", users=[("ada", "right-password", ["Admin", "Auditors"])])
    request = dict(check_mode=True, appbuilder="airflow.www.app:cached_app", username="ada", password="right-password")
    answer = call(stand_in["helper"], "user_inspect", request, monkeypatch, capsys)
    assert "error" not in answer, answer
    assert answer["exists"] is True and answer["password_matches"] is True
    assert answer["user"] == dict(username="ada", email="ada@example.com", first_name="Ada", last_name="Lovelace",
                                  roles=["Admin", "Auditors"], active=True)
    # Airflow's built-in roles are created by the security manager when the real run starts it: counted as there.
    assert answer["roles"] == ["Admin", "Auditors", "Op", "Public", "User", "Viewer"]
    wrong = call(stand_in["helper"], "user_inspect", dict(request, password="wrong"), monkeypatch, capsys)
    assert wrong["password_matches"] is False
    assert "right-password" not in json.dumps(answer) + json.dumps(wrong)
    assert os.listdir(str(stand_in["home"])) == [], "check mode started the app (FAB sync) or wrote airflow.cfg"
    assert not airflow_imported()


def test_check_mode_user_inspect_on_an_empty_database(stand_in, monkeypatch, capsys):
    request = dict(check_mode=True, appbuilder="airflow.www.app:cached_app", username="ada", password="pw")
    answer = call(stand_in["helper"], "user_inspect", request, monkeypatch, capsys)
    assert (answer["exists"], answer["user"], answer["password_matches"]) == (False, None, None)
    assert answer["roles"] == ["Admin", "Op", "Public", "User", "Viewer"]
    assert os.listdir(str(stand_in["home"])) == [] and not stand_in["database"].exists()


@pytest.mark.parametrize("action, request_", [
    ("db_migrate", dict(commands={"empty": ["/bin/false"]})),
    ("user_update", dict(appbuilder="airflow.www.app:cached_app", username="ada", password="x")),
])
def test_check_mode_refuses_actions_that_change(stand_in, monkeypatch, capsys, action, request_):
    answer = call(stand_in["helper"], action, dict(request_, check_mode=True), monkeypatch, capsys)
    assert answer["error"]["kind"] == "check_mode"
    assert os.listdir(str(stand_in["home"])) == [] and not airflow_imported()


def test_check_mode_version_without_package_metadata(stand_in, monkeypatch, capsys):
    answer = call(stand_in["helper"], "version", {"check_mode": True}, monkeypatch, capsys)
    assert answer == {"airflow_version": "2.0.2"}
    assert os.listdir(str(stand_in["home"])) == [] and not airflow_imported()


def test_check_mode_refuses_to_import_airflow(stand_in):
    helper = stand_in["helper"]
    with helper["read_only_imports"]():
        with pytest.raises(ImportError, match="check mode"):
            __import__("airflow.www.app")
    assert os.listdir(str(stand_in["home"])) == [] and not airflow_imported()


def test_real_mode_is_what_imports_airflow(stand_in, monkeypatch, capsys):
    # The stand-in proves its point: the full action imports Airflow, which writes its files.
    call(stand_in["helper"], "db_inspect", {"import_airflow": True}, monkeypatch, capsys)
    assert sorted(os.listdir(str(stand_in["home"]))) == ["airflow.cfg", "webserver_config.py"]


@pytest.mark.parametrize("action, request_", [
    ("db_inspect", {}),
    ("user_inspect", dict(appbuilder="airflow.www.app:cached_app", username="ada", password="pw")),
])
def test_real_mode_reads_first_without_airflow(stand_in, monkeypatch, capsys, action, request_):
    # Outside check mode too, an inspection that plain SQL can answer imports nothing and starts no app.
    make_database(stand_in["database"], revision="ccc333", users=[("ada", "pw", ["Admin"])])
    answer = call(stand_in["helper"], action, request_, monkeypatch, capsys)
    assert "error" not in answer and answer["read_only"] is True, answer
    assert os.listdir(str(stand_in["home"])) == [] and not airflow_imported()


def test_real_mode_falls_back_to_airflow_when_plain_reading_cannot(stand_in, monkeypatch, capsys):
    # The connection comes from a secrets backend: only Airflow can resolve it, so the full action runs.
    monkeypatch.delenv("AIRFLOW__CORE__SQL_ALCHEMY_CONN")
    monkeypatch.setenv("AIRFLOW__CORE__SQL_ALCHEMY_CONN_SECRET", "airflow/connections/metadata")
    answer = call(stand_in["helper"], "db_inspect", {}, monkeypatch, capsys)
    assert "read_only" not in answer
    assert sorted(os.listdir(str(stand_in["home"]))) == ["airflow.cfg", "webserver_config.py"]


def test_real_mode_reports_database_errors_of_the_plain_reading(stand_in, monkeypatch, capsys):
    def unreachable(url):
        raise stand_in["helper"]["HelperError"]("unreachable", "could not connect to server: Connection refused")
    stand_in["helper"]["ReadOnlyDatabase"] = unreachable
    answer = call(stand_in["helper"], "db_inspect", {}, monkeypatch, capsys)
    assert answer["error"]["kind"] == "unreachable"
    assert os.listdir(str(stand_in["home"])) == [] and not airflow_imported()


def test_migration_graph_reads_the_scripts_without_running_them(stand_in):
    heads, known = stand_in["helper"]["migration_graph"](str(stand_in["package"]))
    assert heads == HEADS and known == {"aaa111", "bbb222", "bbx222", "ccc333"}
    assert not airflow_imported()


# --- where check mode finds the database: the places Airflow looks, in its order ----------------------------------

def test_connection_from_the_environment_first(stand_in, monkeypatch, tmp_path):
    (tmp_path / "airflow.cfg").write_text("[core]\nsql_alchemy_conn = postgresql://from:cfg@h/d\n")
    monkeypatch.setenv("AIRFLOW_CONFIG", str(tmp_path / "airflow.cfg"))
    find = stand_in["helper"]["configured_sql_alchemy_conn"]
    assert find((2, 0, 2))[0] == "sqlite:///%s" % stand_in["database"]
    monkeypatch.delenv("AIRFLOW__CORE__SQL_ALCHEMY_CONN")
    assert find((2, 0, 2))[0] == "postgresql://from:cfg@h/d"


def test_connection_from_airflow_cfg_in_airflow_home(stand_in, monkeypatch):
    monkeypatch.delenv("AIRFLOW__CORE__SQL_ALCHEMY_CONN")
    (stand_in["home"] / "airflow.cfg").write_text(
        "[core]\nsql_alchemy_conn = postgresql://u:p%%2Fq@$DBHOST/d\n[database]\nsql_alchemy_conn = mysql://x@y/z\n")
    monkeypatch.setenv("DBHOST", "db.internal")
    find = stand_in["helper"]["configured_sql_alchemy_conn"]
    assert find((2, 0, 2))[0] == "postgresql://u:p%2Fq@db.internal/d"  # %% and $VARS as Airflow reads them
    assert find((2, 7, 0))[0] == "mysql://x@y/z"  # [database] from 2.3 on


def test_connection_from_a_command(stand_in, monkeypatch):
    monkeypatch.delenv("AIRFLOW__CORE__SQL_ALCHEMY_CONN")
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD", "echo postgresql://cmd@h/d")
    assert stand_in["helper"]["configured_sql_alchemy_conn"]((2, 9, 0))[0] == "postgresql://cmd@h/d"


def test_connection_default_is_sqlite_in_airflow_home(stand_in, monkeypatch):
    monkeypatch.delenv("AIRFLOW__CORE__SQL_ALCHEMY_CONN")
    assert stand_in["helper"]["configured_sql_alchemy_conn"]((2, 0, 2))[0] == \
        "sqlite:///%s" % os.path.join(str(stand_in["home"]), "airflow.db")


# --- a migration that hangs is stopped at the timeout ---------------------------------------------------------------

class Engine:
    """An engine stand-in for db_migrate; the dialect decides whether the helper takes a database lock."""

    class dialect:  # noqa: N801  (mirrors engine.dialect.name)
        name = "sqlite"

    def dispose(self):
        pass


@pytest.fixture
def migrate_helper(monkeypatch):
    namespace = {"__name__": "helper_under_test"}
    exec(compile(HELPER_SOURCE, "<helper>", "exec"), namespace)  # pylint: disable=exec-used
    airflow = type("airflow", (), {"__version__": "2.0.2", "__file__": "/nowhere/airflow/__init__.py"})
    namespace["load_airflow"] = lambda: (airflow, None, Engine())
    namespace["url_of"] = lambda settings, engine: "sqlite:////nowhere/airflow.db"
    namespace["inspect_schema"] = lambda airflow, engine: dict(current=[], heads=["h1"], state="empty")
    return namespace


def sleeper(tmp_path, seconds=30):
    """argv of a 'migration' that prints, records its pid, then hangs (as one waiting for a table lock does)."""
    pidfile = tmp_path / "pid"
    code = ("import os, sys, time; open(%r, 'w').write(str(os.getpid())); print('Running upgrade a -> b'); "
            "sys.stdout.flush(); time.sleep(%d)" % (str(pidfile), seconds))
    return [sys.executable, "-c", code], pidfile


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open("/proc/%d/stat" % pid) as handle:  # a zombie is not alive
        return handle.read().split()[2] != "Z"


def test_hung_migration_is_stopped_at_the_timeout(migrate_helper, tmp_path, monkeypatch, capsys):
    argv, pidfile = sleeper(tmp_path)
    started = time.time()
    answer = call(migrate_helper, "db_migrate", dict(commands={"empty": argv}, timeout=2, lock_timeout=600),
                  monkeypatch, capsys)
    assert time.time() - started < 15, "the helper waited for the hung command"
    error = answer["error"]
    assert error["kind"] == "migration_timeout", answer
    assert "did not finish within 2 s" in error["message"]
    assert error["command"] == argv and "Running upgrade a -> b" in error["stdout"]
    assert not alive(int(pidfile.read_text())), "the hung migration is still running"


def test_migration_within_the_timeout_runs_to_the_end(migrate_helper, monkeypatch, capsys):
    argv = [sys.executable, "-c", "print('Initialization done')"]
    answer = call(migrate_helper, "db_migrate", dict(commands={"empty": argv}, timeout=60), monkeypatch, capsys)
    assert "error" not in answer, answer
    assert (answer["rc"], answer["stdout"].strip(), answer["command"]) == (0, "Initialization done", argv)


def test_lock_wait_is_bounded_by_the_timeout_too(migrate_helper, tmp_path, monkeypatch, capsys):
    # Another session holds the lock for ever: the wait ends at timeout, even with a larger lock_timeout.
    class Conn:
        def execution_options(self, **_):
            return self

        def execute(self, *_):
            return type("R", (), {"scalar": staticmethod(lambda: False)})()

        def close(self):
            pass

    class PgEngine(Engine):
        class dialect:  # noqa: N801
            name = "postgresql"

        def connect(self):
            return Conn()

    monkeypatch.setitem(sys.modules, "sqlalchemy", type(sys)("sqlalchemy"))
    sys.modules["sqlalchemy"].text = lambda sql: sql
    airflow = type("airflow", (), {"__version__": "2.0.2"})
    migrate_helper["load_airflow"] = lambda: (airflow, None, PgEngine())
    argv, pidfile = sleeper(tmp_path)
    started = time.time()
    answer = call(migrate_helper, "db_migrate", dict(commands={"empty": argv}, timeout=1, lock_timeout=20),
                  monkeypatch, capsys)
    assert time.time() - started < 10
    assert answer["error"]["kind"] == "lock_timeout" and "1 s" in answer["error"]["message"]
    assert not pidfile.exists(), "the migration ran without the lock"


def test_watchdog_ends_a_helper_stuck_outside_the_command(tmp_path):
    # The helper itself hangs (here: an Airflow whose import never returns, as a database that stopped answering
    # would): the watchdog answers and exits shortly after the timeout, in a real helper process.
    site = tmp_path / "site" / "airflow"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("import time\ntime.sleep(60)\n")
    env = dict(os.environ, PYTHONPATH=str(site.parent))
    started = time.time()
    proc = subprocess.run([sys.executable, "-c", HELPER_SOURCE, "db_migrate"], env=env, timeout=30,
                          input=json.dumps(dict(timeout=1, watchdog_grace=1, commands={})),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert time.time() - started < 15
    answer = _airflow.parse_helper_output(proc.stdout)
    assert answer["error"]["kind"] == "timeout", (proc.stdout, proc.stderr)
    assert "did not finish within 2 s" in answer["error"]["message"]


# --- Airflow 3: the FAB provider's schema, and the configured auth manager ----------------------------------------

FAB_MIGRATIONS = {
    "0000_1_4_0_create_ab_tables_if_missing.py": "import airflow  # noqa\nrevision = 'fab111'\ndown_revision = None\n",
    "0001_3_5_0_fix_fab_db_inconsistencies.py": "revision = 'fab222'\ndown_revision = 'fab111'\n",
}


@pytest.fixture
def stand_in3(stand_in):
    """The stand-in as Airflow 3 with the FAB provider: its migrations in airflow/providers/fab/migrations."""
    (stand_in["package"] / "version.py").write_text("version = '3.3.2'\n")
    versions = stand_in["package"] / "providers" / "fab" / "migrations" / "versions"
    versions.mkdir(parents=True)
    for name, text in FAB_MIGRATIONS.items():
        (versions / name).write_text(text)
    return stand_in


def add_fab_version(path, revision):
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE alembic_version_fab (version_num VARCHAR(32) NOT NULL)")
    conn.execute("INSERT INTO alembic_version_fab VALUES (?)", (revision,))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("core, fab, state", [
    ("empty", None, "empty"),
    ("empty", "current", "empty"),
    ("current", None, "current"),
    ("current", "current", "current"),
    ("current", "behind", "behind"),
    ("current", "empty", "behind"),
    ("behind", "current", "behind"),
    ("current", "ahead", "ahead"),
    ("ahead", "current", "ahead"),
])
def test_overall_state(helper_ns, core, fab, state):
    assert helper_ns["overall_state"](core, fab) == state


@pytest.fixture
def helper_ns():
    namespace = {"__name__": "helper_under_test"}
    exec(compile(HELPER_SOURCE, "<helper>", "exec"), namespace)  # pylint: disable=exec-used
    return namespace


def test_fab_schema_only_on_airflow_3(stand_in3):
    find = stand_in3["helper"]["fab_provider_dir"]
    locations = [str(stand_in3["package"])]
    assert find(locations, "3.3.2") == str(stand_in3["package"] / "providers" / "fab")
    assert find(locations, "2.10.5") is None  # Airflow 2 owns the ab_* tables itself
    assert find([str(stand_in3["package"] / "nowhere")], "3.3.2") is None  # no FAB provider installed


# Airflow's revision, FAB's revision -> state of each and together
CASES_3 = [
    (None, None, "empty", None, "empty"),
    ("ccc333", None, "current", "empty", "behind"),
    ("ccc333", "fab111", "current", "behind", "behind"),
    ("ccc333", "fab222", "current", "current", "current"),
    ("bbb222", "fab222", "behind", "current", "behind"),
    ("ccc333", "fab999", "current", "ahead", "ahead"),
]


@pytest.mark.parametrize("revision, fab_revision, core_state, fab_state, state", CASES_3)
def test_check_mode_db_inspect_airflow3_reads_both_schemas(stand_in3, monkeypatch, capsys, revision, fab_revision,
                                                           core_state, fab_state, state):
    if revision:
        make_database(stand_in3["database"], revision=revision, users=None)
    if fab_revision:
        add_fab_version(stand_in3["database"], fab_revision)
    answer = call(stand_in3["helper"], "db_inspect", {"check_mode": True}, monkeypatch, capsys)
    assert "error" not in answer, answer
    assert answer["airflow_version"] == "3.3.2"
    assert (answer["schema_state"], answer["state"]) == (core_state, state)
    assert answer["heads"] == HEADS
    expected_fab = dict(current=[fab_revision] if fab_revision else [], heads=["fab222"], state=fab_state or "empty")
    assert answer["fab"] == expected_fab
    assert os.listdir(str(stand_in3["home"])) == [] and not airflow_imported()


def test_check_mode_db_inspect_airflow2_has_no_fab_schema(stand_in, monkeypatch, capsys):
    make_database(stand_in["database"], revision="ccc333", users=None)
    answer = call(stand_in["helper"], "db_inspect", {"check_mode": True}, monkeypatch, capsys)
    assert answer["fab"] is None and answer["state"] == "current"


@pytest.mark.parametrize("environment, cfg, expected", [
    ({}, None, "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"),
    ({"AIRFLOW__CORE__AUTH_MANAGER": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"}, None,
     "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"),
    ({}, "[core]\nauth_manager = my.Manager\n", "my.Manager"),
])
def test_check_mode_user_inspect_airflow3_reports_the_auth_manager(stand_in3, monkeypatch, capsys, environment,
                                                                   cfg, expected):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    if cfg:
        config = stand_in3["home"].parent / "elsewhere.cfg"
        config.write_text(cfg)
        monkeypatch.setenv("AIRFLOW_CONFIG", str(config))
    make_database(stand_in3["database"], revision="ccc333", users=[("ada", "pw", ["Admin"])])
    request = dict(check_mode=True, username="ada", password="pw",
                   appbuilder="airflow.providers.fab.auth_manager.cli_commands.utils:get_application_builder")
    answer = call(stand_in3["helper"], "user_inspect", request, monkeypatch, capsys)
    assert answer["auth_manager"] == expected
    assert answer["exists"] is True and answer["password_matches"] is True
    assert os.listdir(str(stand_in3["home"])) == [] and not airflow_imported()


def test_check_mode_user_inspect_airflow2_has_no_auth_manager(stand_in, monkeypatch, capsys):
    request = dict(check_mode=True, appbuilder="airflow.www.app:cached_app", username="ada", password="pw")
    assert call(stand_in["helper"], "user_inspect", request, monkeypatch, capsys)["auth_manager"] is None


def fab_inspections(*states):
    """inspect_schema answers in turn: Airflow's schema current, the FAB provider's in each of ``states``."""
    answers = [dict(current=["h1"], heads=["h1"], schema_state="current",
                    state="current" if fab_state == "current" else "behind",
                    fab=dict(current=[], heads=["f1"], state=fab_state)) for fab_state in states]
    return lambda airflow, engine: answers.pop(0)


@pytest.mark.parametrize("states, fab_runs", [
    (("behind", "behind", "current"), True),  # db migrate left FAB behind: fab-db migrate
    (("behind", "current"), False),  # db migrate did both (Airflow 3.2+)
])
def test_db_migrate_runs_fab_db_migrate_only_when_needed(migrate_helper, monkeypatch, capsys, states, fab_runs):
    migrate_helper["inspect_schema"] = fab_inspections(*states)
    ran = [sys.executable, "-c", "print('Database migration done!')"]
    fab = [sys.executable, "-c", "print('fab-db done')"]
    answer = call(migrate_helper, "db_migrate", dict(commands={"behind": ran, "fab": fab}, timeout=60),
                  monkeypatch, capsys)
    assert "error" not in answer, answer
    assert answer["command"] == ran and answer["after"]["state"] == "current"
    assert answer.get("fab_command") == (fab if fab_runs else None)
    if fab_runs:
        assert (answer["fab_rc"], answer["fab_stdout"].strip()) == (0, "fab-db done")


def test_db_migrate_without_a_fab_command_leaves_it(migrate_helper, monkeypatch, capsys):
    # Airflow 2: no fab command in the request, whatever the state says.
    migrate_helper["inspect_schema"] = fab_inspections("behind", "behind")
    ran = [sys.executable, "-c", "print('ok')"]
    answer = call(migrate_helper, "db_migrate", dict(commands={"behind": ran}, timeout=60), monkeypatch, capsys)
    assert "fab_command" not in answer and answer["after"]["state"] == "behind"
