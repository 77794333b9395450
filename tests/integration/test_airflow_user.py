"""airflow_user against Airflow 2.0.2 and 3.3.2 (users from the FAB provider) and PostgreSQL 15: check mode, real
run, re-run unchanged for create, update, password change and delete; every failure; no password in -vvv output.
Every test runs once per Airflow. psql and werkzeug (in Airflow's venv) check the stored user independently of the
module."""

import subprocess

import pytest

PASSWORD = "Pw-first-0000"


@pytest.fixture(scope="module")
def migrated(pg, airflow, airflow_env, tmp_path_factory):
    """One database brought to head with the CLI (not the module under test) for every user test."""
    import os
    db = pg.fresh_db()
    home = str(tmp_path_factory.mktemp("user_home"))
    env = airflow_env(db)
    subprocess.run([airflow["exe"]] + airflow["create"], env=dict(os.environ, AIRFLOW_HOME=home, **env),
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return dict(db=db, args=dict(airflow_executable=airflow["exe"], airflow_home=home, environment=env))


def stored(pg, db, username):
    row = pg.sql("SELECT email, first_name, last_name, password FROM ab_user WHERE username = '%s'" % username, db)
    if not row:
        return None
    email, first, last, hashed = row.split("|")
    roles = pg.sql("SELECT string_agg(r.name, ',' ORDER BY r.name) FROM ab_user u JOIN ab_user_role ur "
                   "ON ur.user_id = u.id JOIN ab_role r ON r.id = ur.role_id WHERE u.username = '%s'" % username, db)
    return dict(email=email, first_name=first, last_name=last, hash=hashed, roles=roles.split(",") if roles else [])


def password_ok(airflow, hashed, password):
    proc = subprocess.run([airflow["python"], "-c", "import sys; from werkzeug.security import check_password_hash; "
                           "sys.exit(0 if check_password_hash(sys.argv[1], sys.stdin.read()) else 1)", hashed],
                          input=password, universal_newlines=True, check=False)
    return proc.returncode == 0


def user_args(migrated, **extra):
    args = dict(migrated["args"], username="ada", password=PASSWORD, email="ada@example.com", first_name="Ada",
                last_name="Lovelace", role="Admin")
    args.update(extra)
    return args


def test_lifecycle(ansible, pg, airflow, migrated):
    db = migrated["db"]

    # create: check mode, real, unchanged
    check = ansible.run("airflow_user", user_args(migrated), check=True)
    assert check["changed"] is True and check["actions"] == ["create", "set password"], check
    assert check["commands"][0] == [airflow["exe"], "users", "create", "--username", "ada", "--email",
                                    "ada@example.com", "--firstname", "Ada", "--lastname", "Lovelace", "--role",
                                    "Admin", "--use-random-password"]
    assert stored(pg, db, "ada") is None, "check mode created the user"

    real = ansible.run("airflow_user", user_args(migrated))
    assert real["changed"] is True and real["actions"] == ["create", "set password"], real
    row = stored(pg, db, "ada")
    assert (row["email"], row["first_name"], row["last_name"], row["roles"]) == (
        "ada@example.com", "Ada", "Lovelace", ["Admin"])
    assert password_ok(airflow, row["hash"], PASSWORD)
    assert real["user"]["roles"] == ["Admin"]

    again = ansible.run("airflow_user", user_args(migrated))
    assert again["changed"] is False and again["actions"] == [] and again["commands"] == [], again
    assert stored(pg, db, "ada")["hash"] == row["hash"], "an unchanged run rewrote the password"

    # update email and role: only those
    changes = dict(email="ada@lovelace.example.org", role="Op")
    check = ansible.run("airflow_user", user_args(migrated, **changes), check=True)
    assert check["actions"] == ["add role Op", "remove role Admin", "update email"], check
    assert stored(pg, db, "ada")["roles"] == ["Admin"]
    real = ansible.run("airflow_user", user_args(migrated, **changes))
    assert real["changed"] is True and real["actions"] == check["actions"]
    row = stored(pg, db, "ada")
    assert (row["email"], row["roles"]) == ("ada@lovelace.example.org", ["Op"])
    assert ansible.run("airflow_user", user_args(migrated, **changes))["changed"] is False

    # a new password: on_create leaves it, always sets it (and only then)
    assert ansible.run("airflow_user", user_args(migrated, password="Pw-second-1111", update_password="on_create",
                                                 **changes))["changed"] is False
    assert password_ok(airflow, stored(pg, db, "ada")["hash"], PASSWORD)
    check = ansible.run("airflow_user", user_args(migrated, password="Pw-second-1111", **changes), check=True)
    assert check["actions"] == ["set password"]
    assert password_ok(airflow, stored(pg, db, "ada")["hash"], PASSWORD)
    real = ansible.run("airflow_user", user_args(migrated, password="Pw-second-1111", **changes))
    assert real["changed"] is True and real["actions"] == ["set password"]
    assert password_ok(airflow, stored(pg, db, "ada")["hash"], "Pw-second-1111")
    assert ansible.run("airflow_user", user_args(migrated, password="Pw-second-1111", **changes))["changed"] is False

    # delete: check mode, real, unchanged
    absent = dict(migrated["args"], username="ada", state="absent")
    check = ansible.run("airflow_user", absent, check=True)
    assert check["changed"] is True and check["commands"] == [[airflow["exe"], "users", "delete", "--username", "ada"]]
    assert stored(pg, db, "ada") is not None
    assert ansible.run("airflow_user", absent)["changed"] is True
    assert stored(pg, db, "ada") is None
    assert ansible.run("airflow_user", absent)["changed"] is False


@pytest.mark.parametrize("extra, message", [
    (dict(role="Superhero"), "role 'Superhero' does not exist. Existing roles: Admin, Op, Public, User, Viewer"),
    (dict(email="not-an-email"), "email 'not-an-email' is not a valid address"),
    (dict(password=None), "password is required to create user 'grace'"),
])
def test_failures_change_nothing(ansible, pg, migrated, extra, message):
    args = user_args(migrated, username="grace", **extra)
    if args["password"] is None:
        del args["password"]
    result = ansible.run("airflow_user", args)
    assert result["failed"] is True and message in result["msg"], result
    assert stored(pg, migrated["db"], "grace") is None


def test_no_password_in_verbose_output(ansible, pg, migrated):
    secret = "Pw-verbose-2222-zz"
    for attempt in range(2):  # create, then verify (a password check that matches)
        rc, out = ansible.verbose("airflow_user", user_args(migrated, username="hopper", password=secret))
        assert rc == 0, out
        assert '"username": "hopper"' in out
        assert secret not in out and pg.password not in out
    rc, out = ansible.verbose("airflow_user", user_args(migrated, username="hopper", password=secret + "-new"))
    assert rc == 0 and "set password" in out
    assert secret not in out


def test_check_mode_syncs_nothing_and_writes_no_file(ansible, pg, airflow, airflow_env, tmp_path):
    # A database migrated by `airflow db init` (3.x: db migrate) only: Flask-AppBuilder has not synced its roles and
    # permissions yet. Check mode must leave it so (starting the webserver's app would sync them) and write nothing
    # into a fresh AIRFLOW_HOME (importing Airflow would write airflow.cfg and webserver_config.py).
    import os
    db = pg.fresh_db()
    env = airflow_env(db)
    cli_home = str(tmp_path / "cli_home")
    subprocess.run([airflow["exe"]] + airflow["create"], env=dict(os.environ, AIRFLOW_HOME=cli_home, **env),
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    fab = ("SELECT (SELECT count(*) FROM ab_role) || '/' || (SELECT count(*) FROM ab_permission_view) || '/' || "
           "(SELECT count(*) FROM ab_permission_view_role)")
    before = pg.sql(fab, db)
    home = tmp_path / "fresh_home"
    home.mkdir()
    args = dict(airflow_executable=airflow["exe"], airflow_home=str(home), environment=env, username="turing",
                password=PASSWORD, email="turing@example.com", role="Admin")
    check = ansible.run("airflow_user", args, check=True)
    assert check["changed"] is True and check["actions"] == ["create", "set password"], check
    assert pg.sql(fab, db) == before, "check mode synced Flask-AppBuilder roles/permissions"
    assert os.listdir(str(home)) == [], "check mode wrote %s" % os.listdir(str(home))
    assert stored(pg, db, "turing") is None
    # the real run then does what check mode announced
    real = ansible.run("airflow_user", args)
    assert real["changed"] is True and real["actions"] == check["actions"], real
    assert stored(pg, db, "turing")["roles"] == ["Admin"]
