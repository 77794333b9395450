# -*- coding: utf-8 -*-

# Copyright: (c) 2024, ha_airflow maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""ElastiCache helpers for ha_airflow.aws: one small function per API call, errors raised as
AnsibleElastiCacheError so that only a module's main() turns them into fail_json."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

# States during which ElastiCache refuses a modify or delete call; callers wait them out first.
BUSY_STATES = ("creating", "modifying", "snapshotting")
# States a replication group never leaves by itself: waiting for "available" stops at once.
FAILED_STATES = ("create-failed",)

# Indirections the unit tests replace (no real sleeping, a fake clock).
_sleep = time.sleep
_now = time.time


class AnsibleElastiCacheError(AnsibleAWSError):
    pass


class ReplicationGroupFailed(Exception):
    """The group is in a state it will not leave (create-failed), or a wait ran out of time."""


class ElastiCacheErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = AnsibleElastiCacheError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code(["ReplicationGroupNotFoundFault", "CacheSubnetGroupNotFoundFault",
                                    "CacheClusterNotFound"])


@ElastiCacheErrorHandler.list_error_handler("describe replication group")
@AWSRetry.jittered_backoff()
def describe_replication_group(client, replication_group_id):
    """The replication group as boto3 returns it, or None when it does not exist."""
    groups = client.describe_replication_groups(ReplicationGroupId=replication_group_id)["ReplicationGroups"]
    return groups[0] if groups else None


@ElastiCacheErrorHandler.list_error_handler("describe cache cluster")
@AWSRetry.jittered_backoff()
def describe_cache_cluster(client, cache_cluster_id):
    """A member cluster of a replication group (security groups, parameter group, engine version), or None."""
    clusters = client.describe_cache_clusters(CacheClusterId=cache_cluster_id)["CacheClusters"]
    return clusters[0] if clusters else None


@ElastiCacheErrorHandler.list_error_handler("describe events of replication group", default_value=[])
@AWSRetry.jittered_backoff()
def recent_events(client, replication_group_id, minutes=1440):
    """The group's event messages of the last ``minutes``, newest first."""
    events = client.describe_events(SourceIdentifier=replication_group_id, SourceType="replication-group",
                                    Duration=minutes)["Events"]
    return [event.get("Message", "") for event in events]


@ElastiCacheErrorHandler.common_error_handler("create replication group")
@AWSRetry.jittered_backoff()
def create_replication_group(client, **params):
    return client.create_replication_group(**params)["ReplicationGroup"]


@ElastiCacheErrorHandler.common_error_handler("modify replication group")
@AWSRetry.jittered_backoff(catch_extra_error_codes=["InvalidReplicationGroupState"])
def modify_replication_group(client, **params):
    return client.modify_replication_group(**params)["ReplicationGroup"]


@ElastiCacheErrorHandler.deletion_error_handler("delete replication group")
@AWSRetry.jittered_backoff(catch_extra_error_codes=["InvalidReplicationGroupState"])
def delete_replication_group(client, replication_group_id, final_snapshot_identifier=None):
    params = dict(ReplicationGroupId=replication_group_id)
    if final_snapshot_identifier:
        params["FinalSnapshotIdentifier"] = final_snapshot_identifier
    client.delete_replication_group(**params)
    return True


@ElastiCacheErrorHandler.list_error_handler("list tags of replication group", default_value={})
@AWSRetry.jittered_backoff()
def list_tags(client, arn):
    return boto3_tag_list_to_ansible_dict(client.list_tags_for_resource(ResourceName=arn).get("TagList", []))


@ElastiCacheErrorHandler.common_error_handler("tag replication group")
@AWSRetry.jittered_backoff()
def add_tags(client, arn, tags):
    client.add_tags_to_resource(ResourceName=arn, Tags=ansible_dict_to_boto3_tag_list(tags))
    return True


@ElastiCacheErrorHandler.common_error_handler("untag replication group")
@AWSRetry.jittered_backoff()
def remove_tags(client, arn, keys):
    client.remove_tags_from_resource(ResourceName=arn, TagKeys=list(keys))
    return True


def pending_changes(group):
    """The group-level modifications ElastiCache still has to apply (empty values left out)."""
    return dict((key, value) for key, value in (group.get("PendingModifiedValues") or {}).items() if value)


def failure_message(client, group):
    """Why a group is create-failed, from its events, and what to do."""
    group_id = group.get("ReplicationGroupId")
    events = [message for message in recent_events(client, group_id) if message][:3]
    return (
        "replication group %s is %s: ElastiCache could not create it%s. It will not recover by itself: delete it "
        "(state=absent), fix the cause, then create it again. Its events: aws elasticache describe-events "
        "--source-type replication-group --source-identifier %s"
        % (group_id, group.get("Status"), " (%s)" % "; ".join(events) if events else "", group_id))


def wait_for_replication_group(client, replication_group_id, wanted, timeout, delay=15, settled=False):
    """Describe the group until it is ``available`` (with ``settled``, also without pending group modifications), or
    gone for ``wanted="deleted"``; the group as last described (None once deleted).

    Fails at once on create-failed, with AWS's reason, instead of waiting out the timeout as botocore's waiter would.
    """
    deadline = _now() + timeout
    while True:
        group = describe_replication_group(client, replication_group_id)
        status = group.get("Status") if group else None
        if wanted == "deleted":
            if group is None:
                return None
        elif group is None:
            raise ReplicationGroupFailed("replication group %s disappeared while waiting for it to become available"
                                         % replication_group_id)
        elif status in FAILED_STATES:
            raise ReplicationGroupFailed(failure_message(client, group))
        elif status == "available" and not (settled and pending_changes(group)):
            return group
        if _now() + delay > deadline:
            raise ReplicationGroupFailed(
                "replication group %s is still %s after %d s (wait_timeout): wanted %s. Raise wait_timeout, or "
                "look at the group's events (aws elasticache describe-events --source-type replication-group "
                "--source-identifier %s)" % (replication_group_id, status or "there", timeout,
                                             wanted if not settled else "available with no pending modification",
                                             replication_group_id))
        _sleep(delay)


def member_count(group):
    """How many cache clusters (primary + replicas) the group has."""
    return len(group.get("MemberClusters") or [])


def primary_endpoint(group):
    """(address, port) of the primary endpoint of a cluster-mode-disabled group, or (None, None)."""
    for node_group in group.get("NodeGroups") or []:
        endpoint = node_group.get("PrimaryEndpoint") or {}
        if endpoint.get("Address"):
            return endpoint["Address"], endpoint.get("Port")
    return None, None


def reader_endpoint(group):
    for node_group in group.get("NodeGroups") or []:
        endpoint = node_group.get("ReaderEndpoint") or {}
        if endpoint.get("Address"):
            return endpoint["Address"], endpoint.get("Port")
    return None, None
