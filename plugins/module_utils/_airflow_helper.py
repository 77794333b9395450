# -*- coding: utf-8 -*-
# Copyright: contributors to ha_airflow.aws
# Apache License 2.0 (see galaxy.yml)
"""The introspection helper that ``_airflow.AirflowRunner.helper`` runs inside Airflow's virtual environment.

``HELPER_SOURCE`` is executed as ``<airflow venv python> -c HELPER_SOURCE <action>`` with a JSON request on stdin and
answers with one line ``RESULT_MARKER + json`` on stdout. It must run on Python 3.7+ and Airflow 2.0-3.x, and it
only uses what Airflow itself depends on (SQLAlchemy, alembic, werkzeug, Flask-AppBuilder).

Actions
  version      Airflow's version (package metadata; import as a fallback)
  db_inspect   Airflow version, the database's schema revisions, the installed Airflow's heads -> schema state.
               On Airflow 3 with the FAB provider installed, the provider's own schema too (its alembic scripts,
               table alembic_version_fab): ``airflow db migrate`` migrates it with Airflow's, and the state is
               "current" only when both are at their heads.
  db_migrate   take a database-wide lock, inspect again, run the migration command for the state it finds (if any),
               inspect again, release the lock. Two hosts at once: one migrates, the other waits and finds "current".
               When the FAB schema is still not at its head afterwards and the request names a ``fab`` command
               (``airflow fab-db migrate``), that runs too, under the same lock and deadline.
               ``timeout`` bounds the whole step: the wait for the lock (also bounded by ``lock_timeout``) and the
               command, which is stopped (its process group: TERM, then KILL) when it runs past the deadline and
               reported as a ``migration_timeout`` error with what it printed. A watchdog ends the helper itself
               shortly after the deadline if it hangs elsewhere (a database call that never returns).
  user_inspect one user as Flask-AppBuilder's security manager sees it, every role name, and whether a given
               password matches the stored hash (werkzeug.check_password_hash; the password itself is never echoed)
  user_update  set email / first / last name and, when asked, the password (security manager's reset_password)

Outside check mode, db_inspect and user_inspect also read the read-only way first (below), which needs no Airflow
import and no app start, and fall back to the full action (importing Airflow, starting the FAB app) when that way
cannot answer (a connection only Airflow can resolve, such as a secrets backend); ``"import_airflow": true`` goes
straight to the full action. db_migrate always inspects again through Airflow, under the lock.

Check mode (``"check_mode": true`` in the request) changes nothing, files included. Importing Airflow is not
read-only: Airflow 2.0.x writes a default airflow.cfg into AIRFLOW_HOME (or AIRFLOW_CONFIG) and webserver_config.py
when they are missing, and starting the webserver's app (what ``airflow users ...`` does) syncs Flask-AppBuilder's
roles and permissions into the database. So in check mode the helper refuses to import ``airflow`` at all, refuses
the actions that change things (db_migrate, user_update), and reads instead:
  version      package metadata, else the package's version file (read, not imported)
  db_inspect   the migration scripts' ``revision``/``down_revision`` parsed as text (importing them imports
               Airflow), and ``alembic_version`` (and ``alembic_version_fab``) with plain SQL on the connection
               Airflow would use (environment, _CMD, airflow.cfg, default SQLite in AIRFLOW_HOME), in a read-only
               session
  user_inspect Flask-AppBuilder's tables (ab_user, ab_role, ab_user_role) with plain SQL; the roles Airflow creates
               when its security manager first starts count as existing, since the real run starts it
Both modes also report the configured auth manager ([core] auth_manager, Airflow 3): users in the ab_* tables log
in only with the FAB auth manager.

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
import signal
import subprocess
import sys
import threading
import time

RESULT_MARKER = "HA_AIRFLOW_RESULT="
# PostgreSQL advisory lock, two-int4 key space (never collides with Airflow's own one-bigint locks): "HAAF", 1
PG_LOCK_KEY = (1212236102, 1)
MYSQL_LOCK_NAME = "ha_airflow.aws.airflow_db"
# Seconds the watchdog allows past a request's timeout before it ends the helper (a call stuck in the database).
WATCHDOG_GRACE = 30
# Process groups of the commands running now (the watchdog stops them before it exits).
RUNNING = set()
# Airflow 3: the FAB provider keeps users and roles in a schema of its own, with its own alembic version table.
FAB_VERSION_TABLE = "alembic_version_fab"
DEFAULT_AUTH_MANAGER_3 = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


class HelperError(Exception):
    def __init__(self, kind, message, **details):
        Exception.__init__(self, message)
        self.kind = kind
        self.details = details


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


def overall_state(core, fab):
    """The state of the whole schema from Airflow's and (Airflow 3) the FAB provider's: empty while Airflow's own is
    empty (``db migrate`` then creates both), ahead when either is, current when both are, behind otherwise."""
    if core == "empty":
        return "empty"
    if "ahead" in (core, fab):
        return "ahead"
    if core == "current" and fab in (None, "current"):
        return "current"
    return "behind"


def fab_provider_dir(locations, airflow_version):
    """The FAB provider's package folder (it holds migrations/) on Airflow 3, found in the ``airflow`` package's
    locations without importing anything; None on Airflow 2 or without the provider."""
    if version_tuple(airflow_version) < (3, 0):
        return None
    for location in locations:
        folder = os.path.join(location, "providers", "fab")
        if os.path.isdir(os.path.join(folder, "migrations", "versions")):
            return folder
    return None


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
    """Airflow's schema (and on Airflow 3 the FAB provider's, under "fab"): revisions, heads, state."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    schemas = [(None, os.path.join(os.path.dirname(airflow.__file__), "migrations"), {})]
    fab = fab_provider_dir(list(getattr(airflow, "__path__", [])), airflow.__version__)
    if fab:
        schemas.append(("fab", os.path.join(fab, "migrations"), {"version_table": FAB_VERSION_TABLE}))
    answer = dict(fab=None)
    try:
        with engine.connect() as conn:
            for name, folder, opts in schemas:
                script = ScriptDirectory(folder)
                heads = sorted(script.get_heads())
                known = set(rev.revision for rev in script.walk_revisions())
                current = sorted(MigrationContext.configure(conn, opts=opts).get_current_heads())
                found = dict(current=current, heads=heads, state=schema_state(current, heads, known))
                if name:
                    answer[name] = found
                else:
                    answer.update(found)
    except HelperError:
        raise
    except Exception as exc:
        text = mask(getattr(exc, "orig", None) or exc)
        raise HelperError(classify(text), text.strip())
    answer["schema_state"] = answer["state"]
    answer["state"] = overall_state(answer["state"], (answer["fab"] or {}).get("state"))
    return answer


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
                raise HelperError("lock_timeout", "another process held the migration lock for more than %d s"
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


def stop(proc):
    """End a command and everything it started: TERM to its process group, KILL after 10 s."""
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except OSError:
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def run_bounded(argv, seconds):
    """(rc, stdout, stderr) of a command given at most ``seconds``; HelperError migration_timeout when it ran longer
    (it is stopped first, and the error carries what it printed)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            start_new_session=True)
    RUNNING.add(proc)
    try:
        try:
            out, err = proc.communicate(timeout=seconds)
            return proc.returncode, out, err
        except subprocess.TimeoutExpired:
            stop(proc)
            out, err = proc.communicate()
            raise HelperError("migration_timeout", "%s did not finish within %d s and was stopped"
                              % (" ".join(argv), round(seconds)), command=argv, stdout=mask(out)[-4000:],
                              stderr=mask(err)[-4000:])
    finally:
        RUNNING.discard(proc)


def db_migrate(request):
    timeout = float(request.get("timeout", 1800))
    deadline = time.time() + timeout
    airflow, settings, engine = load_airflow()
    answer = dict(airflow_version=airflow.__version__, dialect=engine.dialect.name, url=url_of(settings, engine))
    with database_lock(engine, min(float(request.get("lock_timeout", 300)), timeout)) as waited:
        before = inspect_schema(airflow, engine)
        answer.update(lock_waited=waited, before=before, command=None, rc=None, stdout="", stderr="")
        commands = request.get("commands", {})
        argv = commands.get(before["state"])
        if argv:
            rc, out, err = run_bounded(argv, max(1.0, deadline - time.time()))
            answer.update(command=argv, rc=rc, stdout=mask(out)[-4000:], stderr=mask(err)[-4000:])
            # A fresh engine: the one above may cache reflection from before the migration.
            engine.dispose()
        answer["after"] = inspect_schema(airflow, engine)
        fab = answer["after"].get("fab")
        if (commands.get("fab") and fab and fab["state"] in ("empty", "behind") and answer["rc"] in (None, 0)
                and answer["after"]["schema_state"] == "current"):
            # Airflow migrates the FAB schema when it knows the provider's DB manager (3.2+ finds it by itself;
            # earlier 3.x only when [core] auth_manager is FAB): the provider's own command does it otherwise.
            rc, out, err = run_bounded(commands["fab"], max(1.0, deadline - time.time()))
            answer.update(fab_command=commands["fab"], fab_rc=rc, fab_stdout=mask(out)[-4000:],
                          fab_stderr=mask(err)[-4000:])
            engine.dispose()
            answer["after"] = inspect_schema(airflow, engine)
    return answer


def start_watchdog(seconds, action):
    """End the helper ``seconds`` from now if it is still running: stop the commands it started, answer with a
    ``timeout`` error, exit. Only a call that never returns (a database that stopped answering) gets there."""
    def expire():
        for proc in list(RUNNING):
            stop(proc)
        answer = dict(error=dict(kind="timeout", message="the %s step did not finish within %d s (stuck waiting for the "
                                                         "database?) and was stopped" % (action, round(seconds))))
        sys.stdout.write("\n" + RESULT_MARKER + json.dumps(answer) + "\n")
        sys.stdout.flush()
        os._exit(3)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


@contextlib.contextmanager
def appbuilder(spec, request):
    if request.get("check_mode"):
        raise HelperError("check_mode", "check mode never starts the webserver's app: it would sync Flask-AppBuilder's "
                                        "roles and permissions into the database")
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
    with appbuilder(request["appbuilder"], request) as builder:
        sm = builder.sm
        user = sm.find_user(username=request["username"])
        answer = dict(roles=sorted(role.name for role in sm.get_all_roles()), exists=user is not None, user=None,
                      password_matches=None, auth_manager=configured_auth_manager())
        if user is not None:
            answer["user"] = describe(user)
            if request.get("password") is not None:
                from werkzeug.security import check_password_hash
                answer["password_matches"] = bool(user.password) and check_password_hash(
                    user.password, request["password"])
        return answer


def configured_auth_manager():
    """[core] auth_manager as the running Airflow reads it (Airflow 3; None before, where the webserver is FAB's)."""
    from airflow.configuration import conf
    return conf.get("core", "auth_manager", fallback=None) or None


def user_update(request):
    with appbuilder(request["appbuilder"], request) as builder:
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
        if request.get("check_mode"):
            return dict(airflow_version=package_version(airflow_package_dir()))
        return dict(airflow_version=load_airflow()[0].__version__)


# --- check mode: read without importing Airflow -------------------------------------------------------------------

DEFAULT_ROLES = ("Admin", "Op", "Public", "User", "Viewer")


class RefuseAirflowImport(object):
    """A meta path finder that refuses ``airflow`` and its submodules (check mode)."""

    def find_spec(self, name, path=None, target=None):
        if name == "airflow" or name.startswith("airflow."):
            raise ImportError("check mode: the helper does not import %s (importing Airflow writes airflow.cfg and "
                              "webserver_config.py when they are missing)" % name)
        return None


@contextlib.contextmanager
def read_only_imports():
    guard = RefuseAirflowImport()
    sys.meta_path.insert(0, guard)
    try:
        yield
    finally:
        sys.meta_path.remove(guard)


def airflow_package_dirs():
    """Where the airflow package is (its first folder holds Airflow itself; providers may add more), found without
    importing it."""
    from importlib.machinery import PathFinder
    spec = PathFinder.find_spec("airflow")
    if spec is None or not spec.submodule_search_locations:
        raise HelperError("import", "no airflow package on the path of %s" % sys.executable)
    return list(spec.submodule_search_locations)


def airflow_package_dir():
    return airflow_package_dirs()[0]


def package_version(package_dir):
    """The version the package's files state (version.py, else __init__.py), read as text."""
    for name, pattern in (("version.py", r"^version\s*(?::\s*str\s*)?=\s*['\"]([^'\"]+)['\"]"),
                          ("__init__.py", r"^__version__\s*(?::\s*str\s*)?=\s*['\"]([^'\"]+)['\"]")):
        try:
            with open(os.path.join(package_dir, name)) as handle:
                match = re.search(pattern, handle.read(), re.M)
        except (IOError, OSError):
            continue
        if match:
            return match.group(1)
    raise HelperError("import", "cannot read the version of the Airflow in %s" % package_dir)


def version_tuple(text):
    match = re.match(r"\s*v?(\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def migration_graph(package_dir):
    """(heads, known revisions) of Airflow's alembic scripts, read as text: importing them imports Airflow."""
    import ast
    folder = os.path.join(package_dir, "migrations", "versions")
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise HelperError("import", "cannot read Airflow's migrations in %s: %s" % (folder, exc))
    known, parents = set(), set()
    for name in names:
        if not name.endswith(".py"):
            continue
        with open(os.path.join(folder, name), "rb") as handle:
            tree = ast.parse(handle.read(), name)
        values = {}
        for node in tree.body:
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets = [node.target]
            else:
                continue
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                    try:
                        values[target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        pass
        if values.get("revision"):
            known.add(values["revision"])
            down = values.get("down_revision")
            parents.update(down if isinstance(down, (list, tuple)) else [down] if down else [])
    return sorted(known - parents), known


def expand(value):
    """What Airflow does to a configuration value: $VARS and ~ expanded until nothing changes."""
    while True:
        expanded = os.path.expanduser(os.path.expandvars(str(value)))
        if expanded == value:
            return expanded
        value = expanded


def config_command(command, where):
    import shlex
    proc = subprocess.Popen(shlex.split(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise HelperError("config", "%s (%s) failed (rc=%d): %s" % (where, command, proc.returncode, mask(err)[-500:]))
    return out.strip()


def airflow_cfg():
    """(AIRFLOW_HOME, the airflow.cfg Airflow reads): AIRFLOW_CONFIG, else AIRFLOW_HOME/airflow.cfg."""
    home = expand(os.environ.get("AIRFLOW_HOME", "~/airflow"))
    config_file = expand(os.environ["AIRFLOW_CONFIG"]) if "AIRFLOW_CONFIG" in os.environ else os.path.join(
        home, "airflow.cfg")
    return home, config_file


def configured_option(section, key, default=None):
    """A plain option looked up where Airflow looks, read-only: AIRFLOW__<SECTION>__<KEY>, then airflow.cfg."""
    import configparser
    variable = "AIRFLOW__%s__%s" % (section.upper(), key.upper())
    if os.environ.get(variable):
        return expand(os.environ[variable])
    parser = configparser.ConfigParser()
    config_file = airflow_cfg()[1]
    if os.path.isfile(config_file):
        parser.read(config_file)
    if parser.has_option(section, key):
        return expand(parser.get(section, key))
    return default


def configured_sql_alchemy_conn(version):
    """(URL, where it came from) of the metadata database, looked up where Airflow looks: AIRFLOW__<S>__SQL_ALCHEMY_CONN
    (and _CMD), then airflow.cfg (AIRFLOW_CONFIG or AIRFLOW_HOME/airflow.cfg), then the default SQLite file in
    AIRFLOW_HOME. <S> is [database] from Airflow 2.3 on ([core] still read), [core] before."""
    import configparser
    home, config_file = airflow_cfg()
    sections = ("database", "core") if tuple(version[:2]) >= (2, 3) else ("core",)
    for section in sections:
        variable = "AIRFLOW__%s__SQL_ALCHEMY_CONN" % section.upper()
        if os.environ.get(variable):
            return expand(os.environ[variable]), variable
        if os.environ.get(variable + "_CMD"):
            return config_command(os.environ[variable + "_CMD"], variable + "_CMD"), variable + "_CMD"
        if os.environ.get(variable + "_SECRET"):
            raise HelperError("check_mode", "%s_SECRET names a secrets backend, which check mode cannot ask "
                                            "without starting Airflow" % variable)
    parser = configparser.ConfigParser()
    if os.path.isfile(config_file):
        parser.read(config_file)
    for section in sections:
        where = "%s [%s]" % (config_file, section)
        if parser.has_option(section, "sql_alchemy_conn"):
            return expand(parser.get(section, "sql_alchemy_conn")), where + " sql_alchemy_conn"
        if parser.has_option(section, "sql_alchemy_conn_cmd"):
            return (config_command(parser.get(section, "sql_alchemy_conn_cmd"), where + " sql_alchemy_conn_cmd"),
                    where + " sql_alchemy_conn_cmd")
        if parser.has_option(section, "sql_alchemy_conn_secret"):
            raise HelperError("check_mode", "%s sql_alchemy_conn_secret names a secrets backend, which check mode "
                                            "cannot ask without starting Airflow" % where)
    return "sqlite:///%s" % os.path.join(home, "airflow.db"), "Airflow's default"


class ReadOnlyDatabase(object):
    """A read-only session on the database at ``url`` (SQLAlchemy, no Airflow). PostgreSQL and MySQL sessions are
    set read-only; SQLite is opened read-only, and an absent file is an empty database (connecting would create it)."""

    def __init__(self, url):
        from sqlalchemy import create_engine
        from sqlalchemy.engine.url import make_url
        from sqlalchemy.pool import NullPool
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self.url = mask(parsed.render_as_string(hide_password=True) if hasattr(parsed, "render_as_string")
                        else repr(parsed))
        self.conn = None
        options = dict(poolclass=NullPool)
        if self.dialect == "sqlite":
            path = parsed.database
            if not path or path == ":memory:" or not os.path.isfile(path):
                return
            import sqlite3
            from urllib.parse import quote
            options["creator"] = lambda: sqlite3.connect("file:%s?mode=ro" % quote(path), uri=True)
        elif self.dialect == "postgresql" and parsed.get_driver_name() == "psycopg2":
            given = parsed.query.get("options") or ""
            options["connect_args"] = dict(options=(given + " -c default_transaction_read_only=on").strip())
        elif self.dialect == "mysql" and parsed.get_driver_name() in ("mysqldb", "pymysql"):
            options["connect_args"] = dict(init_command="SET SESSION TRANSACTION READ ONLY")
        try:
            self.conn = create_engine(parsed, **options).connect()
        except Exception as exc:
            text = mask(getattr(exc, "orig", None) or exc)
            raise HelperError(classify(text), text.strip())

    def execute(self, sql, params=None):
        from sqlalchemy import text
        return self.conn.execute(text(sql), params or {})

    def tables(self):
        if self.conn is None:
            return set()
        from sqlalchemy import inspect
        return set(inspect(self.conn).get_table_names())

    def rows(self, sql, params=None):
        return [tuple(row) for row in self.execute(sql, params).fetchall()]

    def close(self):
        if self.conn is not None:
            self.conn.close()


@contextlib.contextmanager
def read_only_database(version):
    url, _where = configured_sql_alchemy_conn(version)
    database = ReadOnlyDatabase(url)
    try:
        yield database
    except HelperError:
        raise
    except Exception as exc:
        text = mask(getattr(exc, "orig", None) or exc)
        raise HelperError(classify(text), text.strip())
    finally:
        database.close()


def db_inspect_read_only(request):
    locations = airflow_package_dirs()
    airflow_version = version(request)["airflow_version"]
    schemas = [(None, locations[0], "alembic_version")]
    fab = fab_provider_dir(locations, airflow_version)
    if fab:
        schemas.append(("fab", fab, FAB_VERSION_TABLE))
    with read_only_database(version_tuple(airflow_version)) as database:
        tables = database.tables()
        answer = dict(airflow_version=airflow_version, dialect=database.dialect, url=database.url, fab=None)
        for name, package, table in schemas:
            heads, known = migration_graph(package)
            current = []
            if table in tables:
                current = sorted(row[0] for row in database.rows("SELECT version_num FROM %s" % table))
            found = dict(current=current, heads=heads, state=schema_state(current, heads, set(known)))
            if name:
                answer[name] = found
            else:
                answer.update(found)
        answer["schema_state"] = answer["state"]
        answer["state"] = overall_state(answer["state"], (answer["fab"] or {}).get("state"))
        return answer


def user_inspect_read_only(request):
    airflow_version = version(request)["airflow_version"]
    auth_manager = None
    if version_tuple(airflow_version) >= (3, 0):
        auth_manager = configured_option("core", "auth_manager", DEFAULT_AUTH_MANAGER_3)
    with read_only_database(version_tuple(airflow_version)) as database:
        tables = database.tables()
        roles = set(DEFAULT_ROLES)
        if "ab_role" in tables:
            roles.update(row[0] for row in database.rows("SELECT name FROM ab_role"))
        answer = dict(roles=sorted(roles), exists=False, user=None, password_matches=None, auth_manager=auth_manager)
        if "ab_user" not in tables:
            return answer
        found = database.rows("SELECT id, username, email, first_name, last_name, active, password FROM ab_user "
                              "WHERE username = :username", dict(username=request["username"]))
        if not found:
            return answer
        user_id, username, email, first_name, last_name, active, stored = found[0]
        user_roles = []
        if "ab_user_role" in tables and "ab_role" in tables:
            user_roles = sorted(row[0] for row in database.rows(
                "SELECT r.name FROM ab_role r JOIN ab_user_role ur ON ur.role_id = r.id WHERE ur.user_id = :id",
                dict(id=user_id)))
        answer.update(exists=True, user=dict(username=username, email=email, first_name=first_name,
                                             last_name=last_name, roles=user_roles, active=bool(active)))
        if request.get("password") is not None:
            from werkzeug.security import check_password_hash
            answer["password_matches"] = bool(stored) and check_password_hash(stored, request["password"])
        return answer


def refuse_in_check_mode(action):
    def refuse(request):
        raise HelperError("check_mode", "%s changes the database; check mode never runs it" % action)
    return refuse


ACTIONS = dict(version=version, db_inspect=db_inspect, db_migrate=db_migrate, user_inspect=user_inspect,
               user_update=user_update)
CHECK_MODE_ACTIONS = dict(version=version, db_inspect=db_inspect_read_only, user_inspect=user_inspect_read_only,
                          db_migrate=refuse_in_check_mode("db_migrate"), user_update=refuse_in_check_mode("user_update"))


# Outside check mode too, these read the database the read-only way first: no Airflow import (seconds on Airflow 3),
# no app start (a Flask-AppBuilder permission sync), so a run that finds nothing to change costs one light process.
# What only Airflow itself can answer falls back to the full action.
READ_FIRST = ("db_inspect", "user_inspect")
# Errors about the database itself: the full action would meet them too.
DATABASE_ERRORS = ("unreachable", "auth", "no_database")


def read_first(action, request):
    try:
        with read_only_imports():
            answer = CHECK_MODE_ACTIONS[action](dict(request, check_mode=True))
        answer["read_only"] = True
        return answer
    except HelperError as exc:
        if exc.kind in DATABASE_ERRORS:
            raise
    except Exception:  # anything the plain reading did not foresee: ask Airflow
        pass
    for name in [n for n in sys.modules if n == "airflow" or n.startswith("airflow.")]:
        del sys.modules[name]  # refused imports may have left partial entries
    return ACTIONS[action](request)


def main():
    request = json.loads(sys.stdin.read() or "{}")
    watchdog = None
    if request.get("timeout"):
        watchdog = start_watchdog(float(request["timeout"]) + float(request.get("watchdog_grace", WATCHDOG_GRACE)),
                                  sys.argv[1])
    try:
        if request.get("check_mode"):
            with read_only_imports():
                answer = CHECK_MODE_ACTIONS[sys.argv[1]](request)
        elif sys.argv[1] in READ_FIRST and not request.get("import_airflow"):
            answer = read_first(sys.argv[1], request)
        else:
            answer = ACTIONS[sys.argv[1]](request)
    except HelperError as exc:
        answer = dict(error=dict(exc.details, kind=exc.kind, message=str(exc)))
    except Exception as exc:
        text = mask(getattr(exc, "orig", None) or exc)
        answer = dict(error=dict(kind=classify(text), message="%s: %s" % (type(exc).__name__, text.strip())))
    finally:
        if watchdog is not None:
            watchdog.cancel()
    if "error" in answer and "airflow" in sys.modules:
        answer["airflow_version"] = getattr(sys.modules["airflow"], "__version__", None)
    sys.stdout.write("\n" + RESULT_MARKER + json.dumps(answer) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
'''
