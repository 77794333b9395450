"""Unit tests for module_utils/_airflow.py and the helper source it ships: no Airflow, no database."""

import json
import os
import stat

import pytest

from ansible_collections.ha_airflow.aws.plugins.module_utils import _airflow
from ansible_collections.ha_airflow.aws.plugins.module_utils._airflow_helper import HELPER_SOURCE, RESULT_MARKER

EXE = "/opt/airflow/venv/bin/airflow"


@pytest.mark.parametrize("text, expected", [
    ("2.0.2", (2, 0, 2)),
    ("2.7.0rc1", (2, 7, 0)),
    ("3.0.0.dev0+astro.1", (3, 0, 0)),
    ("v2.10", (2, 10, 0)),
    ("  2.3.4\n", (2, 3, 4)),
])
def test_parse_version(text, expected):
    assert _airflow.parse_version(text) == expected


@pytest.mark.parametrize("text", ["", None, "unknown", "x2.0"])
def test_parse_version_rejects(text):
    with pytest.raises(_airflow.AirflowError, match="Cannot read an Airflow version"):
        _airflow.parse_version(text)


# version -> (family, argv for an empty database, argv for a database behind, sql_alchemy_conn variable,
#             argv of the FAB provider's own migration, the auth manager whose users airflow_user manages)
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
FAMILIES = [
    ((2, 0, 2), "2.0-2.2", [EXE, "db", "init"], [EXE, "db", "upgrade"], "AIRFLOW__CORE__SQL_ALCHEMY_CONN", None, None),
    ((2, 2, 5), "2.0-2.2", [EXE, "db", "init"], [EXE, "db", "upgrade"], "AIRFLOW__CORE__SQL_ALCHEMY_CONN", None, None),
    ((2, 3, 0), "2.3-2.6", [EXE, "db", "init"], [EXE, "db", "upgrade"], "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None,
     None),
    ((2, 6, 3), "2.3-2.6", [EXE, "db", "init"], [EXE, "db", "upgrade"], "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None,
     None),
    ((2, 7, 0), "2.7+", [EXE, "db", "migrate"], [EXE, "db", "migrate"], "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None,
     None),
    ((2, 10, 5), "2.7+", [EXE, "db", "migrate"], [EXE, "db", "migrate"], "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None,
     None),
    ((3, 0, 1), "3.x", [EXE, "db", "migrate"], [EXE, "db", "migrate"], "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
     [EXE, "fab-db", "migrate"], FAB),
    ((3, 3, 2), "3.x", [EXE, "db", "migrate"], [EXE, "db", "migrate"], "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
     [EXE, "fab-db", "migrate"], FAB),
]


@pytest.mark.parametrize("version, family, create, upgrade, variable, fab_db, auth_manager", FAMILIES)
def test_version_families(version, family, create, upgrade, variable, fab_db, auth_manager):
    entry = _airflow.family_for(version)
    assert entry["family"] == family
    assert _airflow.db_argv(EXE, entry, "empty") == create
    assert _airflow.db_argv(EXE, entry, "behind") == upgrade
    assert _airflow.db_argv(EXE, entry, "current") is None
    assert _airflow.sql_alchemy_conn_variable(entry) == variable
    assert _airflow.fab_db_argv(EXE, entry) == fab_db
    assert entry["fab_auth_manager"] == auth_manager


def test_airflow_1_is_refused():
    with pytest.raises(_airflow.AirflowError, match="Airflow 1.10.15 is not supported"):
        _airflow.family_for((1, 10, 15))


def test_appbuilder_by_family():
    assert _airflow.family_for((2, 0, 2))["appbuilder"] == "airflow.www.app:cached_app"
    # Airflow 3: the FAB provider's CLI helper, a context manager around a Flask app (no webserver any more)
    assert _airflow.family_for((3, 3, 2))["appbuilder"] == \
        "airflow.providers.fab.auth_manager.cli_commands.utils:get_application_builder"


