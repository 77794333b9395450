"""Unit tests for ha_airflow.aws.airflow_db: the exact commands per version family, state and mode; every failure."""

import json
import re
import stat
import time

import pytest

from ansible_collections.ha_airflow.aws.plugins.module_utils._airflow_helper import HELPER_SOURCE
from ansible_collections.ha_airflow.aws.plugins.modules import airflow_db

from airflow_fakes import Fail, FakeTarget, answer, run_module, run_module_printed

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
    ("3.3.2", "empty", [], ["db", "migrate"]),
    ("3.3.2", "behind", [OLD], ["db", "migrate"]),
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
    # the helper is told: it then reads without importing Airflow (no airflow.cfg, no webserver_config.py written)
    assert target.calls[0]["request"] == {"timeout": 1800, "check_mode": True}


@pytest.mark.parametrize("version, state, current, words", CASES)
def test_real_run_migrates_under_the_lock(monkeypatch, venv, version, state, current, words):
    before = dict(current=current, heads=[HEAD], state=state)
    target = FakeTarget({"db_inspect": [inspect(version, current, state)],
                         "db_migrate": [lambda req: migrated(req, before)]})
    result = run_module(monkeypatch, airflow_db, args(venv, lock_timeout=42), target).result
    family_create = [venv["airflow"]] + (["db", "migrate"] if words == ["db", "migrate"] else ["db", "init"])
    family_upgrade = [venv["airflow"]] + (["db", "migrate"] if words == ["db", "migrate"] else ["db", "upgrade"])
    commands = {"empty": family_create, "behind": family_upgrade}
    if version.startswith("3."):  # the FAB provider's own migration, for when db migrate left its schema behind
        commands["fab"] = [venv["airflow"], "fab-db", "migrate"]
    assert target.helper_calls() == [
        ("db_inspect", {"timeout": 1800}),
        ("db_migrate", {"lock_timeout": 42, "timeout": 1800, "commands": commands}),
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
    assert target.helper_calls() == [("db_inspect", {"timeout": 1800})]


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
    assert target.helper_calls() == [("db_inspect", {"timeout": 1800})]  # nothing after the inspection


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


# --- secrets: parsed first, masked on output, and only real secrets --------------------------------------------------

FERNET = "x0-Fernet-Key-Value-For-Unit-Tests-0123456789="
SECRETS = ("s3cret-pw", "br0ker-t0ken", "rb-pw-9", FERNET, "web-secret-key-value", "smtp-pw-77")


def mixed_environment():
    """What the airflow role passes: secrets beside ordinary values that also occur in the helper's JSON answer
    ("airflow" is in every key airflow_*, "0" in revisions, "/srv/airflow" in paths)."""
    return {
        "AIRFLOW__CORE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:s3cret-pw@db/airflow",
        "AIRFLOW__CELERY__BROKER_URL": "redis://:br0ker-t0ken@redis:6379/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+postgresql://airflow:rb-pw-9@db/airflow",
        "AIRFLOW__CORE__FERNET_KEY": FERNET,
        "AIRFLOW__WEBSERVER__SECRET_KEY": "web-secret-key-value",
        "AIRFLOW__SMTP__SMTP_PASSWORD": "smtp-pw-77",
        "AIRFLOW__CELERY__DEFAULT_QUEUE": "airflow",
        "AIRFLOW__CORE__PARALLELISM": 0,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONFIG": "/srv/airflow/airflow.cfg",
    }


def test_environment_values_found_in_the_answer_do_not_break_it(monkeypatch, capsys, venv):
    # "airflow" is a queue name here and "0" a number: neither is a secret, both occur in the helper's JSON. The
    # answer is parsed before anything is masked, and only secrets are masked in what the module prints.
    before = dict(current=[OLD], heads=[HEAD], state="behind")

    def noisy_migration(req):
        rc, out, err = migrated(req, before)
        # Airflow echoing secrets in its output: they must not reach the result.
        out = out.replace("Initialization done", "using %s and postgresql://airflow:s3cret-pw@db/airflow" % FERNET)
        return rc, out, err

    target = FakeTarget({"db_inspect": [inspect("2.0.2", [OLD], "behind")], "db_migrate": [noisy_migration]})
    text, result = run_module_printed(monkeypatch, capsys, airflow_db, args(venv, environment=mixed_environment()),
                                      target)
    assert not result.get("failed"), result
    assert result["changed"] is True and result["airflow_version"] == "2.0.2"
    assert result["command"] == [venv["airflow"], "db", "upgrade"]
    assert (result["revision_before"], result["revision_after"]) == (OLD, HEAD)
    assert result["database"]["url"] == URL
    assert FERNET not in result["stdout"] and "********" in result["stdout"]
    shown = result["invocation"]["module_args"]["environment"]
    assert shown["AIRFLOW__CELERY__DEFAULT_QUEUE"] == "airflow" and str(shown["AIRFLOW__CORE__PARALLELISM"]) == "0"
    assert shown["AIRFLOW_CONFIG"] == "/srv/airflow/airflow.cfg"
    assert shown["AIRFLOW__CORE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://airflow:********@db/airflow"
    for secret in SECRETS:
        assert secret not in text


def test_check_mode_with_mixed_environment(monkeypatch, capsys, venv):
    target = FakeTarget({"db_inspect": [inspect("2.0.2", [OLD], "behind")]})
    text, result = run_module_printed(monkeypatch, capsys, airflow_db, args(venv, environment=mixed_environment()),
                                      target, check_mode=True)
    assert result["changed"] is True and result["command"] == [venv["airflow"], "db", "upgrade"]
    assert result["revision_before"] == OLD
    for secret in SECRETS:
        assert secret not in text


def test_secrets_never_printed_when_failing_early(monkeypatch, capsys, venv):
    target = FakeTarget({})
    text, result = run_module_printed(monkeypatch, capsys, airflow_db,
                                      args(venv, airflow_executable="/nope/bin/airflow",
                                           environment=mixed_environment()), target)
    assert result["failed"] is True and "/nope/bin/airflow not found" in result["msg"]
    for secret in SECRETS:
        assert secret not in text


def test_failed_helper_output_is_masked_after_parsing(monkeypatch, capsys, venv):
    # A helper that dies before answering, printing a secret: the tail in the result is masked.
    target = FakeTarget({"db_inspect": [(1, "", "Traceback: bad fernet key %s for airflow" % FERNET)]})
    text, result = run_module_printed(monkeypatch, capsys, airflow_db, args(venv, environment=mixed_environment()),
                                      target)
    assert result["failed"] is True
    assert "bad fernet key ******** for airflow" in result["msg"]
    for secret in SECRETS:
        assert secret not in text


# --- a hung migration: stopped at the timeout, with a message that says what to look at ---------------------------

def test_migration_timeout_message(monkeypatch, venv):
    target = FakeTarget({"db_inspect": [inspect("2.0.2", [OLD], "behind")],
                         "db_migrate": [error("migration_timeout", "%s db upgrade did not finish within 60 s and was "
                                                                   "stopped" % venv["airflow"])]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_db, args(venv, timeout=60), target)
    result = caught.value.result
    assert result["error_kind"] == "migration_timeout"
    assert "did not finish within 60 s" in result["msg"]
    assert "pg_stat_activity" in result["msg"] and "timeout" in result["msg"]
    assert target.helper_calls()[1][1]["timeout"] == 60


def test_hung_migration_is_stopped(monkeypatch, capsys, tmp_path):
    """End to end through the real helper (in this interpreter, Airflow and the database stubbed): the module's own
    migration command is an 'airflow' that hangs; the run fails after ``timeout`` seconds, not when it returns."""
    bindir = tmp_path / "venv" / "bin"
    bindir.mkdir(parents=True)
    exe = bindir / "airflow"
    exe.write_text("#!/bin/sh\necho 'Running upgrade e959f08ac86c -> 2e42bb497a22'\nexec sleep 30\n")
    (bindir / "python3").write_text("")
    for path in (exe, bindir / "python3"):
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    helper = {"__name__": "helper_under_test"}
    exec(compile(HELPER_SOURCE, "<helper>", "exec"), helper)  # pylint: disable=exec-used
    engine = type("Engine", (), {"dialect": type("D", (), {"name": "sqlite"}), "dispose": lambda self: None})()
    helper["load_airflow"] = lambda: (type("airflow", (), {"__version__": "2.0.2"}), None, engine)
    helper["url_of"] = lambda settings, eng: URL
    helper["inspect_schema"] = lambda af, eng: dict(current=[OLD], heads=[HEAD], state="behind")

    def real_helper(request):
        monkeypatch.setattr("sys.argv", ["-c", "db_migrate"])
        monkeypatch.setattr("sys.stdin", type("S", (), {"read": staticmethod(lambda: json.dumps(request))})())
        helper["main"]()
        out = capsys.readouterr().out
        return 0, out, ""

    target = FakeTarget({"db_inspect": [inspect("2.0.2", [OLD], "behind")], "db_migrate": [real_helper]})
    started = time.time()
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_db, dict(airflow_executable=str(exe), timeout=2), target)
    assert time.time() - started < 15, "the module waited for the hung migration"
    result = caught.value.result
    assert result["error_kind"] == "migration_timeout"
    assert result["msg"].startswith("%s db upgrade did not finish within 2 s" % exe)
    assert "pg_stat_activity" in result["msg"]
    assert result["command"] == [str(exe), "db", "upgrade"]
    assert "Running upgrade" in result["stdout"]


# --- Airflow 3: the FAB provider's schema (users, roles) counts too ---------------------------------------------------

FAB_HEAD = "02ca36b0235b"
FAB_OLD = "6709f7a774b9"


def fab(current, state, heads=(FAB_HEAD,)):
    return dict(current=list(current), heads=list(heads), state=state)


def inspect3(current, core_state, fab_schema, state=None):
    """A 3.x db_inspect answer: Airflow's schema, the FAB provider's, and the state of both together."""
    reply = dict(airflow_version="3.3.2", dialect="postgresql", url=URL, current=list(current), heads=[HEAD],
                 schema_state=core_state, state=state or core_state, fab=fab_schema)
    return answer(reply)


def migrated3(request, before, after, fab_ran=False, fab_rc=0):
    command = request["commands"].get(before["state"])
    reply = dict(airflow_version="3.3.2", dialect="postgresql", url=URL, lock_waited=0.0, before=before,
                 command=command, rc=0 if command else None, stdout="Database migration done!", stderr="", after=after)
    if fab_ran:
        reply.update(fab_command=request["commands"]["fab"], fab_rc=fab_rc, fab_stdout="",
                     fab_stderr="" if fab_rc == 0 else "fab boom")
    return answer(reply)


def schema3(current, core_state, fab_schema, state=None):
    return dict(current=list(current), heads=[HEAD], schema_state=core_state, state=state or core_state,
                fab=fab_schema)


def args3(venv, **extra):
    return args(venv, environment={"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:pw@db/af"},
                **extra)


# core state, FAB state, overall state -> what check mode reports (command words, fab revision_after)
CASES_3 = [
    ("empty", fab([], "empty"), "empty", ["db", "migrate"]),
    ("behind", fab([FAB_HEAD], "current"), "behind", ["db", "migrate"]),
    ("current", fab([FAB_OLD], "behind"), "behind", ["db", "migrate"]),
    ("current", fab([], "empty"), "behind", ["db", "migrate"]),
    ("current", fab([FAB_HEAD], "current"), "current", []),
]


@pytest.mark.parametrize("core_state, fab_schema, state, words", CASES_3)
def test_airflow3_check_mode_counts_the_fab_schema(monkeypatch, venv, core_state, fab_schema, state, words):
    current = [] if core_state == "empty" else [HEAD] if core_state == "current" else [OLD]
    target = FakeTarget({"db_inspect": [inspect3(current, core_state, fab_schema, state)]})
    result = run_module(monkeypatch, airflow_db, args3(venv), target, check_mode=True).result
    assert result["state"] == state and result["version_family"] == "3.x"
    assert result["changed"] is bool(words)
    assert result["command"] == ([venv["airflow"]] + words if words else [])
    assert result["fab"] == dict(state=fab_schema["state"], revision_before=(fab_schema["current"] or [None])[0],
                                 revision_after=FAB_HEAD, head_revision=FAB_HEAD, command=[])
    assert target.helper_calls() == [("db_inspect", {"timeout": 1800, "check_mode": True})]


def test_airflow3_db_migrate_migrates_both(monkeypatch, venv):
    before = schema3([], "empty", fab([], "empty"))
    after = schema3([HEAD], "current", fab([FAB_HEAD], "current"))
    target = FakeTarget({"db_inspect": [inspect3([], "empty", fab([], "empty"))],
                         "db_migrate": [lambda req: migrated3(req, before, after)]})
    result = run_module(monkeypatch, airflow_db, args3(venv), target).result
    assert result["changed"] is True and result["command"] == [venv["airflow"], "db", "migrate"]
    assert result["fab"] == dict(state="empty", revision_before=None, revision_after=FAB_HEAD,
                                 head_revision=FAB_HEAD, command=[])


def test_airflow3_fab_schema_left_behind_gets_fab_db_migrate(monkeypatch, venv):
    # An Airflow that does not know the provider's DB manager (3.0/3.1 without the FAB auth manager configured):
    # db migrate leaves the FAB schema behind, the helper ran the provider's command (commands["fab"]).
    before = schema3([HEAD], "current", fab([FAB_OLD], "behind"), "behind")
    after = schema3([HEAD], "current", fab([FAB_HEAD], "current"))
    target = FakeTarget({"db_inspect": [inspect3([HEAD], "current", fab([FAB_OLD], "behind"), "behind")],
                         "db_migrate": [lambda req: migrated3(req, before, after, fab_ran=True)]})
    result = run_module(monkeypatch, airflow_db, args3(venv), target).result
    assert target.helper_calls()[1][1]["commands"]["fab"] == [venv["airflow"], "fab-db", "migrate"]
    assert result["changed"] is True
    assert result["revision_before"] == result["revision_after"] == HEAD
    assert result["fab"] == dict(state="behind", revision_before=FAB_OLD, revision_after=FAB_HEAD,
                                 head_revision=FAB_HEAD, command=[venv["airflow"], "fab-db", "migrate"])


def test_airflow3_failed_fab_db_migrate(monkeypatch, venv):
    before = schema3([HEAD], "current", fab([FAB_OLD], "behind"), "behind")
    after = schema3([HEAD], "current", fab([FAB_OLD], "behind"), "behind")
    target = FakeTarget({"db_inspect": [inspect3([HEAD], "current", fab([FAB_OLD], "behind"), "behind")],
                         "db_migrate": [lambda req: migrated3(req, before, after, fab_ran=True, fab_rc=1)]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_db, args3(venv), target)
    result = caught.value.result
    assert result["error_kind"] == "command"
    assert result["msg"].startswith("%s fab-db migrate failed (rc=1): fab boom" % venv["airflow"])


def test_airflow3_fab_schema_not_at_head(monkeypatch, venv):
    before = schema3([OLD], "behind", fab([FAB_OLD], "behind"))
    after = schema3([HEAD], "current", fab([FAB_OLD], "behind"), "behind")
    target = FakeTarget({"db_inspect": [inspect3([OLD], "behind", fab([FAB_OLD], "behind"))],
                         "db_migrate": [lambda req: migrated3(req, before, after)]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_db, args3(venv), target)
    result = caught.value.result
    assert result["error_kind"] == "not_at_head"
    assert "FAB provider's schema (alembic_version_fab) is at %s, not at its head %s" % (FAB_OLD, FAB_HEAD) \
        in result["msg"]


def test_airflow3_fab_schema_ahead(monkeypatch, venv):
    target = FakeTarget({"db_inspect": [inspect3([HEAD], "current", fab(["ffffffffffff"], "ahead"), "ahead")]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_db, args3(venv), target)
    result = caught.value.result
    assert result["error_kind"] == "ahead"
    assert "FAB provider's schema (alembic_version_fab) is at revision ffffffffffff" in result["msg"]
    assert target.helper_calls() == [("db_inspect", {"timeout": 1800})]


def test_airflow3_unreachable_names_the_database_section(monkeypatch, venv):
    target = FakeTarget({"db_inspect": [error("unreachable", "Connection refused", "3.3.2")]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_db, args3(venv), target)
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in caught.value.result["msg"]
