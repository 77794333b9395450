# -*- coding: utf-8 -*-

# Copyright: (c) 2024, ha_airflow maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""ElastiCache helpers for ha_airflow.aws: one small function per API call, errors raised as
AnsibleElastiCacheError so that only a module's main() turns them into fail_json."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

# States during which ElastiCache refuses a modify or delete call; callers wait them out first.
BUSY_STATES = ("creating", "modifying", "snapshotting")


class AnsibleElastiCacheError(AnsibleAWSError):
    pass


class ElastiCacheErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = AnsibleElastiCacheError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code(["ReplicationGroupNotFoundFault", "CacheSubnetGroupNotFoundFault"])


@ElastiCacheErrorHandler.list_error_handler("describe replication group")
@AWSRetry.jittered_backoff()
def describe_replication_group(client, replication_group_id):
    """The replication group as boto3 returns it, or None when it does not exist."""
    groups = client.describe_replication_groups(ReplicationGroupId=replication_group_id)["ReplicationGroups"]
    return groups[0] if groups else None


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
def delete_replication_group(client, replication_group_id):
    client.delete_replication_group(ReplicationGroupId=replication_group_id)
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


@ElastiCacheErrorHandler.common_error_handler("wait for replication group")
def wait_for_replication_group(client, waiter_name, replication_group_id, timeout, delay=15):
    """Wait with botocore's own waiters: replication_group_available or replication_group_deleted."""
    delay = max(1, min(delay, timeout))
    client.get_waiter(waiter_name).wait(
        ReplicationGroupId=replication_group_id,
        WaiterConfig={"Delay": delay, "MaxAttempts": max(1, timeout // delay)},
    )
    return True


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
