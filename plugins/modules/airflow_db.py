#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to ha_airflow.aws
# Apache License 2.0 (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: airflow_db
short_description: Bring Airflow's metadata database to the schema of the installed Airflow
version_added: 0.1.0
description:
  - Reads the schema revision of Airflow's metadata database and the migration heads of the installed Airflow,
    then creates the schema when the database is empty, migrates it when it is behind, and does nothing when it
    is current.
  - The first look reads C(alembic_version) with plain SQL in a read-only session and the heads from the migration
    scripts as text, without importing Airflow, so a run that finds the schema current is one light process. When
    only Airflow can find the database (a secrets backend), it asks Airflow. A migration always inspects again
    through Airflow, under the lock.
  - Safe to run on every host of a cluster at the same moment. The migration runs under a database-wide lock
    (a PostgreSQL advisory lock, or MySQL C(GET_LOCK)); whoever gets the lock second inspects the schema again,
    finds it current and reports no change. C(run_once) is a convenience, not a requirement.
  - Uses the CLI verbs of the Airflow it finds (C(db init)/C(db upgrade) on 2.0-2.6, C(db migrate) on 2.7 and 3.x).
  - On Airflow 3 with the FAB provider installed (the auth manager that owns C(airflow users) and the C(ab_*)
    tables), the provider's schema counts too (its own alembic version table, C(alembic_version_fab)). C(db migrate)
    migrates it along with Airflow's; if it is still behind afterwards, C(airflow fab-db migrate) runs under the same
    lock.
  - Never downgrades. A schema written by a newer Airflow than the installed one is an error.
author:
  - ha_airflow maintainers (@ha-airflow)
options:
  lock_timeout:
    description:
      - Seconds to wait for another host's migration (the database lock) before failing.
      - The wait is also bounded by O(timeout).
    type: int
    default: 600
  timeout:
    description:
      - Seconds the whole migration step may take, the wait for the lock included. Reading the database is bounded
        by it too.
      - A C(db init), C(db upgrade) or C(db migrate) still running then is stopped and the module fails, saying
        what hung and what to check. A migration that hangs usually waits for a lock that another session holds
        (a scheduler, webserver or worker still running against the database).
      - Raise it for a very large database whose migration legitimately takes longer.
    type: int
    default: 1800
    version_added: 0.2.0
extends_documentation_fragment:
  - ha_airflow.aws.airflow
