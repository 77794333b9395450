"""Unit tests for ha_airflow.aws.airflow_db: the exact commands per version family, state and mode; every failure."""

import re

import pytest

from ansible_collections.ha_airflow.aws.plugins.module_utils._airflow_helper import HELPER_SOURCE
from ansible_collections.ha_airflow.aws.plugins.modules import airflow_db

from airflow_fakes import Fail, FakeTarget, answer, run_module

HEAD = "2e42bb497a22"
OLD = "e959f08ac86c"
URL = "postgresql+psycopg2://airflow:***@db:5432/airflow"


def inspect(version, current, state, heads=(HEAD,)):
    return answer(dict(airflow_version=version, dialect="postgresql", url=URL, current=list(current),
                       heads=list(heads), state=state))


def migrated(request, before, after_state="current", after=(HEAD,), rc=0, waited=0.0, ran=True):
    """A db_migrate answer as the helper gives it: it runs request['commands'][state before] under the lock."""
    command = request["commands"].get(before["state"]) if ran else None
    return answer(dict(airflow_version="2.0.2", dialect="postgresql", url=URL, lock_waited=waited, before=before,
                       command=command, rc=rc if command else None, stdout="Initialization done",
                       stderr="" if rc == 0 else "alembic.util.exc.CommandError: boom",
                       after=dict(current=list(after), heads=[HEAD], state=after_state)))


def args(venv, **extra):
    base = dict(airflow_executable=venv["airflow"], airflow_home="/srv/airflow",
                environment={"AIRFLOW__CORE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:s3cret-pw@db/airflow"})
    base.update(extra)
    return base


# version, state found, revision in the database, expected migration words
CASES = [
    ("2.0.2", "empty", [], ["db", "init"]),
    ("2.0.2", "behind", [OLD], ["db", "upgrade"]),
    ("2.5.3", "empty", [], ["db", "init"]),
    ("2.5.3", "behind", [OLD], ["db", "upgrade"]),
    ("2.7.3", "empty", [], ["db", "migrate"]),
    ("2.9.3", "behind", [OLD], ["db", "migrate"]),
    ("3.0.2", "empty", [], ["db", "migrate"]),
    ("3.1.0", "behind", [OLD], ["db", "migrate"]),
]


@pytest.mark.parametrize("version, state, current, words", CASES)
def test_check_mode_reports_the_command_and_runs_nothing(monkeypatch, venv, version, state, current, words):
    target = FakeTarget({"db_inspect": [inspect(version, current, state)]})
    result = run_module(monkeypatch, airflow_db, args(venv), target, check_mode=True).result
    assert result["changed"] is True
    assert result["command"] == [venv["airflow"]] + words
    assert result["revision_before"] == (current[0] if current else None)
    assert result["revision_after"] == HEAD
    assert result["state"] == state
    assert [c["argv"] for c in target.calls] == [[venv["python"], "-c", HELPER_SOURCE, "db_inspect"]]


@pytest.mark.parametrize("version, state, current, words", CASES)
def test_real_run_migrates_under_the_lock(monkeypatch, venv, version, state, current, words):
    before = dict(current=current, heads=[HEAD], state=state)
    target = FakeTarget({"db_inspect": [inspect(version, current, state)],
                         "db_migrate": [lambda req: migrated(req, before)]})
    result = run_module(monkeypatch, airflow_db, args(venv, lock_timeout=42), target).result
    family_create = [venv["airflow"]] + (["db", "migrate"] if words == ["db", "migrate"] else ["db", "init"])
    family_upgrade = [venv["airflow"]] + (["db", "migrate"] if words == ["db", "migrate"] else ["db", "upgrade"])
    assert target.helper_calls() == [
        ("db_inspect", {}),
        ("db_migrate", {"lock_timeout": 42, "commands": {"empty": family_create, "behind": family_upgrade}}),
    ]
    assert result["changed"] is True
    assert result["command"] == [venv["airflow"]] + words
    assert result["revision_after"] == HEAD and result["head_revision"] == HEAD
    # every call carries AIRFLOW_HOME, the environment option and the venv's bin first on PATH
    for call in target.calls:
        assert call["env"]["AIRFLOW_HOME"] == "/srv/airflow"
        assert call["env"]["AIRFLOW__CORE__SQL_ALCHEMY_CONN"].endswith("@db/airflow")
        assert call["env"]["PATH"].startswith(venv["bindir"] + ":")


def test_current_schema_is_no_change_without_lock(monkeypatch, venv):
    target = FakeTarget({"db_inspect": [inspect("2.0.2", [HEAD], "current")]})
    result = run_module(monkeypatch, airflow_db, args(venv), target).result
    assert result["changed"] is False and result["command"] == []
    assert result["revision_before"] == result["revision_after"] == HEAD
    assert target.helper_calls() == [("db_inspect", {})]


def test_loser_of_the_race_waits_and_reports_no_change(monkeypatch, venv):
    # Inspected "empty", but by the time it held the lock the other host had migrated: nothing ran.
    before = dict(current=[HEAD], heads=[HEAD], state="current")
    target = FakeTarget({"db_inspect": [inspect("2.0.2", [], "empty")],
                         "db_migrate": [lambda req: migrated(req, before, waited=7.5)]})
    result = run_module(monkeypatch, airflow_db, args(venv), target).result
    assert result["changed"] is False
    assert result["command"] == []
    assert result["lock_waited"] == 7.5
    assert result["revision_before"] == result["revision_after"] == HEAD


