"""A fake target for airflow_db / airflow_user unit tests: AnsibleModule with canned run_command answers
(the ``venv`` fixture they use lives in conftest.py).

Every test states the exact argv the module must run; the fake records each call and answers the helper actions
(``<python> -c <source> <action>``) and CLI commands from a script the test gives.
"""

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ha_airflow.aws.plugins.module_utils._airflow_helper import HELPER_SOURCE, RESULT_MARKER


class Exit(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class Fail(Exit):
    pass


def answer(obj, noise="[2021-04-19 10:00:00,000] {db.py:1} INFO - noise\n"):
    return 0, noise + RESULT_MARKER + json.dumps(obj) + "\n", ""


class FakeTarget:
    """run_command replacement. ``script`` maps a key to a list of answers consumed in order:
    helper actions by action name ("db_inspect"), CLI calls by their words after the executable ("users create")."""

    def __init__(self, script):
        self.script = {k: list(v) for k, v in script.items()}
        self.calls = []

    def run_command(self, argv, data=None, environ_update=None, binary_data=False, **_kwargs):
        request = json.loads(data) if data else None
        self.calls.append(dict(argv=list(argv), request=request, env=dict(environ_update or {})))
        if len(argv) == 4 and argv[1] == "-c" and argv[2] == HELPER_SOURCE:
            key = argv[3]
        else:
            key = " ".join(a for a in argv[1:3])
        replies = self.script.get(key)
        if not replies:
            raise AssertionError("unexpected command %r" % (argv,))
        reply = replies.pop(0)
        return reply(request) if callable(reply) else reply

    def helper_calls(self):
        return [(c["argv"][3], c["request"]) for c in self.calls if c["argv"][2:3] == [HELPER_SOURCE]]

    def cli_calls(self):
        return [c["argv"] for c in self.calls if c["argv"][2:3] != [HELPER_SOURCE]]


def run_module(monkeypatch, module, args, target, check_mode=False, diff=False):
    """Run ``module.main()`` with ``args`` against ``target``: the Exit carrying the result, or raise Fail."""
    full = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, *a, **k: target.run_command(*a, **k))

    def exit_json(self, **kwargs):
        raise Exit(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise Fail(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    with patch_module_args(full), pytest.raises(Exit) as caught:
        module.main()
    if isinstance(caught.value, Fail):
        raise caught.value
    return caught.value


def run_module_printed(monkeypatch, capsys, module, args, target, check_mode=False, diff=False):
    """Run ``module.main()`` with AnsibleModule's own exit_json/fail_json: the JSON the module prints, which is what
    the controller receives and shows with -vvv (invocation included). Returns (text, parsed result)."""
    full = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, *a, **k: target.run_command(*a, **k))
    capsys.readouterr()
    with patch_module_args(full), pytest.raises(SystemExit):
        module.main()
    text = capsys.readouterr().out
    return text, json.loads(text)
