"""Unit tests for ha_airflow.aws.airflow_user: exact commands per state and mode; every failure; no password leaks."""

import pytest
from airflow_fakes import Fail, FakeTarget, answer, run_module, run_module_printed

from ansible_collections.ha_airflow.aws.plugins.module_utils._airflow_helper import HELPER_SOURCE
from ansible_collections.ha_airflow.aws.plugins.modules import airflow_user

ROLES = ["Admin", "Op", "Public", "User", "Viewer"]
PASSWORD = "correct-horse-battery"
APPBUILDER_20 = "airflow.www.app:cached_app"
ADA = dict(username="ada", email="ada@example.com", first_name="Ada", last_name="Lovelace", roles=["Admin"],
           active=True)


def version(v="2.0.2"):
    return answer(dict(airflow_version=v))


def inspected(user=None, matches=None):
    return answer(dict(roles=ROLES, exists=user is not None, user=user, password_matches=matches))


def updated(user=None):
    return answer(dict(user=ADA if user is None else user))


def args(venv, **extra):
    base = dict(airflow_executable=venv["airflow"], airflow_home="/srv/airflow", username="ada", password=PASSWORD,
                email="ada@example.com", first_name="Ada", last_name="Lovelace", role="Admin")
    base.update(extra)
    return base


def helper(venv, action):
    return [venv["python"], "-c", HELPER_SOURCE, action]


def shown_helper(venv, action):
    return [venv["python"], "-c", "<ha_airflow.aws helper>", action]


def create_argv(venv):
    return [venv["airflow"], "users", "create", "--username", "ada", "--email", "ada@example.com", "--firstname",
            "Ada", "--lastname", "Lovelace", "--role", "Admin", "--use-random-password"]


def test_create_check_mode(monkeypatch, venv):
    target = FakeTarget({"version": [version()], "user_inspect": [inspected()]})
    result = run_module(monkeypatch, airflow_user, args(venv), target, check_mode=True, diff=True).result
    assert result["changed"] is True
    assert result["actions"] == ["create", "set password"]
    assert result["commands"] == [create_argv(venv), shown_helper(venv, "user_update")]
    assert result["user"] == ADA
    assert result["diff"]["after"]["password_changed"] is True and result["diff"]["before"] == {}
    assert [c["argv"] for c in target.calls] == [helper(venv, "version"), helper(venv, "user_inspect")]
    # check mode tells the helper so: it reads the database without starting Airflow (no FAB sync, no files)
    assert target.calls[1]["request"] == dict(appbuilder=APPBUILDER_20, username="ada", password=PASSWORD,
                                              check_mode=True)
    assert target.calls[0]["request"] == dict(check_mode=True)


def test_create(monkeypatch, venv):
    target = FakeTarget({"version": [version()], "user_inspect": [inspected(), inspected(ADA)],
                         "users create": [(0, "User ada created", "")], "user_update": [updated()]})
    result = run_module(monkeypatch, airflow_user, args(venv), target).result
    assert result["changed"] is True and result["user"] == ADA
    assert [c["argv"] for c in target.calls] == [
        helper(venv, "version"), helper(venv, "user_inspect"), create_argv(venv), helper(venv, "user_update"),
        helper(venv, "user_inspect")]
    # the password reaches Airflow only on stdin, in the user_update request
    assert target.calls[3]["request"] == dict(appbuilder=APPBUILDER_20, username="ada", fields={}, password=PASSWORD)
    assert all(PASSWORD not in " ".join(c["argv"]) for c in target.calls)
    assert PASSWORD not in repr(result)


def test_create_defaults_names_to_username(monkeypatch, venv):
    target = FakeTarget({"version": [version()], "user_inspect": [inspected()]})
    result = run_module(monkeypatch, airflow_user, args(venv, first_name=None, last_name=None), target,
                        check_mode=True).result
    assert result["commands"][0][7:11] == ["--firstname", "ada", "--lastname", "ada"]


def test_unchanged(monkeypatch, venv):
    target = FakeTarget({"version": [version()], "user_inspect": [inspected(ADA, matches=True)]})
    result = run_module(monkeypatch, airflow_user, args(venv), target).result
    assert result["changed"] is False and result["actions"] == [] and result["commands"] == []
    assert len(target.calls) == 2


