"""The twin's moto (tools/twin/moto_server.py) rejects what AWS rejects: each AWS rule taught there is proved here,
in-process (moto's mock, no server, no network), with the exact calls the infra role's modules make.

Importing moto_server applies its patches to the moto package for the whole test session; that is what the twin does.
"""

import importlib.util
import json
import os

import boto3
import botocore.exceptions
import pytest

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")  # not needed here; moto_server would turn it on
moto = pytest.importorskip("moto")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_SPEC = importlib.util.spec_from_file_location("twin_moto_server", os.path.join(ROOT, "tools", "twin", "moto_server.py"))
moto_server = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(moto_server)

REGIONS = ["cn-north-1", "us-east-1"]
PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


@pytest.fixture(autouse=True)
def _aws(monkeypatch):
    for name in ("AWS_CONFIG_FILE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(moto_server, "BOOT_SECONDS", 0.3)
    with moto.mock_aws():
        yield


def _error(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


# --- EC2: instances boot before they run; targets register only when running -----------------------------------
def _instance(region):
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    image = boto3.client("ssm", region_name=region).get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]
    return ec2, vpc, instance


@pytest.mark.parametrize("region", REGIONS)
def test_instance_is_pending_then_running(region, monkeypatch):
    booted = []
    monkeypatch.setattr(moto_server, "instance_booted", lambda instance: bool(booted))
    ec2, _vpc, instance = _instance(region)
    assert instance["State"]["Name"] == "pending"
    booted.append(True)
    described = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert described["State"]["Name"] == "running"


@pytest.mark.parametrize("region", REGIONS)
def test_register_targets_refuses_a_pending_instance(region, monkeypatch):
    # The boot is held until the test lets it finish: on a busy machine 0.3 s pass before the first call.
    booted = []
    monkeypatch.setattr(moto_server, "instance_booted", lambda instance: bool(booted))
    ec2, vpc, instance = _instance(region)
    elb = boto3.client("elbv2", region_name=region)
    group = elb.create_target_group(Name="web", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="instance")
    arn = group["TargetGroups"][0]["TargetGroupArn"]
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance["InstanceId"], "Port": 8080}])
    assert "InvalidTarget" in _error(excinfo)[0] or "not in a running state" in _error(excinfo)[1]
    booted.append(True)
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance["InstanceId"], "Port": 8080}])


