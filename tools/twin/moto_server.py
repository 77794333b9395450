"""moto in server mode, with the moto 5.x gaps this collection meets bridged *here*, in the test fixture.

Usage: moto_server.py PORT [HOST]   (listens on HOST:PORT, by default 127.0.0.1; molecule ha3 serves a test bed)

Two kinds of patch, each with a comment naming what it bridges:
  Gap:   moto lacks something AWS has (an API answer, a field, data for a region); bridged so moto answers as AWS does.
  Rule:  moto accepts what AWS rejects; the AWS rule is taught here, so a test against moto fails where AWS would.
None of them changes what the infra role sends or expects. Measured against moto 5.2.5.
"""

import json
import os
import re
import sys
import time

# Gap: AWS-managed IAM policies (arn:<partition>:iam::aws:policy/AmazonSSMManagedInstanceCore) exist in every
# account on AWS; moto only loads them when asked to.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto import server  # noqa: E402
from moto.utilities.utils import get_partition  # noqa: E402
from moto.ec2 import utils as ec2_utils  # noqa: E402
from moto.efs import urls as efs_urls  # noqa: E402
from moto.efs.responses import EFSResponse  # noqa: E402
from moto.efs.exceptions import EFSError, FileSystemNotFound, PolicyNotFound  # noqa: E402
from moto.elasticache import models as ec_models  # noqa: E402
from moto.elasticache.exceptions import CacheSubnetGroupNotFound  # noqa: E402
from moto.elasticache.responses import ElastiCacheResponse  # noqa: E402

from moto.core.responses import EmptyResult  # noqa: E402


def dns_suffix(region):
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


# --- EC2 -----------------------------------------------------------------------------------------------------------
# Gap: moto files NAT gateway tags under resource type "nat-gateway"; AWS (and amazon.aws.ec2_vpc_nat_gateway, which
# filters DescribeTags on resource-type=natgateway) say "natgateway". Without this the module sees no tags and
# re-tags the gateway on every run.
ec2_utils.EC2_PREFIX_TO_RESOURCE["nat"] = "natgateway"

from moto.core.responses import ActionResult  # noqa: E402
from moto.ec2.responses.security_groups import SecurityGroups as _SecurityGroupsResponse  # noqa: E402


def _returns_true(method):
    def wrapper(self):
        method(self)
        return ActionResult({"Return": True})
    return wrapper


# Gap: moto answers UpdateSecurityGroupRuleDescriptions{Ingress,Egress} with an empty body; AWS answers Return=true,
# which amazon.aws.ec2_security_group reads (KeyError 'Return' when a rule only changes its description).
for _name in ("update_security_group_rule_descriptions_ingress", "update_security_group_rule_descriptions_egress"):
    setattr(_SecurityGroupsResponse, _name, _returns_true(getattr(_SecurityGroupsResponse, _name)))

from moto.ec2.models import instances as ec2_instances  # noqa: E402

# Rule: RunInstances (and StartInstances) leave an instance "pending" while it boots; only later is it "running"
# (EC2 instance lifecycle). moto makes it "running" at once, which hides every caller that acts on an instance
# before it runs - such as ELBv2 RegisterTargets, which AWS (and moto) refuse for a target that is not running.
# An instance here stays pending for HA_AIRFLOW_TWIN_BOOT_SECONDS (default 15; EC2 takes 10 s to a minute), then
# runs. The twin (twin.py) may replace instance_booted() to say "running" when the machine standing in for the
# instance has booted.
BOOT_SECONDS = float(os.environ.get("HA_AIRFLOW_TWIN_BOOT_SECONDS", "15"))


def instance_booted(instance):
    return time.monotonic() >= instance.__dict__.get("_twin_boot_at", 0)


def _pending(instance):
    instance.__dict__["_twin_boot_at"] = time.monotonic() + BOOT_SECONDS
    return ec2_instances.InstanceState("pending", 0)


def _get_instance_state(self):
    state = self.__dict__["_twin_state"]
    if state.name == "pending" and instance_booted(self):
        state.name, state.code = "running", 16
    return state


def _set_instance_state(self, value):
    if "_twin_state" not in self.__dict__ and value.name == "running":
        value = _pending(self)  # the first state an instance gets (Instance.__init__): it boots first
    self.__dict__["_twin_state"] = value


ec2_instances.Instance._state = property(_get_instance_state, _set_instance_state)
_orig_instance_start = ec2_instances.Instance.start


def _instance_start(self):
    previous = _orig_instance_start(self)
    self.__dict__["_twin_state"] = _pending(self)
    return previous


ec2_instances.Instance.start = _instance_start

from moto.ec2.models import flow_logs as ec2_flow_logs  # noqa: E402

_orig_create_flow_logs = ec2_flow_logs.FlowLogsBackend.create_flow_logs


def _create_flow_logs(self, resource_type, resource_ids, traffic_type, deliver_logs_permission_arn, log_destination_type,
                      log_destination, *args, **kwargs):
    # Gap: an S3 LogDestination may name a folder (arn:aws:s3:::bucket/prefix); moto takes "bucket/prefix" for the
    # bucket name, finds no such bucket and creates nothing. Check the bucket alone, keep the whole destination.
    if log_destination_type == "s3" and log_destination and "/" in log_destination.split(":::", 1)[-1]:
        bucket_arn = log_destination.split("/", 1)[0]
        created, failed = _orig_create_flow_logs(self, resource_type, resource_ids, traffic_type, deliver_logs_permission_arn,
                                                 log_destination_type, bucket_arn, *args, **kwargs)
        for flow_log in created:
            flow_log.log_destination = log_destination
        return created, failed
    return _orig_create_flow_logs(self, resource_type, resource_ids, traffic_type, deliver_logs_permission_arn,
                                  log_destination_type, log_destination, *args, **kwargs)