@pytest.mark.parametrize("update_password, matches, actions", [
    ("always", False, ["set password"]),
    ("always", True, []),
    ("on_create", False, []),
])
def test_update_password(monkeypatch, venv, update_password, matches, actions):
    target = FakeTarget({"version": [version()], "user_inspect": [inspected(ADA, matches=matches), inspected(ADA)],
                         "user_update": [updated()]})
    result = run_module(monkeypatch, airflow_user, args(venv, update_password=update_password), target).result
    assert result["actions"] == actions
    assert result["changed"] is bool(actions)
    updates = [c["request"] for c in target.calls if c["argv"] == helper(venv, "user_update")]
    assert updates == ([dict(appbuilder=APPBUILDER_20, username="ada", fields={}, password=PASSWORD)]
                       if actions else [])


def test_changes_only_what_differs(monkeypatch, venv):
    current = dict(ADA, email="old@example.com", roles=["Viewer", "User"])
    target = FakeTarget({"version": [version()], "user_inspect": [inspected(current, matches=True), inspected(ADA)],
                         "users add-role": [(0, "", "")], "users remove-role": [(0, "", ""), (0, "", "")],
                         "user_update": [updated()]})
    result = run_module(monkeypatch, airflow_user, args(venv, role="Op"), target).result
    assert result["actions"] == ["add role Op", "remove role User", "remove role Viewer", "update email"]
    assert target.cli_calls() == [
        [venv["airflow"], "users", "add-role", "--username", "ada", "--role", "Op"],
        [venv["airflow"], "users", "remove-role", "--username", "ada", "--role", "User"],
        [venv["airflow"], "users", "remove-role", "--username", "ada", "--role", "Viewer"],
    ]
    update = [c["request"] for c in target.calls if c["argv"] == helper(venv, "user_update")]
    assert update == [dict(appbuilder=APPBUILDER_20, username="ada", fields={"email": "ada@example.com"})]


def test_options_left_out_are_not_managed(monkeypatch, venv):
    current = dict(ADA, first_name="Augusta")
    target = FakeTarget({"version": [version()], "user_inspect": [inspected(current, matches=True)]})
    result = run_module(monkeypatch, airflow_user, args(venv, first_name=None, password=None), target).result
    assert result["changed"] is False
    assert target.calls[1]["request"]["password"] is None


def test_absent_deletes(monkeypatch, venv):
    target = FakeTarget({"version": [version()], "user_inspect": [inspected(ADA)],
                         "users delete": [(0, "User ada deleted", "")]})
    result = run_module(monkeypatch, airflow_user, dict(airflow_executable=venv["airflow"], username="ada",
                                                        state="absent"), target).result
    assert result["changed"] is True and result["actions"] == ["delete"] and result["user"] is None
    assert target.cli_calls() == [[venv["airflow"], "users", "delete", "--username", "ada"]]


def test_absent_check_mode_and_already_absent(monkeypatch, venv):
    base = dict(airflow_executable=venv["airflow"], username="ada", state="absent")
    target = FakeTarget({"version": [version()], "user_inspect": [inspected(ADA)]})
    result = run_module(monkeypatch, airflow_user, base, target, check_mode=True).result
    assert result["changed"] is True and target.cli_calls() == []
    assert result["commands"] == [[venv["airflow"], "users", "delete", "--username", "ada"]]
    target = FakeTarget({"version": [version()], "user_inspect": [inspected()]})
    result = run_module(monkeypatch, airflow_user, base, target).result
    assert result["changed"] is False and result["commands"] == []


def test_airflow_3_uses_the_fab_provider(monkeypatch, venv):
    target = FakeTarget({"version": [version("3.0.2")], "user_inspect": [inspected()]})
    run_module(monkeypatch, airflow_user, args(venv), target, check_mode=True)
    assert target.calls[1]["request"]["appbuilder"] == (
        "airflow.providers.fab.auth_manager.cli_commands.utils:get_application_builder")