attributes:
  check_mode:
    support: full
    description:
      - Reports the state, the revisions and the command that would run; changes nothing, files included.
      - Airflow is not imported (importing Airflow 2.0.x writes C(airflow.cfg) and C(webserver_config.py) into
        E(AIRFLOW_HOME) when they are missing). The schema revision is read with plain SQL in a read-only session on
        the connection Airflow would use (O(environment), then C(airflow.cfg)); the installed Airflow's migration
        heads (and on Airflow 3 the FAB provider's) are read from its migration scripts as text.
  diff_mode:
    support: none
    description: Returns the revisions instead of a diff.
notes:
  - SQLite has no cross-host lock; it only serves a single host, where the lock is not needed.
  - C(changed) is true only when the schema revision changed.
  - Alembic runs each migration step in its own transaction, so a migration stopped at O(timeout) leaves the schema
    at the last step that finished; running the module again continues from there.
"""

EXAMPLES = r"""
- name: Bring the metadata database to the installed Airflow's schema
  ha_airflow.aws.airflow_db:
    airflow_executable: /opt/airflow/venv/bin/airflow
    airflow_home: /opt/airflow
  become: true
  become_user: airflow

- name: Same, with the connection passed in the environment (no airflow.cfg needed)
  ha_airflow.aws.airflow_db:
    airflow_executable: /opt/airflow/venv/bin/airflow
    environment:
      AIRFLOW__CORE__SQL_ALCHEMY_CONN: "postgresql+psycopg2://airflow:{{ vault_airflow_db_password }}@db.internal:5432/airflow"
    lock_timeout: 900
    timeout: 3600
  register: airflow__db

- name: Show what happened
  ansible.builtin.debug:
    msg: "{{ airflow__db.revision_before }} -> {{ airflow__db.revision_after }} ({{ airflow__db.command | join(' ') }})"
"""

RETURN = r"""
airflow_version:
  description: Version of the Airflow found at O(airflow_executable).
  returned: always
  type: str
  sample: 2.0.2
version_family:
  description: The family of Airflow versions whose CLI verbs were used.
  returned: always
  type: str
  sample: 2.0-2.2
state:
  description: What the module found before acting.
  returned: always
  type: str
  sample: empty
  choices: [empty, behind, current]
revision_before:
  description: Schema revision before the module ran (comma-separated if several heads); null for an empty database.
  returned: always
  type: str
  sample: null
revision_after:
  description: Schema revision after the module ran; in check mode the revision it would reach.
  returned: always
  type: str
  sample: 2c6edca13270
head_revision:
  description: The newest schema revision the installed Airflow knows (comma-separated if several heads).
  returned: always
  type: str
  sample: 2c6edca13270
command:
  description:
    - The Airflow command that ran (in check mode, that would run), secrets masked; empty when none was needed,
      including when another host migrated while this one waited for the lock.
  returned: always
  type: list
  elements: str
  sample: [/opt/airflow/venv/bin/airflow, db, init]
lock_waited:
  description: Seconds spent waiting for the migration lock.
  returned: when a migration was attempted
  type: float
  sample: 12.5
database:
  description: Dialect and URL (password masked) of the metadata database Airflow is configured with.
  returned: always
  type: dict
  sample: {dialect: postgresql, url: "postgresql+psycopg2://airflow:***@db:5432/airflow"}
stdout:
  description: End of the migration command's output.
  returned: when a command ran
  type: str
stderr:
  description: End of the migration command's error output.
  returned: when a command ran
  type: str
fab:
  description:
    - Airflow 3 with the FAB provider installed, the provider's own schema (users, roles), which C(db migrate)
      migrates too.
    - C(state), C(revision_before), C(revision_after) and C(head_revision) as for Airflow's schema above; C(command)
      is C(airflow fab-db migrate) when it had to run after C(db migrate) (empty otherwise).
  returned: when Airflow is 3.x and the FAB provider is installed
  type: dict
  sample: {state: current, revision_before: 02ca36b0235b, revision_after: 02ca36b0235b,
           head_revision: 02ca36b0235b, command: []}
  version_added: 0.3.0
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ha_airflow.aws.plugins.module_utils._airflow import (
    AirflowError,
    AirflowRunner,
    airflow_argument_spec,
    db_argv,
    fab_db_argv,
    family_for,
    parse_version,
    register_secrets,
    sql_alchemy_conn_variable,
    tail,
)


class AirflowDbError(AirflowError):
    """Any failure of this module; main() turns it into fail_json."""


LOCK_QUERY = ("see who holds locks with SELECT pid, usename, application_name, state, wait_event_type, "
              "left(query, 60) FROM pg_stat_activity WHERE datname = current_database(); and pg_locks")


def _revision(revisions):
    return ",".join(revisions) if revisions else None


def database_error(answer, airflow_home, runner):
    """An actionable message for an error the helper reported (masked for output)."""
    kind, message = answer["error"].get("kind"), runner.mask(answer["error"].get("message", ""))
    try:
        variable = sql_alchemy_conn_variable(family_for(parse_version(answer.get("airflow_version"))))
    except AirflowError:
        variable = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN (AIRFLOW__CORE__SQL_ALCHEMY_CONN before Airflow 2.3)"
    where = ("%s in the environment option, or sql_alchemy_conn in %s/airflow.cfg"
             % (variable, airflow_home or "$AIRFLOW_HOME"))
    hints = {
        "unreachable": "Cannot reach the metadata database. Check that the server runs and accepts connections "
                       "from this host, and that the URL in %s is right." % where,
        "auth": "The metadata database rejected the credentials. Fix the user/password in %s, or the "
                "database's grants (pg_hba.conf)." % where,
        "no_database": "The metadata database does not exist. Create it (community.postgresql.postgresql_db) "
                       "or fix its name in %s." % where,
        "lock_timeout": "Another host's migration held the lock too long. Raise lock_timeout (and timeout), or "
                        "look for a stuck 'airflow db' process on the other hosts (%s)." % LOCK_QUERY,
        "timeout": "The migration step hung past timeout and was stopped. The database stopped answering, or a "
                   "statement waits for a lock another session holds: %s." % LOCK_QUERY,
        "check_mode": "Check mode reads the database without starting Airflow and could not. Run without check "
                      "mode, or give the connection in the environment option.",
        "import": "The Airflow installation is broken. Reinstall it with the collection's constraints file.",
    }
    return AirflowDbError("%s (%s: %s)" % (hints.get(kind, "Reading the metadata database failed."), kind, message),
                          error_kind=kind, airflow_version=answer.get("airflow_version"))


def migration_timeout_error(error, timeout, runner, result):
    """The migration command ran past ``timeout`` and the helper stopped it."""
    command = runner.shown(error.get("command") or [])
    result = dict(result, command=command, stdout=runner.mask(tail(error.get("stdout"))),
                  stderr=runner.mask(tail(error.get("stderr"))))
    return AirflowDbError(
        "%s did not finish within %d s (option timeout) and was stopped. A migration that hangs usually waits for "
        "a lock another session holds: stop the Airflow scheduler, webserver and workers that use this database, "
        "and %s. Then run again (the steps that finished are kept), or raise timeout for a very large database. "
        "Last output: %s" % (" ".join(command), timeout, LOCK_QUERY,
                             tail(result["stderr"] or result["stdout"], 500) or "(none)"),
        error_kind="migration_timeout", **result)


def ahead_error(result, info):
    """The schema (Airflow's, or the FAB provider's) is at a revision the installed code does not know."""
    if info.get("schema_state", info["state"]) != "ahead" and (info.get("fab") or {}).get("state") == "ahead":
        return AirflowDbError(
            "The FAB provider's schema (alembic_version_fab) is at revision %s, which the installed "
            "apache-airflow-providers-fab does not know: a newer provider migrated it. Install that provider "
            "version (or restore the database from before the upgrade); this module never downgrades."
            % (_revision(info["fab"]["current"]),), error_kind="ahead", **result)
    return AirflowDbError(
        "The database schema is at revision %s, which Airflow %s does not know: a newer Airflow migrated it. "
        "Install that Airflow (or restore the database from before the upgrade); this module never downgrades."
        % (result["revision_before"], result["airflow_version"]), error_kind="ahead", **result)


def fab_result(before, after=None, command=None):
    """The ``fab`` return value from the helper's FAB schema answers (None when there is no FAB schema)."""
    if not before:
        return None
    after = after or before
    return dict(state=before["state"], revision_before=_revision(before["current"]),
                revision_after=_revision(after["current"]), head_revision=_revision(before["heads"]),
                command=command or [])


def ensure_schema(module, runner):
    """The whole job; returns the result dict or raises AirflowDbError."""
    home = module.params["airflow_home"]
    if module.params["timeout"] < 1 or module.params["lock_timeout"] < 0:
        raise AirflowDbError("timeout must be 1 second or more and lock_timeout 0 or more (got %d and %d)."
                             % (module.params["timeout"], module.params["lock_timeout"]), error_kind="parameters")
    info = runner.helper("db_inspect", dict(timeout=module.params["timeout"]))
    if "error" in info:
        raise database_error(info, home, runner)
    family = family_for(parse_version(info["airflow_version"]))
    result = dict(
        changed=False, airflow_version=info["airflow_version"], version_family=family["family"],
        state=info["state"], revision_before=_revision(info["current"]), revision_after=_revision(info["current"]),
        head_revision=_revision(info["heads"]), command=[],
        database=dict(dialect=info["dialect"], url=runner.mask(info["url"])))
    if info.get("fab"):
        result["fab"] = fab_result(info["fab"])
    if info["state"] == "ahead":
        raise ahead_error(result, info)
    if info["state"] == "current":
        return result

    command = db_argv(runner.executable, family, info["state"])
    if module.check_mode:
        result.update(changed=True, revision_after=result["head_revision"], command=runner.shown(command))
        if info.get("fab"):
            result["fab"]["revision_after"] = result["fab"]["head_revision"]
        return result

    commands = dict(empty=db_argv(runner.executable, family, "empty"),
                    behind=db_argv(runner.executable, family, "behind"))
    if fab_db_argv(runner.executable, family):
        commands["fab"] = fab_db_argv(runner.executable, family)
    answer = runner.helper("db_migrate", dict(
        lock_timeout=module.params["lock_timeout"], timeout=module.params["timeout"], commands=commands))
    if "error" in answer and answer["error"].get("kind") == "migration_timeout":
        raise migration_timeout_error(answer["error"], module.params["timeout"], runner, result)
    if "error" in answer:
        raise database_error(answer, home, runner)
    ran = answer.get("command") or []
    after = answer["after"]
    result.update(
        revision_before=_revision(answer["before"]["current"]), revision_after=_revision(after["current"]),
        command=runner.shown(ran), lock_waited=answer.get("lock_waited"))
    if answer["before"].get("fab") or after.get("fab"):
        result["fab"] = fab_result(answer["before"].get("fab"), after.get("fab"),
                                   runner.shown(answer.get("fab_command") or []))
    if answer["before"]["state"] == "ahead":  # a newer Airflow on another host migrated while this one waited
        raise ahead_error(result, answer["before"])
    result["changed"] = (result["revision_before"] != result["revision_after"]
                         or (result.get("fab") or {}).get("revision_before")
                         != (result.get("fab") or {}).get("revision_after"))
    if ran:
        result.update(stdout=runner.mask(tail(answer.get("stdout"))), stderr=runner.mask(tail(answer.get("stderr"))))
    if ran and answer.get("rc") != 0:
        output = runner.mask(tail(answer.get("stderr") or answer.get("stdout"), 1500))
        raise AirflowDbError("%s failed (rc=%s): %s" % (" ".join(result["command"]), answer.get("rc"), output),
                             error_kind="command", **result)
    if answer.get("fab_command") and answer.get("fab_rc") != 0:
        output = runner.mask(tail(answer.get("fab_stderr") or answer.get("fab_stdout"), 1500))
        raise AirflowDbError("%s failed (rc=%s): %s" % (" ".join(result["fab"]["command"]), answer.get("fab_rc"),
                                                        output), error_kind="command", **result)
    if after["state"] != "current":
        fab = result.get("fab") or {}
        where = "the schema is at %s, not at the head %s" % (result["revision_after"], result["head_revision"])
        if after.get("schema_state", after["state"]) == "current" and fab:
            where = ("the FAB provider's schema (alembic_version_fab) is at %s, not at its head %s"
                     % (fab["revision_after"], fab["head_revision"]))
        raise AirflowDbError(
            "After %s %s. Read stdout/stderr for what Airflow refused "
            "(Airflow 2.0 skips migrations it cannot do automatically, such as duplicate connection ids)."
            % (" ".join(result["command"]) or "waiting for the lock", where), error_kind="not_at_head", **result)
    return result


def main():
    argument_spec = airflow_argument_spec()
    argument_spec.update(lock_timeout=dict(type="int", default=600), timeout=dict(type="int", default=1800))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    register_secrets(module, module.params["environment"])
    try:
        runner = AirflowRunner(module, module.params["airflow_executable"], module.params["airflow_home"],
                               module.params["environment"])
        result = ensure_schema(module, runner)
    except AirflowError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
