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