ec2_flow_logs.FlowLogsBackend.create_flow_logs = _create_flow_logs

# Gap: moto ships its Amazon Linux catalogue (EC2 images in latest_amis/, the public SSM parameters
# /aws/service/ami-amazon-linux-latest/*) for the commercial regions only; AWS publishes both in cn-north-1 and
# cn-northwest-1 too. Serve the us-east-1 catalogue there (the image ids are stand-ins; AWS's differ per region).
from moto.ec2.models import amis as ec2_amis  # noqa: E402
from moto.ssm import models as ssm_models  # noqa: E402

_CATALOGUE_STAND_IN = {"cn-north-1": "us-east-1", "cn-northwest-1": "us-east-1"}


def _catalogue_loader(load):
    def load_resource(path, *args, **kwargs):
        try:
            return load(path, *args, **kwargs)
        except FileNotFoundError:
            for region, stand_in in _CATALOGUE_STAND_IN.items():
                if path.endswith("/%s.json" % region) and ("latest_amis/" in path or "ami-amazon-linux-latest/" in path):
                    data = load(path[: -len(region + ".json")] + stand_in + ".json", *args, **kwargs)
                    return json.loads(json.dumps(data).replace(":%s:" % stand_in, ":%s:" % region)
                                      .replace("arn:aws:", "arn:%s:" % get_partition(region)))
            raise
    return load_resource


ec2_amis.load_resource = _catalogue_loader(ec2_amis.load_resource)
ssm_models.load_resource = _catalogue_loader(ssm_models.load_resource)


# --- EFS -----------------------------------------------------------------------------------------------------------
# Gap: community.aws.efs reads and writes tags with the legacy EFS tag API (DescribeTags GET /2015-02-01/tags/{id}/,
# CreateTags POST /2015-02-01/create-tags/{id}, DeleteTags POST /2015-02-01/delete-tags/{id}); moto only routes the
# newer TagResource family and answers 404. Route the legacy paths onto moto's own tag store.
efs_urls.url_paths["/2015-02-01/tags/<file_system_id>/"] = efs_urls.response.dispatch
efs_urls.url_paths["/2015-02-01/create-tags/<file_system_id>"] = efs_urls.response.dispatch
efs_urls.url_paths["/2015-02-01/delete-tags/<file_system_id>"] = efs_urls.response.dispatch


def _efs_fs_id(response):
    return response.uri_match.get("FileSystemId") or re.search(r"(fs-[0-9a-f]+)", response.path).group(1)


def _efs_describe_tags(self):
    tags = self.efs_backend.list_tags_for_resource(_efs_fs_id(self))
    return json.dumps({"Tags": tags}), {"Content-Type": "application/json"}


def _efs_create_tags(self):
    tags = {tag["Key"]: tag.get("Value") for tag in (self._get_param("Tags") or [])}
    self.efs_backend.tag_resource(_efs_fs_id(self), tags)
    return "", {"status": 204}


def _efs_delete_tags(self):
    self.efs_backend.untag_resource(_efs_fs_id(self), self._get_param("TagKeys") or [])
    return "", {"status": 204}


class IncorrectFileSystemLifeCycleState(EFSError):
    code = 409

    def __init__(self, state):
        super().__init__("IncorrectFileSystemLifeCycleState", "File system is in state %s, not available." % state)


def _efs_file_system(response):
    file_system_id = response._get_param("FileSystemId")
    file_system = response.efs_backend.file_systems_by_id.get(file_system_id)
    if file_system is None:
        # Gap: for an unknown file system moto fails with an internal error (KeyError); AWS answers FileSystemNotFound.
        raise FileSystemNotFound(file_system_id)
    return file_system


def _efs_describe_backup_policy(self):
    # Gap: after PutBackupPolicy DISABLED AWS describes {"Status": "DISABLED"}; PolicyNotFound only for a file system
    # that never had a backup policy (moto answers PolicyNotFound whenever backups are off).
    file_system = _efs_file_system(self)
    status = file_system.__dict__.get("_twin_backup_status") or ("ENABLED" if file_system.backup_policy else None)
    if status is None:
        raise PolicyNotFound("None")
    return json.dumps({"BackupPolicy": {"Status": status}}), {"Content-Type": "application/json"}


def _efs_put_backup_policy(self):
    # Gap: moto has no PutBackupPolicy (NotImplementedError); AWS turns the file system's automatic backups on or off.
    file_system = _efs_file_system(self)
    status = (self._get_param("BackupPolicy") or {}).get("Status")
    if file_system.life_cycle_state != "available":
        # Rule: PutBackupPolicy needs the file system "available" (EFS API reference, PutBackupPolicy:
        # IncorrectFileSystemLifeCycleState, HTTP 409); moto would change a file system in any state.
        raise IncorrectFileSystemLifeCycleState(file_system.life_cycle_state)
    file_system.__dict__["_twin_backup_status"] = status
    file_system._backup = status == "ENABLED"
    return json.dumps({"BackupPolicy": {"Status": status}}), {"Content-Type": "application/json"}


EFSResponse.describe_backup_policy = _efs_describe_backup_policy
EFSResponse.put_backup_policy = _efs_put_backup_policy
EFSResponse.describe_tags = _efs_describe_tags
EFSResponse.create_tags = _efs_create_tags
EFSResponse.delete_tags = _efs_delete_tags


# --- ELBv2 ----------------------------------------------------------------------------------------------------------
from moto.elbv2 import models as elbv2_models  # noqa: E402