def test_multiple_heads_are_joined(monkeypatch, venv):
    target = FakeTarget({"db_inspect": [inspect("2.0.2", ["a1", "b2"], "current", heads=("a1", "b2"))]})
    result = run_module(monkeypatch, airflow_db, args(venv), target).result
    assert result["head_revision"] == "a1,b2" and result["changed"] is False


def error(kind, message, version="2.0.2"):
    return answer(dict(error=dict(kind=kind, message=message), airflow_version=version))


@pytest.mark.parametrize("reply, kind, text", [
    (error("unreachable", "could not connect to server: Connection refused"), "unreachable",
     "Cannot reach the metadata database.*AIRFLOW__CORE__SQL_ALCHEMY_CONN.*/srv/airflow/airflow.cfg"),
    (error("auth", 'password authentication failed for user "airflow"', "2.7.0"), "auth",
     "rejected the credentials.*AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"),
    (error("no_database", 'database "nope" does not exist'), "no_database", "does not exist. Create it"),
    (error("import", "import airflow failed: ModuleNotFoundError", None), "import", "installation is broken"),
    (inspect("2.0.2", ["ffffffffffff"], "ahead"), "ahead",
     "revision ffffffffffff, which Airflow 2.0.2 does not know.*never downgrades"),
])
def test_inspection_failures_change_nothing(monkeypatch, venv, reply, kind, text):
    target = FakeTarget({"db_inspect": [reply]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_db, args(venv), target)
    assert caught.value.result["error_kind"] == kind
    assert re.search(text, caught.value.result["msg"], re.S)
    assert target.helper_calls() == [("db_inspect", {})]  # nothing after the inspection


def test_lock_timeout(monkeypatch, venv):
    target = FakeTarget({"db_inspect": [inspect("2.0.2", [], "empty")],
                         "db_migrate": [error("lock_timeout", "held for more than 5s")]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_db, args(venv, lock_timeout=5), target)
    assert caught.value.result["error_kind"] == "lock_timeout"
    assert "Raise lock_timeout" in caught.value.result["msg"]


def test_schema_turned_ahead_while_waiting_for_the_lock(monkeypatch, venv):
    before = dict(current=["ffffffffffff"], heads=[HEAD], state="ahead")
    target = FakeTarget({"db_inspect": [inspect("2.0.2", [OLD], "behind")],
                         "db_migrate": [lambda req: migrated(req, before, after_state="ahead", after=("ffffffffffff",))]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_db, args(venv), target)
    assert caught.value.result["error_kind"] == "ahead"
    assert caught.value.result["command"] == []


def test_failed_migration_command(monkeypatch, venv):
    before = dict(current=[], heads=[HEAD], state="empty")
    target = FakeTarget({"db_inspect": [inspect("2.0.2", [], "empty")],
                         "db_migrate": [lambda req: migrated(req, before, after_state="empty", after=(), rc=1)]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_db, args(venv), target)
    result = caught.value.result
    assert result["error_kind"] == "command"
    assert result["msg"].startswith("%s db init failed (rc=1)" % venv["airflow"])
    assert "CommandError: boom" in result["msg"]
    assert result["changed"] is False


def test_migration_that_stops_short_of_head(monkeypatch, venv):
    # Airflow 2.0 exits 0 but skips migrations it cannot do automatically (duplicate conn_id): not at head.
    before = dict(current=[OLD], heads=[HEAD], state="behind")
    target = FakeTarget({"db_inspect": [inspect("2.0.2", [OLD], "behind")],
                         "db_migrate": [lambda req: migrated(req, before, after_state="behind", after=(OLD,))]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_db, args(venv), target)
    assert caught.value.result["error_kind"] == "not_at_head"
    assert "not at the head %s" % HEAD in caught.value.result["msg"]


def test_helper_crash_is_reported(monkeypatch, venv):
    target = FakeTarget({"db_inspect": [(1, "", "Traceback: SyntaxError")]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_db, args(venv), target)
    assert "failed (rc=1) before answering: Traceback: SyntaxError" in caught.value.result["msg"]
    assert caught.value.result["command"] == [venv["python"], "-c", "<ha_airflow.aws helper>", "db_inspect"]


@pytest.mark.parametrize("executable, text", [
    ("/nonexistent/bin/airflow", "Airflow executable /nonexistent/bin/airflow not found"),
    ("airflow-not-installed-anywhere", "not found on PATH"),
])
def test_missing_executable_runs_nothing(monkeypatch, venv, executable, text):
    target = FakeTarget({})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_db, args(venv, airflow_executable=executable), target)
    assert text in caught.value.result["msg"]
    assert target.calls == []


def test_secrets_never_in_results(monkeypatch, venv):
    before = dict(current=[], heads=[HEAD], state="empty")
    target = FakeTarget({"db_inspect": [inspect("2.0.2", [], "empty")],
                         "db_migrate": [lambda req: migrated(req, before)]})
    result = run_module(monkeypatch, airflow_db, args(venv), target).result
    assert "s3cret-pw" not in repr(result)
