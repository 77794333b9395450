"""Unit tests for ha_airflow.aws.elasticache_replication_group.

Every ElastiCache call goes to a real botocore client with botocore's Stubber: the request is validated against the
service model (a wrong parameter name or type fails the test) and compared with the exact parameters expected, and
each canned response is validated against the model's output shape. No network.
"""

import copy
import json

import botocore.session
import pytest
from ansible.module_utils.testing import patch_module_args
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.ha_airflow.aws.plugins.module_utils import elasticache as ec_utils
from ansible_collections.ha_airflow.aws.plugins.modules import elasticache_replication_group as erg

GROUP_ID = "airflow-redis"
TOKEN = "Rotate-Me-0123456789abc"
NEW_TOKEN = "Brand-New-Token-9876543210"
ARN = "arn:aws-cn:elasticache:cn-north-1:123456789012:replicationgroup:airflow-redis"

DEFAULTS = dict(
    replication_group_id=GROUP_ID,
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
    auth_token=TOKEN,
    update_auth_token="on_create",
    auth_token_update_strategy="rotate",
    transit_encryption_mode="required",
    auto_minor_version_upgrade=None,
    snapshot_retention_limit=None,
    final_snapshot_identifier=None,
    apply_immediately=True,
    tags={"ha_airflow_cluster": "airflow"},
    purge_tags=True,
    wait=True,
    wait_timeout=60,
)