def _registered_target(region, monkeypatch, delay="30"):
    monkeypatch.setattr(moto_server, "instance_booted", lambda instance: True)
    _ec2, vpc, instance = _instance(region)
    elb = boto3.client("elbv2", region_name=region)
    arn = elb.create_target_group(Name="web", Protocol="HTTP", Port=8080, VpcId=vpc,
                                  TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": delay}])
    target = {"Id": instance["InstanceId"], "Port": 8080}
    elb.register_targets(TargetGroupArn=arn, Targets=[target])
    return elb, arn, target


def _state(elb, arn, target):
    return elb.describe_target_health(TargetGroupArn=arn, Targets=[target])["TargetHealthDescriptions"][0][
        "TargetHealth"]["State"]


@pytest.mark.parametrize("region", REGIONS)
def test_deregistered_target_drains_for_the_delay(region, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(moto_server.time, "monotonic", lambda: clock[0])
    elb, arn, target = _registered_target(region, monkeypatch, delay="30")
    elb.deregister_targets(TargetGroupArn=arn, Targets=[target])
    assert _state(elb, arn, target) == "draining"
    clock[0] += 29
    assert _state(elb, arn, target) == "draining"
    clock[0] += 2
    assert _state(elb, arn, target) == "unused"
    # Registered again while draining: no longer draining.
    elb.register_targets(TargetGroupArn=arn, Targets=[target])
    elb.deregister_targets(TargetGroupArn=arn, Targets=[target])
    elb.register_targets(TargetGroupArn=arn, Targets=[target])
    assert _state(elb, arn, target) == "healthy"  # no stand-in checks this group: moto's answer


@pytest.mark.parametrize("region", REGIONS)
def test_target_health_follows_the_stand_ins_checks(region, monkeypatch):
    elb, arn, target = _registered_target(region, monkeypatch)
    from moto.elbv2.models import elbv2_backends
    group = next(g for b in elbv2_backends.values() for r in b.values() for g in r.target_groups.values()
                 if g.arn == arn)
    group._twin_checked = {}
    assert _state(elb, arn, target) == "initial"
    group._twin_checked[target["Id"]] = "unhealthy"
    assert _state(elb, arn, target) == "unhealthy"
    group._twin_checked[target["Id"]] = "healthy"
    assert _state(elb, arn, target) == "healthy"


@pytest.mark.parametrize("region", REGIONS)
def test_amazon_linux_2023_parameter_names_an_image_of_the_region(region):
    # Gap bridged for China: the public parameter and the image it names exist in cn-north-1 as on AWS.
    image_id = boto3.client("ssm", region_name=region).get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    image = boto3.client("ec2", region_name=region).describe_images(ImageIds=[image_id])["Images"][0]
    assert image["Name"].startswith("al2023-ami-") and image["Architecture"] == "x86_64"


# --- RDS: engine versions AWS offers; upgrades only; storage only grows ------------------------------------------
def _database(version="16", storage=50):
    rds = boto3.client("rds", region_name="cn-north-1")
    rds.create_db_instance(DBInstanceIdentifier="db", Engine="postgres", EngineVersion=version, DBInstanceClass="db.m5.large",
                           AllocatedStorage=storage, MaxAllocatedStorage=200, MasterUsername="airflow_user",
                           MasterUserPassword="moto-only-Passw0rd", DeletionProtection=True)
    return rds


def _running(rds):
    return rds.describe_db_instances(DBInstanceIdentifier="db")["DBInstances"][0]


def test_major_version_runs_the_default_minor():
    rds = _database("16")
    assert _running(rds)["EngineVersion"] == moto_server.POSTGRES_DEFAULT["16"]


@pytest.mark.parametrize("version", ["15.8", "13", "16.4", "fifteen"])
def test_create_refuses_a_version_aws_does_not_offer(version):
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        _database(version)
    assert _error(excinfo) == ("InvalidParameterCombination", "Cannot find version %s for postgres" % version)


def test_modify_never_downgrades():
    rds = _database("16")
    newest = moto_server.POSTGRES_OFFERED["16"][-1]
    rds.modify_db_instance(DBInstanceIdentifier="db", EngineVersion=newest, ApplyImmediately=True)  # an upgrade
    for lower in ("16", moto_server.POSTGRES_OFFERED["16"][0]):
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            rds.modify_db_instance(DBInstanceIdentifier="db", EngineVersion=lower, ApplyImmediately=True)
        assert _error(excinfo)[0] == "InvalidParameterCombination"
    assert _running(rds)["EngineVersion"] == newest


def test_major_upgrade_needs_the_flag():
    rds = _database("16")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        rds.modify_db_instance(DBInstanceIdentifier="db", EngineVersion="17", ApplyImmediately=True)
    assert "AllowMajorVersionUpgrade" in _error(excinfo)[1]
    rds.modify_db_instance(DBInstanceIdentifier="db", EngineVersion="17", AllowMajorVersionUpgrade=True, ApplyImmediately=True)
    assert _running(rds)["EngineVersion"] == moto_server.POSTGRES_DEFAULT["17"]


def test_storage_only_grows():
    rds = _database(storage=50)
    rds.modify_db_instance(DBInstanceIdentifier="db", AllocatedStorage=75, ApplyImmediately=True)  # as autoscaling does
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        rds.modify_db_instance(DBInstanceIdentifier="db", AllocatedStorage=50, ApplyImmediately=True)
    assert _error(excinfo)[0] == "InvalidParameterValue"
    assert _running(rds)["AllocatedStorage"] == 75


def test_deletion_protection_and_existing_final_snapshot_are_refused():
    # Already AWS-strict in moto 5.2.5; kept here so an upgrade of moto that loosens them is noticed.
    rds = _database()
    with pytest.raises(botocore.exceptions.ClientError):
        rds.delete_db_instance(DBInstanceIdentifier="db", FinalDBSnapshotIdentifier="db-final")
    rds.modify_db_instance(DBInstanceIdentifier="db", DeletionProtection=False, ApplyImmediately=True)
    rds.create_db_snapshot(DBInstanceIdentifier="db", DBSnapshotIdentifier="db-final")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        rds.delete_db_instance(DBInstanceIdentifier="db", FinalDBSnapshotIdentifier="db-final")
    assert _error(excinfo)[0] == "DBSnapshotAlreadyExists"


def test_engine_versions_are_listed_as_offered():
    # Gap bridged: DescribeDBEngineVersions (moto has none) lists what POSTGRES_OFFERED says, as the role's preflight asks.
    rds = boto3.client("rds", region_name="cn-north-1")
    versions = [v["EngineVersion"] for v in rds.describe_db_engine_versions(Engine="postgres")["DBEngineVersions"]]
    assert "15.8" not in versions and moto_server.POSTGRES_DEFAULT["16"] in versions
    assert rds.describe_db_engine_versions(Engine="postgres", EngineVersion="15.8")["DBEngineVersions"] == []


# --- ELBv2: deletion protection; access logs need a bucket ELB may write to ----------------------------------------
def _load_balancer(region):
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    azs = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.%d.0/24" % i, AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(azs, 1)]
    elb = boto3.client("elbv2", region_name=region)
    arn = elb.create_load_balancer(Name="alb", Subnets=subnets, Scheme="internal")["LoadBalancers"][0]["LoadBalancerArn"]
    return elb, arn


def _attributes(elb, arn, **attrs):
    return elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[{"Key": k, "Value": v} for k, v in attrs.items()])


@pytest.mark.parametrize("region", REGIONS)
def test_protected_load_balancer_is_not_deleted(region):
    elb, arn = _load_balancer(region)
    _attributes(elb, arn, **{"deletion_protection.enabled": "true"})
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        elb.delete_load_balancer(LoadBalancerArn=arn)
    assert _error(excinfo)[0] == "OperationNotPermitted"
    _attributes(elb, arn, **{"deletion_protection.enabled": "false"})
    elb.delete_load_balancer(LoadBalancerArn=arn)


@pytest.mark.parametrize("region", REGIONS)
def test_access_logs_need_a_bucket_elb_may_write_to(region):
    import json

    elb, arn = _load_balancer(region)
    logs = {"access_logs.s3.enabled": "true", "access_logs.s3.bucket": "logs-%s" % region, "access_logs.s3.prefix": "alb"}
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:  # no such bucket
        _attributes(elb, arn, **logs)
    assert _error(excinfo)[0] == "InvalidConfigurationRequest"
    s3 = boto3.client("s3", region_name=region)
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket="logs-%s" % region, **config)
    with pytest.raises(botocore.exceptions.ClientError):  # a bucket without the policy
        _attributes(elb, arn, **logs)
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:PutObject",
        "Principal": {"AWS": "arn:%s:iam::%s:root" % (partition, moto_server.ELB_LOG_ACCOUNTS[region])},
        "Resource": "arn:%s:s3:::logs-%s/alb/AWSLogs/*" % (partition, region)}]}
    s3.put_bucket_policy(Bucket="logs-%s" % region, Policy=json.dumps(policy))
    _attributes(elb, arn, **logs)


