#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to ha_airflow.aws
# Apache License 2.0 (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: airflow_user
short_description: Manage a user of Airflow's webserver (Flask-AppBuilder database authentication)
version_added: 0.1.0
description:
  - Creates, updates or deletes one Airflow webserver user, changing only what differs and reporting exactly that.
  - Reads the current user and the existing roles from Flask-AppBuilder's tables (C(ab_user), C(ab_role),
    C(ab_user_role)) with plain SQL in a read-only session, never by parsing a table printed by the CLI. That needs no
    Airflow import and no app start, so a run with nothing to change is one light process. When only Airflow can
    find the database (a secrets backend), it reads through Airflow's own security manager instead.
  - Creates, deletes and changes roles with the C(airflow users) CLI of the installed Airflow (argv lists). The
    password and the fields Airflow 2.0's CLI cannot change (email, names) are set through the security manager, and
    the password always travels on standard input, never on a command line.
  - The current password is verified without changing it, with C(werkzeug.security.check_password_hash) against the
    stored hash, inside Airflow's virtual environment. It is never printed.
  - On Airflow 3 the users are those of the FAB provider (C(apache-airflow-providers-fab), the C(fab) extra), through
    its C(airflow users) CLI and its security manager, with the same options and commands. They log in only when
    C([core] auth_manager) is C(airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager); with another
    auth manager the module still manages the user, and warns.
author:
  - ha_airflow maintainers (@ha-airflow)
options:
  username:
    description: Login name of the user.
    type: str
    required: true
  password:
    description:
      - Password of the user. Required to create one.
      - With O(update_password=always), a user whose password differs gets this one.
    type: str
  role:
    description:
      - The role the user has; roles the user has besides this one are removed.
      - Must exist already (Airflow creates Admin, Op, User, Viewer and Public when the webserver or the CLI first
        starts).
    type: str
    default: Admin
  email:
    description: Email address. Required to create a user.
    type: str
  first_name:
    description: First name. Defaults to O(username) when creating.
    type: str
  last_name:
    description: Last name. Defaults to O(username) when creating.
    type: str
  state:
    description: Whether the user exists.
    type: str
    choices: [present, absent]
    default: present
  update_password:
    description:
      - V(always) sets O(password) whenever the stored one differs; V(on_create) sets it only when creating the user.
    type: str
    choices: [always, on_create]
    default: always
extends_documentation_fragment:
  - ha_airflow.aws.airflow
attributes:
  check_mode:
    support: full
    description:
      - Reads the user and reports the actions that would run; changes nothing, in the database or on disk.
      - The webserver's app is not started, so Flask-AppBuilder does not sync roles and permissions, and Airflow is
        not imported, so it writes no C(airflow.cfg) or C(webserver_config.py). The user and the roles are read with
        plain SQL (tables C(ab_user), C(ab_role), C(ab_user_role)) in a read-only session. The roles Airflow creates
        when its security manager first starts (Admin, Op, User, Viewer, Public) count as existing, because the real
        run starts it.
  diff_mode:
    support: full
    description: Before and after of the user's fields and roles; a password change shows as C(password_changed).
notes:
  - Run it once per cluster (C(run_once)); all hosts share the metadata database.
  - On Airflow 3 the FAB tables exist once C(airflow db migrate) has run (M(ha_airflow.aws.airflow_db)).
"""

EXAMPLES = r"""
- name: An admin user for the webserver
  ha_airflow.aws.airflow_user:
    airflow_executable: /opt/airflow/venv/bin/airflow
    airflow_home: /opt/airflow
    username: admin
    password: "{{ vault_airflow_admin_password }}"
    email: admin@example.com
    first_name: Airflow
    last_name: Admin
    role: Admin
  become: true
  become_user: airflow
  run_once: true