_orig_lb_init = elbv2_models.FakeLoadBalancer.__init__

# What AWS answers in DescribeLoadBalancerAttributes for a new application load balancer.
_ALB_DEFAULT_ATTRIBUTES = {
    "access_logs.s3.enabled": "false",
    "idle_timeout.timeout_seconds": "60",
    "routing.http2.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "waf.fail_open.enabled": "false",
}


def _lb_init(self, *args, **kwargs):
    _orig_lb_init(self, *args, **kwargs)
    # Gap: moto returns only five attributes for a new ALB; AWS returns all of them with their defaults.
    # amazon.aws.elb_application_lb (http_drop_invalid_header_fields) reads
    # routing.http.drop_invalid_header_fields.enabled and crashes with KeyError when it is missing.
    if self.type == "application":
        for key, value in _ALB_DEFAULT_ATTRIBUTES.items():
            self.attrs.setdefault(key, value)


elbv2_models.FakeLoadBalancer.__init__ = _lb_init

_orig_create_lb = elbv2_models.ELBv2Backend.create_load_balancer


def _create_load_balancer(self, *args, **kwargs):
    # Gap: moto names every load balancer "<name>-1.<region>.elb.amazonaws.com"; in China AWS answers with the
    # partition's DNS suffix (".elb.amazonaws.com.cn").
    balancer = _orig_create_lb(self, *args, **kwargs)
    if dns_suffix(self.region_name) != "amazonaws.com" and balancer.dns_name.endswith(".amazonaws.com"):
        balancer.dns_name = balancer.dns_name[: -len("amazonaws.com")] + dns_suffix(self.region_name)
    return balancer


elbv2_models.ELBv2Backend.create_load_balancer = _create_load_balancer

from moto.elbv2.exceptions import ELBClientError  # noqa: E402

_orig_delete_lb = elbv2_models.ELBv2Backend.delete_load_balancer


def _delete_load_balancer(self, arn):
    # Rule: DeleteLoadBalancer fails while the attribute deletion_protection.enabled is true (OperationNotPermitted);
    # the protection must be turned off first. moto deletes it anyway.
    balancer = self.load_balancers.get(arn)
    if balancer is not None and balancer.attrs.get("deletion_protection.enabled") == "true":
        raise ELBClientError("OperationNotPermitted",
                             "Load balancer '%s' cannot be deleted because deletion protection is enabled" % arn)
    return _orig_delete_lb(self, arn)


elbv2_models.ELBv2Backend.delete_load_balancer = _delete_load_balancer


# Rule: a target taken out of a target group is "draining" for the group's deregistration_delay.timeout_seconds (the
# load balancer sends it no new request and lets the ones it has finish), then "unused"; moto makes it "unused" at
# once, so a client that waits for "unused" (community.aws.elb_target, the airflow role's rolling restart) would go
# on while the ALB stand-in may still send it requests.
_orig_tg_register = elbv2_models.FakeTargetGroup.register
_orig_tg_deregister = elbv2_models.FakeTargetGroup.deregister
_orig_tg_health_for = elbv2_models.FakeTargetGroup.health_for


def _tg_draining(group):
    return group.__dict__.setdefault("_twin_draining", {})


def _tg_register(self, targets):
    _orig_tg_register(self, targets)
    for target in targets:
        _tg_draining(self).pop(target["Id"], None)


def _tg_deregister(self, targets):
    _orig_tg_deregister(self, targets)
    delay = int(str(self.attributes.get("deregistration_delay.timeout_seconds", 300)))
    for target in targets:
        _tg_draining(self)[target["Id"]] = time.monotonic() + delay


def _tg_health_for(self, target, ec2_backend):
    target_id = target["Id"]
    port = target.get("Port", self.port)
    if target_id not in self.targets:
        until = _tg_draining(self).get(target_id)
        if until is not None and time.monotonic() < until:
            return elbv2_models.FakeHealthStatus(target_id, port, self.health_check_port, "draining",
                                                 "Target.DeregistrationInProgress",
                                                 "Target deregistration is in progress")
        _tg_draining(self).pop(target_id, None)
    status = _orig_tg_health_for(self, target, ec2_backend)
    # Rule: a registered, running target is "initial" until it passes the load balancer's health checks, then
    # "healthy" or "unhealthy" by them; moto calls every running target healthy. The twin's watcher reads the ALB
    # stand-in's checks into _twin_checked (instance id -> healthy/unhealthy); a group no stand-in checks (moto alone,
    # as in molecule/aws) keeps moto's answer.
    checked = self.__dict__.get("_twin_checked")
    if checked is not None and target_id in self.targets and status.status == "healthy":
        state = checked.get(target_id)
        if state is None:
            return elbv2_models.FakeHealthStatus(target_id, port, self.health_check_port, "initial",
                                                 "Elb.RegistrationInProgress",
                                                 "Target registration is in progress")
        if state != "healthy":
            return elbv2_models.FakeHealthStatus(target_id, port, self.health_check_port, "unhealthy",
                                                 "Target.FailedHealthChecks", "Health checks failed")
    return status


elbv2_models.FakeTargetGroup.register = _tg_register
elbv2_models.FakeTargetGroup.deregister = _tg_deregister
elbv2_models.FakeTargetGroup.health_for = _tg_health_for

# The Elastic Load Balancing account of each region that writes ALB access logs into the customer's bucket.
ELB_LOG_ACCOUNTS = {"us-east-1": "127311923021", "cn-north-1": "638102146993", "cn-northwest-1": "037604701340"}
_orig_modify_lb_attributes = elbv2_models.ELBv2Backend.modify_load_balancer_attributes