# --- CloudFormation: an update that changes nothing is refused ----------------------------------------------------
def test_update_stack_without_changes_is_refused():
    import json

    cfn = boto3.client("cloudformation", region_name="cn-north-1")
    template = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    cfn.create_stack(StackName="s", TemplateBody=template, Tags=[{"Key": "k", "Value": "v"}])
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        cfn.update_stack(StackName="s", TemplateBody=template, Tags=[{"Key": "k", "Value": "v"}])
    assert _error(excinfo) == ("ValidationError", "No updates are to be performed.")
    cfn.update_stack(StackName="s", TemplateBody=template, Tags=[{"Key": "k", "Value": "w"}])  # a change goes through


def test_flow_logs_to_a_bucket_folder():
    # Gap bridged: an S3 destination with a folder is created, as on AWS.
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="flow")
    ec2.create_flow_logs(ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL", LogDestinationType="s3",
                         LogDestination="arn:aws:s3:::flow/airflow")
    assert [f["LogDestination"] for f in ec2.describe_flow_logs()["FlowLogs"]] == ["arn:aws:s3:::flow/airflow"]


# --- ElastiCache: in-transit encryption on an existing group, preferred then required; the AUTH token after --------
def _redis(version="7.1", tls=False, **extra):
    ec = boto3.client("elasticache", region_name="cn-north-1")
    ec.create_replication_group(ReplicationGroupId="redis", ReplicationGroupDescription="broker", Engine="redis",
                                EngineVersion=version, NumCacheClusters=2, CacheNodeType="cache.t3.medium",
                                TransitEncryptionEnabled=tls, **extra)
    return ec


