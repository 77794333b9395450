# -*- coding: utf-8 -*-
# Copyright: contributors to ha_airflow.aws
# Apache License 2.0 (see galaxy.yml)
"""Private helpers of airflow_db and airflow_user: find Airflow, build its command lines, run them.

Not a public API (the leading underscore): the modules of this collection are its only users.

* Everything that differs between Airflow versions is in ``VERSION_FAMILIES``, nowhere else.
* Command lines are argv lists built by the ``*_argv`` functions below, never shell strings.
* Reading state Airflow's CLI cannot report as data (schema revisions, a password check) goes through
  ``_airflow_helper.HELPER_SOURCE``, run by the interpreter of Airflow's own virtual environment; requests travel on
  stdin (so a password never appears in an argv) and the answer comes back as one JSON line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from urllib.parse import unquote

from ansible_collections.ha_airflow.aws.plugins.module_utils._airflow_helper import HELPER_SOURCE, RESULT_MARKER

# What differs between Airflow versions, newest family first. Each entry: the first version of the family, then
#   db_create   argv words that create the schema in an empty database
#   db_upgrade  argv words that migrate an existing schema to the installed version
#   db_section  the airflow.cfg section of sql_alchemy_conn (AIRFLOW__<SECTION>__SQL_ALCHEMY_CONN)
#   appbuilder  "module:callable" giving the Flask-AppBuilder of the webserver (the security manager that owns users)
#   fab_db      argv words that migrate the FAB provider's own schema (Airflow 3: users and roles live there, in
#               tables ab_* with the version table alembic_version_fab); `db migrate` migrates it too, so these run
#               only when it is still behind afterwards. None before 3.0 (the ab_* tables are Airflow's own).
#   fab_auth_manager  the [core] auth_manager whose users these are (Airflow 3); None before 3.0 (always FAB)
_FAB_3 = dict(db_create=("db", "migrate"), db_upgrade=("db", "migrate"), db_section="database",
              appbuilder="airflow.providers.fab.auth_manager.cli_commands.utils:get_application_builder",
              fab_db=("fab-db", "migrate"),
              fab_auth_manager="airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager")
_WWW_2 = dict(appbuilder="airflow.www.app:cached_app", fab_db=None, fab_auth_manager=None)
VERSION_FAMILIES = (
    ((3, 0), dict(_FAB_3, family="3.x")),
    ((2, 7), dict(_WWW_2, family="2.7+", db_create=("db", "migrate"), db_upgrade=("db", "migrate"),
                  db_section="database")),
    ((2, 3), dict(_WWW_2, family="2.3-2.6", db_create=("db", "init"), db_upgrade=("db", "upgrade"),
                  db_section="database")),
    ((2, 0), dict(_WWW_2, family="2.0-2.2", db_create=("db", "init"), db_upgrade=("db", "upgrade"),
                  db_section="core")),
)

# User commands: the same verbs from 2.0 to 3.x (3.x gets them from the FAB provider).
USERS_CREATE = ("users", "create")
USERS_DELETE = ("users", "delete")
USERS_ADD_ROLE = ("users", "add-role")
USERS_REMOVE_ROLE = ("users", "remove-role")

HELPER_PLACEHOLDER = "<ha_airflow.aws helper>"
MASK = "********"
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)(?!\*+@)[^@\s]+@")  # "***" is SQLAlchemy's mask already


class AirflowError(Exception):
    """Failure of an Airflow step; ``details`` are extra keys for fail_json (already free of secrets)."""

    def __init__(self, msg, **details):
        super(AirflowError, self).__init__(msg)
        self.details = details


def airflow_argument_spec():
    """The options of the ``ha_airflow.aws.airflow`` doc fragment."""
    return dict(
        airflow_executable=dict(type="path", default="airflow"),
        airflow_home=dict(type="path"),
        environment=dict(type="dict", default={}, no_log=True),
    )


def parse_version(text):
    """``"2.0.2"`` / ``"2.7.0rc1"`` / ``"3.0.0.dev0+astro"`` -> ``(2, 0, 2)``; AirflowError when unreadable."""
    match = re.match(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        raise AirflowError("Cannot read an Airflow version from %r." % (text,))
    return tuple(int(part or 0) for part in match.groups())


def family_for(version):
    """The VERSION_FAMILIES entry of a version tuple."""
    for first, family in VERSION_FAMILIES:
        if tuple(version[:2]) >= first:
            return family
    raise AirflowError(
        "Airflow %s is not supported: these modules drive Airflow 2.0 or later. Upgrade Airflow first."
        % ".".join(str(p) for p in version))


def sql_alchemy_conn_variable(family):
    return "AIRFLOW__%s__SQL_ALCHEMY_CONN" % family["db_section"].upper()


# Which environment values are secrets. Only these are masked: masking every value would turn ordinary words into
# noise (a queue called "airflow", a parallelism of "0") and, done before parsing, corrupt the helper's JSON answer.
#   * the whole value of a variable whose name says it holds a secret (fernet key, secret key, *_PASSWORD, tokens);
#   * the password part of any URL (connections, the broker, the result backend), whatever the variable's name.
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|(^|_)(KEY|PASS|PWD)(_|$)|BASIC_AUTH")
_URL_USERINFO = re.compile(r"://(?P<user>[^:/@\s]*):(?P<password>[^@\s]+)@")
_QUERY_PASSWORD = re.compile(r"[?&](?:password|passwd|pwd|token)=(?P<password>[^&\s]+)", re.I)


def secret_values(environment):
    """The values of ``environment`` (name -> value) that are secrets, or contain one; see _SECRET_NAME."""
    secrets = set()
    for name, value in (environment or {}).items():
        value = "" if value is None else str(value)
        if not value or name in ("AIRFLOW_HOME", "AIRFLOW_CONFIG", "PATH"):
            continue
        if _SECRET_NAME.search(str(name).upper()):
            secrets.add(value)
        for match in list(_URL_USERINFO.finditer(value)) + list(_QUERY_PASSWORD.finditer(value)):
            password = match.group("password")
            secrets.update([password, unquote(password)])
    return sorted(secret for secret in secrets if secret)


def register_secrets(module, environment):
    """Make Ansible's own output masking (no_log) cover exactly the secrets of ``environment``.

    The ``environment`` option is ``no_log`` so that the module's invocation is never logged with it (syslog), which
    also puts every one of its values on Ansible's masking list. Replace those values by the secrets among them:
    ordinary values ("airflow", "0", paths) are shown as given, secrets are masked wherever they appear."""
    secrets = secret_values(environment)
    kept = set()
    for name, spec in module.argument_spec.items():
        if name != "environment" and spec.get("no_log") and module.params.get(name) not in (None, ""):
            kept.add(str(module.params[name]))
    ordinary = set(str(v) for v in (environment or {}).values() if v is not None) - set(secrets) - kept
    module.no_log_values.difference_update(ordinary)
    module.no_log_values.update(secrets)
    return secrets


def mask_text(text, secrets=()):
    """Hide URL passwords and the given secret values in a text (for output, after any parsing)."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(r"\1" + MASK + "@", text)
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text


