#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2024, ha_airflow maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: elasticache_replication_group
version_added: 0.1.0
short_description: Manage an ElastiCache Redis (cluster mode disabled) replication group
description:
  - Create, update or delete an Amazon ElastiCache replication group with cluster mode disabled, one primary
    and one or more replicas, optionally spread over Availability Zones with Multi-AZ and automatic failover.
  - This is the shape Celery needs for its broker. Neither C(amazon.aws) nor C(community.aws) manages
    replication groups; M(community.aws.elasticache) manages single cache clusters only.
  - Idempotent. In check mode the module only describes the group and reports what it would change.
  - Settings that ElastiCache fixes at creation (subnet group, port, encryption at rest, KMS key, transit
    encryption and AUTH token) are used when the group is created; when an existing group differs the module
    warns instead of replacing the group.
  - The AUTH token is write-only in the ElastiCache API, so the module never compares or rotates it.
author:
  - ha_airflow maintainers (@ha-airflow)
options:
  replication_group_id:
    description:
      - The replication group identifier, 1 to 40 lower-case letters, digits or hyphens, starting with a letter.
    type: str
    required: true
    aliases: ['name']
  state:
    description:
      - Whether the replication group should exist.
    type: str
    choices: ['present', 'absent']
    default: present
  description:
    description:
      - The replication group description.
    type: str
    default: Managed by Ansible
  engine:
    description:
      - The cache engine.
    type: str
    choices: ['redis', 'valkey']
    default: redis
  engine_version:
    description:
      - The engine version, for example C(7.1). Used at creation; ElastiCache picks its default when omitted.
    type: str
  cache_node_type:
    description:
      - The node type, for example C(cache.t3.medium). Changing it scales the group.
    type: str
  num_cache_clusters:
    description:
      - The number of nodes, the primary included. At least C(2) for automatic failover and Multi-AZ.
      - Used at creation. A different count on an existing group is reported as a warning.
    type: int
    default: 2
  preferred_cache_cluster_azs:
    description:
      - Availability Zones for the nodes, the primary first. Used at creation.
    type: list
    elements: str
  automatic_failover:
    description:
      - Whether a replica is promoted automatically when the primary fails.
    type: bool
    default: true
  multi_az:
    description:
      - Whether Multi-AZ is enabled. Requires I(automatic_failover=true) and I(num_cache_clusters>=2).
    type: bool
    default: true
  cache_subnet_group:
    description:
      - The cache subnet group that places the nodes in a VPC. Used at creation.
    type: str
  security_group_ids:
    description:
      - VPC security group ids for the nodes. Used at creation.
    type: list
    elements: str
  cache_parameter_group:
    description:
      - The cache parameter group. Used at creation; the engine default when omitted.
    type: str
  port:
    description:
      - The port the nodes accept connections on. Used at creation.
    type: int
    default: 6379
  at_rest_encryption:
    description:
      - Encrypt data at rest. Used at creation.
    type: bool
    default: true
  kms_key_id:
    description:
      - The KMS key for encryption at rest; the AWS-managed key when omitted. Used at creation.
    type: str
  transit_encryption:
    description:
      - Encrypt traffic with TLS (clients then use C(rediss://)). Used at creation.
    type: bool
    default: false
  auth_token:
    description:
      - The Redis AUTH token, 16 to 128 printable characters. Requires I(transit_encryption=true).
      - Used at creation and never returned or logged.
    type: str
  snapshot_retention_limit:
    description:
      - Days automatic snapshots are kept; C(0) turns them off.
    type: int
  apply_immediately:
    description:
      - Apply modifications now instead of in the next maintenance window.
    type: bool
    default: true
  wait:
    description:
      - Wait until the group is C(available) after creating or modifying it, or gone after deleting it.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait.
    type: int
    default: 1800
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Redis broker for Celery, two nodes in two AZs with automatic failover
  ha_airflow.aws.elasticache_replication_group:
    replication_group_id: airflow-redis
    description: Airflow Celery broker
    engine_version: "7.1"
    cache_node_type: cache.t3.medium
    num_cache_clusters: 2
    preferred_cache_cluster_azs: [cn-north-1a, cn-north-1b]
    cache_subnet_group: airflow-redis
    security_group_ids: [sg-0123456789abcdef0]
    transit_encryption: true
    auth_token: "{{ vault_redis_auth_token }}"
    tags:
      ha_airflow_cluster: airflow
  register: redis

- name: Start creating without waiting (wait later with ha_airflow.aws.elasticache_replication_group and wait=true)
  ha_airflow.aws.elasticache_replication_group:
    replication_group_id: airflow-redis
    cache_subnet_group: airflow-redis
    wait: false

- name: Delete the replication group
  ha_airflow.aws.elasticache_replication_group:
    replication_group_id: airflow-redis
    state: absent
"""

RETURN = r"""
replication_group:
  description: The replication group as ElastiCache describes it, keys in snake_case; empty when absent.
  returned: always
  type: dict
  contains:
    replication_group_id:
      description: The identifier.
      type: str
      sample: airflow-redis
    status:
      description: The status, for example C(available).
      type: str
      sample: available
    arn:
      description: The ARN, in the region's partition.
      type: str
      sample: arn:aws-cn:elasticache:cn-north-1:123456789012:replicationgroup:airflow-redis
    member_clusters:
      description: The cache cluster ids of the nodes.
      type: list
      elements: str
    automatic_failover:
      description: C(enabled) or C(disabled).
      type: str
    multi_az:
      description: C(enabled) or C(disabled).
      type: str
    at_rest_encryption_enabled:
      description: Whether data is encrypted at rest.
      type: bool
    transit_encryption_enabled:
      description: Whether traffic is encrypted in transit.
      type: bool
    auth_token_enabled:
      description: Whether an AUTH token is set.
      type: bool
    tags:
      description: The group's tags.
      type: dict
primary_endpoint:
  description: Address and port of the primary endpoint (what clients write to).
  returned: when I(state=present) and the endpoint is known
  type: dict
  sample: {"address": "master.airflow-redis.abc123.cnn1.cache.amazonaws.com.cn", "port": 6379}
reader_endpoint:
  description: Address and port of the reader endpoint.
  returned: when I(state=present) and the endpoint is known
  type: dict
  sample: {"address": "replica.airflow-redis.abc123.cnn1.cache.amazonaws.com.cn", "port": 6379}
changes:
  description: The ElastiCache parameters the module changed or, in check mode, would change.
  returned: always
  type: dict
  sample: {"CacheNodeType": "cache.t3.medium"}
"""

import re

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import BUSY_STATES
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import AnsibleElastiCacheError
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import add_tags
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import create_replication_group
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import delete_replication_group
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import describe_replication_group
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import list_tags
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import member_count
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import modify_replication_group
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import primary_endpoint
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import reader_endpoint
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import remove_tags
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import wait_for_replication_group

ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class ParameterError(Exception):
    pass


def validate_params(params):
    """Reject what ElastiCache would reject, before any API call."""
    group_id = params["replication_group_id"]
    if len(group_id) > 40 or not ID_PATTERN.match(group_id):
        raise ParameterError(
            "replication_group_id %r is invalid: use 1 to 40 lower-case letters, digits or single hyphens, "
            "starting with a letter and not ending with a hyphen" % group_id
        )
    if params["state"] == "absent":
        return
    if params["num_cache_clusters"] < 1 or params["num_cache_clusters"] > 6:
        raise ParameterError("num_cache_clusters must be between 1 and 6 (one primary and up to five replicas)")
    if params["multi_az"] and not params["automatic_failover"]:
        raise ParameterError("multi_az=true requires automatic_failover=true")
    if params["automatic_failover"] and params["num_cache_clusters"] < 2:
        raise ParameterError("automatic_failover=true needs num_cache_clusters of 2 or more (a replica to promote)")
    if params["auth_token"] is not None:
        if not params["transit_encryption"]:
            raise ParameterError("auth_token requires transit_encryption=true")
        if not 16 <= len(params["auth_token"]) <= 128:
            raise ParameterError("auth_token must be 16 to 128 characters long")
        if re.search(r"[\s\"'/@]", params["auth_token"]):
            raise ParameterError("auth_token may not contain spaces, quotes, '/' or '@'")
    azs = params["preferred_cache_cluster_azs"]
    if azs and len(azs) != params["num_cache_clusters"]:
        raise ParameterError("preferred_cache_cluster_azs must name one AZ per node (num_cache_clusters)")


def build_create_params(params):
    request = {
        "ReplicationGroupId": params["replication_group_id"],
        "ReplicationGroupDescription": params["description"],
        "Engine": params["engine"],
        "NumCacheClusters": params["num_cache_clusters"],
        "AutomaticFailoverEnabled": params["automatic_failover"],
        "MultiAZEnabled": params["multi_az"],
        "Port": params["port"],
        "AtRestEncryptionEnabled": params["at_rest_encryption"],
        "TransitEncryptionEnabled": params["transit_encryption"],
    }
    optional = {
        "EngineVersion": params["engine_version"],
        "CacheNodeType": params["cache_node_type"],
        "PreferredCacheClusterAZs": params["preferred_cache_cluster_azs"],
        "CacheSubnetGroupName": params["cache_subnet_group"],
        "SecurityGroupIds": params["security_group_ids"],
        "CacheParameterGroupName": params["cache_parameter_group"],
        "KmsKeyId": params["kms_key_id"],
        "AuthToken": params["auth_token"],
        "SnapshotRetentionLimit": params["snapshot_retention_limit"],
    }
    request.update({key: value for key, value in optional.items() if value is not None})
    if params["tags"]:
        request["Tags"] = [{"Key": k, "Value": str(v)} for k, v in params["tags"].items()]
    return request


def _enabled(value):
    return str(value).lower() in ("enabled", "enabling")


def compute_modifications(group, params):
    """The ModifyReplicationGroup arguments that bring ``group`` to ``params``; empty when it already matches."""
    changes = {}
    if params["description"] != group.get("Description"):
        changes["ReplicationGroupDescription"] = params["description"]
    if params["cache_node_type"] and params["cache_node_type"] != group.get("CacheNodeType"):
        changes["CacheNodeType"] = params["cache_node_type"]
    if params["automatic_failover"] != _enabled(group.get("AutomaticFailover")):
        changes["AutomaticFailoverEnabled"] = params["automatic_failover"]
    if params["multi_az"] != _enabled(group.get("MultiAZ")):
        changes["MultiAZEnabled"] = params["multi_az"]
    if params["snapshot_retention_limit"] is not None and params["snapshot_retention_limit"] != group.get("SnapshotRetentionLimit"):
        changes["SnapshotRetentionLimit"] = params["snapshot_retention_limit"]
    return changes


def creation_drift(group, params):
    """Warnings for settings fixed at creation that differ from the request (never changed by this module)."""
    warnings = []
    if member_count(group) and member_count(group) != params["num_cache_clusters"]:
        warnings.append(
            "replication group %s has %d nodes, num_cache_clusters asks for %d: change the replica count "
            "with IncreaseReplicaCount/DecreaseReplicaCount" % (params["replication_group_id"], member_count(group), params["num_cache_clusters"])
        )
    if bool(group.get("AtRestEncryptionEnabled")) != params["at_rest_encryption"]:
        warnings.append("at_rest_encryption differs from the existing group and can only be set at creation")
    if bool(group.get("TransitEncryptionEnabled")) != params["transit_encryption"]:
        warnings.append("transit_encryption differs from the existing group; it is not changed by this module")
    return warnings


def format_group(group, tags):
    if not group:
        return {}
    result = camel_dict_to_snake_dict(group)
    result["arn"] = group.get("ARN")
    result["tags"] = tags
    return result


def endpoint_dict(address_port):
    address, port = address_port
    return {"address": address, "port": port} if address else None


def wait_if(module, client, waiter_name, params):
    if params["wait"] and not module.check_mode:
        wait_for_replication_group(client, waiter_name, params["replication_group_id"], params["wait_timeout"])


def ensure_absent(module, client, params):
    group = describe_replication_group(client, params["replication_group_id"])
    if group is None:
        return dict(changed=False, replication_group={}, changes={})
    changed = False
    if group.get("Status") != "deleting":
        changed = True
        if not module.check_mode:
            if group.get("Status") in BUSY_STATES and params["wait"]:
                wait_for_replication_group(client, "replication_group_available", params["replication_group_id"], params["wait_timeout"])
            delete_replication_group(client, params["replication_group_id"])
    wait_if(module, client, "replication_group_deleted", params)
    return dict(changed=changed, replication_group={}, changes={"Delete": True} if changed else {})


def ensure_tags(module, client, arn, params):
    if params["tags"] is None:
        return False, list_tags(client, arn)
    current = list_tags(client, arn)
    to_add, to_remove = compare_aws_tags(current, params["tags"], purge_tags=params["purge_tags"])
    if not to_add and not to_remove:
        return False, current
    if not module.check_mode:
        if to_remove:
            remove_tags(client, arn, to_remove)
        if to_add:
            add_tags(client, arn, to_add)
    desired = dict((k, v) for k, v in current.items() if k not in to_remove)
    desired.update(to_add)
    return True, desired


def ensure_present(module, client, params):
    group = describe_replication_group(client, params["replication_group_id"])
    changes = {}
    changed = False
    if group is None:
        request = build_create_params(params)
        changes = dict((k, v) for k, v in request.items() if k != "AuthToken")
        changed = True
        if module.check_mode:
            return dict(changed=True, replication_group={}, changes=changes)
        group = create_replication_group(client, **request)
        wait_if(module, client, "replication_group_available", params)
        tags = dict(params["tags"] or {})
    else:
        for warning in creation_drift(group, params):
            module.warn(warning)
        changes = compute_modifications(group, params)
        if changes:
            changed = True
            if not module.check_mode:
                if group.get("Status") in BUSY_STATES and params["wait"]:
                    wait_for_replication_group(client, "replication_group_available", params["replication_group_id"], params["wait_timeout"])
                group = modify_replication_group(
                    client, ReplicationGroupId=params["replication_group_id"], ApplyImmediately=params["apply_immediately"], **changes
                )
                wait_if(module, client, "replication_group_available", params)
        tags_changed, tags = ensure_tags(module, client, group.get("ARN"), params)
        if tags_changed:
            changed = True
            changes["Tags"] = tags
    if params["wait"] and not module.check_mode:
        group = describe_replication_group(client, params["replication_group_id"]) or group
    result = dict(changed=changed, replication_group=format_group(group, tags), changes=changes)
    for key, getter in (("primary_endpoint", primary_endpoint), ("reader_endpoint", reader_endpoint)):
        endpoint = endpoint_dict(getter(group))
        if endpoint:
            result[key] = endpoint
    return result


def main():
    argument_spec = dict(
        replication_group_id=dict(type="str", required=True, aliases=["name"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        description=dict(type="str", default="Managed by Ansible"),
        engine=dict(type="str", default="redis", choices=["redis", "valkey"]),
        engine_version=dict(type="str"),
        cache_node_type=dict(type="str"),
        num_cache_clusters=dict(type="int", default=2),
        preferred_cache_cluster_azs=dict(type="list", elements="str"),
        automatic_failover=dict(type="bool", default=True),
        multi_az=dict(type="bool", default=True),
        cache_subnet_group=dict(type="str"),
        security_group_ids=dict(type="list", elements="str"),
        cache_parameter_group=dict(type="str"),
        port=dict(type="int", default=6379),
        at_rest_encryption=dict(type="bool", default=True),
        kms_key_id=dict(type="str"),
        transit_encryption=dict(type="bool", default=False),
        auth_token=dict(type="str", no_log=True),
        snapshot_retention_limit=dict(type="int"),
        apply_immediately=dict(type="bool", default=True),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        validate_params(params)
    except ParameterError as e:
        module.fail_json(msg=str(e))

    client = module.client("elasticache")
    try:
        if params["state"] == "absent":
            result = ensure_absent(module, client, params)
        else:
            result = ensure_present(module, client, params)
    except AnsibleElastiCacheError as e:
        module.fail_json_aws_error(e)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