def _group(ec):
    return ec.describe_replication_groups(ReplicationGroupId="redis")["ReplicationGroups"][0]


def _modify(ec, **params):
    return ec.modify_replication_group(ReplicationGroupId="redis", ApplyImmediately=True, **params)


def test_tls_on_an_existing_group_goes_through_preferred():
    ec = _redis()
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:  # straight to TLS
        _modify(ec, TransitEncryptionEnabled=True)
    assert _error(excinfo)[0] == "InvalidParameterCombination" and "preferred" in _error(excinfo)[1]
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        _modify(ec, TransitEncryptionEnabled=True, TransitEncryptionMode="required")
    assert _error(excinfo)[0] == "InvalidParameterCombination"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        _modify(ec, TransitEncryptionMode="required")
    assert _error(excinfo)[0] == "InvalidParameterCombination"
    _modify(ec, TransitEncryptionEnabled=True, TransitEncryptionMode="preferred")
    group = _group(ec)
    assert (group["TransitEncryptionEnabled"], group["TransitEncryptionMode"]) == (True, "preferred")
    _modify(ec, TransitEncryptionMode="required")
    assert _group(ec)["TransitEncryptionMode"] == "required"


@pytest.mark.parametrize("version", ["6.2", "5.0.6"])
def test_tls_on_an_existing_group_needs_redis_7(version):
    ec = _redis(version)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        _modify(ec, TransitEncryptionEnabled=True, TransitEncryptionMode="preferred")
    assert _error(excinfo)[0] == "InvalidParameterCombination" and "7.0" in _error(excinfo)[1]
    assert _group(ec)["TransitEncryptionEnabled"] is False


def test_auth_token_only_once_tls_is_required():
    ec = _redis()
    token = dict(AuthToken="moto-only-auth-token-0123456789", AuthTokenUpdateStrategy="ROTATE")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:  # no TLS
        _modify(ec, **token)
    assert _error(excinfo) == ("InvalidParameterValue",
                               "The AUTH token modification is only supported when encryption-in-transit is enabled.")
    _modify(ec, TransitEncryptionEnabled=True, TransitEncryptionMode="preferred")
    with pytest.raises(botocore.exceptions.ClientError):  # preferred
        _modify(ec, **token)
    with pytest.raises(botocore.exceptions.ClientError):  # in the request that makes it required
        _modify(ec, TransitEncryptionMode="required", **token)
    _modify(ec, TransitEncryptionMode="required")
    _modify(ec, **token)
    assert _group(ec)["AuthTokenEnabled"] is True


def test_group_created_with_tls_reports_required_and_minor_upgrades():
    # Gap bridged: AWS reports the mode and AutoMinorVersionUpgrade's default; moto reported neither.
    group = _group(_redis(tls=True, AuthToken="moto-only-auth-token-0123456789"))
    assert group["TransitEncryptionMode"] == "required" and group["AutoMinorVersionUpgrade"] is True


def test_modify_applies_auto_minor_version_upgrade():
    # Gap bridged: moto ignored AutoMinorVersionUpgrade (and the TLS settings) in ModifyReplicationGroup.
    ec = _redis(AutoMinorVersionUpgrade=False)
    assert _group(ec)["AutoMinorVersionUpgrade"] is False
    _modify(ec, AutoMinorVersionUpgrade=True)
    assert _group(ec)["AutoMinorVersionUpgrade"] is True


# --- EFS: the backup policy (automatic backups, FSBP EFS.2) ----------------------------------------------------------
def _file_system():
    efs = boto3.client("efs", region_name="cn-north-1")
    return efs, efs.create_file_system(CreationToken="shared", Encrypted=True)["FileSystemId"]


