"""airflow_db against Airflow 2.0.2 (Python 3.7 venv) and 3.3.2 (Python 3.11 venv, FAB provider) and PostgreSQL 15:
check mode, real run, re-run unchanged, upgrade of a schema that is behind, two hosts at once, and every failure.
Every test runs once per Airflow (the ``airflow`` fixture). Oracles are independent of the module: psql reads the
database, and Airflow's own `airflow db check-migrations` says whether the schema is at head."""

import copy
import os
import subprocess
import time


def check_migrations(airflow, args):
    """Airflow's own verdict: rc 0 when the schema is at the installed Airflow's head."""
    env = dict(os.environ, AIRFLOW_HOME=args["airflow_home"], **args["environment"])
    return subprocess.run([airflow["exe"], "db", "check-migrations", "-t", "0"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False).returncode


def downgrade_one_step(airflow, args):
    """Really migrate the schema one step down with Airflow's own alembic configuration."""
    env = dict(os.environ, AIRFLOW_HOME=args["airflow_home"], **args["environment"])
    subprocess.run([airflow["python"], "-c", "from alembic import command; from airflow.utils.db import "
                    "_get_alembic_config; command.downgrade(_get_alembic_config(), '-1')"], env=env, check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_check_mode_then_real_then_unchanged(ansible, pg, airflow, db_args):
    args, db = db_args
    create = [airflow["exe"]] + airflow["create"]

    check = ansible.run("airflow_db", args, check=True)
    assert check["changed"] is True, check
    assert check["state"] == "empty"
    assert check["command"] == create
    assert check["revision_before"] is None
    assert check["airflow_version"] == airflow["version"] and check["version_family"] == airflow["family"]
    assert pg.tables(db) == 0, "check mode created tables"
    if airflow["fab"]:
        assert check["fab"]["state"] == "empty" and check["fab"]["revision_before"] is None
    else:
        assert "fab" not in check

    real = ansible.run("airflow_db", args)
    assert real["changed"] is True, real
    assert real["command"] == create
    assert real["revision_before"] is None
    assert real["revision_after"] == real["head_revision"] == check["head_revision"]
    assert pg.revision(db) == real["revision_after"]
    assert check_migrations(airflow, args) == 0
    assert pg.tables(db) > 20
    if airflow["fab"]:  # db migrate brought the FAB provider's schema (users, roles) to its head too
        assert real["fab"]["revision_after"] == real["fab"]["head_revision"] == check["fab"]["head_revision"]
        assert pg.revision(db, "alembic_version_fab") == real["fab"]["revision_after"]
        assert real["fab"]["command"] == []

    again = ansible.run("airflow_db", args)
    assert again["changed"] is False, again
    assert again["command"] == [] and again["state"] == "current"
    assert again["revision_before"] == again["revision_after"] == real["revision_after"]

    check_again = ansible.run("airflow_db", args, check=True)
    assert check_again["changed"] is False and check_again["command"] == []


def test_upgrades_a_schema_that_is_behind(ansible, pg, airflow, db_args):
    args, db = db_args
    upgrade = [airflow["exe"]] + airflow["upgrade"]
    head = ansible.run("airflow_db", args)["revision_after"]
    downgrade_one_step(airflow, args)
    older = pg.revision(db)
    assert older != head
    assert check_migrations(airflow, args) != 0

    check = ansible.run("airflow_db", args, check=True)
    assert (check["changed"], check["state"], check["command"]) == (True, "behind", upgrade)
    assert pg.revision(db) == older, "check mode migrated"

    real = ansible.run("airflow_db", args)
    assert real["changed"] is True
    assert real["command"] == upgrade
    assert (real["revision_before"], real["revision_after"]) == (older, head)
    assert pg.revision(db) == head and check_migrations(airflow, args) == 0

    assert ansible.run("airflow_db", args)["changed"] is False


def test_two_hosts_at_once_on_an_empty_database(ansible, pg, airflow, db_args, tmp_path):
    args, db = db_args
    # Two "hosts": separate AIRFLOW_HOMEs, one database, no run_once, started together.
    second = copy.deepcopy(args)
    second["airflow_home"] = str(tmp_path / "second_home")
    os.mkdir(second["airflow_home"])
    procs = [ansible.start("airflow_db", a) for a in (args, second)]
    results = [ansible.result(p) for p in procs]

    for result in results:
        assert not result.get("failed"), result
        assert result["state"] == "empty", "both must have raced from an empty database: %s" % result
    assert sorted(r["changed"] for r in results) == [False, True]
    winner = next(r for r in results if r["changed"])
    loser = next(r for r in results if not r["changed"])
    assert winner["command"] == [airflow["exe"]] + airflow["create"]
    assert loser["command"] == [] and loser["lock_waited"] > 0
    assert loser["revision_before"] == loser["revision_after"] == winner["revision_after"] == pg.revision(db)
    assert check_migrations(airflow, args) == 0


def test_missing_executable(ansible, db_args):
    args, db = db_args
    args["airflow_executable"] = "/nonexistent/venv/bin/airflow"
    result = ansible.run("airflow_db", args)
    assert result["failed"] is True
    assert "Airflow executable /nonexistent/venv/bin/airflow not found" in result["msg"]


def test_unreachable_database(ansible, pg, airflow, db_args):
    args, db = db_args
    # a port nobody listens on
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    closed = sock.getsockname()[1]
    sock.close()
    args["environment"][airflow["conn"]] = pg.url(db, port=closed)
    result = ansible.run("airflow_db", args)
    assert result["failed"] is True and result["error_kind"] == "unreachable", result
    assert "Cannot reach the metadata database" in result["msg"]
    assert airflow["conn"] in result["msg"]
    assert pg.tables(db) == 0


def test_wrong_credentials(ansible, pg, airflow, db_args):
    args, db = db_args
    args["environment"][airflow["conn"]] = pg.url(db, password="wrong-" + pg.password)
    result = ansible.run("airflow_db", args)
    assert result["failed"] is True and result["error_kind"] == "auth", result
    assert "rejected the credentials" in result["msg"]
    assert pg.password not in repr(result)
    assert pg.tables(db) == 0


def test_missing_database(ansible, pg, airflow, db_args):
    args, db = db_args
    args["environment"][airflow["conn"]] = pg.url(db + "_missing")
    result = ansible.run("airflow_db", args)
    assert result["failed"] is True and result["error_kind"] == "no_database", result


def test_schema_ahead_of_the_installed_airflow(ansible, pg, airflow, db_args):
    args, db = db_args
    pg.sql("CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY);"
           "INSERT INTO alembic_version VALUES ('ffffffffffff'); ALTER TABLE alembic_version OWNER TO %s" % pg.role, db)
    result = ansible.run("airflow_db", args)
    assert result["failed"] is True and result["error_kind"] == "ahead", result
    assert "revision ffffffffffff, which Airflow %s does not know" % airflow["version"] in result["msg"]
    assert pg.revision(db) == "ffffffffffff" and pg.tables(db) == 1


def test_no_password_in_verbose_output(ansible, pg, airflow, db_args):
    args, db = db_args
    rc, out = ansible.verbose("airflow_db", args)
    assert rc == 0, out
    assert '"%s"' % airflow["create"][-1] in out  # the output is really there
    assert pg.password not in out
    args["environment"][airflow["conn"]] = pg.url(db, password="wrong-secret-xyz")
    rc, out = ansible.verbose("airflow_db", args)
    assert rc != 0 and "rejected the credentials" in out
    assert "wrong-secret-xyz" not in out


def test_check_mode_writes_no_file_in_a_fresh_airflow_home(ansible, pg, airflow, db_args, tmp_path):
    # Airflow 2.0.2 writes airflow.cfg and webserver_config.py into AIRFLOW_HOME when it is imported and they are
    # missing (3.3.2 writes airflow.cfg): check mode must not import it.
    args, db = db_args
    home = args["airflow_home"]
    check = ansible.run("airflow_db", args, check=True)
    assert check["changed"] is True and check["state"] == "empty", check
    assert os.listdir(home) == [], "check mode wrote %s" % os.listdir(home)
    assert pg.tables(db) == 0

    real = ansible.run("airflow_db", args)
    assert real["changed"] is True
    # a second host, fresh AIRFLOW_HOME, on the migrated database
    second = copy.deepcopy(args)
    second["airflow_home"] = str(tmp_path / "fresh_home")
    os.mkdir(second["airflow_home"])
    check = ansible.run("airflow_db", second, check=True)
    assert (check["changed"], check["state"], check["revision_before"]) == (False, "current", real["revision_after"])
    assert os.listdir(second["airflow_home"]) == []
    if airflow["fab"]:
        assert check["fab"]["state"] == "current"


def test_hung_migration_is_stopped_at_the_timeout(ansible, pg, airflow, db_args):
    # A session with an open transaction that read the table the newest migration alters (2.0.2: dag, 3.3.2:
    # asset_partition_dag_run; what a running scheduler does) blocks that migration: db upgrade/migrate waits for
    # ever. The module stops it at the timeout, says what to look at, and leaves the other session alone.
    args, db = db_args
    head = ansible.run("airflow_db", args)["revision_after"]
    downgrade_one_step(airflow, args)
    older = pg.revision(db)
    holder = subprocess.Popen([os.path.join(pg.bin, "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", pg.role,
                               "-d", db, "-qtA", "-v", "ON_ERROR_STOP=1"], env=dict(os.environ, PGPASSWORD=pg.password),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
    try:
        holder.stdin.write("BEGIN;\nSELECT count(*) FROM %s;\n" % airflow["last_table"])
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "0"
        started = time.time()
        result = ansible.run("airflow_db", dict(args, timeout=20))
        took = time.time() - started
        assert holder.poll() is None, "the other session was ended"
    finally:
        holder.kill()
        holder.wait()
    assert result["failed"] is True and result["error_kind"] == "migration_timeout", result
    assert result["command"] == [airflow["exe"]] + airflow["upgrade"]
    assert "did not finish within 20 s" in result["msg"] and "pg_stat_activity" in result["msg"]
    assert took < 90, took
    assert pg.password not in repr(result)
    assert pg.revision(db) == older, "the stopped step was not rolled back"
    # the lock gone, the next run finishes the job
    again = ansible.run("airflow_db", args)
    assert again["changed"] is True and again["revision_after"] == head, again