def _modify_load_balancer_attributes(self, arn, attrs):
    # Rule: turning on access logs (access_logs.s3.enabled=true) makes ELB check the bucket: it must exist and its
    # bucket policy must let the region's Elastic Load Balancing account (or, in newer regions, the service principal
    # logdelivery.elasticloadbalancing.amazonaws.com) s3:PutObject; otherwise InvalidConfigurationRequest "Access Denied
    # for bucket: <name>. Please check S3bucket permission". moto accepts any bucket name.
    if str(attrs.get("access_logs.s3.enabled", "")).lower() == "true":
        from moto.s3.models import s3_backends
        bucket_name = attrs.get("access_logs.s3.bucket") or (self.load_balancers.get(arn).attrs.get("access_logs.s3.bucket")
                                                             if self.load_balancers.get(arn) else "")
        bucket = s3_backends[self.account_id][get_partition(self.region_name)].buckets.get(bucket_name)
        policy = (bucket.policy or b"").decode() if bucket is not None else ""
        account = ELB_LOG_ACCOUNTS.get(self.region_name, "")
        if bucket is None or "s3:PutObject" not in policy or (account not in policy and "logdelivery.elasticloadbalancing" not in policy):
            raise ELBClientError("InvalidConfigurationRequest",
                                 "Access Denied for bucket: %s. Please check S3bucket permission" % bucket_name)
    return _orig_modify_lb_attributes(self, arn, attrs)


elbv2_models.ELBv2Backend.modify_load_balancer_attributes = _modify_load_balancer_attributes


# --- CloudFormation --------------------------------------------------------------------------------------------------
from moto.cloudformation import models as cfn_models  # noqa: E402
from moto.cloudformation.exceptions import ValidationError as CfnValidationError  # noqa: E402

_orig_update_stack = cfn_models.CloudFormationBackend.update_stack


def _update_stack(self, name, template, role_arn, parameters, tags):
    # Rule: UpdateStack with the stack's own template, parameters and tags changes nothing and fails with
    # ValidationError "No updates are to be performed." (amazon.aws.cloudformation reports changed=false on it). moto
    # "updates" the stack every time.
    stack = self.get_stack(name)
    same_parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in parameters or []} == \
        {k: v for k, v in (stack.parameters or {}).items() if not k.startswith("AWS::")}
    if template == stack.template and same_parameters and (tags is None or tags == stack.tags):
        raise CfnValidationError(name, "No updates are to be performed.")
    return _orig_update_stack(self, name, template, role_arn, parameters, tags)


cfn_models.CloudFormationBackend.update_stack = _update_stack


# --- RDS -------------------------------------------------------------------------------------------------------------
from moto.rds import exceptions as rds_exceptions  # noqa: E402
from moto.rds import models as rds_models  # noqa: E402

_orig_rds_address = rds_models.DBInstance.address


def _rds_address(self):
    # Gap: moto gives every DB instance endpoint the ".rds.amazonaws.com" suffix; in China it is ".rds.amazonaws.com.cn".
    address = _orig_rds_address.fget(self)
    if dns_suffix(self.region) != "amazonaws.com" and address.endswith(".amazonaws.com"):
        address = address[: -len("amazonaws.com")] + dns_suffix(self.region)
    return address


rds_models.DBInstance.address = property(_rds_address)

# What RDS for PostgreSQL offers to new instances in late 2026 (DescribeDBEngineVersions, engine postgres), and the
# default minor of each major (what CreateDBInstance picks for EngineVersion "16"). AWS retires minors on a calendar:
# 15.8 and older minors went first; on 2026-05-31 14.14-14.17, 15.9-15.12, 16.5-16.8 and 17.1-17.4 reached the end of
# standard support (no new instances from 2026-05-01; running ones upgraded to 14.20, 15.15, 16.11, 17.7 or later).
# Major 13 left standard support on 2026-02-28 (paid Extended Support only) and is not offered here.
POSTGRES_OFFERED = {
    "14": ["14.20", "14.21", "14.22", "14.23"],
    "15": ["15.15", "15.16", "15.17", "15.18"],
    "16": ["16.11", "16.12", "16.13", "16.14"],
    "17": ["17.7", "17.8", "17.9", "17.10"],
    "18": ["18.1", "18.2", "18.3", "18.4"],
}
POSTGRES_DEFAULT = {major: minors[-2] for major, minors in POSTGRES_OFFERED.items()}


def _version_key(version):
    return tuple(int(part) for part in re.findall(r"[0-9]+", version))


def _postgres_version(requested):
    """The version AWS would run for a requested EngineVersion, or the AWS error for one it does not offer."""
    if requested in POSTGRES_DEFAULT:
        return POSTGRES_DEFAULT[requested]
    if requested in POSTGRES_OFFERED.get(requested.split(".", maxsplit=1)[0], []):
        return requested
    raise rds_exceptions.InvalidParameterCombination("Cannot find version %s for postgres" % requested)


_orig_create_db_instance = rds_models.RDSBackend.create_db_instance


def _create_db_instance(self, db_kwargs):
    # Rule: CreateDBInstance accepts only an engine version RDS offers; a major alone ("16") runs that major's default
    # minor (InvalidParameterCombination "Cannot find version 15.8 for postgres" otherwise). moto takes any string.
    if db_kwargs.get("engine") == "postgres" and db_kwargs.get("engine_version"):
        db_kwargs["engine_version"] = _postgres_version(str(db_kwargs["engine_version"]))
    return _orig_create_db_instance(self, db_kwargs)