def test_backup_policy_put_and_described():
    efs, fs = _file_system()
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:  # never set: AWS answers PolicyNotFound
        efs.describe_backup_policy(FileSystemId=fs)
    assert _error(excinfo)[0] == "PolicyNotFound"
    assert efs.put_backup_policy(FileSystemId=fs, BackupPolicy={"Status": "ENABLED"})["BackupPolicy"]["Status"] == "ENABLED"
    assert efs.describe_backup_policy(FileSystemId=fs)["BackupPolicy"]["Status"] == "ENABLED"
    efs.put_backup_policy(FileSystemId=fs, BackupPolicy={"Status": "DISABLED"})
    assert efs.describe_backup_policy(FileSystemId=fs)["BackupPolicy"]["Status"] == "DISABLED"


def test_backup_policy_of_an_unknown_file_system():
    efs = boto3.client("efs", region_name="cn-north-1")
    for call in (lambda: efs.describe_backup_policy(FileSystemId="fs-0123456789abcdef0"),
                 lambda: efs.put_backup_policy(FileSystemId="fs-0123456789abcdef0", BackupPolicy={"Status": "ENABLED"})):
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            call()
        assert _error(excinfo)[0] == "FileSystemNotFound"


def test_backup_policy_needs_an_available_file_system():
    from moto.efs.models import efs_backends

    efs, fs = _file_system()
    account = boto3.client("sts", region_name="cn-north-1").get_caller_identity()["Account"]
    efs_backends[account]["cn-north-1"].file_systems_by_id[fs].life_cycle_state = "creating"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        efs.put_backup_policy(FileSystemId=fs, BackupPolicy={"Status": "ENABLED"})
    assert _error(excinfo)[0] == "IncorrectFileSystemLifeCycleState"


# --- The modules against these rules, as the amazon.aws integration targets run them: check, real, check, real -----
def _run(module, args, capsys, check=False):
    from ansible.module_utils.testing import patch_module_args

    with patch_module_args(dict(args, region="cn-north-1", _ansible_check_mode=check)), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def _converges(module, args, capsys):
    """Check mode reports the change and makes none, the real run makes it, then both report nothing to do."""
    results = [_run(module, args, capsys, check=True), _run(module, args, capsys), _run(module, args, capsys, check=True),
               _run(module, args, capsys)]
    assert [r.get("failed", False) for r in results] == [False] * 4, [r.get("msg") for r in results]
    assert [r["changed"] for r in results] == [True, True, False, False], results
    return results[1]


def test_efs_backup_policy_module_converges(capsys):
    from ansible_collections.ha_airflow.aws.plugins.modules import efs_backup_policy

    _efs, fs = _file_system()
    result = _converges(efs_backup_policy, dict(file_system_id=fs), capsys)
    assert result["changes"] == [{"setting": "Status", "before": "DISABLED", "after": "ENABLED"}]
    _converges(efs_backup_policy, dict(file_system_id=fs, status="disabled"), capsys)


def test_elasticache_module_turns_tls_on_the_way_aws_allows(capsys):
    from ansible_collections.ha_airflow.aws.plugins.modules import elasticache_replication_group as erg

    base = dict(replication_group_id="redis", engine_version="7.1", cache_node_type="cache.t3.medium",
                description="broker", auto_minor_version_upgrade=True)
    created = _converges(erg, base, capsys)
    assert created["replication_group"]["transit_encryption_enabled"] is False
    refused = _run(erg, dict(base, transit_encryption=True), capsys, check=True)  # straight to required: refused
    assert refused["failed"] is True and "transit_encryption_mode=preferred" in refused["msg"]
    step1 = _converges(erg, dict(base, transit_encryption=True, transit_encryption_mode="preferred"), capsys)
    assert [c["setting"] for c in step1["changes"]] == ["TransitEncryptionEnabled", "TransitEncryptionMode"]
    step3 = _converges(erg, dict(base, transit_encryption=True), capsys)
    assert step3["changes"] == [{"setting": "TransitEncryptionMode", "before": "preferred", "after": "required"}]
    token = dict(base, transit_encryption=True, auth_token="moto-only-auth-token-0123456789", update_auth_token="always")
    rotated = _run(erg, token, capsys)
    assert rotated["changed"] is True and rotated["replication_group"]["auth_token_enabled"] is True
    minor = _converges(erg, dict(base, auto_minor_version_upgrade=False, transit_encryption=True), capsys)
    assert minor["changes"] == [{"setting": "AutoMinorVersionUpgrade", "before": True, "after": False}]