@pytest.mark.parametrize("extra, current, text, calls", [
    (dict(role="Superhero"), None, "role 'Superhero' does not exist. Existing roles: Admin, Op, Public, User, Viewer",
     2),
    (dict(email="not-an-email"), None, "email 'not-an-email' is not a valid address", 0),
    (dict(email="a@b"), None, "is not a valid address", 0),
    (dict(password=None), None, "password is required to create user 'ada'", 2),
    (dict(email=None), None, "email is required to create user 'ada'", 2),
    (dict(role="Superhero"), ADA, "role 'Superhero' does not exist", 2),
])
def test_failures_change_nothing(monkeypatch, venv, extra, current, text, calls):
    target = FakeTarget({"version": [version()], "user_inspect": [inspected(current, matches=True)]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_user, args(venv, **extra), target)
    assert text in caught.value.result["msg"]
    assert len(target.calls) == calls  # reads at most; never a change
    assert PASSWORD not in repr(caught.value.result)


def test_unreachable_database(monkeypatch, venv):
    target = FakeTarget({"version": [version()], "user_inspect": [answer(dict(error=dict(
        kind="unreachable", message="could not connect to server")))]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_user, args(venv), target)
    assert caught.value.result["error_kind"] == "unreachable"
    assert "airflow_db must have run first" in caught.value.result["msg"]


def test_failed_cli_reports_masked_command(monkeypatch, venv):
    target = FakeTarget({"version": [version()], "user_inspect": [inspected()],
                         "users create": [(1, "", "boom %s" % PASSWORD)]})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_user, args(venv), target)
    result = caught.value.result
    assert result["msg"].startswith("create of user 'ada' failed (rc=1): boom ********")
    assert result["command"] == create_argv(venv)
    assert PASSWORD not in repr(result)


def test_missing_executable(monkeypatch, venv):
    target = FakeTarget({})
    with pytest.raises(Fail) as caught:
        run_module(monkeypatch, airflow_user, args(venv, airflow_executable="/nope/bin/airflow"), target)
    assert "Airflow executable /nope/bin/airflow not found" in caught.value.result["msg"]
    assert target.calls == []


def test_user_named_like_an_environment_value(monkeypatch, capsys, venv):
    # The user is called "airflow" and so is the Celery queue: the helper's answer (keys airflow_version, ...) is
    # parsed before masking, and neither the user name nor the paths turn into ********.
    user = dict(ADA, username="airflow")
    env = {"AIRFLOW__CELERY__DEFAULT_QUEUE": "airflow", "AIRFLOW__CORE__PARALLELISM": "0",
           "AIRFLOW__CORE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:db-pw-123@db/airflow",
           "AIRFLOW__CORE__FERNET_KEY": "fernet-key-value-abcdef="}
    target = FakeTarget({"version": [version()], "user_inspect": [inspected(user, matches=False), inspected(user)],
                         "user_update": [updated(user)]})
    text, result = run_module_printed(monkeypatch, capsys, airflow_user,
                                      args(venv, username="airflow", environment=env), target, diff=True)
    assert not result.get("failed"), result
    assert result["airflow_version"] == "2.0.2"
    assert result["actions"] == ["set password"] and result["user"]["username"] == "airflow"
    assert result["commands"] == [shown_helper(venv, "user_update")]
    assert result["invocation"]["module_args"]["environment"]["AIRFLOW__CELERY__DEFAULT_QUEUE"] == "airflow"
    for secret in (PASSWORD, "db-pw-123", "fernet-key-value-abcdef="):
        assert secret not in text


def test_failed_cli_output_masked_with_printed_result(monkeypatch, capsys, venv):
    env = {"AIRFLOW__CORE__SQL_ALCHEMY_CONN": "postgresql://airflow:db-pw-123@db/airflow"}
    target = FakeTarget({"version": [version()], "user_inspect": [inspected()],
                         "users create": [(1, "", "boom %s postgresql://airflow:db-pw-123@db/airflow" % PASSWORD)]})
    text, result = run_module_printed(monkeypatch, capsys, airflow_user, args(venv, environment=env), target)
    assert result["failed"] is True
    assert result["msg"].startswith("create of user 'ada' failed (rc=1): boom ********")
    assert result["command"] == create_argv(venv)
    for secret in (PASSWORD, "db-pw-123"):
        assert secret not in text


# --- Airflow 3: the same commands through the FAB provider; a warning when FAB is not the auth manager --------------

APPBUILDER_3 = "airflow.providers.fab.auth_manager.cli_commands.utils:get_application_builder"
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
SIMPLE = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def inspected3(user=None, matches=None, auth_manager=FAB):
    return answer(dict(roles=ROLES, exists=user is not None, user=user, password_matches=matches,
                       auth_manager=auth_manager))


# airflow version, the user as found, module args -> actions, CLI argv words after the executable
CASES_3 = [
    ("3.3.2", None, {}, ["create", "set password"],
     [["users", "create", "--username", "ada", "--email", "ada@example.com", "--firstname", "Ada", "--lastname",
       "Lovelace", "--role", "Admin", "--use-random-password"]]),
    ("3.3.2", dict(ADA, roles=["Viewer"]), dict(role="Op"), ["add role Op", "remove role Viewer"],
     [["users", "add-role", "--username", "ada", "--role", "Op"],
      ["users", "remove-role", "--username", "ada", "--role", "Viewer"]]),
    ("3.3.2", ADA, dict(state="absent"), ["delete"], [["users", "delete", "--username", "ada"]]),
    ("3.3.2", ADA, {}, [], []),
    ("3.0.6", None, {}, ["create", "set password"],
     [["users", "create", "--username", "ada", "--email", "ada@example.com", "--firstname", "Ada", "--lastname",
       "Lovelace", "--role", "Admin", "--use-random-password"]]),
]


@pytest.mark.parametrize("airflow_version, current, extra, actions, words", CASES_3)
def test_airflow3_check_mode_then_real(monkeypatch, venv, airflow_version, current, extra, actions, words):
    module_args = args(venv, **extra)
    check = FakeTarget({"version": [version(airflow_version)], "user_inspect": [inspected3(current, matches=True)]})
    result = run_module(monkeypatch, airflow_user, module_args, check, check_mode=True).result
    assert result["actions"] == actions and result["changed"] is bool(actions)
    assert [c[1:] for c in result["commands"] if c[0] == venv["airflow"]] == words
    assert check.cli_calls() == []
    assert check.calls[1]["request"]["appbuilder"] == APPBUILDER_3 and check.calls[1]["request"]["check_mode"]

    replies = {"version": [version(airflow_version)],
               "user_inspect": [inspected3(current, matches=True), inspected3(ADA)], "user_update": [updated()]}
    for argv in words:
        replies.setdefault(" ".join(argv[:2]), []).append((0, "", ""))
    real = FakeTarget(replies)
    result = run_module(monkeypatch, airflow_user, module_args, real).result
    assert result["actions"] == actions
    assert real.cli_calls() == [[venv["airflow"]] + argv for argv in words]
    for call in real.calls:
        if call["argv"][2:3] == [HELPER_SOURCE] and call["argv"][3] != "version":
            assert call["request"]["appbuilder"] == APPBUILDER_3
    assert all(PASSWORD not in " ".join(c["argv"]) for c in real.calls)


@pytest.mark.parametrize("airflow_version, auth_manager, warned", [
    ("3.3.2", SIMPLE, True),
    ("3.3.2", "my.company.AuthManager", True),
    ("3.3.2", FAB, False),
    ("2.0.2", None, False),
])
def test_warns_when_the_fab_users_cannot_log_in(monkeypatch, capsys, venv, airflow_version, auth_manager, warned):
    # Ansible keeps a module's warnings in a process-wide registry: start each case with an empty one.
    from ansible.module_utils.common import warnings as ansible_warnings
    monkeypatch.setattr(ansible_warnings, "_global_warnings", type(ansible_warnings._global_warnings)())
    target = FakeTarget({"version": [version(airflow_version)],
                         "user_inspect": [inspected3(ADA, matches=True, auth_manager=auth_manager)]})
    _text, result = run_module_printed(monkeypatch, capsys, airflow_user, args(venv), target, check_mode=True)
    assert result["changed"] is False
    # ansible-core 2.19 reports warnings as WarningSummary dicts, older cores as strings: read them as text.
    warnings = [str(w) for w in result.get("warnings", []) if "auth_manager" in str(w)]
    assert bool(warnings) is warned, result.get("warnings")
    if warned:
        assert auth_manager in warnings[0] and FAB in warnings[0]
