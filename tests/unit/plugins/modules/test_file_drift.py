"""Unit tests for ha_airflow.aws.file_drift: real files in a temporary folder, the module run through AnsibleModule."""

import grp
import hashlib
import json
import os
import pwd

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ha_airflow.aws.plugins.modules import file_drift

ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name
CONTENT = b"[core]\nexecutor = CeleryExecutor\n"
SHA1 = hashlib.sha1(CONTENT).hexdigest()


@pytest.fixture
def tree(tmp_path):
    conf = tmp_path / "airflow.cfg"
    conf.write_bytes(CONTENT)
    conf.chmod(0o640)
    logs = tmp_path / "logs"
    logs.mkdir()
    logs.chmod(0o750)
    return tmp_path


def run(capsys, paths, check_mode=False):
    args = {"paths": paths, "_ansible_check_mode": check_mode}
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            file_drift.main()
    return json.loads(capsys.readouterr().out)


def test_nothing_differs(tree, capsys):
    result = run(capsys, [
        {"path": str(tree / "airflow.cfg"), "owner": ME, "group": MY_GROUP, "mode": "0640", "checksum": SHA1},
        {"path": str(tree / "logs"), "state": "directory", "owner": ME, "group": MY_GROUP, "mode": "0750"},
    ])
    assert result["differ"] == []
    assert result["reasons"] == {}
    assert result["changed"] is False


def test_each_difference_is_named(tree, capsys):
    os.symlink(str(tree / "logs"), str(tree / "logs-link"))
    result = run(capsys, [
        {"path": str(tree / "missing.cfg"), "checksum": SHA1},
        {"path": str(tree / "airflow.cfg"), "mode": "0644", "checksum": hashlib.sha1(b"other").hexdigest()},
        {"path": str(tree / "logs"), "mode": "0750"},  # a folder where a file should be
        {"path": str(tree / "logs-link"), "state": "directory", "owner": "no-such-user-here",
         "group": "no-such-group-here"},
        {"path": str(tree), "state": "directory", "owner": ME},
    ])
    assert result["differ"] == [str(tree / p) for p in ("missing.cfg", "airflow.cfg", "logs", "logs-link")]
    assert result["reasons"] == {
        str(tree / "missing.cfg"): ["missing"],
        str(tree / "airflow.cfg"): ["mode", "content"],
        str(tree / "logs"): ["type"],
        str(tree / "logs-link"): ["owner", "group"],
    }


def test_a_file_where_a_folder_should_be(tree, capsys):
    result = run(capsys, [{"path": str(tree / "airflow.cfg"), "state": "directory", "mode": "0640"}])
    assert result["reasons"] == {str(tree / "airflow.cfg"): ["type"]}


def test_only_what_is_given_is_compared(tree, capsys):
    (tree / "airflow.cfg").chmod(0o666)
    result = run(capsys, [{"path": str(tree / "airflow.cfg"), "checksum": SHA1.upper()}])
    assert result["differ"] == []


def test_same_answer_in_check_mode(tree, capsys):
    paths = [{"path": str(tree / "airflow.cfg"), "mode": "0600"}]
    assert run(capsys, paths, check_mode=True)["differ"] == run(capsys, paths)["differ"] == [str(tree / "airflow.cfg")]


def test_a_symlink_is_followed(tree, capsys):
    os.symlink(str(tree / "airflow.cfg"), str(tree / "link.cfg"))
    assert run(capsys, [{"path": str(tree / "link.cfg"), "checksum": SHA1}])["differ"] == []


@pytest.mark.parametrize("spec, message", [
    ({"path": "relative/airflow.cfg"}, "is not an absolute path"),
    ({"path": "/etc/airflow.cfg", "mode": "0648"}, "is not an octal mode"),
    ({"path": "/etc/airflow.cfg", "mode": "u+rw"}, "is not an octal mode"),
    ({"path": "/etc/airflow.cfg", "mode": "17777"}, "is not an octal mode"),
    ({"path": "/etc/airflow.cfg", "checksum": "abc"}, "is not a SHA-1"),
    ({"path": "/etc/airflow.cfg", "checksum": "g" * 40}, "is not a SHA-1"),
])
def test_bad_input_is_refused(capsys, spec, message):
    result = run(capsys, [spec])
    assert result["failed"] is True
    assert message in result["msg"]


def test_a_path_given_twice_is_refused(capsys):
    result = run(capsys, [{"path": "/etc/airflow.cfg"}, {"path": "/etc/airflow.cfg", "mode": "0640"}])
    assert result["failed"] is True
    assert "given twice" in result["msg"]
