# -*- coding: utf-8 -*-
# Copyright: contributors to ha_airflow.aws
# Apache License 2.0 (see galaxy.yml)
"""The introspection helper that ``_airflow.AirflowRunner.helper`` runs inside Airflow's virtual environment.

``HELPER_SOURCE`` is executed as ``<airflow venv python> -c HELPER_SOURCE <action>`` with a JSON request on stdin and
answers with one line ``RESULT_MARKER + json`` on stdout. It must run on Python 3.7+ and Airflow 2.0-3.x, and it
only uses what Airflow itself depends on (SQLAlchemy, alembic, werkzeug, Flask-AppBuilder).

Actions
  version      Airflow's version (package metadata; import as a fallback)
  db_inspect   Airflow version, the database's schema revisions, the installed Airflow's heads -> schema state
  db_migrate   take a database-wide lock, inspect again, run the migration command for the state it finds (if any),
               inspect again, release the lock. Two hosts at once: one migrates, the other waits and finds "current".
  user_inspect one user as Flask-AppBuilder's security manager sees it, every role name, and whether a given
               password matches the stored hash (werkzeug.check_password_hash; the password itself is never echoed)
  user_update  set email / first / last name and, when asked, the password (security manager's reset_password)

Errors are answers, not tracebacks: {"error": {"kind": ..., "message": ...}} with URL passwords masked.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

RESULT_MARKER = "HA_AIRFLOW_RESULT="

HELPER_SOURCE = r'''
import contextlib
import importlib
import json
import os
import re
import subprocess
import sys
import time

RESULT_MARKER = "HA_AIRFLOW_RESULT="
# PostgreSQL advisory lock, two-int4 key space (never collides with Airflow's own one-bigint locks): "HAAF", 1
PG_LOCK_KEY = (1212236102, 1)
MYSQL_LOCK_NAME = "ha_airflow.aws.airflow_db"


class HelperError(Exception):
    def __init__(self, kind, message):
        Exception.__init__(self, message)
        self.kind = kind


def mask(text):
    return re.sub(r"(://[^:/@\s]*:)[^@\s]+@", r"\1********@", str(text))


def classify(text):
    """Which kind of database failure an exception text describes (psycopg2, mysqlclient, sqlite3)."""
    low = text.lower()
    if ("password authentication failed" in low or "no password supplied" in low or "access denied" in low
            or "authentication failed" in low or ("role" in low and "does not exist" in low)):
        return "auth"
    if "database" in low and ("does not exist" in low or "unknown database" in low):
        return "no_database"
    if ("could not connect" in low or "connection refused" in low or "could not translate host name" in low
            or "timeout expired" in low or "can't connect" in low or "name or service not known" in low
            or "unable to open database file" in low or "no route to host" in low or "server closed" in low):
        return "unreachable"
    return "database"


def schema_state(current, heads, known):
    """empty: no schema; ahead: a revision this Airflow does not know; current: at the heads; behind: otherwise."""
    if not current:
        return "empty"
    if any(rev not in known for rev in current):
        return "ahead"
    if sorted(current) == sorted(heads):
        return "current"
    return "behind"


def load_airflow():
    try:
        import airflow
        from airflow import settings
    except Exception as exc:  # a broken installation: report it instead of a traceback
        raise HelperError("import", "import airflow failed: %s: %s" % (type(exc).__name__, mask(exc)))
    engine = getattr(settings, "engine", None)
    if engine is None:
        if hasattr(settings, "configure_orm"):
            settings.configure_orm()
        engine = settings.engine
    return airflow, settings, engine


def url_of(settings, engine):
    try:
        url = engine.url
        return mask(url.render_as_string(hide_password=True) if hasattr(url, "render_as_string") else repr(url))
    except Exception:
        return mask(getattr(settings, "SQL_ALCHEMY_CONN", "?"))


def inspect_schema(airflow, engine):
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(os.path.join(os.path.dirname(airflow.__file__), "migrations"))
    heads = sorted(script.get_heads())
    known = set(rev.revision for rev in script.walk_revisions())
    try:
        with engine.connect() as conn:
            current = sorted(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:
        text = mask(getattr(exc, "orig", None) or exc)
        raise HelperError(classify(text), text.strip())
    return dict(current=current, heads=heads, state=schema_state(current, heads, known))


@contextlib.contextmanager
def database_lock(engine, timeout):
    """A lock every host of the cluster sees: PostgreSQL advisory lock, MySQL GET_LOCK; SQLite is one host."""
    dialect = engine.dialect.name
    if dialect not in ("postgresql", "mysql"):
        yield 0.0
        return
    from sqlalchemy import text
    started = time.time()
    try:
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except Exception as exc:
        msg = mask(getattr(exc, "orig", None) or exc)
        raise HelperError(classify(msg), msg.strip())
    try:
        while True:
            if dialect == "postgresql":
                got = conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"),
                                   {"a": PG_LOCK_KEY[0], "b": PG_LOCK_KEY[1]}).scalar()
            else:
                got = conn.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": MYSQL_LOCK_NAME}).scalar() == 1
            if got:
                break
            if time.time() - started >= timeout:
                raise HelperError("lock_timeout", "another process held the migration lock for more than %ds"
                                  % timeout)
            time.sleep(0.5)
        waited = round(time.time() - started, 1)
        try:
            yield waited
        finally:
            if dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": PG_LOCK_KEY[0], "b": PG_LOCK_KEY[1]})
            else:
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": MYSQL_LOCK_NAME})
    finally:
        conn.close()


def db_inspect(request):
    airflow, settings, engine = load_airflow()
    answer = dict(airflow_version=airflow.__version__, dialect=engine.dialect.name, url=url_of(settings, engine))
    answer.update(inspect_schema(airflow, engine))
    return answer


def db_migrate(request):
    airflow, settings, engine = load_airflow()
    answer = dict(airflow_version=airflow.__version__, dialect=engine.dialect.name, url=url_of(settings, engine))
    with database_lock(engine, float(request.get("lock_timeout", 300))) as waited:
        before = inspect_schema(airflow, engine)
        answer.update(lock_waited=waited, before=before, command=None, rc=None, stdout="", stderr="")
        argv = request.get("commands", {}).get(before["state"])
        if argv:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
            out, err = proc.communicate()
            answer.update(command=argv, rc=proc.returncode, stdout=mask(out)[-4000:], stderr=mask(err)[-4000:])
            # A fresh engine: the one above may cache reflection from before the migration.
            engine.dispose()
        answer["after"] = inspect_schema(airflow, engine)
    return answer


@contextlib.contextmanager
def appbuilder(spec):
    module_name, attr = spec.split(":")
    try:
        made = getattr(importlib.import_module(module_name), attr)()
    except Exception as exc:
        text = mask(getattr(exc, "orig", None) or exc)
        raise HelperError(classify(text), "loading the webserver's security manager (%s) failed: %s" % (spec, text))
    if hasattr(made, "__enter__"):
        with made as builder:
            yield builder
    else:
        yield getattr(made, "appbuilder", made)


def describe(user):
    return dict(username=user.username, email=user.email, first_name=user.first_name, last_name=user.last_name,
                roles=sorted(role.name for role in (user.roles or [])), active=bool(user.active))


def user_inspect(request):
    with appbuilder(request["appbuilder"]) as builder:
        sm = builder.sm
        user = sm.find_user(username=request["username"])
        answer = dict(roles=sorted(role.name for role in sm.get_all_roles()), exists=user is not None, user=None,
                      password_matches=None)
        if user is not None:
            answer["user"] = describe(user)
            if request.get("password") is not None:
                from werkzeug.security import check_password_hash
                answer["password_matches"] = bool(user.password) and check_password_hash(
                    user.password, request["password"])
        return answer


def user_update(request):
    with appbuilder(request["appbuilder"]) as builder:
        sm = builder.sm
        user = sm.find_user(username=request["username"])
        if user is None:
            raise HelperError("no_user", "user %s does not exist" % request["username"])
        fields = request.get("fields") or {}
        for name in sorted(fields):
            setattr(user, name, fields[name])
        if fields and sm.update_user(user) is False:
            raise HelperError("database", "the security manager refused to update user %s" % user.username)
        if request.get("password") is not None:
            sm.reset_password(user.id, request["password"])
        return dict(user=describe(sm.find_user(username=request["username"])))


def version(request):
    """From the installed distribution's metadata: cheaper than importing airflow (which sets up its ORM)."""
    try:
        try:
            from importlib import metadata
        except ImportError:  # Python 3.7: the backport Airflow itself depends on
            import importlib_metadata as metadata
        return dict(airflow_version=metadata.version("apache-airflow"))
    except Exception:
        return dict(airflow_version=load_airflow()[0].__version__)


ACTIONS = dict(version=version, db_inspect=db_inspect, db_migrate=db_migrate, user_inspect=user_inspect,
               user_update=user_update)


def main():
    request = json.loads(sys.stdin.read() or "{}")
    try:
        answer = ACTIONS[sys.argv[1]](request)
    except HelperError as exc:
        answer = dict(error=dict(kind=exc.kind, message=str(exc)))
    except Exception as exc:
        text = mask(getattr(exc, "orig", None) or exc)
        answer = dict(error=dict(kind=classify(text), message="%s: %s" % (type(exc).__name__, text.strip())))
    if "error" in answer and "airflow" in sys.modules:
        answer["airflow_version"] = getattr(sys.modules["airflow"], "__version__", None)
    sys.stdout.write("\n" + RESULT_MARKER + json.dumps(answer) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
'''