GROUP = {
    "ReplicationGroupId": GROUP_ID,
    "Description": "Airflow Celery broker",
    "Status": "available",
    "PendingModifiedValues": {},
    "MemberClusters": ["airflow-redis-001", "airflow-redis-002"],
    "NodeGroups": [
        {
            "NodeGroupId": "0001",
            "Status": "available",
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
    "ClusterEnabled": False,
    "ARN": ARN,
}

CLUSTER = {
    "CacheClusterId": "airflow-redis-001",
    "CacheClusterStatus": "available",
    "CacheNodeType": "cache.t3.medium",
    "Engine": "redis",
    "EngineVersion": "7.1.0",
    "NumCacheNodes": 1,
    "PendingModifiedValues": {},
    "CacheParameterGroup": {"CacheParameterGroupName": "default.redis7", "ParameterApplyStatus": "in-sync",
                            "CacheNodeIdsToReboot": []},
    "SecurityGroups": [{"SecurityGroupId": "sg-1", "Status": "active"}],
    "ReplicationGroupId": GROUP_ID,
}

TAGS = {"ha_airflow_cluster": "airflow"}
SHAPE = {"setting", "before", "after"}


def params(**overrides):
    result = copy.deepcopy(DEFAULTS)
    result.update(overrides)
    return result


def group(**overrides):
    result = copy.deepcopy(GROUP)
    result.update(overrides)
    return result


def cluster(**overrides):
    result = copy.deepcopy(CLUSTER)
    result.update(overrides)
    return result


class FakeModule:
    def __init__(self, check_mode=False):
        self.check_mode = check_mode
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


@pytest.fixture
def aws(monkeypatch):
    """A real ElastiCache client (cn-north-1) under botocore's Stubber; waits do not sleep."""
    monkeypatch.setattr(ec_utils, "_sleep", lambda seconds: None)
    client = botocore.session.get_session().create_client(
        "elasticache", region_name="cn-north-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield Stubbed(client, stubber)
        stubber.assert_no_pending_responses()


class Stubbed:
    def __init__(self, client, stubber):
        self.client = client
        self.stubber = stubber

    def describe(self, answer):
        if answer is None:
            self.stubber.add_client_error("describe_replication_groups", "ReplicationGroupNotFoundFault",
                                          "Replication group %s not found." % GROUP_ID, 404,
                                          expected_params={"ReplicationGroupId": GROUP_ID})
        else:
            self.stubber.add_response("describe_replication_groups", {"ReplicationGroups": [answer]},
                                      {"ReplicationGroupId": GROUP_ID})

    def cluster(self, answer, cluster_id="airflow-redis-001"):
        if answer is None:
            self.stubber.add_client_error("describe_cache_clusters", "CacheClusterNotFound",
                                          "Cache cluster %s not found." % cluster_id, 404,
                                          expected_params={"CacheClusterId": cluster_id})
        else:
            self.stubber.add_response("describe_cache_clusters", {"CacheClusters": [answer]},
                                      {"CacheClusterId": cluster_id})

    def tags(self, tags):
        self.stubber.add_response("list_tags_for_resource",
                                  {"TagList": [{"Key": k, "Value": v} for k, v in tags.items()]},
                                  {"ResourceName": ARN})

    def modify(self, expected, answer=None):
        self.stubber.add_response("modify_replication_group",
                                  {"ReplicationGroup": answer or group(Status="modifying")}, expected)

    def events(self, messages):
        self.stubber.add_response(
            "describe_events",
            {"Events": [{"SourceIdentifier": GROUP_ID, "SourceType": "replication-group", "Message": m}
                        for m in messages]},
            {"SourceIdentifier": GROUP_ID, "SourceType": "replication-group", "Duration": 1440})


def assert_one_shape(changes):
    assert isinstance(changes, list)
    for change in changes:
        assert set(change) == SHAPE, change


def settings(changes):
    return [c["setting"] for c in changes]


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
        (dict(auth_token="short-0123456"), "16 to 128 characters"),
        (dict(auth_token="x" * 129), "16 to 128 characters"),
        (dict(preferred_cache_cluster_azs=["cn-north-1a"]), "one AZ per node"),
        (dict(update_auth_token="always", auth_token=None), "update_auth_token=always needs auth_token"),
        (dict(final_snapshot_identifier="Final_Snap"), "final_snapshot_identifier"),
    ],
)
def test_validate_rejects(overrides, message):
    with pytest.raises(erg.ParameterError, match=message):
        erg.validate_params(params(**overrides))


AUTH_RULE = "only letters, digits and the special characters ! & # $ ^ < > -"


@pytest.mark.parametrize("token", [
    "has@sign-0123456789",
    'has"quote-0123456789',
    "has/slash-0123456789",
    "has%percent-0123456789",
    "has space-0123456789",
    "has_underscore-0123456789",
    "has.dot-0123456789abc",
    "has'apostrophe-0123456789",
    "non-ascii-\u00e9\u00e9-0123456789",
    "tab\tinside-0123456789",
])
def test_auth_token_characters_the_api_refuses(token):
    with pytest.raises(erg.ParameterError) as caught:
        erg.validate_params(params(auth_token=token))
    assert AUTH_RULE in str(caught.value)
    assert token not in str(caught.value), "the message must not echo the token"


@pytest.mark.parametrize("token", ["Abc!&#$^<>-0123456789", "a" * 16, "Z9" * 64, "moto-only-auth-token-0123456789"])
def test_auth_token_characters_the_api_accepts(token):
    erg.validate_params(params(auth_token=token))


def test_validate_accepts_defaults_and_absent_ignores_shape():
    erg.validate_params(params())
    erg.validate_params(params(state="absent", num_cache_clusters=99, auth_token="x"))


def test_bad_auth_token_fails_before_any_call(monkeypatch, aws, capsys):
    # main() end to end: the module fails before it makes a single call (nothing is stubbed: any call would fail).
    monkeypatch.setattr(AnsibleAWSModule, "client", lambda self, *a, **k: aws.client)
    args = dict(replication_group_id=GROUP_ID, transit_encryption=True, auth_token="bad@token-0123456789",
                region="cn-north-1")
    with patch_module_args(args), pytest.raises(SystemExit):
        erg.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True and AUTH_RULE in result["msg"]
    assert "bad@token-0123456789" not in json.dumps(result)


# --- create ---------------------------------------------------------------------------------------------------------


def create_request(**overrides):
    request = {
        "ReplicationGroupId": GROUP_ID,
        "ReplicationGroupDescription": "Airflow Celery broker",
        "Engine": "redis",
        "NumCacheClusters": 2,
        "AutomaticFailoverEnabled": True,
        "MultiAZEnabled": True,
        "Port": 6379,
        "AtRestEncryptionEnabled": True,
        "TransitEncryptionEnabled": True,
        "EngineVersion": "7.1",
        "CacheNodeType": "cache.t3.medium",
        "PreferredCacheClusterAZs": ["cn-north-1a", "cn-north-1b"],
        "CacheSubnetGroupName": "airflow-redis",
        "SecurityGroupIds": ["sg-1"],
        "AuthToken": TOKEN,
        "Tags": [{"Key": "ha_airflow_cluster", "Value": "airflow"}],
    }
    request.update(overrides)
    return request


def test_create_waits_and_returns_the_final_state(aws):
    aws.describe(None)
    aws.stubber.add_response("create_replication_group", {"ReplicationGroup": group(Status="creating")},
                             create_request())
    aws.describe(group(Status="creating"))
    aws.describe(group())
    aws.cluster(cluster())
    result = erg.ensure_present(FakeModule(), aws.client, params())
    assert result["changed"] is True
    assert_one_shape(result["changes"])
    changes = dict((c["setting"], c) for c in result["changes"])
    assert changes["CacheNodeType"] == {"setting": "CacheNodeType", "before": None, "after": "cache.t3.medium"}
    assert changes["AuthToken"]["after"] != TOKEN and TOKEN not in json.dumps(result)
    assert result["replication_group"]["status"] == "available"
    assert result["replication_group"]["engine_version"] == "7.1.0"
    assert result["replication_group"]["security_group_ids"] == ["sg-1"]
    assert result["primary_endpoint"] == {"address": "master.airflow-redis.x.cnn1.cache.amazonaws.com.cn",
                                          "port": 6379}
    assert result["replication_group"]["arn"] == ARN


def test_create_in_check_mode_calls_nothing_that_changes(aws):
    aws.describe(None)
    result = erg.ensure_present(FakeModule(check_mode=True), aws.client, params())
    assert result["changed"] is True
    assert_one_shape(result["changes"])
    assert "ReplicationGroupId" in settings(result["changes"])


def test_create_failed_fails_fast_with_a_message(aws):
    # No waiting until wait_timeout: the first describe that says create-failed ends the run, with AWS's reason.
    aws.describe(None)
    aws.stubber.add_response("create_replication_group", {"ReplicationGroup": group(Status="creating")},
                             create_request())
    aws.describe(group(Status="create-failed"))
    aws.events(["Failed to create replication group airflow-redis: insufficient capacity for cache.t3.medium"])
    with pytest.raises(erg.ReplicationGroupFailed) as caught:
        erg.ensure_present(FakeModule(), aws.client, params(wait_timeout=3600))
    message = str(caught.value)
    assert "create-failed" in message and "insufficient capacity" in message
    assert "state=absent" in message


def test_existing_group_in_create_failed_fails_at_once(aws):
    aws.describe(group(Status="create-failed"))
    aws.events([])
    with pytest.raises(erg.ReplicationGroupFailed, match="create-failed"):
        erg.ensure_present(FakeModule(), aws.client, params())


def test_api_error_becomes_module_error(aws):
    aws.describe(None)
    aws.stubber.add_client_error("create_replication_group", "InvalidParameterValue", "bad", 400,
                                 expected_params=create_request())
    with pytest.raises(erg.AnsibleElastiCacheError, match="Failed to create replication group"):
        erg.ensure_present(FakeModule(), aws.client, params())


# --- an existing group: drift, pending modifications, the final state -------------------------------------------


def test_no_change_when_matching(aws):
    aws.describe(group())
    aws.cluster(cluster())
    aws.tags(TAGS)
    module = FakeModule()
    result = erg.ensure_present(module, aws.client, params(cache_parameter_group="default.redis7"))
    assert result["changed"] is False and result["changes"] == []
    assert module.warnings == []


def test_drift_in_security_groups_parameter_group_and_engine_version(aws):
    aws.describe(group())
    aws.cluster(cluster(EngineVersion="7.0.7", SecurityGroups=[{"SecurityGroupId": "sg-old", "Status": "active"}],
                        CacheParameterGroup={"CacheParameterGroupName": "default.redis7",
                                             "ParameterApplyStatus": "in-sync", "CacheNodeIdsToReboot": []}))
    aws.tags(TAGS)
    aws.modify({"ReplicationGroupId": GROUP_ID, "ApplyImmediately": True, "SecurityGroupIds": ["sg-1", "sg-2"],
                "CacheParameterGroupName": "airflow-redis7", "EngineVersion": "7.1"})
    aws.describe(group(Status="modifying"))
    aws.describe(group())
    aws.cluster(cluster(SecurityGroups=[{"SecurityGroupId": "sg-1", "Status": "active"},
                                        {"SecurityGroupId": "sg-2", "Status": "active"}],
                        CacheParameterGroup={"CacheParameterGroupName": "airflow-redis7",
                                             "ParameterApplyStatus": "in-sync", "CacheNodeIdsToReboot": []}))
    result = erg.ensure_present(FakeModule(), aws.client, params(security_group_ids=["sg-2", "sg-1"],
                                                                 cache_parameter_group="airflow-redis7"))
    assert result["changed"] is True
    assert result["changes"] == [
        {"setting": "SecurityGroupIds", "before": ["sg-old"], "after": ["sg-1", "sg-2"]},
        {"setting": "CacheParameterGroupName", "before": "default.redis7", "after": "airflow-redis7"},
        {"setting": "EngineVersion", "before": "7.0.7", "after": "7.1"},
    ]
    # the result is the state described after the wait, not the modify call's answer
    assert result["replication_group"]["status"] == "available"
    assert result["replication_group"]["security_group_ids"] == ["sg-1", "sg-2"]
    assert result["replication_group"]["cache_parameter_group"] == "airflow-redis7"


@pytest.mark.parametrize("running, requested", [("7.1.0", "7.1"), ("7.1.0", "6.2"), ("7.1.0", "7.0"),
                                                ("6.2.6", "6.x"), ("7.2.4", "7.1")])
def test_engine_version_never_downgraded(aws, running, requested):
    aws.describe(group())
    aws.cluster(cluster(EngineVersion=running))
    aws.tags(TAGS)
    result = erg.ensure_present(FakeModule(), aws.client, params(engine_version=requested))
    assert result["changed"] is False and result["changes"] == []


def test_modify_in_check_mode_changes_nothing(aws):
    aws.describe(group(CacheNodeType="cache.t3.small"))
    aws.cluster(cluster(SecurityGroups=[{"SecurityGroupId": "sg-old", "Status": "active"}]))
    aws.tags({})
    result = erg.ensure_present(FakeModule(check_mode=True), aws.client, params())
    assert result["changed"] is True
    assert_one_shape(result["changes"])
    assert result["changes"][:2] == [
        {"setting": "CacheNodeType", "before": "cache.t3.small", "after": "cache.t3.medium"},
        {"setting": "SecurityGroupIds", "before": ["sg-old"], "after": ["sg-1"]},
    ]
    assert result["changes"][2] == {"setting": "Tags", "before": {}, "after": TAGS}


def test_pending_modifications_are_not_requested_again(aws):
    # A node type and failover change were asked for before (apply_immediately=false: they wait for the maintenance
    # window). Asking again would be a change every run.
    aws.describe(group(AutomaticFailover="disabled", CacheNodeType="cache.t3.small",
                       PendingModifiedValues={"AutomaticFailoverStatus": "enabled"}))
    aws.cluster(cluster(CacheNodeType="cache.t3.small",
                        PendingModifiedValues={"CacheNodeType": "cache.t3.medium", "EngineVersion": "7.1.0"},
                        EngineVersion="7.0.7"))
    aws.tags(TAGS)
    result = erg.ensure_present(FakeModule(), aws.client, params(apply_immediately=False))
    assert result["changed"] is False and result["changes"] == []


def test_modify_and_retag_then_describe_the_final_state(aws):
    aws.describe(group(MultiAZ="disabled"))
    aws.cluster(cluster())
    aws.tags({"old": "1"})
    aws.modify({"ReplicationGroupId": GROUP_ID, "ApplyImmediately": True, "MultiAZEnabled": True})
    aws.stubber.add_response("remove_tags_from_resource", {"TagList": []}, {"ResourceName": ARN, "TagKeys": ["old"]})
    aws.stubber.add_response("add_tags_to_resource", {"TagList": []},
                             {"ResourceName": ARN, "Tags": [{"Key": "ha_airflow_cluster", "Value": "airflow"}]})
    aws.describe(group(Status="modifying", MultiAZ="enabling"))
    aws.describe(group(PendingModifiedValues={"AutomaticFailoverStatus": "enabled"}))  # settling
    aws.describe(group())
    aws.cluster(cluster())
    result = erg.ensure_present(FakeModule(), aws.client, params())
    assert result["changed"] is True
    assert result["changes"] == [
        {"setting": "MultiAZEnabled", "before": False, "after": True},
        {"setting": "Tags", "before": {"old": "1"}, "after": TAGS},
    ]
    assert result["replication_group"]["multi_az"] == "enabled"
    assert result["replication_group"]["tags"] == TAGS


def test_unreadable_member_cluster_is_a_warning_not_a_change(aws):
    # moto, for one, does not describe a replication group's member clusters.
    aws.describe(group())
    aws.cluster(None)
    aws.tags(TAGS)
    module = FakeModule()
    result = erg.ensure_present(module, aws.client, params(security_group_ids=["sg-9"], engine_version="9.9"))
    assert result["changed"] is False
    assert any("airflow-redis-001" in w and "not compared" in w for w in module.warnings)


# --- the AUTH token: write-only, so rotated on request ------------------------------------------------------------


def test_auth_token_is_not_sent_to_an_existing_group_by_default(aws):
    aws.describe(group())
    aws.cluster(cluster())
    aws.tags(TAGS)
    result = erg.ensure_present(FakeModule(), aws.client, params(auth_token=NEW_TOKEN))
    assert result["changed"] is False


@pytest.mark.parametrize("strategy", ["rotate", "set"])
def test_auth_token_update(aws, strategy):
    aws.describe(group())
    aws.cluster(cluster())
    aws.tags(TAGS)
    aws.modify({"ReplicationGroupId": GROUP_ID, "ApplyImmediately": True, "AuthToken": NEW_TOKEN,
                "AuthTokenUpdateStrategy": strategy.upper()})
    aws.describe(group(Status="modifying", PendingModifiedValues={"AuthTokenStatus": strategy.upper() + "TING"
                                                                  if strategy == "set" else "ROTATING"}))
    aws.describe(group())
    aws.cluster(cluster())
    result = erg.ensure_present(FakeModule(), aws.client, params(auth_token=NEW_TOKEN, update_auth_token="always",
                                                                 auth_token_update_strategy=strategy))
    assert result["changed"] is True
    assert result["changes"] == [
        {"setting": "AuthToken", "before": "(write-only)", "after": "(new token, not shown)"},
        {"setting": "AuthTokenUpdateStrategy", "before": None, "after": strategy.upper()},
    ]
    assert NEW_TOKEN not in json.dumps(result)


def test_auth_token_update_already_pending_is_not_requested_again(aws):
    aws.describe(group(Status="modifying", PendingModifiedValues={"AuthTokenStatus": "ROTATING"}))
    aws.cluster(cluster())
    aws.tags(TAGS)
    module = FakeModule()
    result = erg.ensure_present(module, aws.client, params(auth_token=NEW_TOKEN, update_auth_token="always"))
    assert result["changed"] is False and result["changes"] == []
    assert any("ROTATING" in w for w in module.warnings)


def test_auth_token_update_in_check_mode(aws):
    aws.describe(group())
    aws.cluster(cluster())
    aws.tags(TAGS)
    result = erg.ensure_present(FakeModule(check_mode=True), aws.client,
                                params(auth_token=NEW_TOKEN, update_auth_token="always",
                                       auth_token_update_strategy="set"))
    assert result["changed"] is True
    assert settings(result["changes"]) == ["AuthToken", "AuthTokenUpdateStrategy"]


# --- delete -------------------------------------------------------------------------------------------------------


def test_absent_when_missing_is_unchanged(aws):
    aws.describe(None)
    result = erg.ensure_absent(FakeModule(), aws.client, params(state="absent"))
    assert result["changed"] is False and result["changes"] == []


def test_absent_deletes_and_waits(aws):
    aws.describe(group())
    aws.stubber.add_response("delete_replication_group", {"ReplicationGroup": group(Status="deleting")},
                             {"ReplicationGroupId": GROUP_ID})
    aws.describe(group(Status="deleting"))
    aws.describe(None)
    result = erg.ensure_absent(FakeModule(), aws.client, params(state="absent"))
    assert result["changed"] is True
    assert result["changes"] == [{"setting": "ReplicationGroup", "before": "available", "after": "deleted"}]


def test_absent_with_a_final_snapshot(aws):
    aws.describe(group())
    aws.stubber.add_response("delete_replication_group", {"ReplicationGroup": group(Status="deleting")},
                             {"ReplicationGroupId": GROUP_ID, "FinalSnapshotIdentifier": "airflow-redis-final"})
    aws.describe(None)
    result = erg.ensure_absent(FakeModule(), aws.client,
                               params(state="absent", final_snapshot_identifier="airflow-redis-final"))
    assert result["changed"] is True
    assert result["changes"] == [
        {"setting": "ReplicationGroup", "before": "available", "after": "deleted"},
        {"setting": "FinalSnapshotIdentifier", "before": None, "after": "airflow-redis-final"},
    ]


def test_absent_while_deleting_only_waits(aws):
    aws.describe(group(Status="deleting"))
    aws.describe(None)
    result = erg.ensure_absent(FakeModule(), aws.client, params(state="absent"))
    assert result["changed"] is False and result["changes"] == []


def test_absent_check_mode(aws):
    aws.describe(group())
    result = erg.ensure_absent(FakeModule(check_mode=True), aws.client,
                               params(state="absent", final_snapshot_identifier="airflow-redis-final"))
    assert result["changed"] is True
    assert settings(result["changes"]) == ["ReplicationGroup", "FinalSnapshotIdentifier"]


def test_absent_of_a_create_failed_group_deletes_it(aws):
    aws.describe(group(Status="create-failed"))
    aws.stubber.add_response("delete_replication_group", {"ReplicationGroup": group(Status="deleting")},
                             {"ReplicationGroupId": GROUP_ID})
    aws.describe(None)
    result = erg.ensure_absent(FakeModule(), aws.client, params(state="absent"))
    assert result["changed"] is True


def test_wait_for_a_busy_group_before_delete(aws):
    aws.describe(group(Status="modifying"))
    aws.describe(group(Status="modifying"))
    aws.describe(group())
    aws.stubber.add_response("delete_replication_group", {"ReplicationGroup": group(Status="deleting")},
                             {"ReplicationGroupId": GROUP_ID})
    aws.describe(None)
    assert erg.ensure_absent(FakeModule(), aws.client, params(state="absent"))["changed"] is True


def test_wait_times_out_with_a_message(aws, monkeypatch):
    clock = iter(range(0, 10000, 30))
    monkeypatch.setattr(ec_utils, "_now", lambda: next(clock))
    aws.describe(group(Status="creating"))  # at 0 s
    aws.describe(group(Status="creating"))  # at 30 s; at 60 s one more delay would pass the deadline
    with pytest.raises(erg.ReplicationGroupFailed, match="still creating after 60 s"):
        ec_utils.wait_for_replication_group(aws.client, GROUP_ID, "available", 60, delay=15)


# --- automatic minor version upgrades (FSBP ElastiCache.2) ---------------------------------------------------------


@pytest.mark.parametrize("engine, version", [("redis", "5.0.6"), ("redis", "4.0.10"), ("redis", "3.2")])
def test_auto_minor_version_upgrade_refused_before_redis_6(engine, version):
    # ModifyReplicationGroup/CreateReplicationGroup: "Valkey or Redis OSS engine version 6.0 or later ... disabled for
    # previous versions".
    with pytest.raises(erg.ParameterError, match="from Redis OSS 6.0") as caught:
        erg.validate_params(params(engine=engine, engine_version=version, auto_minor_version_upgrade=True))
    assert version in str(caught.value) and "to false" in str(caught.value)


def test_auto_minor_version_upgrade_off_before_redis_6_is_not_sent(aws):
    # Off is all Redis OSS 5.0 has: accepted, and neither sent at creation nor compared on an existing group.
    erg.validate_params(params(engine_version="5.0.6", auto_minor_version_upgrade=False))
    aws.describe(None)
    aws.stubber.add_response("create_replication_group", {"ReplicationGroup": group(Status="creating")},
                             create_request(EngineVersion="5.0.6"))
    erg.ensure_present(FakeModule(), aws.client, params(engine_version="5.0.6", auto_minor_version_upgrade=False,
                                                        wait=False))
    aws.describe(group())
    aws.cluster(cluster(EngineVersion="5.0.6"))
    aws.tags(TAGS)
    result = erg.ensure_present(FakeModule(), aws.client, params(engine_version="5.0", auto_minor_version_upgrade=False))
    assert result["changed"] is False


@pytest.mark.parametrize("engine, version", [("redis", "6.0"), ("redis", "6.x"), ("redis", "7.1"), ("valkey", "7.2"),
                                             ("valkey", "8.0"), ("redis", None)])
def test_auto_minor_version_upgrade_accepted_from_redis_6(engine, version):
    erg.validate_params(params(engine=engine, engine_version=version, auto_minor_version_upgrade=True))


def test_create_sends_auto_minor_version_upgrade(aws):
    aws.describe(None)
    aws.stubber.add_response("create_replication_group",
                             {"ReplicationGroup": group(Status="creating", AutoMinorVersionUpgrade=True)},
                             create_request(AutoMinorVersionUpgrade=True))
    result = erg.ensure_present(FakeModule(), aws.client, params(auto_minor_version_upgrade=True, wait=False))
    assert {"setting": "AutoMinorVersionUpgrade", "before": None, "after": True} in result["changes"]


def test_create_leaves_auto_minor_version_upgrade_to_aws_when_unset(aws):
    aws.describe(None)
    aws.stubber.add_response("create_replication_group", {"ReplicationGroup": group(Status="creating")},
                             create_request())
    result = erg.ensure_present(FakeModule(), aws.client, params(wait=False))
    assert "AutoMinorVersionUpgrade" not in settings(result["changes"])


def test_auto_minor_version_upgrade_drift_is_modified(aws):
    aws.describe(group(AutoMinorVersionUpgrade=False))
    aws.cluster(cluster())
    aws.tags(TAGS)
    aws.modify({"ReplicationGroupId": GROUP_ID, "ApplyImmediately": True, "AutoMinorVersionUpgrade": True})
    aws.describe(group(AutoMinorVersionUpgrade=True))
    aws.cluster(cluster())
    result = erg.ensure_present(FakeModule(), aws.client, params(auto_minor_version_upgrade=True))
    assert result["changes"] == [{"setting": "AutoMinorVersionUpgrade", "before": False, "after": True}]
    assert result["replication_group"]["auto_minor_version_upgrade"] is True


def test_auto_minor_version_upgrade_matching_or_unset_is_no_change(aws):
    for wanted, running in ((True, True), (False, False), (None, False)):
        aws.describe(group(AutoMinorVersionUpgrade=running))
        aws.cluster(cluster())
        aws.tags(TAGS)
        result = erg.ensure_present(FakeModule(), aws.client, params(auto_minor_version_upgrade=wanted))
        assert result["changed"] is False, (wanted, running)


def test_auto_minor_version_upgrade_refused_on_a_group_running_redis_5(aws):
    aws.describe(group(AutoMinorVersionUpgrade=False))
    aws.cluster(cluster(EngineVersion="5.0.6"))
    with pytest.raises(erg.ParameterError, match="replication group airflow-redis is Redis OSS 5.0.6"):
        erg.ensure_present(FakeModule(), aws.client, params(engine_version="5.0", auto_minor_version_upgrade=True))


def test_auto_minor_version_upgrade_with_the_upgrade_that_allows_it(aws):
    aws.describe(group(AutoMinorVersionUpgrade=False))
    aws.cluster(cluster(EngineVersion="5.0.6"))
    aws.tags(TAGS)
    aws.modify({"ReplicationGroupId": GROUP_ID, "ApplyImmediately": True, "EngineVersion": "7.1",
                "AutoMinorVersionUpgrade": True})
    result = erg.ensure_present(FakeModule(check_mode=False), aws.client,
                                params(auto_minor_version_upgrade=True, wait=False))
    assert settings(result["changes"]) == ["EngineVersion", "AutoMinorVersionUpgrade"]


# --- in-transit encryption on an existing group: preferred, then required ------------------------------------------

PLAIN = dict(TransitEncryptionEnabled=False, AuthTokenEnabled=False)


def tls_params(**overrides):
    values = dict(auth_token=None, transit_encryption=True)
    values.update(overrides)
    return params(**values)


def test_create_with_tls_preferred_sends_the_mode(aws):
    aws.describe(None)
    aws.stubber.add_response("create_replication_group", {"ReplicationGroup": group(Status="creating")},
                             create_request(TransitEncryptionMode="preferred"))
    result = erg.ensure_present(FakeModule(), aws.client, params(transit_encryption_mode="preferred", wait=False))
    assert {"setting": "TransitEncryptionMode", "before": None, "after": "preferred"} in result["changes"]


def test_create_with_tls_required_leaves_the_mode_to_its_default(aws):
    aws.describe(None)
    aws.stubber.add_response("create_replication_group", {"ReplicationGroup": group(Status="creating")},
                             create_request())
    erg.ensure_present(FakeModule(), aws.client, params(wait=False))


def test_create_without_tls_sends_no_mode(aws):
    aws.describe(None)
    request = create_request(TransitEncryptionEnabled=False)
    del request["AuthToken"]
    aws.stubber.add_response("create_replication_group", {"ReplicationGroup": group(Status="creating", **PLAIN)},
                             request)
    erg.ensure_present(FakeModule(), aws.client, params(transit_encryption=False, auth_token=None,
                                                        transit_encryption_mode="preferred", wait=False))


def test_tls_turned_on_as_preferred(aws):
    # Step 1: ModifyReplicationGroup TransitEncryptionEnabled=true with TransitEncryptionMode=preferred, in one call.
    aws.describe(group(**PLAIN))
    aws.cluster(cluster())
    aws.tags(TAGS)
    aws.modify({"ReplicationGroupId": GROUP_ID, "ApplyImmediately": True, "TransitEncryptionEnabled": True,
                "TransitEncryptionMode": "preferred"})
    aws.describe(group(Status="modifying", AuthTokenEnabled=False,
                       PendingModifiedValues={"TransitEncryptionEnabled": True, "TransitEncryptionMode": "preferred"}))
    aws.describe(group(AuthTokenEnabled=False, TransitEncryptionMode="preferred"))
    aws.cluster(cluster())
    result = erg.ensure_present(FakeModule(), aws.client, tls_params(transit_encryption_mode="preferred"))
    assert result["changes"] == [
        {"setting": "TransitEncryptionEnabled", "before": False, "after": True},
        {"setting": "TransitEncryptionMode", "before": None, "after": "preferred"},
    ]
    assert result["replication_group"]["transit_encryption_mode"] == "preferred"


def test_tls_turned_on_in_check_mode_calls_nothing_that_changes(aws):
    aws.describe(group(**PLAIN))
    aws.cluster(cluster())
    aws.tags(TAGS)
    result = erg.ensure_present(FakeModule(check_mode=True), aws.client, tls_params(transit_encryption_mode="preferred"))
    assert result["changed"] is True
    assert settings(result["changes"]) == ["TransitEncryptionEnabled", "TransitEncryptionMode"]


def test_tls_required_straight_away_is_refused_with_the_two_steps(aws):
    # AWS: "Direct transition from transit-encryption-disabled to transit-encryption-enabled is not allowed".
    aws.describe(group(**PLAIN))
    aws.cluster(cluster())
    with pytest.raises(erg.ParameterError) as caught:
        erg.ensure_present(FakeModule(check_mode=True), aws.client, tls_params())
    message = str(caught.value)
    assert "transit_encryption_mode=preferred" in message and "then run with transit_encryption_mode=required" in message


@pytest.mark.parametrize("running", ["6.2.6", "5.0.6"])
def test_tls_refused_before_redis_7(aws, running):
    aws.describe(group(**PLAIN))
    aws.cluster(cluster(EngineVersion=running))
    with pytest.raises(erg.ParameterError) as caught:
        erg.ensure_present(FakeModule(), aws.client, tls_params(transit_encryption_mode="preferred",
                                                                engine_version=running[:3]))
    message = str(caught.value)
    assert "runs Redis OSS %s" % running in message and "only from Redis OSS 7.0" in message
    assert "Upgrade the engine first" in message


def test_tls_waits_for_the_upgrade_that_allows_it(aws):
    aws.describe(group(**PLAIN))
    aws.cluster(cluster(EngineVersion="6.2.6"))
    aws.tags(TAGS)
    aws.modify({"ReplicationGroupId": GROUP_ID, "ApplyImmediately": True, "EngineVersion": "7.1"})
    module = FakeModule()
    result = erg.ensure_present(module, aws.client, tls_params(transit_encryption_mode="preferred", wait=False))
    assert settings(result["changes"]) == ["EngineVersion"]
    assert any("next run" in w for w in module.warnings)


def test_valkey_turns_tls_on(aws):
    aws.describe(group(Engine="valkey", **PLAIN))
    aws.cluster(cluster(Engine="valkey", EngineVersion="7.2.6"))
    aws.tags(TAGS)
    result = erg.ensure_present(FakeModule(check_mode=True), aws.client,
                                tls_params(engine="valkey", engine_version="7.2", transit_encryption_mode="preferred"))
    assert settings(result["changes"]) == ["TransitEncryptionEnabled", "TransitEncryptionMode"]


def test_tls_with_an_unreadable_member_cluster_trusts_engine_version(aws):
    aws.describe(group(**PLAIN))
    aws.cluster(None)
    aws.tags(TAGS)
    module = FakeModule(check_mode=True)
    result = erg.ensure_present(module, aws.client, tls_params(transit_encryption_mode="preferred"))
    assert settings(result["changes"]) == ["TransitEncryptionEnabled", "TransitEncryptionMode"]
    aws.describe(group(**PLAIN))
    aws.cluster(None)
    with pytest.raises(erg.ParameterError, match="only from Redis OSS 7.0"):
        erg.ensure_present(module, aws.client, tls_params(transit_encryption_mode="preferred", engine_version="6.2"))


def test_tls_preferred_then_required(aws):
    # Step 3, once every client uses TLS: TransitEncryptionMode=required alone.
    aws.describe(group(AuthTokenEnabled=False, TransitEncryptionMode="preferred"))
    aws.cluster(cluster())
    aws.tags(TAGS)
    aws.modify({"ReplicationGroupId": GROUP_ID, "ApplyImmediately": True, "TransitEncryptionMode": "required"})
    result = erg.ensure_present(FakeModule(), aws.client, tls_params(wait=False))
    assert result["changes"] == [{"setting": "TransitEncryptionMode", "before": "preferred", "after": "required"}]


@pytest.mark.parametrize("described, wanted", [
    (dict(TransitEncryptionMode="preferred"), "preferred"),
    (dict(TransitEncryptionMode="required"), "required"),
    ({}, "required"),  # TLS from creation on an engine that reports no mode: required
    (dict(TransitEncryptionEnabled=False, PendingModifiedValues={"TransitEncryptionEnabled": True,
                                                                 "TransitEncryptionMode": "preferred"}), "preferred"),
    (dict(TransitEncryptionMode="preferred", PendingModifiedValues={"TransitEncryptionMode": "required"}), "required"),
])
def test_tls_already_there_or_pending_is_no_change(aws, described, wanted):
    aws.describe(group(**described))
    aws.cluster(cluster())
    aws.tags(TAGS)
    result = erg.ensure_present(FakeModule(), aws.client, tls_params(transit_encryption_mode=wanted))
    assert result["changed"] is False and result["changes"] == []


def test_tls_is_never_loosened_or_turned_off(aws):
    for overrides in (dict(transit_encryption_mode="preferred"), dict(transit_encryption=False)):
        aws.describe(group(TransitEncryptionMode="required"))
        aws.cluster(cluster())
        aws.tags(TAGS)
        module = FakeModule()
        result = erg.ensure_present(module, aws.client, tls_params(**overrides))
        assert result["changed"] is False
        assert any("never" in w for w in module.warnings), module.warnings


def test_auth_token_waits_until_the_group_requires_tls(aws):
    # ElastiCache refuses a token in preferred mode and in the call that moves the group to required.
    aws.describe(group(AuthTokenEnabled=False, TransitEncryptionMode="preferred"))
    aws.cluster(cluster())
    aws.tags(TAGS)
    aws.modify({"ReplicationGroupId": GROUP_ID, "ApplyImmediately": True, "TransitEncryptionMode": "required"})
    module = FakeModule()
    result = erg.ensure_present(module, aws.client, tls_params(auth_token=NEW_TOKEN, update_auth_token="always",
                                                               wait=False))
    assert settings(result["changes"]) == ["TransitEncryptionMode"]
    assert any("Run again" in w for w in module.warnings)
    assert NEW_TOKEN not in json.dumps(result)


def test_auth_token_update_with_tls_preferred_is_refused():
    with pytest.raises(erg.ParameterError, match="requires TLS"):
        erg.validate_params(tls_params(auth_token=NEW_TOKEN, update_auth_token="always",
                                       transit_encryption_mode="preferred"))


def test_tls_refusal_fails_the_module_after_read_only_calls(monkeypatch, aws, capsys):
    monkeypatch.setattr(AnsibleAWSModule, "client", lambda self, *a, **k: aws.client)
    aws.describe(group(**PLAIN))
    aws.cluster(cluster())
    args = dict(replication_group_id=GROUP_ID, transit_encryption=True, region="cn-north-1")
    with patch_module_args(args), pytest.raises(SystemExit):
        erg.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True and "transit_encryption_mode=preferred" in result["msg"]