def mask_data(data, secrets=()):
    """mask_text applied to every string in a structure of dicts and lists (keys are left alone)."""
    if isinstance(data, dict):
        return dict((key, mask_data(value, secrets)) for key, value in data.items())
    if isinstance(data, (list, tuple)):
        return [mask_data(value, secrets) for value in data]
    if isinstance(data, str):
        return mask_text(data, secrets)
    return data


def mask_argv(argv, secrets=()):
    """A copy of argv fit for output: the helper source replaced by a placeholder, passwords masked."""
    shown = []
    hide_next = False
    for index, arg in enumerate(argv):
        if hide_next:
            shown.append(MASK)
            hide_next = False
        elif index > 0 and argv[index - 1] == "-c" and arg == HELPER_SOURCE:
            shown.append(HELPER_PLACEHOLDER)
        elif arg in ("-p", "--password"):
            shown.append(arg)
            hide_next = True
        elif arg.startswith("--password="):
            shown.append("--password=" + MASK)
        else:
            shown.append(mask_text(arg, secrets))
    return shown


# --- command lines -----------------------------------------------------------------------------------------------

def db_argv(executable, family, schema_state):
    """The migration command for a schema state ("empty" or "behind"); None when there is nothing to do."""
    if schema_state == "empty":
        return [executable] + list(family["db_create"])
    if schema_state == "behind":
        return [executable] + list(family["db_upgrade"])
    return None


def fab_db_argv(executable, family):
    """Airflow 3: the FAB provider's own migration command; None where the family has none."""
    return [executable] + list(family["fab_db"]) if family.get("fab_db") else None


def user_create_argv(executable, username, email, first_name, last_name, role):
    # The password is set afterwards through the helper (stdin): Airflow 2.0's CLI takes it only as an argument.
    return [executable] + list(USERS_CREATE) + [
        "--username", username, "--email", email, "--firstname", first_name, "--lastname", last_name,
        "--role", role, "--use-random-password"]


def user_delete_argv(executable, username):
    return [executable] + list(USERS_DELETE) + ["--username", username]


def user_add_role_argv(executable, username, role):
    return [executable] + list(USERS_ADD_ROLE) + ["--username", username, "--role", role]


def user_remove_role_argv(executable, username, role):
    return [executable] + list(USERS_REMOVE_ROLE) + ["--username", username, "--role", role]


def helper_argv(python, action):
    return [python, "-c", HELPER_SOURCE, action]


# --- locating Airflow --------------------------------------------------------------------------------------------

