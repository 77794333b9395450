"""Unit tests for ha_airflow.aws.elasticache_replication_group: no network, a fake ElastiCache client."""

import copy
from unittest.mock import MagicMock

import pytest

from ansible_collections.ha_airflow.aws.plugins.modules import elasticache_replication_group as erg

DEFAULTS = dict(
    replication_group_id="airflow-redis",
    state="present",
    description="Airflow Celery broker",
    engine="redis",
    engine_version="7.1",
    cache_node_type="cache.t3.medium",
    num_cache_clusters=2,
    preferred_cache_cluster_azs=["cn-north-1a", "cn-north-1b"],
    automatic_failover=True,
    multi_az=True,
    cache_subnet_group="airflow-redis",
    security_group_ids=["sg-1"],
    cache_parameter_group=None,
    port=6379,
    at_rest_encryption=True,
    kms_key_id=None,
    transit_encryption=True,
    auth_token="s3cr3t-t0ken-0123456789",
    snapshot_retention_limit=None,
    apply_immediately=True,
    tags={"ha_airflow_cluster": "airflow"},
    purge_tags=True,
    wait=True,
    wait_timeout=60,
)

ARN = "arn:aws-cn:elasticache:cn-north-1:123456789012:replicationgroup:airflow-redis"
GROUP = {
    "ReplicationGroupId": "airflow-redis",
    "Description": "Airflow Celery broker",
    "Status": "available",
    "MemberClusters": ["airflow-redis-001", "airflow-redis-002"],
    "NodeGroups": [
        {
            "NodeGroupId": "0001",
            "PrimaryEndpoint": {"Address": "master.airflow-redis.x.cnn1.cache.amazonaws.com.cn", "Port": 6379},
            "ReaderEndpoint": {"Address": "replica.airflow-redis.x.cnn1.cache.amazonaws.com.cn", "Port": 6379},
        }
    ],
    "AutomaticFailover": "enabled",
    "MultiAZ": "enabled",
    "CacheNodeType": "cache.t3.medium",
    "AtRestEncryptionEnabled": True,
    "TransitEncryptionEnabled": True,
    "AuthTokenEnabled": True,
    "SnapshotRetentionLimit": 0,
    "ARN": ARN,
}


def params(**overrides):
    result = copy.deepcopy(DEFAULTS)
    result.update(overrides)
    return result


class FakeModule:
    def __init__(self, check_mode=False):
        self.check_mode = check_mode
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


def fake_client(groups=None, tags=None):
    """A MagicMock ElastiCache client whose describe call returns ``groups`` (a list of responses, in order)."""
    client = MagicMock()
    responses = list(groups or [])

    def describe(ReplicationGroupId):
        group = responses.pop(0) if len(responses) > 1 else (responses[0] if responses else None)
        if group is None:
            error = {"Error": {"Code": "ReplicationGroupNotFoundFault", "Message": "not found"}}
            raise erg_botocore().exceptions.ClientError(error, "DescribeReplicationGroups")
        return {"ReplicationGroups": [copy.deepcopy(group)]}

    client.describe_replication_groups.side_effect = describe
    client.create_replication_group.return_value = {"ReplicationGroup": dict(GROUP, Status="creating")}
    client.modify_replication_group.side_effect = lambda **kw: {"ReplicationGroup": dict(GROUP, Status="modifying")}
    client.list_tags_for_resource.return_value = {"TagList": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}
    return client


def erg_botocore():
    import botocore

    return botocore


# --- validation: each rejected before any API call -------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(replication_group_id="Airflow_Redis"), "replication_group_id"),
        (dict(replication_group_id="a" * 41), "replication_group_id"),
        (dict(replication_group_id="airflow-"), "replication_group_id"),
        (dict(multi_az=True, automatic_failover=False), "multi_az=true requires automatic_failover"),
        (dict(num_cache_clusters=1, preferred_cache_cluster_azs=None), "needs num_cache_clusters of 2"),
        (dict(num_cache_clusters=7), "between 1 and 6"),
        (dict(transit_encryption=False), "auth_token requires transit_encryption"),
        (dict(auth_token="short"), "16 to 128"),
        (dict(auth_token="has a space in it 0123"), "may not contain"),
        (dict(preferred_cache_cluster_azs=["cn-north-1a"]), "one AZ per node"),
    ],
)
def test_validate_rejects(overrides, message):
    with pytest.raises(erg.ParameterError, match=message):
        erg.validate_params(params(**overrides))


def test_validate_accepts_defaults_and_absent_ignores_shape():
    erg.validate_params(params())
    erg.validate_params(params(state="absent", num_cache_clusters=99, auth_token="x"))


# --- request building -------------------------------------------------------------------------------------------


def test_create_params_cluster_mode_disabled_two_azs():
    request = erg.build_create_params(params())
    assert request["NumCacheClusters"] == 2
    assert "ReplicasPerNodeGroup" not in request and "NumNodeGroups" not in request
    assert request["PreferredCacheClusterAZs"] == ["cn-north-1a", "cn-north-1b"]
    assert request["MultiAZEnabled"] is True and request["AutomaticFailoverEnabled"] is True
    assert request["AtRestEncryptionEnabled"] is True and request["TransitEncryptionEnabled"] is True
    assert request["AuthToken"] == DEFAULTS["auth_token"]
    assert request["Tags"] == [{"Key": "ha_airflow_cluster", "Value": "airflow"}]
    assert "KmsKeyId" not in request and "SnapshotRetentionLimit" not in request