- name: A read-only user whose password users may change themselves
  ha_airflow.aws.airflow_user:
    airflow_executable: /opt/airflow/venv/bin/airflow
    airflow_home: /opt/airflow
    username: auditor
    password: "{{ vault_airflow_auditor_initial_password }}"
    update_password: on_create
    email: auditor@example.com
    role: Viewer

- name: Remove a user
  ha_airflow.aws.airflow_user:
    airflow_executable: /opt/airflow/venv/bin/airflow
    airflow_home: /opt/airflow
    username: former-colleague
    state: absent
"""

RETURN = r"""
user:
  description: The user after the module ran (in check mode, as it would be); null when absent.
  returned: always
  type: dict
  sample: {username: admin, email: admin@example.com, first_name: Airflow, last_name: Admin, roles: [Admin],
           active: true}
actions:
  description: What changed (in check mode, what would change), in order; empty when nothing differed.
  returned: always
  type: list
  elements: str
  sample: [create, set password]
commands:
  description:
    - The commands that ran (in check mode, that would run), as argv lists with secrets masked. Calls of the
      introspection helper show its source as C(<ha_airflow.aws helper>).
  returned: always
  type: list
  elements: list
  sample: [[/opt/airflow/venv/bin/airflow, users, create, --username, admin, "..."]]