# --- IAM: requests signed with the instance role's (STS) credentials are authorised as AWS does -----------------
def _role_session(region, statements, trust_service="ec2.amazonaws.com.cn"):
    iam = boto3.client("iam", region_name=region)
    statement = {"Effect": "Allow", "Principal": {"Service": trust_service}, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [statement]}
    role = iam.create_role(RoleName="hosts", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName="hosts", PolicyName="glue",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    glue_trust = dict(trust, Statement=[dict(trust["Statement"][0], Principal={"Service": "glue.amazonaws.com"})])
    iam.create_role(RoleName="AWSGlueServiceRole-etl", AssumeRolePolicyDocument=json.dumps(glue_trust))
    creds = boto3.client("sts", region_name=region).assume_role(RoleArn=role["Arn"], RoleSessionName="i-1")["Credentials"]
    session = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"], region_name=region)
    return session


@pytest.mark.parametrize("region", REGIONS)
def test_instance_role_needs_get_job(region):
    """The amazon provider's GlueJobOperator calls glue:GetJob before every run: a policy without it is refused."""
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    jobs = "arn:%s:glue:%s:123456789012:job/*" % (partition, region)
    boto3.client("iam", region_name=region)
    runs_only = {"Effect": "Allow", "Action": ["glue:StartJobRun", "glue:GetJobRun"], "Resource": jobs}
    session = _role_session(region, [runs_only])
    admin = boto3.client("glue", region_name=region)
    command = {"Name": "glueetl", "ScriptLocation": "s3://b/k.py"}
    admin.create_job(Name="nightly", Role="AWSGlueServiceRole-etl", Command=command)
    glue = session.client("glue")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        glue.get_job(JobName="nightly")
    code, message = _error(excinfo)
    assert code == "AccessDeniedException" and "glue:GetJob" in message
    assert moto_server.IAM_DENIALS[-1][:2] == ("glue:GetJob", jobs.replace("*", "nightly"))
    assert glue.start_job_run(JobName="nightly")["JobRunId"]  # allowed, on this job's ARN
    iam = boto3.client("iam", region_name=region)
    iam.put_role_policy(RoleName="hosts", PolicyName="glue", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "glue:GetJob", "Resource": jobs}]}))
    assert glue.get_job(JobName="nightly")["Job"]["Name"] == "nightly"  # the change counts at once
    other = "arn:aws:glue:%s:123456789012:job/*" % region if partition == "aws-cn" else jobs.replace("aws", "aws-cn")
    iam.put_role_policy(RoleName="hosts", PolicyName="glue", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "glue:GetJob", "Resource": other}]}))
    with pytest.raises(botocore.exceptions.ClientError):
        glue.get_job(JobName="nightly")  # a statement of the other partition allows nothing here
    assert session.client("sts").get_caller_identity()["Arn"].endswith(":assumed-role/hosts/i-1")


def test_create_job_needs_pass_role_to_glue():
    region = "cn-north-1"
    jobs = "arn:aws-cn:glue:cn-north-1:123456789012:job/*"
    roles = "arn:aws-cn:iam::123456789012:role/AWSGlueServiceRole*"
    create = {"Effect": "Allow", "Action": ["glue:CreateJob", "iam:GetRole"], "Resource": [jobs, roles]}
    pass_ec2 = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": roles,
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}
    session = _role_session(region, [create, pass_ec2])
    glue = session.client("glue")
    command = {"Name": "glueetl", "ScriptLocation": "s3://b/k.py"}
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        glue.create_job(Name="etl", Role="AWSGlueServiceRole-etl", Command=command)
    assert "iam:PassRole" in _error(excinfo)[1]
    assert session.client("iam").get_role(RoleName="AWSGlueServiceRole-etl")["Role"]["RoleName"]
    boto3.client("iam", region_name=region).put_role_policy(RoleName="hosts", PolicyName="glue", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [create, dict(pass_ec2, Condition={
            "StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}})]}))
    assert glue.create_job(Name="etl", Role="AWSGlueServiceRole-etl", Command=command)["Name"] == "etl"


def test_static_keys_stay_an_administrators():
    """The controller's own (static) keys are not evaluated: a user's admin profile."""
    assert boto3.client("glue", region_name="cn-north-1").get_jobs()["Jobs"] == []