def test_modifications_empty_when_matching():
    assert erg.compute_modifications(GROUP, params()) == {}


def test_modifications_found():
    group = dict(GROUP, Description="old", AutomaticFailover="disabled", MultiAZ="disabled", CacheNodeType="cache.t3.small")
    assert erg.compute_modifications(group, params(snapshot_retention_limit=3)) == {
        "ReplicationGroupDescription": "Airflow Celery broker",
        "CacheNodeType": "cache.t3.medium",
        "AutomaticFailoverEnabled": True,
        "MultiAZEnabled": True,
        "SnapshotRetentionLimit": 3,
    }


def test_creation_drift_warns_on_member_count():
    group = dict(GROUP, MemberClusters=["airflow-redis-001"])
    warnings = erg.creation_drift(group, params())
    assert len(warnings) == 1 and "has 1 nodes" in warnings[0]


# --- ensure_present / ensure_absent ------------------------------------------------------------------------------


def test_create_calls_api_waits_and_returns_endpoints():
    client = fake_client(groups=[None, GROUP])
    result = erg.ensure_present(FakeModule(), client, params())
    assert result["changed"] is True
    client.create_replication_group.assert_called_once()
    assert client.create_replication_group.call_args.kwargs["AuthToken"] == DEFAULTS["auth_token"]
    assert "AuthToken" not in result["changes"]
    client.get_waiter.assert_called_with("replication_group_available")
    assert result["primary_endpoint"] == {"address": "master.airflow-redis.x.cnn1.cache.amazonaws.com.cn", "port": 6379}
    assert result["replication_group"]["arn"] == ARN
    assert result["replication_group"]["multi_az"] == "enabled"


def test_create_in_check_mode_calls_nothing_that_changes():
    client = fake_client(groups=[None])
    result = erg.ensure_present(FakeModule(check_mode=True), client, params())
    assert result["changed"] is True
    client.create_replication_group.assert_not_called()
    client.get_waiter.assert_not_called()


def test_no_change_when_matching():
    client = fake_client(groups=[GROUP], tags={"ha_airflow_cluster": "airflow"})
    module = FakeModule()
    result = erg.ensure_present(module, client, params())
    assert result["changed"] is False
    assert result["changes"] == {}
    client.create_replication_group.assert_not_called()
    client.modify_replication_group.assert_not_called()
    client.add_tags_to_resource.assert_not_called()
    client.remove_tags_from_resource.assert_not_called()
    assert module.warnings == []


def test_modify_and_retag():
    client = fake_client(groups=[dict(GROUP, MultiAZ="disabled"), GROUP], tags={"old": "1"})
    result = erg.ensure_present(FakeModule(), client, params())
    assert result["changed"] is True
    assert client.modify_replication_group.call_args.kwargs == {
        "ReplicationGroupId": "airflow-redis",
        "ApplyImmediately": True,
        "MultiAZEnabled": True,
    }
    client.remove_tags_from_resource.assert_called_once_with(ResourceName=ARN, TagKeys=["old"])
    client.add_tags_to_resource.assert_called_once_with(ResourceName=ARN, Tags=[{"Key": "ha_airflow_cluster", "Value": "airflow"}])
    assert result["replication_group"]["tags"] == {"ha_airflow_cluster": "airflow"}


def test_modify_in_check_mode_changes_nothing():
    client = fake_client(groups=[dict(GROUP, CacheNodeType="cache.t3.small")], tags={})
    result = erg.ensure_present(FakeModule(check_mode=True), client, params())
    assert result["changed"] is True
    assert result["changes"]["CacheNodeType"] == "cache.t3.medium"
    client.modify_replication_group.assert_not_called()
    client.add_tags_to_resource.assert_not_called()


def test_absent_when_missing_is_unchanged():
    client = fake_client(groups=[None])
    result = erg.ensure_absent(FakeModule(), client, params(state="absent"))
    assert result["changed"] is False
    client.delete_replication_group.assert_not_called()


def test_absent_deletes_and_waits():
    client = fake_client(groups=[GROUP])
    result = erg.ensure_absent(FakeModule(), client, params(state="absent"))
    assert result["changed"] is True
    client.delete_replication_group.assert_called_once_with(ReplicationGroupId="airflow-redis")
    client.get_waiter.assert_called_with("replication_group_deleted")


def test_absent_while_deleting_only_waits():
    client = fake_client(groups=[dict(GROUP, Status="deleting")])
    result = erg.ensure_absent(FakeModule(), client, params(state="absent"))
    assert result["changed"] is False
    client.delete_replication_group.assert_not_called()


def test_absent_check_mode():
    client = fake_client(groups=[GROUP])
    result = erg.ensure_absent(FakeModule(check_mode=True), client, params(state="absent"))
    assert result["changed"] is True
    client.delete_replication_group.assert_not_called()


def test_api_error_becomes_module_error():
    client = fake_client(groups=[None])
    client.create_replication_group.side_effect = erg_botocore().exceptions.ClientError(
        {"Error": {"Code": "InvalidParameterValue", "Message": "bad"}}, "CreateReplicationGroup"
    )
    with pytest.raises(erg.AnsibleElastiCacheError, match="Failed to create replication group"):
        erg.ensure_present(FakeModule(), client, params())