airflow_version:
  description: Version of the Airflow found at O(airflow_executable).
  returned: always
  type: str
  sample: 2.0.2
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ha_airflow.aws.plugins.module_utils._airflow import (
    AirflowError,
    AirflowRunner,
    airflow_argument_spec,
    helper_argv,
    register_secrets,
    user_add_role_argv,
    user_create_argv,
    user_delete_argv,
    user_remove_role_argv,
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
FIELDS = ("email", "first_name", "last_name")


class AirflowUserError(AirflowError):
    """Any failure of this module; main() turns it into fail_json."""


def validate(params):
    """Reject bad input before anything runs."""
    if params["email"] is not None and not EMAIL.match(params["email"]):
        raise AirflowUserError("email %r is not a valid address (expected name@domain.tld)." % params["email"])
    if params["state"] == "present" and not params["role"]:
        raise AirflowUserError("role must name an existing role, such as Admin, Op, User or Viewer.")


def plan(params, current, roles):
    """The steps that bring ``current`` (the helper's user_inspect answer) to ``params``: a list of
    (action, kind, payload) where kind is "cli" (payload: argv words builder) or "helper" (user_update request).
    Pure: no I/O, so check mode and the real run decide alike."""
    username, user = params["username"], current["user"]
    if params["state"] == "absent":
        return [("delete", "delete", None)] if current["exists"] else []

    if params["role"] not in roles:
        raise AirflowUserError("role %r does not exist. Existing roles: %s. Create it first, or pick one of those."
                               % (params["role"], ", ".join(roles) or "none"))
    if not current["exists"]:
        if params["password"] is None:
            raise AirflowUserError("password is required to create user %r." % username)
        if params["email"] is None:
            raise AirflowUserError("email is required to create user %r." % username)
        return [("create", "create", None), ("set password", "update", dict(password=True))]

    steps = []
    if params["role"] not in user["roles"]:
        steps.append(("add role %s" % params["role"], "add_role", params["role"]))
    for extra in sorted(set(user["roles"]) - set([params["role"]])):
        steps.append(("remove role %s" % extra, "remove_role", extra))
    fields = dict((name, params[name]) for name in FIELDS if params[name] is not None and params[name] != user[name])
    if fields:
        steps.append(("update %s" % ", ".join(sorted(fields)), "update", dict(fields=fields)))
    if (params["password"] is not None and params["update_password"] == "always"
            and not current["password_matches"]):
        steps.append(("set password", "update", dict(password=True)))
    return steps


def expected_user(params, current, steps):
    """The user as it is after ``steps`` (for check mode and the diff)."""
    if params["state"] == "absent":
        return None
    if not current["exists"]:
        return dict(username=params["username"], email=params["email"],
                    first_name=params["first_name"] or params["username"],
                    last_name=params["last_name"] or params["username"], roles=[params["role"]], active=True)
    user = dict(current["user"])
    if steps:
        user["roles"] = [params["role"]]
        for name in FIELDS:
            if params[name] is not None:
                user[name] = params[name]
    return user


def manage_user(module, runner):
    params = module.params
    version, family = runner.version()
    inspect_request = dict(appbuilder=family["appbuilder"], username=params["username"],
                           password=params["password"] if params["state"] == "present" else None)
    current = runner.helper("user_inspect", inspect_request)
    if "error" in current:
        raise AirflowUserError(
            "Reading users through Airflow's security manager failed (%s): %s. Check the database connection "
            "(airflow_db must have run first) and airflow_home/environment."
            % (current["error"]["kind"], runner.mask(current["error"]["message"])), error_kind=current["error"]["kind"])

    wanted = family.get("fab_auth_manager")
    if wanted and current.get("auth_manager") and current["auth_manager"] != wanted:
        module.warn("[core] auth_manager is %s, so Airflow %s does not let the FAB users this module manages log "
                    "in: set it to %s (AIRFLOW__CORE__AUTH_MANAGER) on every host."
                    % (current["auth_manager"], version, wanted))

    steps = plan(params, current, current["roles"])
    username, exe = params["username"], runner.executable
    commands = []
    for _action, kind, payload in steps:
        if kind == "create":
            commands.append(user_create_argv(exe, username, params["email"], params["first_name"] or username,
                                             params["last_name"] or username, params["role"]))
        elif kind == "delete":
            commands.append(user_delete_argv(exe, username))
        elif kind == "add_role":
            commands.append(user_add_role_argv(exe, username, payload))
        elif kind == "remove_role":
            commands.append(user_remove_role_argv(exe, username, payload))
        else:
            commands.append(helper_argv(runner.python, "user_update"))

    result = dict(changed=bool(steps), airflow_version=version, actions=[s[0] for s in steps],
                  commands=[runner.shown(c) for c in commands],
                  user=expected_user(params, current, steps))
    if module._diff:
        before = current["user"]
        after = dict(result["user"]) if result["user"] else None
        if after is not None and any(s[0] == "set password" for s in steps):
            after["password_changed"] = True
        result["diff"] = dict(before=before or {}, after=after or {})
    if module.check_mode or not steps:
        return result

    for (action, kind, payload), argv in zip(steps, commands):
        if kind == "update":
            request = dict(appbuilder=family["appbuilder"], username=username, fields=payload.get("fields", {}))
            if payload.get("password"):
                request["password"] = params["password"]
            answer = runner.helper("user_update", request)
            if "error" in answer:
                raise AirflowUserError("%s of user %r failed (%s): %s" % (action, username, answer["error"]["kind"],
                                                                          runner.mask(answer["error"]["message"])),
                                       actions=result["actions"], commands=result["commands"])
        else:
            runner.run_cli(argv, "%s of user %r" % (action, username))

    if params["state"] == "present":
        final = runner.helper("user_inspect", dict(inspect_request, password=None))
        if "error" not in final:
            result["user"] = final["user"]
    return result


def main():
    argument_spec = airflow_argument_spec()
    argument_spec.update(
        username=dict(type="str", required=True),
        password=dict(type="str", no_log=True),
        role=dict(type="str", default="Admin"),
        email=dict(type="str"),
        first_name=dict(type="str"),
        last_name=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        update_password=dict(type="str", default="always", choices=["always", "on_create"], no_log=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    register_secrets(module, module.params["environment"])
    try:
        validate(module.params)
        runner = AirflowRunner(module, module.params["airflow_executable"], module.params["airflow_home"],
                               module.params["environment"])
        runner.secrets.extend([module.params["password"]] if module.params["password"] else [])
        result = manage_user(module, runner)
    except AirflowError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