rds_models.RDSBackend.create_db_instance = _create_db_instance
_orig_modify_db_instance = rds_models.RDSBackend.modify_db_instance


def _modify_db_instance(self, db_instance_identifier, db_kwargs):
    database = self.describe_db_instances(db_instance_identifier)[0]
    requested = db_kwargs.get("engine_version")
    if database.engine == "postgres" and requested:
        # Rule: ModifyDBInstance upgrades only: an engine version RDS offers, never lower than the running one
        # ("Cannot upgrade postgres from 16.14 to 16.13"), and a new major only with AllowMajorVersionUpgrade.
        # moto takes any string, lower or not.
        target = _postgres_version(str(requested))
        current = str(database.engine_version)
        if _version_key(target) < _version_key(current):
            raise rds_exceptions.InvalidParameterCombination("Cannot upgrade postgres from %s to %s" % (current, target))
        if target.split(".", maxsplit=1)[0] != current.split(".", maxsplit=1)[0] and not db_kwargs.get("allow_major_version_upgrade"):
            raise rds_exceptions.InvalidParameterCombination(
                "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version.")
        db_kwargs["engine_version"] = target
    storage = db_kwargs.get("allocated_storage")
    if storage is not None and int(storage) < int(database.allocated_storage):
        # Rule: RDS storage only grows - ModifyDBInstance cannot reduce AllocatedStorage (storage autoscaling or an
        # earlier modification may have grown it past the value first given). moto shrinks it.
        raise rds_exceptions.InvalidParameterValue(
            "Invalid storage size for engine name postgres: the allocated storage (%s GiB) cannot be reduced to %s GiB."
            % (database.allocated_storage, storage))
    return _orig_modify_db_instance(self, db_instance_identifier, db_kwargs)


rds_models.RDSBackend.modify_db_instance = _modify_db_instance

from moto.rds.responses import RDSResponse  # noqa: E402


def _describe_db_engine_versions(self):
    # Gap: moto has no DescribeDBEngineVersions (NotImplementedError); AWS lists the versions it offers. Answer for
    # postgres from POSTGRES_OFFERED (engine, exact EngineVersion, DefaultOnly), nothing for other engines.
    engine = self._get_param("Engine")
    version = self._get_param("EngineVersion")
    default_only = str(self._get_param("DefaultOnly", "false")).lower() == "true"
    found = []
    if engine in (None, "postgres"):
        for major, minors in POSTGRES_OFFERED.items():
            for minor in minors:
                if version and minor != version:
                    continue
                if default_only and minor != POSTGRES_DEFAULT[major]:
                    continue
                found.append({"Engine": "postgres", "EngineVersion": minor, "DBParameterGroupFamily": "postgres%s" % major,
                              "DBEngineDescription": "PostgreSQL", "DBEngineVersionDescription": "PostgreSQL %s-R1" % minor,
                              "Status": "available", "SupportsReadReplica": True})
    return ActionResult({"DBEngineVersions": found})


RDSResponse.describe_db_engine_versions = _describe_db_engine_versions


# --- ElastiCache ---------------------------------------------------------------------------------------------------
_orig_backend_init = ec_models.ElastiCacheBackend.__init__


def _backend_init(self, region_name, account_id):
    _orig_backend_init(self, region_name, account_id)
    # Gap: moto only accepts "arn:aws:" ElastiCache ARNs in the tag APIs; China ARNs are "arn:aws-cn:".
    self.arn_regex = re.compile(r"^arn:aws[a-z-]*:elasticache:.*:[0-9]*:(cluster|snapshot|subnetgroup|replicationgroup|user):.*$")


ec_models.ElastiCacheBackend.__init__ = _backend_init

_orig_subnet_group_init = ec_models.CacheSubnetGroup.__init__


def _subnet_group_init(self, *args, **kwargs):
    _orig_subnet_group_init(self, *args, **kwargs)
    # Gap: moto hard-codes "arn:aws:" for cache subnet groups, whatever the region's partition.
    region = kwargs["region_name"] if "region_name" in kwargs else args[1]
    self.arn = re.sub(r"^arn:aws:", "arn:%s:" % get_partition(region), self.arn)


ec_models.CacheSubnetGroup.__init__ = _subnet_group_init

_orig_rg_init = ec_models.ReplicationGroup.__init__
# Region short names as ElastiCache writes them in endpoints: us-east-1 -> use1, cn-north-1 -> cnn1, cn-northwest-1 -> cnw1.
_DIRECTIONS = {"northwest": "nw", "northeast": "ne", "southwest": "sw", "southeast": "se", "central": "c"}