@pytest.mark.parametrize("builder, args, argv", [
    (_airflow.user_create_argv, ("admin", "a@example.com", "Ada", "Lovelace", "Admin"),
     [EXE, "users", "create", "--username", "admin", "--email", "a@example.com", "--firstname", "Ada",
      "--lastname", "Lovelace", "--role", "Admin", "--use-random-password"]),
    (_airflow.user_delete_argv, ("admin",), [EXE, "users", "delete", "--username", "admin"]),
    (_airflow.user_add_role_argv, ("admin", "Op"), [EXE, "users", "add-role", "--username", "admin", "--role", "Op"]),
    (_airflow.user_remove_role_argv, ("admin", "Viewer"),
     [EXE, "users", "remove-role", "--username", "admin", "--role", "Viewer"]),
])
def test_user_argv(builder, args, argv):
    assert builder(EXE, *args) == argv


def test_helper_argv_and_mask():
    argv = _airflow.helper_argv("/venv/bin/python3.7", "db_inspect")
    assert argv == ["/venv/bin/python3.7", "-c", HELPER_SOURCE, "db_inspect"]
    assert _airflow.mask_argv(argv) == ["/venv/bin/python3.7", "-c", "<ha_airflow.aws helper>", "db_inspect"]


@pytest.mark.parametrize("argv, secrets, shown", [
    ([EXE, "users", "create", "-p", "hunter22"], (), [EXE, "users", "create", "-p", "********"]),
    ([EXE, "users", "create", "--password", "hunter22"], (), [EXE, "users", "create", "--password", "********"]),
    ([EXE, "x", "--password=hunter22"], (), [EXE, "x", "--password=********"]),
    ([EXE, "postgresql://u:pw@h/db"], (), [EXE, "postgresql://u:********@h/db"]),
    ([EXE, "--note", "contains-hunter22"], ("hunter22",), [EXE, "--note", "contains-********"]),
])
def test_mask_argv(argv, secrets, shown):
    assert _airflow.mask_argv(argv, secrets) == shown


def test_mask_text():
    assert _airflow.mask_text("DB: postgresql+psycopg2://airflow:s3cret@db:5432/af") == \
        "DB: postgresql+psycopg2://airflow:********@db:5432/af"
    assert _airflow.mask_text("token abc and x", ["abc"]) == "token ******** and x"


def _script(path, text):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_interpreter_from_shebang(tmp_path):
    python = _script(tmp_path / "py37", "")
    exe = _script(tmp_path / "airflow", "#!%s\nimport sys\n" % python)
    assert _airflow.interpreter_of(exe) == python


def test_interpreter_from_env_shebang(tmp_path):
    python = _script(tmp_path / "python3.9", "")
    exe = _script(tmp_path / "airflow", "#!/usr/bin/env %s\n" % python)
    assert _airflow.interpreter_of(exe) == python


def test_interpreter_from_pip_sh_trampoline(tmp_path):
    python = _script(tmp_path / "python", "")
    exe = _script(tmp_path / "airflow", "#!/bin/sh\n'''exec' \"%s\" \"$0\" \"$@\"\n' '''\n" % python)
    assert _airflow.interpreter_of(exe) == python


def test_interpreter_falls_back_to_sibling(tmp_path):
    exe = _script(tmp_path / "airflow", "#!/nonexistent/python\n")
    sibling = _script(tmp_path / "python3", "")
    assert _airflow.interpreter_of(exe) == sibling


def test_interpreter_none(tmp_path):
    exe = _script(tmp_path / "airflow", "#!/nonexistent/python\n")
    assert _airflow.interpreter_of(exe) is None


@pytest.mark.parametrize("out, answer", [
    ("noise\n" + RESULT_MARKER + '{"a": 1}\n', {"a": 1}),
    (RESULT_MARKER + '{"a": 1}\nlater log line\n', {"a": 1}),
    ("Traceback ...\n", None),
    (RESULT_MARKER + "{broken\n", None),
    ("", None),
])
def test_parse_helper_output(out, answer):
    assert _airflow.parse_helper_output(out) == answer


# --- the helper source, executed without Airflow: its pure functions --------------------------------------------

@pytest.fixture(scope="module")
def helper():
    namespace = {"__name__": "helper_under_test"}
    exec(compile(HELPER_SOURCE, "<helper>", "exec"), namespace)  # pylint: disable=exec-used
    return namespace


