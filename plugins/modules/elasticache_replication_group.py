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
  - Idempotent. In check mode the module only describes the group and reports what it would change, in the same
    C(changes) list a real run returns.
  - On an existing group it compares, and changes with C(ModifyReplicationGroup), the description, node type,
    automatic failover, Multi-AZ, snapshot retention, automatic minor version upgrades, the security groups, the
    parameter group, the engine version (upgrades only) and in-transit encryption (turned on, never off; see
    O(transit_encryption_mode)). It reads the security groups, parameter group and engine version from the group's
    first member cluster.
  - A modification ElastiCache already has pending (asked for with O(apply_immediately=false) and waiting for the
    maintenance window, or being applied) counts as done and is not requested again.
  - Settings that ElastiCache fixes at creation (subnet group, port, encryption at rest, KMS key) are used when the
    group is created; when an existing group differs the module warns instead of replacing the group.
  - The AUTH token is write-only in the ElastiCache API, so it cannot be compared. It is used at creation, and sent
    to an existing group only when O(update_auth_token=always), with O(auth_token_update_strategy).
  - A group in C(create-failed) fails the task at once, with the reason from the group's events, instead of
    waiting until O(wait_timeout).
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
      - The engine version, for example C(7.1). ElastiCache picks its default at creation when omitted.
      - On an existing group the engine is upgraded when it runs an older version than this one. A version given
        with fewer parts matches every version that starts with it (C(7.1) matches C(7.1.0)), and a running version
        newer than this one is left alone, since ElastiCache cannot downgrade.
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
      - VPC security group ids for the nodes.
      - An existing group whose nodes have other security groups gets exactly these.
    type: list
    elements: str
  cache_parameter_group:
    description:
      - The cache parameter group; the engine default at creation when omitted.
      - An existing group with another parameter group gets this one. Omitted, the group's is left alone.
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
      - Encrypt traffic with TLS (clients then use C(rediss://)).
      - At creation the group gets it at once. An existing group without it gets it the way ElastiCache allows, in two
        steps (see O(transit_encryption_mode) and the notes), and only from Redis OSS 7.0 (every Valkey version);
        an older engine is refused with what to do. It is never turned off; V(false) on a group that has it is a
        warning.
    type: bool
    default: false
  transit_encryption_mode:
    description:
      - With O(transit_encryption=true), whether clients may still connect without TLS (V(preferred)) or must use it
        (V(required)).
      - V(preferred) turns TLS on for an existing group without it, while its clients keep working; once every client
        uses TLS, a run with V(required) closes unencrypted connections. ElastiCache refuses to go straight to
        V(required), so does this module, with that advice.
      - A group that already requires TLS is never loosened to V(preferred) (a warning says so).
      - At creation V(required) is ElastiCache's default and is not sent; V(preferred) is sent.
      - While the group is V(preferred), or in the same run that makes it V(required), ElastiCache does not accept an
        AUTH token change (O(update_auth_token=always)), so it is refused, or left for the next run with a warning.
    type: str
    choices: [preferred, required]
    default: required
    version_added: 0.2.0
  auto_minor_version_upgrade:
    description:
      - Whether ElastiCache applies new minor engine versions by itself (the auto minor version upgrade campaigns;
        FSBP ElastiCache.2). The module never downgrades an engine ElastiCache upgraded (see O(engine_version)).
      - ElastiCache offers it from Redis OSS 6.0 and for every Valkey version; with an older engine V(true) is refused
        and V(false) is not sent (it is all such an engine has). Omitted, ElastiCache's default applies at creation
        (on from Redis OSS 6.0) and an existing group is left as it is.
    type: bool
    version_added: 0.2.0
  auth_token:
    description:
      - The Redis AUTH token. Requires I(transit_encryption=true) (ElastiCache accepts a token only with TLS).
      - ElastiCache accepts 16 to 128 characters, and of the non-alphanumeric characters only C(!), C(&), C(#),
        C($), C(^), C(<), C(>) and C(-) (so no C(@), C("), C(/), C(%) or spaces). Any other token is rejected
        before a call is made.
      - Used at creation, and on an existing group only with O(update_auth_token=always). Never returned or logged.
      - Clients put it in the broker URL URL-encoded (C(&), C(#), C($), C(^), C(<), C(>) need it).
    type: str
  update_auth_token:
    description:
      - V(on_create) uses O(auth_token) only when creating the group.
      - V(always) sends O(auth_token) to an existing group with O(auth_token_update_strategy) on every run (the token
        is write-only, so it cannot be compared, and the task reports a change each time). Use it for the runs of a
        rotation only (see the notes), then set it back. An update already pending is not requested again.
    type: str
    choices: [on_create, always]
    default: on_create
    version_added: 0.2.0
  auth_token_update_strategy:
    description:
      - How an O(update_auth_token=always) run changes the token.
      - V(rotate) adds O(auth_token) and keeps the current token valid too, so clients using either connect.
      - V(set) makes O(auth_token) the only valid token. ElastiCache allows it only after a V(rotate).
    type: str
    choices: [rotate, set]
    default: rotate
    version_added: 0.2.0
  snapshot_retention_limit:
    description:
      - Days automatic snapshots are kept; C(0) turns them off.
    type: int
  final_snapshot_identifier:
    description:
      - With I(state=absent), the name of a snapshot ElastiCache takes of the group before deleting it.
      - Omitted, the group is deleted without a final snapshot.
    type: str
    version_added: 0.2.0
  apply_immediately:
    description:
      - Apply modifications now instead of in the next maintenance window.
    type: bool
    default: true
  wait:
    description:
      - Wait until the group is C(available) after creating or modifying it, or gone after deleting it.
      - After a modification with O(apply_immediately=true) the wait also lasts until ElastiCache has no
        modification pending, then the group is described again, so the returned state is the final one.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait.
    type: int
    default: 1800
notes:
  - "Rotating the AUTH token without downtime takes three runs, because the broker URL on the Airflow hosts and
    the token on the server must change together: (1) run with the new O(auth_token), O(update_auth_token=always)
    and O(auth_token_update_strategy=rotate): both tokens are now valid; (2) roll the new token out to every client
    (for this collection, run the airflow role with the new C(airflow_redis_password), which rewrites the broker
    URL and restarts the services; hosts still on the old token keep working meanwhile); (3) run again with
    O(auth_token_update_strategy=set): only the new token is valid. Then go back to O(update_auth_token=on_create)."
  - "Turning TLS on for an existing group without it (Redis OSS 7.0 or later, or Valkey) takes these runs, each
    without downtime: (1) O(transit_encryption=true) with O(transit_encryption_mode=preferred): the group accepts TLS
    and plain connections; (2) move every client to TLS (C(rediss://)), still without a token; (3)
    O(transit_encryption_mode=required): plain connections are closed. To add an AUTH token then, (4) run with
    O(auth_token), O(update_auth_token=always) and O(auth_token_update_strategy=rotate) (connections without a token
    still work), give the token to every client, and (5) run with O(auth_token_update_strategy=set): the token is
    required. Below Redis OSS 7.0, upgrade the engine first (O(engine_version)) or create a new group."
  - Each entry of C(changes) names an ElastiCache API parameter; the token itself never appears in it.
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

- name: Rotate the AUTH token, step 1 of 3 - the new token is valid beside the old one
  ha_airflow.aws.elasticache_replication_group:
    replication_group_id: airflow-redis
    transit_encryption: true
    auth_token: "{{ vault_redis_auth_token_new }}"
    update_auth_token: always
    auth_token_update_strategy: rotate

# Step 2 of 3: give every client the new token (the airflow role with airflow_redis_password set to it).

- name: Rotate the AUTH token, step 3 of 3 - only the new token is valid
  ha_airflow.aws.elasticache_replication_group:
    replication_group_id: airflow-redis
    transit_encryption: true
    auth_token: "{{ vault_redis_auth_token_new }}"
    update_auth_token: always
    auth_token_update_strategy: set

- name: Turn TLS on for an existing group, step 1 - TLS and plain connections both accepted (Redis OSS 7.0 or later)
  ha_airflow.aws.elasticache_replication_group:
    replication_group_id: airflow-redis
    transit_encryption: true
    transit_encryption_mode: preferred

# Step 2: move every client to rediss://.

- name: Turn TLS on for an existing group, step 3 - TLS only
  ha_airflow.aws.elasticache_replication_group:
    replication_group_id: airflow-redis
    transit_encryption: true
    transit_encryption_mode: required

- name: Delete the replication group, with a final snapshot
  ha_airflow.aws.elasticache_replication_group:
    replication_group_id: airflow-redis
    state: absent
    final_snapshot_identifier: airflow-redis-final
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
    transit_encryption_mode:
      description: C(preferred) (TLS and plain connections) or C(required) (TLS only), when ElastiCache reports it.
      type: str
      version_added: 0.2.0
    auto_minor_version_upgrade:
      description: Whether ElastiCache applies new minor engine versions by itself.
      type: bool
      version_added: 0.2.0
    pending_modified_values:
      description: Modifications ElastiCache has not applied yet (for example C(auth_token_status)).
      type: dict
    engine_version:
      description: The engine version of the group's nodes (read from its first member cluster).
      type: str
      sample: 7.1.0
      version_added: 0.2.0
    cache_parameter_group:
      description: The parameter group of the group's nodes.
      type: str
      sample: default.redis7
      version_added: 0.2.0
    security_group_ids:
      description: The VPC security groups of the group's nodes, sorted.
      type: list
      elements: str
      version_added: 0.2.0
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
  description:
    - What the module changed or, in check mode, would change; empty when nothing differs. The same shape in every
      case (create, modify, tags, AUTH token, delete, check mode).
    - Each entry names the ElastiCache API parameter (C(setting)) with its value before and after. On create,
      C(before) is null. C(Tags) has the tags as a dict. C(AuthToken) never shows the token, and comes with an
      C(AuthTokenUpdateStrategy) entry (C(ROTATE) or C(SET)). A delete is C(ReplicationGroup) from its status to
      C(deleted), plus C(FinalSnapshotIdentifier) when a final snapshot is taken.
    - Changed from a dict in 0.2.0.
  returned: always
  type: list
  elements: dict
  contains:
    setting:
      description: The ElastiCache API parameter.
      type: str
      sample: SecurityGroupIds
    before:
      description: The value before (null when creating); the value a pending modification will set, if any.
      type: raw
      sample: [sg-0aaa]
    after:
      description: The value after.
      type: raw
      sample: [sg-0bbb]
  sample: [{"setting": "EngineVersion", "before": "7.0.7", "after": "7.1"},
           {"setting": "AutoMinorVersionUpgrade", "before": false, "after": true},
           {"setting": "Tags", "before": {}, "after": {"ha_airflow_cluster": "airflow"}}]
"""

import re

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.ha_airflow.aws.plugins.module_utils._elasticache_rules import AUTH_TOKEN_RULE
from ansible_collections.ha_airflow.aws.plugins.module_utils._elasticache_rules import AUTO_MINOR_VERSION_UPGRADE_SINCE
from ansible_collections.ha_airflow.aws.plugins.module_utils._elasticache_rules import TRANSIT_ENCRYPTION_ON_EXISTING_SINCE
from ansible_collections.ha_airflow.aws.plugins.module_utils._elasticache_rules import auth_token_valid
from ansible_collections.ha_airflow.aws.plugins.module_utils._elasticache_rules import since
from ansible_collections.ha_airflow.aws.plugins.module_utils._elasticache_rules import version_at_least
from ansible_collections.ha_airflow.aws.plugins.module_utils._elasticache_rules import version_parts
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import BUSY_STATES
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import FAILED_STATES
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import AnsibleElastiCacheError
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import ReplicationGroupFailed
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import add_tags
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import create_replication_group
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import delete_replication_group
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import describe_cache_cluster
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import describe_replication_group
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import failure_message
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import list_tags
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import member_count
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import modify_replication_group
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import primary_endpoint
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import reader_endpoint
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import remove_tags
from ansible_collections.ha_airflow.aws.plugins.module_utils.elasticache import wait_for_replication_group

ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# How the write-only token appears in ``changes``.
TOKEN_BEFORE = "(write-only)"
TOKEN_AFTER = "(new token, not shown)"


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
        snapshot = params["final_snapshot_identifier"]
        if snapshot is not None and (len(snapshot) > 255 or not re.match(r"^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*$",
                                                                         snapshot)):
            raise ParameterError(
                "final_snapshot_identifier %r is invalid: use letters, digits and single hyphens, starting with a "
                "letter and not ending with a hyphen" % snapshot)
        return
    if params["final_snapshot_identifier"] is not None:
        raise ParameterError("final_snapshot_identifier is used when deleting (state=absent) only")
    if params["num_cache_clusters"] < 1 or params["num_cache_clusters"] > 6:
        raise ParameterError("num_cache_clusters must be between 1 and 6 (one primary and up to five replicas)")
    if params["multi_az"] and not params["automatic_failover"]:
        raise ParameterError("multi_az=true requires automatic_failover=true")
    if params["automatic_failover"] and params["num_cache_clusters"] < 2:
        raise ParameterError("automatic_failover=true needs num_cache_clusters of 2 or more (a replica to promote)")
    if params["auth_token"] is not None:
        if not params["transit_encryption"]:
            raise ParameterError("auth_token requires transit_encryption=true")
        if not auth_token_valid(params["auth_token"]):
            # never echo the token: say which rule it breaks
            raise ParameterError("auth_token breaks ElastiCache's rule for AUTH tokens (it has %d characters): %s"
                                 % (len(params["auth_token"]), AUTH_TOKEN_RULE))
    elif params["update_auth_token"] == "always":
        raise ParameterError("update_auth_token=always needs auth_token (the new token)")
    if params["update_auth_token"] == "always" and params["transit_encryption_mode"] == "preferred":
        raise ParameterError(
            "update_auth_token=always needs transit_encryption_mode=required: ElastiCache changes the AUTH token only "
            "on a group that requires TLS. Move every client to TLS, make the group require it, then send the token")
    if params["auto_minor_version_upgrade"]:
        check_auto_minor_version_upgrade(params["engine"], params["engine_version"], params["replication_group_id"])
    azs = params["preferred_cache_cluster_azs"]
    if azs and len(azs) != params["num_cache_clusters"]:
        raise ParameterError("preferred_cache_cluster_azs must name one AZ per node (num_cache_clusters)")


def auto_minor_version_upgrade_offered(engine, version):
    """False for an engine version without automatic minor version upgrades; True or None (unknown) otherwise."""
    return version_at_least(version, AUTO_MINOR_VERSION_UPGRADE_SINCE.get(engine, (0,))) is not False


def check_auto_minor_version_upgrade(engine, version, group_id):
    """Refuse auto_minor_version_upgrade=true for an engine version that does not have it (unknown versions pass)."""
    if not auto_minor_version_upgrade_offered(engine, version):
        name, first = since(AUTO_MINOR_VERSION_UPGRADE_SINCE, engine)
        raise ParameterError(
            "auto_minor_version_upgrade: ElastiCache offers automatic minor version upgrades from %s %s, and replication "
            "group %s is %s %s. Set auto_minor_version_upgrade to false (or leave it unset), or upgrade the engine "
            "(engine_version) first" % (name, first, group_id, name, version))


def change(setting, before, after):
    """One entry of ``changes``: the same shape in every code path."""
    return dict(setting=setting, before=before, after=after)


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
        # off is all an engine without the feature has: not sent for it
        "AutoMinorVersionUpgrade": (params["auto_minor_version_upgrade"] if auto_minor_version_upgrade_offered(
            params["engine"], params["engine_version"]) else None),
        # required is ElastiCache's default with TLS (and the only mode of engines before Redis OSS 7.0): not sent
        "TransitEncryptionMode": ("preferred" if params["transit_encryption"]
                                  and params["transit_encryption_mode"] == "preferred" else None),
    }
    request.update({key: value for key, value in optional.items() if value is not None})
    if params["tags"]:
        request["Tags"] = [{"Key": k, "Value": str(v)} for k, v in params["tags"].items()]
    return request


def creation_changes(request):
    changes = []
    for key, value in request.items():
        if key == "AuthToken":
            changes.append(change(key, None, TOKEN_AFTER))
        elif key == "Tags":
            changes.append(change(key, None, dict((t["Key"], t["Value"]) for t in value)))
        else:
            changes.append(change(key, None, value))
    return changes


def _enabled(value):
    return str(value).lower() in ("enabled", "enabling")


def engine_upgrade_needed(running, requested):
    """True only when ``requested`` is newer than ``running`` on the components it names: 7.1.0 satisfies "7.1" and
    "7.0"; a running version above the request is never downgraded."""
    wanted, have = version_parts(requested), version_parts(running)
    if not wanted or not have:
        return False
    return have[:len(wanted)] < wanted


def current_settings(group, cluster):
    """The settings ModifyReplicationGroup can change, as they are or, where a modification is already pending (for
    the next maintenance window, or being applied), as they will be."""
    group_pending = group.get("PendingModifiedValues") or {}
    cluster_pending = (cluster or {}).get("PendingModifiedValues") or {}
    current = {
        "ReplicationGroupDescription": group.get("Description"),
        "CacheNodeType": cluster_pending.get("CacheNodeType") or group.get("CacheNodeType"),
        "AutomaticFailoverEnabled": _enabled(group_pending.get("AutomaticFailoverStatus")
                                             or group.get("AutomaticFailover")),
        "MultiAZEnabled": _enabled(group.get("MultiAZ")),
        "SnapshotRetentionLimit": group.get("SnapshotRetentionLimit"),
        "AutoMinorVersionUpgrade": group.get("AutoMinorVersionUpgrade"),
    }
    if cluster is not None:
        current["SecurityGroupIds"] = sorted(sg["SecurityGroupId"] for sg in cluster.get("SecurityGroups") or [])
        current["CacheParameterGroupName"] = (cluster.get("CacheParameterGroup") or {}).get("CacheParameterGroupName")
        current["EngineVersion"] = cluster_pending.get("EngineVersion") or cluster.get("EngineVersion")
    return current


def compute_modifications(group, cluster, params):
    """``changes`` entries that bring ``group`` (and its member ``cluster``; None when unreadable) to ``params``;
    each entry's setting is a ModifyReplicationGroup parameter and its after the value to send."""
    current = current_settings(group, cluster)
    wanted = []
    if params["description"] != current["ReplicationGroupDescription"]:
        wanted.append(("ReplicationGroupDescription", params["description"]))
    if params["cache_node_type"] and params["cache_node_type"] != current["CacheNodeType"]:
        wanted.append(("CacheNodeType", params["cache_node_type"]))
    if params["automatic_failover"] != current["AutomaticFailoverEnabled"]:
        wanted.append(("AutomaticFailoverEnabled", params["automatic_failover"]))
    if params["multi_az"] != current["MultiAZEnabled"]:
        wanted.append(("MultiAZEnabled", params["multi_az"]))
    if (params["snapshot_retention_limit"] is not None
            and params["snapshot_retention_limit"] != current["SnapshotRetentionLimit"]):
        wanted.append(("SnapshotRetentionLimit", params["snapshot_retention_limit"]))
    if cluster is not None:
        if (params["security_group_ids"] is not None
                and sorted(set(params["security_group_ids"])) != current["SecurityGroupIds"]):
            wanted.append(("SecurityGroupIds", sorted(set(params["security_group_ids"]))))
        if params["cache_parameter_group"] and params["cache_parameter_group"] != current["CacheParameterGroupName"]:
            wanted.append(("CacheParameterGroupName", params["cache_parameter_group"]))
        if params["engine_version"] and engine_upgrade_needed(current["EngineVersion"], params["engine_version"]):
            wanted.append(("EngineVersion", params["engine_version"]))
    if (params["auto_minor_version_upgrade"] is not None
            and params["auto_minor_version_upgrade"] != current["AutoMinorVersionUpgrade"]):
        # judged on the version the group runs after this run (an upgrade sent with it counts)
        upgrading = any(setting == "EngineVersion" for setting, after in wanted)
        engine, version = engine_of(group, params), engine_version_after(cluster, params, upgrading)
        if params["auto_minor_version_upgrade"]:
            check_auto_minor_version_upgrade(engine, version, params["replication_group_id"])
        if auto_minor_version_upgrade_offered(engine, version):
            wanted.append(("AutoMinorVersionUpgrade", params["auto_minor_version_upgrade"]))
    return [change(setting, current.get(setting), after) for setting, after in wanted]


def engine_of(group, params):
    return (group.get("Engine") or params["engine"]).lower()


def engine_version_after(cluster, params, upgrading):
    """The engine version the group runs (its member cluster's, else the one asked for), or the one it is upgraded
    to in this run."""
    if upgrading or cluster is None:
        return params["engine_version"]
    pending = (cluster.get("PendingModifiedValues") or {}).get("EngineVersion")
    return pending or cluster.get("EngineVersion") or params["engine_version"]


def transit_state(group):
    """(enabled, mode) of in-transit encryption, as they are or as a pending modification will make them. A group
    with TLS that reports no mode (engines before Redis OSS 7.0) requires it."""
    pending = group.get("PendingModifiedValues") or {}
    enabled = pending.get("TransitEncryptionEnabled")
    if enabled is None:
        enabled = bool(group.get("TransitEncryptionEnabled"))
    mode = pending.get("TransitEncryptionMode") or group.get("TransitEncryptionMode")
    return enabled, (mode or "required") if enabled else None


def transit_modifications(module, group, cluster, params, upgrading):
    """``changes`` entries that turn in-transit encryption on for an existing group, the way ElastiCache allows it
    (ModifyReplicationGroup): TransitEncryptionEnabled with TransitEncryptionMode preferred first, then
    TransitEncryptionMode required in a later run; refused for engines that cannot (ParameterError)."""
    group_id = params["replication_group_id"]
    enabled, mode = transit_state(group)
    wanted_mode = params["transit_encryption_mode"]
    if not params["transit_encryption"]:
        if enabled:
            module.warn("replication group %s has in-transit encryption (%s) and transit_encryption is false: this "
                        "module never turns it off" % (group_id, mode))
        return []
    if enabled:
        if mode == "preferred" and wanted_mode == "required":
            return [change("TransitEncryptionMode", "preferred", "required")]
        if mode == "required" and wanted_mode == "preferred":
            module.warn("replication group %s already requires TLS; transit_encryption_mode=preferred is used only "
                        "while turning TLS on, and this module never loosens it" % group_id)
        return []
    engine = engine_of(group, params)
    minimum = TRANSIT_ENCRYPTION_ON_EXISTING_SINCE.get(engine, (0,))
    running = engine_version_after(cluster, params, False)
    if version_at_least(running, minimum) is False:
        name, first = since(TRANSIT_ENCRYPTION_ON_EXISTING_SINCE, engine)
        if upgrading and version_at_least(params["engine_version"], minimum):
            module.warn("replication group %s runs %s %s, upgraded to %s in this run: in-transit encryption is turned "
                        "on by the next run, once the group runs the new version"
                        % (group_id, name, running, params["engine_version"]))
            return []
        raise ParameterError(
            "transit_encryption: replication group %s runs %s %s, and ElastiCache turns in-transit encryption on for an "
            "existing group only from %s %s. Upgrade the engine first (engine_version), or create a new group with "
            "transit_encryption=true and move the clients to it" % (group_id, name, running, name, first))
    if wanted_mode == "required":
        raise ParameterError(
            "transit_encryption: replication group %s has no in-transit encryption, and ElastiCache turns it on in two "
            "steps so that clients keep working: run with transit_encryption_mode=preferred (TLS and plain connections "
            "are both accepted), move every client to TLS (rediss://), then run with transit_encryption_mode=required"
            % group_id)
    return [change("TransitEncryptionEnabled", False, True), change("TransitEncryptionMode", None, "preferred")]


def auth_token_modification(module, group, params, transit_changing=False):
    """The ``changes`` entries for a token update (update_auth_token=always), or none. The token is write-only:
    it cannot be compared, so it is sent whenever asked for, unless an update is already pending."""
    if params["auth_token"] is None or params["update_auth_token"] != "always":
        return []
    if transit_changing:
        # ElastiCache refuses a token while the group is preferred, and in the call that makes it required
        module.warn("replication group %s: the AUTH token is not sent in the run that changes in-transit encryption; "
                    "ElastiCache accepts it once the group requires TLS. Run again to send it."
                    % params["replication_group_id"])
        return []
    pending = (group.get("PendingModifiedValues") or {}).get("AuthTokenStatus")
    if pending:
        module.warn("replication group %s already has an AUTH token update pending (%s); it is not requested again. "
                    "Run again once the group is available." % (params["replication_group_id"], pending))
        return []
    return [change("AuthToken", TOKEN_BEFORE, TOKEN_AFTER),
            change("AuthTokenUpdateStrategy", None, params["auth_token_update_strategy"].upper())]


def modify_request(changes, params):
    request = dict(ReplicationGroupId=params["replication_group_id"], ApplyImmediately=params["apply_immediately"])
    for entry in changes:
        request[entry["setting"]] = params["auth_token"] if entry["setting"] == "AuthToken" else entry["after"]
    return request


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
    return warnings


def first_member(client, module, group):
    """The group's first member cluster, or None (with a warning) when it cannot be read."""
    members = group.get("MemberClusters") or []
    cluster = describe_cache_cluster(client, members[0]) if members else None
    if cluster is None:
        module.warn("cannot read member cluster %s of replication group %s: security groups, parameter group and "
                    "engine version were not compared" % (members[0] if members else "(none)",
                                                          group.get("ReplicationGroupId")))
    return cluster


def format_group(group, tags, cluster=None):
    if not group:
        return {}
    result = camel_dict_to_snake_dict(group)
    result["arn"] = group.get("ARN")
    result["tags"] = tags
    if cluster is not None:
        result["engine_version"] = cluster.get("EngineVersion")
        result["cache_parameter_group"] = (cluster.get("CacheParameterGroup") or {}).get("CacheParameterGroupName")
        result["security_group_ids"] = sorted(sg["SecurityGroupId"] for sg in cluster.get("SecurityGroups") or [])
    return result


def endpoint_dict(address_port):
    address, port = address_port
    return {"address": address, "port": port} if address else None


def wait_available(client, params, settled=False):
    return wait_for_replication_group(client, params["replication_group_id"], "available", params["wait_timeout"],
                                      settled=settled)


def ensure_absent(module, client, params):
    group = describe_replication_group(client, params["replication_group_id"])
    if group is None:
        return dict(changed=False, replication_group={}, changes=[])
    changes = []
    if group.get("Status") != "deleting":
        changes.append(change("ReplicationGroup", group.get("Status"), "deleted"))
        if params["final_snapshot_identifier"]:
            changes.append(change("FinalSnapshotIdentifier", None, params["final_snapshot_identifier"]))
        if not module.check_mode:
            if group.get("Status") in BUSY_STATES:
                wait_available(client, params)
            delete_replication_group(client, params["replication_group_id"], params["final_snapshot_identifier"])
    if params["wait"] and not module.check_mode:
        wait_for_replication_group(client, params["replication_group_id"], "deleted", params["wait_timeout"])
    return dict(changed=bool(changes), replication_group={}, changes=changes)


def tag_changes(module, client, arn, params):
    """(``changes`` entries, tags to add, keys to remove, current tags)."""
    current = list_tags(client, arn)
    if params["tags"] is None:
        return [], {}, [], current
    to_add, to_remove = compare_aws_tags(current, params["tags"], purge_tags=params["purge_tags"])
    if not to_add and not to_remove:
        return [], {}, [], current
    desired = dict((k, v) for k, v in current.items() if k not in to_remove)
    desired.update(to_add)
    return [change("Tags", current, desired)], to_add, to_remove, current


def ensure_present(module, client, params):
    group = describe_replication_group(client, params["replication_group_id"])
    if group is None:
        request = build_create_params(params)
        changes = creation_changes(request)
        if module.check_mode:
            return dict(changed=True, replication_group={}, changes=changes)
        group = create_replication_group(client, **request)
        if params["wait"]:
            group = wait_available(client, params)
        tags = dict(params["tags"] or {})
        cluster = describe_cache_cluster(client, group["MemberClusters"][0]) if (
            params["wait"] and group.get("MemberClusters")) else None
        return present_result(True, changes, group, tags, cluster)

    if group.get("Status") in FAILED_STATES:
        raise ReplicationGroupFailed(failure_message(client, group))
    for warning in creation_drift(group, params):
        module.warn(warning)
    cluster = first_member(client, module, group)
    modifications = compute_modifications(group, cluster, params)
    upgrading = any(entry["setting"] == "EngineVersion" for entry in modifications)
    transit = transit_modifications(module, group, cluster, params, upgrading)
    modifications += transit + auth_token_modification(module, group, params, transit_changing=bool(transit))
    tagging, to_add, to_remove, tags = tag_changes(module, client, group.get("ARN"), params)
    changes = modifications + tagging
    if not changes or module.check_mode:
        return present_result(bool(changes), changes, group, tags, cluster)

    if modifications:
        if group.get("Status") in BUSY_STATES:
            wait_available(client, params)
        group = modify_replication_group(client, **modify_request(modifications, params))
    if to_remove:
        remove_tags(client, group.get("ARN"), to_remove)
    if to_add:
        add_tags(client, group.get("ARN"), to_add)
    tags = tagging[0]["after"] if tagging else tags
    if modifications and params["wait"]:
        # Described again once the modifications are applied (with apply_immediately, until none is pending), so
        # the result is the final state, not the modify call's answer.
        group = wait_available(client, params, settled=params["apply_immediately"])
        cluster = describe_cache_cluster(client, group["MemberClusters"][0]) if group.get("MemberClusters") else None
    return present_result(True, changes, group, tags, cluster)


def present_result(changed, changes, group, tags, cluster):
    result = dict(changed=changed, replication_group=format_group(group, tags, cluster), changes=changes)
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
        update_auth_token=dict(type="str", default="on_create", choices=["on_create", "always"], no_log=False),
        auth_token_update_strategy=dict(type="str", default="rotate", choices=["rotate", "set"], no_log=False),
        transit_encryption_mode=dict(type="str", default="required", choices=["preferred", "required"]),
        auto_minor_version_upgrade=dict(type="bool"),
        snapshot_retention_limit=dict(type="int"),
        final_snapshot_identifier=dict(type="str"),
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
    except (ReplicationGroupFailed, ParameterError) as e:
        module.fail_json(msg=str(e))
    except AnsibleElastiCacheError as e:
        module.fail_json_aws_error(e)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
