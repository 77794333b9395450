"""Unit tests for ha_airflow.aws.efs_backup_policy.

Every EFS call goes to a real botocore client with botocore's Stubber: requests are validated against the service
model and compared with the exact parameters expected; canned responses are validated against the output shapes.
No network.
"""

import json

import botocore.session
import pytest
from ansible.module_utils.testing import patch_module_args
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.ha_airflow.aws.plugins.modules import efs_backup_policy as ebp

FS_ID = "fs-0123456789abcdef0"
ARN = "arn:aws-cn:elasticfilesystem:cn-north-1:123456789012:file-system/" + FS_ID


def file_system(state="available"):
    return {
        "OwnerId": "123456789012", "CreationToken": "airflow-shared", "FileSystemId": FS_ID, "FileSystemArn": ARN,
        "CreationTime": "2026-01-01T00:00:00Z", "LifeCycleState": state, "NumberOfMountTargets": 2,
        "SizeInBytes": {"Value": 6144}, "PerformanceMode": "generalPurpose", "Encrypted": True, "Tags": [],
    }


class FakeModule:
    def __init__(self, check_mode=False):
        self.check_mode = check_mode


class Stubbed:
    def __init__(self, client, stubber):
        self.client = client
        self.stubber = stubber

    def file_system(self, answer, file_system_id=FS_ID):
        if answer is None:
            self.stubber.add_client_error("describe_file_systems", "FileSystemNotFound", "File system not found", 404,
                                          expected_params={"FileSystemId": file_system_id})
        else:
            self.stubber.add_response("describe_file_systems", {"FileSystems": [answer]},
                                      {"FileSystemId": file_system_id})

    def policy(self, status):
        if status is None:  # what EFS answers for a file system that never had a backup policy
            self.stubber.add_client_error("describe_backup_policy", "PolicyNotFound", "None", 404,
                                          expected_params={"FileSystemId": FS_ID})
        else:
            self.stubber.add_response("describe_backup_policy", {"BackupPolicy": {"Status": status}},
                                      {"FileSystemId": FS_ID})

    def put(self, status, answer=None):
        self.stubber.add_response("put_backup_policy", {"BackupPolicy": {"Status": answer or status}},
                                  {"FileSystemId": FS_ID, "BackupPolicy": {"Status": status}})


@pytest.fixture
def aws():
    client = botocore.session.get_session().create_client(
        "efs", region_name="cn-north-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield Stubbed(client, stubber)
        stubber.assert_no_pending_responses()


def params(**overrides):
    values = dict(file_system_id=FS_ID, status="enabled")
    values.update(overrides)
    return values


@pytest.mark.parametrize("current", [None, "DISABLED", "DISABLING"])
def test_turns_automatic_backups_on(aws, current):
    aws.file_system(file_system())
    aws.policy(current)
    aws.put("ENABLED", answer="ENABLING")
    result = ebp.ensure_backup_policy(FakeModule(), aws.client, params())
    assert result["changed"] is True
    assert result["changes"] == [{"setting": "Status", "before": current or "DISABLED", "after": "ENABLED"}]
    assert result["backup_policy"] == {"status": "ENABLING"}
    assert (result["file_system_id"], result["file_system_arn"]) == (FS_ID, ARN)


@pytest.mark.parametrize("current, wanted", [("ENABLED", "enabled"), ("ENABLING", "enabled"), ("DISABLED", "disabled"),
                                             ("DISABLING", "disabled"), (None, "disabled")])
def test_no_change_when_the_policy_matches(aws, current, wanted):
    aws.file_system(file_system())
    aws.policy(current)
    result = ebp.ensure_backup_policy(FakeModule(), aws.client, params(status=wanted))
    assert result["changed"] is False and result["changes"] == []


def test_turns_automatic_backups_off(aws):
    aws.file_system(file_system())
    aws.policy("ENABLED")
    aws.put("DISABLED")
    result = ebp.ensure_backup_policy(FakeModule(), aws.client, params(status="disabled"))
    assert result["changes"] == [{"setting": "Status", "before": "ENABLED", "after": "DISABLED"}]


def test_check_mode_only_describes(aws):
    aws.file_system(file_system())
    aws.policy(None)
    result = ebp.ensure_backup_policy(FakeModule(check_mode=True), aws.client, params())
    assert result["changed"] is True
    assert result["changes"] == [{"setting": "Status", "before": "DISABLED", "after": "ENABLED"}]
    assert result["backup_policy"] == {"status": "ENABLED"}


def test_by_arn_of_the_china_partition(aws):
    aws.file_system(file_system(), file_system_id=ARN)
    aws.policy("ENABLED")
    result = ebp.ensure_backup_policy(FakeModule(), aws.client, params(file_system_id=ARN))
    assert result["changed"] is False and result["file_system_id"] == FS_ID


def test_missing_file_system_says_so(aws):
    aws.file_system(None)
    with pytest.raises(ebp.BackupPolicyError, match="does not exist in this region"):
        ebp.ensure_backup_policy(FakeModule(), aws.client, params())


def test_file_system_not_available_is_refused_before_the_put(aws):
    aws.file_system(file_system(state="creating"))
    aws.policy(None)
    with pytest.raises(ebp.BackupPolicyError, match="is creating.*once it is available"):
        ebp.ensure_backup_policy(FakeModule(), aws.client, params())


def test_aws_backup_missing_in_the_region_is_a_module_error(aws):
    aws.file_system(file_system())
    aws.policy(None)
    aws.stubber.add_client_error("put_backup_policy", "ValidationException", "AWS Backup is not available in this region",
                                 400, expected_params={"FileSystemId": FS_ID, "BackupPolicy": {"Status": "ENABLED"}})
    with pytest.raises(ebp.AnsibleEFSError, match="Failed to put backup policy"):
        ebp.ensure_backup_policy(FakeModule(), aws.client, params())


@pytest.mark.parametrize("file_system_id", ["fs-xyz", "my-efs", "arn:aws-cn:s3:::bucket", "fs-0123"])
def test_bad_file_system_id_fails_before_any_call(monkeypatch, aws, capsys, file_system_id):
    monkeypatch.setattr(AnsibleAWSModule, "client", lambda self, *a, **k: aws.client)
    with patch_module_args(dict(file_system_id=file_system_id, region="cn-north-1")), pytest.raises(SystemExit):
        ebp.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True and "neither a file system id" in result["msg"]


def test_main_returns_changes_and_diff(monkeypatch, aws, capsys):
    monkeypatch.setattr(AnsibleAWSModule, "client", lambda self, *a, **k: aws.client)
    aws.file_system(file_system())
    aws.policy(None)
    args = dict(file_system_id=FS_ID, region="cn-north-1", _ansible_check_mode=True, _ansible_diff=True)
    with patch_module_args(args), pytest.raises(SystemExit):
        ebp.main()
    result = json.loads(capsys.readouterr().out)
    assert result["changed"] is True
    assert result["diff"] == {"before": {"status": "DISABLED"}, "after": {"status": "ENABLED"}}