@pytest.mark.parametrize("current, heads, state", [
    ([], ["h2"], "empty"),
    (["h2"], ["h2"], "current"),
    (["h1"], ["h2"], "behind"),
    (["zz9"], ["h2"], "ahead"),
    (["h1", "h2"], ["h2", "h1"], "current"),
    (["h1", "zz9"], ["h2"], "ahead"),
])
def test_helper_schema_state(helper, current, heads, state):
    assert helper["schema_state"](current, heads, {"h0", "h1", "h2"}) == state


@pytest.mark.parametrize("text, kind", [
    ('FATAL:  password authentication failed for user "airflow"', "auth"),
    ("fe_sendauth: no password supplied", "auth"),
    ('FATAL:  role "nobody" does not exist', "auth"),
    ("(1045, \"Access denied for user 'a'@'h' (using password: YES)\")", "auth"),
    ('FATAL:  database "airflw" does not exist', "no_database"),
    ('could not connect to server: Connection refused\n\tIs the server running on host "127.0.0.1"', "unreachable"),
    ('could not translate host name "db.invalid" to address: Name or service not known', "unreachable"),
    ("connection to server at \"10.0.0.1\", port 5432 failed: timeout expired", "unreachable"),
    ("unable to open database file", "unreachable"),
    ('relation "dag" does not exist', "database"),
])
def test_helper_classify(helper, text, kind):
    assert helper["classify"](text) == kind


def test_helper_masks_urls(helper):
    assert helper["mask"]("postgresql://a:b@c/d and mysql://x:y@z/") == "postgresql://a:********@c/d and mysql://x:********@z/"


def test_helper_reports_unknown_action_as_error(helper, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["-c", "no_such_action"])
    monkeypatch.setattr("sys.stdin", type("S", (), {"read": staticmethod(lambda: "{}")})())
    helper["main"]()
    answer = _airflow.parse_helper_output(capsys.readouterr().out)
    assert answer["error"]["kind"] == "database" and "KeyError" in answer["error"]["message"]


def test_helper_source_is_python37_syntax():
    # The helper runs in Airflow's venv, which may be Python 3.7: no syntax newer than 3.7 (walrus, match, ...).
    import ast
    tree = ast.parse(HELPER_SOURCE, feature_version=(3, 7))
    assert any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)


def test_runner_environment(tmp_path):
    python = _script(tmp_path / "python3", "")
    exe = _script(tmp_path / "airflow", "#!%s\n" % python)

    class Module:
        @staticmethod
        def get_bin_path(name):
            return None

    runner = _airflow.AirflowRunner(Module(), exe, "/srv/airflow", {"AIRFLOW__CORE__SQL_ALCHEMY_CONN": "pg://u:p@h/d"})
    assert runner.python == python
    assert runner.environment["AIRFLOW_HOME"] == "/srv/airflow"
    assert runner.environment["AIRFLOW__CORE__SQL_ALCHEMY_CONN"] == "pg://u:p@h/d"
    assert runner.environment["PATH"].split(os.pathsep)[0] == str(tmp_path)
    assert runner.secrets == ["p"]  # the URL's password, not the whole URL


@pytest.mark.parametrize("executable, message", [
    ("/nonexistent/venv/bin/airflow", "Airflow executable /nonexistent/venv/bin/airflow not found"),
    ("airflow", "Airflow executable 'airflow' not found on PATH"),
])
def test_runner_missing_executable(executable, message):
    class Module:
        @staticmethod
        def get_bin_path(name):
            return None

    with pytest.raises(_airflow.AirflowError, match=message):
        _airflow.AirflowRunner(Module(), executable)


def test_helper_request_is_json_on_stdin(tmp_path):
    python = _script(tmp_path / "python3", "")
    exe = _script(tmp_path / "airflow", "#!%s\n" % python)
    calls = []

    class Module:
        def run_command(self, argv, data=None, environ_update=None, binary_data=False):
            calls.append((argv, data, environ_update, binary_data))
            return 0, RESULT_MARKER + json.dumps({"ok": True}) + "\n", ""

    runner = _airflow.AirflowRunner(Module(), exe, None, {})
    assert runner.helper("user_inspect", {"password": "pw"}) == {"ok": True}
    argv, data, env, binary = calls[0]
    assert argv == [python, "-c", HELPER_SOURCE, "user_inspect"]
    assert json.loads(data) == {"password": "pw"} and binary is True
    assert "pw" not in " ".join(argv)