def interpreter_of(executable):
    """The Python that runs a console script: its ``#!`` line (pip's ``/bin/sh`` trampoline included),
    else the ``python3``/``python`` next to it. None when neither is found."""
    try:
        with open(executable, "rb") as handle:
            head = handle.read(1024).decode("utf-8", "replace").splitlines()
    except (IOError, OSError):
        head = []
    candidates = []
    if head and head[0].startswith("#!"):
        words = head[0][2:].strip().split()
        if words and os.path.basename(words[0]) == "env" and len(words) > 1:
            candidates.append(words[1])
        elif words and os.path.basename(words[0]) in ("sh", "bash") and len(head) > 1:
            # pip writes  #!/bin/sh  +  '''exec' "/long/path/python" "$0" "$@"  when the path is too long for #!
            match = re.match(r"""^'''exec' "?([^"\s]+)"? """, head[1])
            if match:
                candidates.append(match.group(1))
        elif words:
            candidates.append(words[0])
    bindir = os.path.dirname(executable)
    candidates.extend(os.path.join(bindir, name) for name in ("python3", "python"))
    for candidate in candidates:
        if os.path.isabs(candidate) and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class AirflowRunner(object):
    """Runs Airflow's CLI and the helper with one environment (AIRFLOW_HOME + ``environment``).

    Output is parsed as it came; only what the module returns is masked (``mask``), and only the secrets among the
    environment's values (``secret_values``) plus any the caller adds to ``secrets``. In check mode every helper
    request carries ``check_mode: true``: the helper then reads without importing Airflow (see _airflow_helper)."""

    def __init__(self, module, executable="airflow", airflow_home=None, environment=None):
        self.module = module
        self.environment = dict((str(k), "" if v is None else str(v)) for k, v in (environment or {}).items())
        if airflow_home:
            self.environment["AIRFLOW_HOME"] = airflow_home
        self.secrets = secret_values(self.environment)
        self.check_mode = bool(getattr(module, "check_mode", False))
        self.executable = self._locate(executable)
        self.python = interpreter_of(self.executable)
        if not self.python:
            raise AirflowError(
                "Cannot tell which Python runs %s (no usable #! line, no python3 next to it). Point "
                "airflow_executable at the bin/airflow of Airflow's virtual environment." % self.executable)
        # Airflow's own child processes (gunicorn, celery) are found next to the executable.
        bindir = os.path.dirname(self.executable)
        self.environment["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "/usr/bin:/bin")])

    def _locate(self, executable):
        if os.sep in executable:
            if os.path.isfile(executable) and os.access(executable, os.X_OK):
                return executable
            raise AirflowError(
                "Airflow executable %s not found or not executable. Install Airflow there (the airflow role does) "
                "or set airflow_executable to the bin/airflow of Airflow's virtual environment." % executable)
        found = self.module.get_bin_path(executable)
        if not found:
            raise AirflowError(
                "Airflow executable %r not found on PATH. Install Airflow, or set airflow_executable to the "
                "bin/airflow of Airflow's virtual environment (for example /opt/airflow/venv/bin/airflow)."
                % executable)
        return found

    def cli(self, words):
        return [self.executable] + list(words)

    def mask(self, data):
        """``data`` (text, or dicts/lists of it) fit for output: URL passwords and the secrets masked."""
        return mask_data(data, self.secrets)

    def shown(self, argv):
        return mask_argv(argv, self.secrets)

    def run(self, argv, data=None):
        """run_command with the Airflow environment: (rc, stdout, stderr) as they came, unmasked."""
        return self.module.run_command(argv, data=data, environ_update=self.environment, binary_data=data is not None)

    def run_cli(self, argv, what):
        rc, out, err = self.run(argv)
        if rc != 0:
            out, err = self.mask(out), self.mask(err)
            raise AirflowError(
                "%s failed (rc=%d): %s" % (what, rc, tail(err or out)),
                command=self.shown(argv), rc=rc, stdout=tail(out), stderr=tail(err))
        return out

    def helper(self, action, request):
        """Run one helper action; its JSON answer, parsed before anything is masked (mask what you return).
        AirflowError when the helper failed before answering."""
        argv = helper_argv(self.python, action)
        if self.check_mode:
            request = dict(request, check_mode=True)
        rc, out, err = self.run(argv, data=json.dumps(request))
        answer = parse_helper_output(out)
        if answer is None:
            out, err = self.mask(out), self.mask(err)
            raise AirflowError(
                "The Airflow introspection helper (%s %s) failed (rc=%d) before answering: %s"
                % (self.python, action, rc, tail(err or out)),
                command=self.shown(argv), rc=rc, stdout=tail(out), stderr=tail(err))
        return answer

    def version(self):
        """(version string, VERSION_FAMILIES entry) of the Airflow found."""
        answer = self.helper("version", {})
        if "error" in answer:
            raise AirflowError("Cannot import the Airflow at %s: %s"
                               % (self.executable, self.mask(answer["error"]["message"])),
                               error_kind=answer["error"]["kind"])
        return answer["airflow_version"], family_for(parse_version(answer["airflow_version"]))


def parse_helper_output(out):
    """The helper's JSON answer from its stdout (Airflow may log around it); None when absent."""
    for line in reversed((out or "").splitlines()):
        if line.startswith(RESULT_MARKER):
            try:
                return json.loads(line[len(RESULT_MARKER):])
            except ValueError:
                return None
    return None


def tail(text, limit=2000):
    text = (text or "").strip()
    return text if len(text) <= limit else "..." + text[-limit:]