def _replication_group_init(self, *args, **kwargs):
    _orig_rg_init(self, *args, **kwargs)
    region = kwargs["region_name"]
    # Gap: moto builds every ReplicationGroup ARN as "arn:aws:" and every endpoint as "<...>.use1.cache.amazonaws.com",
    # whatever the region; AWS answers in the region's partition and DNS suffix (cn-north-1: arn:aws-cn:,
    # <...>.cnn1.cache.amazonaws.com.cn).
    self.arn = re.sub(r"^arn:aws:", "arn:%s:" % get_partition(region), self.arn)
    area, *words, number = region.split("-")
    short = area + "".join(_DIRECTIONS.get(word, word[:1]) for word in words) + number
    wrong = ".use1.cache.amazonaws.com"
    right = ".%s.cache.%s" % (short, dns_suffix(region))

    def fix(value):
        if isinstance(value, dict):
            return {key: fix(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fix(item) for item in value]
        if isinstance(value, str) and value.endswith(wrong):
            return value[: -len(wrong)] + right
        return value

    self.node_groups = fix(self.node_groups)


ec_models.ReplicationGroup.__init__ = _replication_group_init

_orig_create_rg = ec_models.ElastiCacheBackend.create_replication_group


def _create_replication_group(self, **kwargs):
    # Gap: with cluster mode disabled moto ignores NumCacheClusters and makes one node unless ReplicasPerNodeGroup is
    # sent; AWS makes NumCacheClusters nodes (primary + replicas). Translate, as AWS does.
    if kwargs.get("cluster_mode") != "enabled" and kwargs.get("num_cache_clusters") and not kwargs.get("replicas_per_node_group"):
        kwargs["replicas_per_node_group"] = kwargs["num_cache_clusters"] - 1
    return _orig_create_rg(self, **kwargs)


ec_models.ElastiCacheBackend.create_replication_group = _create_replication_group

_orig_delete_rg = ec_models.ElastiCacheBackend.delete_replication_group


def _delete_replication_group(self, replication_group_id, retain_primary_cluster):
    # Gap: moto marks a deleted replication group "deleting" and keeps it forever, so the
    # replication_group_deleted waiter never finishes; AWS removes it. Answer "deleting" once, then forget it.
    group = _orig_delete_rg(self, replication_group_id, retain_primary_cluster)
    self.replication_groups.pop(replication_group_id, None)
    self.tagging_service.delete_all_tags_for_resource(group.arn)
    return group


ec_models.ElastiCacheBackend.delete_replication_group = _delete_replication_group


from moto.elasticache.exceptions import InvalidParameterCombinationException  # noqa: E402
from moto.elasticache.exceptions import InvalidParameterValueException  # noqa: E402


def _engine_at_least(group, minimum):
    """Whether the group's engine version is ``minimum`` or later; a group created without a version runs ElastiCache's
    default, which is newer than any minimum here."""
    parts = [int(p) for p in re.findall(r"[0-9]+", str(group.engine_version or ""))]
    if not parts or (group.engine or "redis").lower() == "valkey":
        return True
    return tuple(parts + [0] * (len(minimum) - len(parts))) >= minimum


_orig_rg_create_init = ec_models.ReplicationGroup.__init__


def _replication_group_defaults(self, *args, **kwargs):
    _orig_rg_create_init(self, *args, **kwargs)
    # Gap: AWS reports TransitEncryptionMode "required" for a group created with TLS and no mode (Redis OSS 7.0 and
    # later, Valkey), and AutoMinorVersionUpgrade true when it was not given (Redis OSS 6.0 and later, Valkey); moto
    # reports neither.
    if self.transit_encryption_enabled and not self.transit_encryption_mode and _engine_at_least(self, (7, 0)):
        self.transit_encryption_mode = "required"
    if self.auto_minor_version_upgrade is None and _engine_at_least(self, (6, 0)):
        self.auto_minor_version_upgrade = True


ec_models.ReplicationGroup.__init__ = _replication_group_defaults
_orig_modify_rg_response = ElastiCacheResponse.modify_replication_group


def _modify_replication_group(self):
    group = self.elasticache_backend.replication_groups.get(self._get_param("ReplicationGroupId"))
    enable = self._get_bool_param("TransitEncryptionEnabled")
    mode = self._get_param("TransitEncryptionMode")
    token = self._get_param("AuthToken")
    minor = self._get_bool_param("AutoMinorVersionUpgrade")
    if group is not None:
        tls_on = bool(group.transit_encryption_enabled)
        current_mode = group.transit_encryption_mode or ("required" if tls_on else None)
        if (enable or mode) and not tls_on and not _engine_at_least(group, (7, 0)):
            # Rule: in-transit encryption is turned on for an existing group only from Redis OSS 7.0 (Valkey 7.2);
            # older engines have it only from creation (ElastiCache user guide, "Enabling in-transit encryption").
            raise InvalidParameterCombinationException(
                "Transit encryption can be enabled on an existing replication group only with engine version 7.0 or "
                "later; %s runs %s." % (group.replication_group_id, group.engine_version))
        if enable and not tls_on and mode != "preferred":
            # Rule: ModifyReplicationGroup TransitEncryptionEnabled=true on a group without TLS needs
            # TransitEncryptionMode=preferred in the same request; required comes after, in another one.
            raise InvalidParameterCombinationException(
                "Direct transition from transit-encryption-disabled to transit-encryption-enabled is not allowed. Update "
                "the cluster to transit-encryption-mode preferred prior to enabling transit encryption.")
        if mode == "required" and current_mode is None:
            # Rule: TransitEncryptionMode=required is the second step, after preferred ("a two-step process").
            raise InvalidParameterCombinationException(
                "Setting TransitEncryptionMode to required is a two-step process: set it to preferred first.")
        if token is not None and (not tls_on or current_mode != "required" or mode is not None or enable):
            # Rule: the AUTH token is changed only on a group whose in-transit encryption is on and required, and not
            # in the request that changes the encryption (ElastiCache answers as below).
            raise InvalidParameterValueException(
                "The AUTH token modification is only supported when encryption-in-transit is enabled.")
    result = _orig_modify_rg_response(self)
    if group is not None:
        # Gap: moto ignores these ModifyReplicationGroup parameters; AWS applies them (here at once, as with
        # ApplyImmediately=true), so a second run sees them done.
        if enable is not None:
            group.transit_encryption_enabled = enable
        if mode:
            group.transit_encryption_mode = mode
        if minor is not None:
            group.auto_minor_version_upgrade = minor
        if token is not None:
            group.auth_token_enabled = True
    return result


ElastiCacheResponse.modify_replication_group = _modify_replication_group


def _delete_cache_subnet_group(self):
    # Gap: moto has no DeleteCacheSubnetGroup at all (community.aws.elasticache_subnet_group state=absent calls it).
    name = self._get_param("CacheSubnetGroupName")
    backend = self.elasticache_backend
    if name not in backend.cache_subnet_groups:
        raise CacheSubnetGroupNotFound(name)
    group = backend.cache_subnet_groups.pop(name)
    backend.tagging_service.delete_all_tags_for_resource(group.arn)
    return EmptyResult()


ElastiCacheResponse.delete_cache_subnet_group = _delete_cache_subnet_group


# --- Glue (the Amazon provider's GlueJobOperator: IAM GetRole, Glue GetJob, CreateJob, StartJobRun, GetJobRun) -----
from moto.glue import models as glue_models  # noqa: E402
from moto.glue.exceptions import InvalidInputException as GlueInvalidInput  # noqa: E402
from moto.iam.models import iam_backends  # noqa: E402
from moto.moto_api import state_manager  # noqa: E402
from moto.s3.models import s3_backends  # noqa: E402

GLUE_PRINCIPALS = ("glue.amazonaws.com", "glue.amazonaws.com.cn")


def _glue_trusted(role):
    """True when the role's trust policy lets Glue assume it."""
    doc = role.assume_role_policy_document
    doc = json.loads(doc) if isinstance(doc, str) else doc
    statements = doc.get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        actions = st.get("Action", [])
        services = (st.get("Principal") or {}).get("Service", []) if isinstance(st.get("Principal"), dict) else []
        actions = actions if isinstance(actions, list) else [actions]
        services = services if isinstance(services, list) else [services]
        if st.get("Effect") == "Allow" and "sts:AssumeRole" in actions and set(services) & set(GLUE_PRINCIPALS):
            return True
    return False


_glue_create_job = glue_models.GlueBackend.create_job


def _create_job(self, name, role, *args, **kwargs):
    # Rule: CreateJob refuses a role that does not exist or that Glue may not assume ("InvalidInputException: Role ...
    # should be given assume role permissions for Glue Service"); moto takes any string.
    iam = iam_backends[self.account_id][self.partition]
    found = [r for r in iam.get_roles() if role in (r.name, r.arn)]
    if not found or not _glue_trusted(found[0]):
        raise GlueInvalidInput("CreateJob", "Role %s should be given assume role permissions for Glue Service." % role)
    return _glue_create_job(self, name, role, *args, **kwargs)


glue_models.GlueBackend.create_job = _create_job

# Rule: a job run takes time - STARTING, RUNNING, then its end state - and a caller polls GetJobRun for it (AWS: a
# minute or more); moto reports the end state on the first GetJobRun. Here each state lasts 2 s.
state_manager.set_transition("glue::job_run", {"progression": "time", "seconds": 2})

_glue_start_job_run = glue_models.FakeJob.start_job_run


def _start_job_run(self, *args, **kwargs):
    # Rule: a run whose script (Command.ScriptLocation, s3://bucket/key) is not in S3 fails (JobRunState FAILED, with
    # an ErrorMessage); moto runs any job to SUCCEEDED.
    run_id = _glue_start_job_run(self, *args, **kwargs)
    location = (self.command or {}).get("ScriptLocation", "") if isinstance(self.command, dict) else ""
    match = re.match(r"^s3://([^/]+)/(.+)$", location)
    found = False
    if match:
        s3 = s3_backends[self.backend.account_id][self.backend.partition]
        try:
            found = s3.get_object(match.group(1), match.group(2)) is not None
        except Exception:  # NoSuchBucket
            found = False
    if not found:
        run = self.get_job_run(run_id)
        run._transitions = [("STARTING", "RUNNING"), ("RUNNING", "FAILED")]
        run.__dict__["_twin_error"] = "Script %s does not exist in S3." % (location or "(none)")
    return run_id


glue_models.FakeJob.start_job_run = _start_job_run

_glue_run_as_dict = glue_models.FakeJobRun.as_dict


def _run_as_dict(self):
    answer = _glue_run_as_dict(self)
    if self.__dict__.get("_twin_error") and answer.get("JobRunState") == "FAILED":
        answer["ErrorMessage"] = self.__dict__["_twin_error"]
    return answer


glue_models.FakeJobRun.as_dict = _run_as_dict


# --- IAM enforced for the hosts (the instance role's credentials) --------------------------------------------------
# Rule: AWS authorises every request against the caller's policies (IAM User Guide, "Policy evaluation logic"): an
# explicit Deny wins, an Allow must match the action, the resource ARN (its partition included) and the conditions,
# and whatever no Allow matches is AccessDenied. moto checks nothing by default, and its own evaluator (used only
# after INITIAL_NO_AUTH_ACTION_COUNT) matches every non-S3 resource against "*". The twin evaluates, with
# iam_policy.py, every request signed with credentials that STS issued (ASIA... keys: the instance role's, which
# the twin's IMDS hands the hosts), against the role's inline and attached policies; the controller's static keys
# stay an administrator's, as a user's admin profile would be. Each refusal is logged ("iam: denied ...").
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iam_policy  # noqa: E402  (tools/twin/iam_policy.py, beside this file)
from moto.core.authorization import ActionAuthenticatorMixin  # noqa: E402
from moto.sts.models import sts_backends  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

from moto.core.exceptions import JsonRESTError  # noqa: E402

IAM_DENIALS = []  # (action, resource, principal, decision) of every refusal, newest last (the twin's log shows them)
_GLUE_JOB_PARAM = {"CreateJob": "Name"}  # the other job actions name the job JobName


def _sts_credentials(account_id, partition, access_key_id):
    for assumed in sts_backends[account_id][partition].assumed_roles:
        if assumed.access_key_id == access_key_id:
            return assumed
    return None


def _role_arn(iam, partition, account_id, name_or_arn):
    for role in iam.get_roles():
        if name_or_arn in (role.name, role.arn):
            return role.arn
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return "arn:%s:iam::%s:role/%s" % (partition, account_id, name_or_arn)


def _param(response, name):
    try:
        value = response._get_param(name)
    except Exception:  # noqa: BLE001 a body that is not the protocol's shape
        value = None
    if value is None and "." in name:  # JobUpdate.Role of UpdateJob (JSON)
        outer, inner = name.split(".", 1)
        value = (_param(response, outer) or {}).get(inner) if isinstance(_param(response, outer), dict) else None
    return value


def iam_checks(response, action, resource, partition, region, account_id):
    """[(action, resource, context)]: what AWS authorises for this request. Rule: the resource ARN per action as the
    Service Authorization Reference lists it (Glue: job/<name>; IAM: the role's ARN); CreateJob and UpdateJob with
    a Role also need iam:PassRole on that role, with iam:PassedToService glue.amazonaws.com ("Granting a user
    permissions to pass a role to an AWS service")."""
    service, name = action.split(":", 1) if ":" in action else (action, "")
    iam = iam_backends[account_id][partition]
    checks = []
    if service == "glue" and ("Job" in name):
        job = _param(response, _GLUE_JOB_PARAM.get(name, "JobName"))
        if job:
            resource = "arn:%s:glue:%s:%s:job/%s" % (partition, region, account_id, job)
        role = _param(response, "Role") if name == "CreateJob" else (
            _param(response, "JobUpdate.Role") if name == "UpdateJob" else None)
        if role:
            checks.append(("iam:PassRole", _role_arn(iam, partition, account_id, role),
                           {"iam:PassedToService": "glue.amazonaws.com"}))
    elif service == "iam" and name in ("GetRole", "GetRolePolicy", "ListAttachedRolePolicies", "ListRolePolicies"):
        role = _param(response, "RoleName")
        if role:
            resource = _role_arn(iam, partition, account_id, role)
    return [(action, resource, {})] + checks


_moto_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action


def _access_denied(response, request, principal, action, arn, decision):
    """The refusal as the service words it: JSON services (X-Amz-Target: Glue, Secrets Manager, Logs) answer
    AccessDeniedException, query and REST-XML services AccessDenied; the message names the principal, the action
    and the resource, as AWS's does."""
    why = ("with an explicit deny in an identity-based policy" if decision == iam_policy.EXPLICIT_DENY
           else "because no identity-based policy allows the %s action" % action)
    message = "User: %s is not authorized to perform: %s on resource: %s %s" % (principal, action, arn, why)
    if response.headers.get("X-Amz-Target"):
        return JsonRESTError("AccessDeniedException", message)
    request._action = action  # moto's error names request._action
    try:
        request._raise_access_denied()
    except Exception as exc:  # noqa: BLE001 moto's own AccessDenied of the protocol (XML)
        return exc
    return JsonRESTError("AccessDenied", message)


def _authorize(self, iam_request_cls, resource="*"):
    header = self.headers.get("Authorization") or ""
    match = re.search(r"Credential=([^/]+)/\d+/([^/]+)/", header)
    account_id = getattr(self, "current_account", None) or "123456789012"
    if match:
        region = match.group(2)
        partition = get_partition(region)
        assumed = _sts_credentials(account_id, partition, match.group(1))
        if assumed is not None:
            path = self.raw_path + (("?" + urlparse(self.uri).query) if urlparse(self.uri).query else "")
            request = iam_request_cls(account_id=account_id, method=self.method, path=path, data=self.data,
                                      body=self.raw_body, headers=self.headers, action=self._get_action())
            request.check_signature()
            iam = iam_backends[account_id][partition]
            role_name = assumed.role_arn.split("/")[-1]
            try:
                policies = [doc for _n, doc in (iam.get_role_policy(role_name, n)
                                                for n in iam.list_role_policies(role_name))]
                attached = iam.list_attached_role_policies(role_name)[0]
                for policy in attached:
                    full = iam.get_policy(policy.arn)
                    policies.append(next(v.document for v in full.versions if v.is_default))
            except Exception:  # noqa: BLE001 the role is gone: nothing is allowed
                policies = []
            if request._action == "sts:GetCallerIdentity":
                return None  # always allowed (AWS: "No permissions are required to perform this operation")
            base = {"aws:SecureTransport": str(self.uri.startswith("https")).lower(),
                    "aws:PrincipalArn": assumed.role_arn, "aws:RequestedRegion": region}
            for action, arn, context in iam_checks(self, request._action, resource, partition, region, account_id):
                decision, _sid = iam_policy.evaluate(policies, action, [arn], dict(base, **context))
                if decision != iam_policy.ALLOW:
                    IAM_DENIALS.append((action, arn, assumed.arn, decision))
                    print("twin: iam: denied %s on %s to %s (%s)" % (action, arn, assumed.arn, decision),
                          file=sys.stderr, flush=True)
                    raise _access_denied(self, request, assumed.arn, action, arn, decision)
            return None
    return _moto_authorize(self, iam_request_cls, resource)


ActionAuthenticatorMixin._authenticate_and_authorize_action = _authorize


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: moto_server.py PORT [HOST]")
    server.main(["-H", sys.argv[2] if len(sys.argv) == 3 else "127.0.0.1", "-p", sys.argv[1]])