def test_helper_without_airflow_reports_import_error(helper, monkeypatch, capsys):
    # No apache-airflow in this interpreter: the version action falls back to importing it, and says why it failed.
    monkeypatch.setattr("sys.argv", ["-c", "version"])
    monkeypatch.setattr("sys.stdin", type("S", (), {"read": staticmethod(lambda: "{}")})())
    monkeypatch.setitem(__import__("sys").modules, "airflow", None)
    helper["main"]()
    answer = _airflow.parse_helper_output(capsys.readouterr().out)
    assert answer["error"]["kind"] == "import"
    assert answer["error"]["message"].startswith("import airflow failed")


@pytest.mark.parametrize("name, value, secrets", [
    ("AIRFLOW__CORE__SQL_ALCHEMY_CONN", "postgresql+psycopg2://airflow:pw-1@db/airflow", ["pw-1"]),
    ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://airflow:a%2Fb@db/airflow", ["a%2Fb", "a/b"]),
    ("AIRFLOW__CELERY__BROKER_URL", "rediss://:t0ken@redis:6379/0?ssl_cert_reqs=CERT_REQUIRED", ["t0ken"]),
    ("AIRFLOW__CELERY__RESULT_BACKEND", "db+postgresql://airflow:rb@db/airflow", ["rb"]),
    ("AIRFLOW_CONN_WAREHOUSE", "postgres://etl:etl-pw@wh/dw", ["etl-pw"]),
    ("AIRFLOW__CORE__SQL_ALCHEMY_CONN", "postgresql://db/airflow?user=a&password=q-pw", ["q-pw"]),
    ("AIRFLOW__CORE__FERNET_KEY", "fernet=", ["fernet="]),
    ("AIRFLOW__WEBSERVER__SECRET_KEY", "abc", ["abc"]),
    ("AIRFLOW__SMTP__SMTP_PASSWORD", "0", ["0"]),  # a secret is a secret, however short
    ("PGPASSWORD", "pg", ["pg"]),
    ("AWS_SECRET_ACCESS_KEY", "wJalr", ["wJalr"]),
    ("AWS_SESSION_TOKEN", "tok", ["tok"]),
    ("AIRFLOW__CELERY__FLOWER_BASIC_AUTH", "admin:pw", ["admin:pw"]),
    ("AIRFLOW__CORE__SQL_ALCHEMY_CONN", "sqlite:////srv/airflow/airflow.db", []),
    ("AIRFLOW__CELERY__DEFAULT_QUEUE", "airflow", []),
    ("AIRFLOW__CORE__PARALLELISM", 0, []),
    ("AIRFLOW__CORE__LOAD_EXAMPLES", "False", []),
    ("AIRFLOW__API__AUTH_BACKEND", "airflow.api.auth.backend.basic_auth", []),
    ("AIRFLOW__CORE__DAGS_FOLDER", "/airflow/dags", []),
    ("AIRFLOW_HOME", "/srv/airflow", []),
    ("AIRFLOW_CONFIG", "/srv/airflow/airflow.cfg", []),
])
def test_secret_values(name, value, secrets):
    assert _airflow.secret_values({name: value}) == sorted(secrets)


def test_mask_text_leaves_sqlalchemy_masks_alone_and_masks_longest_first():
    assert _airflow.mask_text("postgresql://a:***@h/d") == "postgresql://a:***@h/d"
    assert _airflow.mask_text("key abcdef and abc", ["abc", "abcdef"]) == "key ******** and ********"


def test_mask_data_masks_values_not_keys():
    data = {"airflow_version": "2.0.2", "out": ["pw in postgresql://a:pw@h/d"], "n": 0}
    assert _airflow.mask_data(data, ["pw"]) == {"airflow_version": "2.0.2", "out": ["******** in postgresql://a:********@h/d"],
                                                "n": 0}
