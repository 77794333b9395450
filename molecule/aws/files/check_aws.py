"""boto3 checks of what the infra role built (or removed), against moto (AWS_CONFIG_FILE points at it).

  check_aws.py present REGION CLUSTER OUTPUTS_FILE --vars VARS_FILE [--alb-cidrs a,b] [--secret S ...] [--ami ID]
                [--user-policy ARN ...]
  check_aws.py absent REGION CLUSTER

Exits non-zero with every failed property listed. Reads AWS only; changes nothing.
"""

import argparse
import os
import stat
import sys

import boto3
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools", "twin"))
import iam_policy  # noqa: E402  the twin's policy evaluation (AWS's rules), beside moto_server.py

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
    return condition


def partition_of(region):
    return "aws-cn" if region.startswith("cn-") else ("aws-us-gov" if region.startswith("us-gov-") else "aws")


def suffix_of(region):
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def rules(permissions):
    """IpPermissions as a set of (proto, from, to, source) tuples, one per source."""
    out = set()
    for perm in permissions:
        key = (perm.get("IpProtocol"), perm.get("FromPort"), perm.get("ToPort"))
        for rng in perm.get("IpRanges", []):
            out.add(key + (rng["CidrIp"],))
        for pair in perm.get("UserIdGroupPairs", []):
            out.add(key + (pair["GroupId"],))
        for rng in perm.get("Ipv6Ranges", []):
            out.add(key + (rng["CidrIpv6"],))
    return out


# What the security review requires by default, whatever roles/infra/defaults/main.yml says; a region's vars file
# (molecule/aws/vars/<region>.yml) overrides only what it sets explicitly.
REQUIRED_DEFAULTS = {
    "infra_alb_scheme": "internal",
    "infra_alb_certificate_arn": "",
    "infra_alb_deletion_protection": False,
    "infra_alb_access_logs_bucket": "",
    "infra_instance_count": 2,
    "infra_instance_groups": [],
    "infra_nat_gateway_per_az": True,
    "infra_vpc_s3_endpoint": True,
    "infra_vpc_interface_endpoints": [],
    "infra_glue_access": False,
    "infra_glue_scripts_bucket": "",
    "infra_vpc_flow_logs_destination_arn": "",
    "infra_redis_transit_encryption": True,
    "infra_redis_transit_encryption_mode": "required",
    "infra_redis_auto_minor_version_upgrade": True,
    "infra_efs_automatic_backups": True,
    "infra_rds_engine_version": "16",
    "infra_rds_deletion_protection": True,
}
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
ALL_COMPONENTS = ["webserver", "scheduler", "worker"]


def expected_hosts(settings, cluster):
    """Name -> components, as the infra role must launch them: the airflow group, then each extra group."""
    hosts = {"%s-airflow-%d" % (cluster, i): ALL_COMPONENTS for i in range(1, settings["infra_instance_count"] + 1)}
    for group in settings["infra_instance_groups"]:
        for i in range(1, group["count"] + 1):
            hosts["%s-%s-%d" % (cluster, group["name"], i)] = group.get("components", ALL_COMPONENTS)
    return hosts


def present(args):
    region, cluster = args.region, args.cluster
    part, suffix = partition_of(region), suffix_of(region)
    settings = dict(REQUIRED_DEFAULTS, **(yaml.safe_load(open(args.vars)) if args.vars else {}))
    tls = settings["infra_redis_transit_encryption"]
    https = bool(settings["infra_alb_certificate_arn"])
    ec2 = boto3.client("ec2", region_name=region)
    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]

    # Outputs file: one variable, no secrets, mode 0640, China-correct names.
    mode = stat.S_IMODE(os.stat(args.outputs).st_mode)
    check(mode == 0o640, "outputs file mode is %o, not 0640" % mode)
    text = open(args.outputs).read()
    for secret in args.secret + [settings.get("infra_rds_password"), settings.get("infra_redis_auth_token")]:
        check(not secret or secret not in text, "a secret appears in the outputs file")
    doc = yaml.safe_load(text)
    check(list(doc) == ["ha_airflow_infra"], "outputs file defines %s, not only ha_airflow_infra" % list(doc))
    out = doc["ha_airflow_infra"]
    for key in ("region", "partition", "vpc_id", "efs_id", "efs_dns_name", "rds_endpoint", "rds_port", "db_name", "db_username",
                "redis_primary_endpoint", "redis_port", "redis_tls", "alb_dns_name", "instance_ids"):
        check(key in out and out[key] not in ("", None, []), "outputs lack %s" % key)
    check(out["region"] == region and out["partition"] == part, "outputs region/partition %s/%s" % (out["region"], out["partition"]))
    check(out["redis_tls"] is tls, "outputs redis_tls is %r" % out["redis_tls"])
    check(out["rds_port"] == 5432 and out["redis_port"] == 6379, "outputs ports %r %r" % (out["rds_port"], out["redis_port"]))
    for key in ("rds_endpoint", "redis_primary_endpoint", "alb_dns_name", "efs_dns_name"):
        check(str(out[key]).endswith("." + suffix), "%s %s does not end with .%s" % (key, out[key], suffix))

    # Network: two private and two public subnets in two AZs; egress that survives an AZ.
    vpc_id = out["vpc_id"]
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:ha_airflow_cluster", "Values": [cluster]}])["Vpcs"]
    check([v["VpcId"] for v in vpcs] == [vpc_id], "VPCs tagged %s: %s" % (cluster, [v["VpcId"] for v in vpcs]))
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    tier = {s["SubnetId"]: {t["Key"]: t["Value"] for t in s.get("Tags", [])}.get("ha_airflow_tier") for s in subnets}
    private = [s for s in subnets if tier[s["SubnetId"]] == "private"]
    public = [s for s in subnets if tier[s["SubnetId"]] == "public"]
    az_of = {s["SubnetId"]: s["AvailabilityZone"] for s in subnets}
    check(len(private) == 2 and len({s["AvailabilityZone"] for s in private}) == 2, "private subnets not two in two AZs")
    check(len(public) == 2 and len({s["AvailabilityZone"] for s in public}) == 2, "public subnets not two in two AZs")
    check(sorted(out["private_subnet_ids"]) == sorted(s["SubnetId"] for s in private), "outputs private subnets differ")
    check(not any(s.get("MapPublicIpOnLaunch") for s in subnets), "a subnet maps public IPs on launch")
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "state", "Values": ["available"]}])["NatGateways"]
    nat_az = {n["NatGatewayId"]: az_of.get(n["SubnetId"]) for n in nats}
    per_az = settings["infra_nat_gateway_per_az"]
    check(len(nats) == (2 if per_az else 1) and all(n["SubnetId"] in [s["SubnetId"] for s in public] for n in nats),
          "%d NAT gateways (%s), expected %s in the public subnets" % (len(nats), nat_az, "one per AZ" if per_az else "one"))
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    check(len(igws) == 1, "%d internet gateways" % len(igws))
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    table_of = {a["SubnetId"]: t for t in tables for a in t.get("Associations", []) if a.get("SubnetId")}
    for subnet in private:
        table = table_of.get(subnet["SubnetId"])
        if not check(table is not None, "private subnet %s has no route table of its own" % subnet["SubnetId"]):
            continue
        default = [r.get("NatGatewayId") for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        check(len(default) == 1 and default[0] in nat_az, "private subnet %s: default route %s" % (subnet["SubnetId"], default))
        if per_az and default and default[0] in nat_az:
            check(nat_az[default[0]] == subnet["AvailabilityZone"],
                  "private subnet in %s leaves through the NAT gateway in %s" % (subnet["AvailabilityZone"], nat_az[default[0]]))
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                    {"Name": "vpc-endpoint-state", "Values": ["available", "pending"]}])["VpcEndpoints"]
    by_service = {e["ServiceName"].rsplit(".", 1)[-1] + ":" + e["VpcEndpointType"]: e for e in endpoints}
    gateway = by_service.get("s3:Gateway")
    if settings["infra_vpc_s3_endpoint"]:
        private_tables = {table_of[s["SubnetId"]]["RouteTableId"] for s in private if s["SubnetId"] in table_of}
        check(gateway is not None and set(gateway.get("RouteTableIds", [])) == private_tables,
              "S3 gateway endpoint %s not on the private route tables %s" % (gateway and gateway.get("RouteTableIds"), private_tables))
    else:
        check(gateway is None, "an S3 gateway endpoint exists but was not asked for")
    flow_logs = [f.get("LogDestination") for f in ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]]
    wanted_logs = [settings["infra_vpc_flow_logs_destination_arn"]] if settings["infra_vpc_flow_logs_destination_arn"] else []
    check(flow_logs == wanted_logs, "VPC flow logs to %s, expected %s (EC2.6)" % (flow_logs, wanted_logs))
    interface = sorted(k.split(":")[0] for k in by_service if k.endswith(":Interface"))
    check(interface == sorted(settings["infra_vpc_interface_endpoints"]), "interface endpoints %s" % interface)

    # Security groups: each tier open only to the next
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    sg = {g["GroupName"]: g for g in groups}
    names = {k: "%s-%s" % (cluster, k) for k in ("alb", "hosts", "efs", "rds", "redis")}
    if not check(all(n in sg for n in names.values()), "security groups missing: %s" % [n for n in names.values() if n not in sg]):
        return
    gid = {k: sg[n]["GroupId"] for k, n in names.items()}
    cidrs = settings.get("infra_alb_ingress_cidrs", args.alb_cidrs)
    alb_in = {("tcp", 80, 80, c) for c in cidrs}
    if https:
        alb_in |= {("tcp", 443, 443, c) for c in cidrs}
    check(rules(sg[names["alb"]]["IpPermissions"]) == alb_in, "ALB ingress %s != %s" % (rules(sg[names["alb"]]["IpPermissions"]), alb_in))
    alb_out = rules(sg[names["alb"]]["IpPermissionsEgress"])
    check(alb_out == {("tcp", 8080, 8080, gid["hosts"])}, "ALB egress %s" % alb_out)
    hosts_in = {("tcp", 8080, 8080, gid["alb"]), ("tcp", 8793, 8793, gid["hosts"])}
    check(rules(sg[names["hosts"]]["IpPermissions"]) == hosts_in, "hosts ingress %s" % rules(sg[names["hosts"]]["IpPermissions"]))
    for key, port in (("efs", 2049), ("rds", 5432), ("redis", 6379)):
        check(rules(sg[names[key]]["IpPermissions"]) == {("tcp", port, port, gid["hosts"])}, "%s ingress %s" % (key, rules(sg[names[key]]["IpPermissions"])))
        check(rules(sg[names[key]]["IpPermissionsEgress"]) == set(), "%s egress %s" % (key, rules(sg[names[key]]["IpPermissionsEgress"])))
    if settings["infra_vpc_interface_endpoints"]:
        name = "%s-endpoints" % cluster
        check(name in sg and rules(sg[name]["IpPermissions"]) == {("tcp", 443, 443, gid["hosts"])},
              "%s ingress %s" % (name, name in sg and rules(sg[name]["IpPermissions"])))
    for name, group in sg.items():
        if name != names["alb"]:
            check(not any(r[3] == "0.0.0.0/0" for r in rules(group["IpPermissions"])), "%s is open to 0.0.0.0/0" % name)
    # FSBP EC2.2: the VPC's default security group allows nothing.
    default_sg = sg.get("default")
    check(default_sg is not None and not default_sg["IpPermissions"] and not default_sg["IpPermissionsEgress"],
          "the VPC's default security group has rules: %s / %s"
          % (default_sg and default_sg["IpPermissions"], default_sg and default_sg["IpPermissionsEgress"]))

    # EFS
    efs = boto3.client("efs", region_name=region)
    filesystems = efs.describe_file_systems(FileSystemId=out["efs_id"])["FileSystems"]
    check(filesystems and filesystems[0]["Encrypted"], "EFS not encrypted")
    try:
        backups = efs.describe_backup_policy(FileSystemId=out["efs_id"])["BackupPolicy"]["Status"]
    except efs.exceptions.PolicyNotFound:
        backups = "DISABLED"  # never had a backup policy: automatic backups are off
    wanted = ("ENABLED", "ENABLING") if settings["infra_efs_automatic_backups"] else ("DISABLED", "DISABLING")
    check(backups in wanted, "EFS automatic backups %s (EFS.2), expected %s" % (backups, wanted[0]))
    targets = efs.describe_mount_targets(FileSystemId=out["efs_id"])["MountTargets"]
    check(sorted(t["SubnetId"] for t in targets) == sorted(out["private_subnet_ids"]), "EFS mount targets %s" % [t["SubnetId"] for t in targets])
    for target in targets:
        groups_of = efs.describe_mount_target_security_groups(MountTargetId=target["MountTargetId"])["SecurityGroups"]
        check(groups_of == [gid["efs"]], "EFS mount target groups %s" % groups_of)

    # RDS: the FSBP controls that apply to a DB instance, by default.
    rds = boto3.client("rds", region_name=region)
    db = rds.describe_db_instances(DBInstanceIdentifier="%s-postgres" % cluster)["DBInstances"][0]
    check(db["MultiAZ"], "RDS not Multi-AZ (RDS.5)")
    check(db["StorageEncrypted"], "RDS storage not encrypted (RDS.3)")
    check(not db["PubliclyAccessible"], "RDS publicly accessible (RDS.2)")
    check(db.get("DeletionProtection") is True, "RDS deletion protection off (RDS.8)")
    check(db.get("AutoMinorVersionUpgrade") is True, "RDS automatic minor version upgrade off (RDS.13)")
    check(db.get("CopyTagsToSnapshot") is True, "RDS does not copy tags to snapshots (RDS.17)")
    check(db.get("BackupRetentionPeriod", 0) >= 7, "RDS backups %s days (RDS.11)" % db.get("BackupRetentionPeriod"))
    check({"postgresql", "upgrade"} <= set(db.get("EnabledCloudwatchLogsExports", [])),
          "RDS log exports %s (RDS.9)" % db.get("EnabledCloudwatchLogsExports"))
    check(db.get("MaxAllocatedStorage") == 200 and db["AllocatedStorage"] >= 50, "RDS storage %s/%s" % (db["AllocatedStorage"], db.get("MaxAllocatedStorage")))
    major = str(settings["infra_rds_engine_version"]).split(".", maxsplit=1)[0]
    check(db["Engine"] == "postgres" and db["EngineVersion"].split(".", maxsplit=1)[0] == major,
          "RDS engine %s %s, expected major %s" % (db["Engine"], db["EngineVersion"], major))
    check([g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [gid["rds"]], "RDS groups %s" % db["VpcSecurityGroups"])
    check(sorted(s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]) == sorted(out["private_subnet_ids"]), "RDS subnet group")
    check(db["Endpoint"]["Address"] == out["rds_endpoint"], "RDS endpoint differs from outputs")

    # ElastiCache
    ec = boto3.client("elasticache", region_name=region)
    group = ec.describe_replication_groups(ReplicationGroupId="%s-redis" % cluster)["ReplicationGroups"][0]
    check(group["MultiAZ"] == "enabled" and group["AutomaticFailover"] == "enabled",
          "Redis MultiAZ/failover %s/%s" % (group["MultiAZ"], group["AutomaticFailover"]))
    check(group["AtRestEncryptionEnabled"], "Redis not encrypted at rest (ElastiCache.4)")
    check(bool(group["TransitEncryptionEnabled"]) is tls and bool(group.get("AuthTokenEnabled")) is tls, "Redis TLS/AUTH (ElastiCache.5/6)")
    check(group.get("SnapshotRetentionLimit", 0) > 0, "Redis automatic backups off (ElastiCache.1): %s" % group.get("SnapshotRetentionLimit"))
    check(group.get("AutoMinorVersionUpgrade") is settings["infra_redis_auto_minor_version_upgrade"],
          "Redis automatic minor version upgrades %s (ElastiCache.2)" % group.get("AutoMinorVersionUpgrade"))
    if tls:
        check(group.get("TransitEncryptionMode") == settings["infra_redis_transit_encryption_mode"],
              "Redis TLS mode %s" % group.get("TransitEncryptionMode"))
    check(group["ClusterEnabled"] is False, "Redis cluster mode enabled")
    members = group["NodeGroups"][0]["NodeGroupMembers"]
    check(len(group["MemberClusters"]) == 2 and len({m["PreferredAvailabilityZone"] for m in members}) == 2, "Redis not two nodes in two AZs")
    check(group["ARN"].startswith("arn:%s:elasticache:%s:" % (part, region)), "Redis ARN %s" % group["ARN"])
    check(group["NodeGroups"][0]["PrimaryEndpoint"]["Address"] == out["redis_primary_endpoint"], "Redis endpoint differs from outputs")
    tags = {t["Key"]: t["Value"] for t in ec.list_tags_for_resource(ResourceName=group["ARN"])["TagList"]}
    check(tags.get("ha_airflow_cluster") == cluster, "Redis tags %s" % tags)

    # IAM: the SSM policy, the user's extra policies, the opt-in Glue policy (least privilege, this partition).
    iam = boto3.client("iam", region_name=region)
    role = iam.get_role(RoleName="%s-airflow-host" % cluster)["Role"]
    principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    check(principal == "ec2." + suffix, "trust principal %s" % principal)
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]}
    wanted = {"arn:%s:iam::aws:policy/AmazonSSMManagedInstanceCore" % part} | set(settings.get("infra_instance_extra_policy_arns", []))
    check(wanted <= attached, "managed policies %s lack %s" % (sorted(attached), sorted(wanted - attached)))
    check(attached - wanted <= set(args.user_policy), "managed policies nobody asked for: %s" % sorted(attached - wanted - set(args.user_policy)))
    check(set(args.user_policy) <= attached, "a policy the user attached is gone: %s" % sorted(set(args.user_policy) - attached))
    inline = iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
    if settings["infra_glue_access"]:
        if check("glue" in inline, "no inline Glue policy on %s (%s)" % (role["RoleName"], inline)):
            check_glue_policy(iam.get_role_policy(RoleName=role["RoleName"], PolicyName="glue")["PolicyDocument"],
                              part, region, account, settings["infra_glue_scripts_bucket"])
    else:
        check("glue" not in inline, "an inline Glue policy exists but was not asked for")
    profiles = iam.list_instance_profiles_for_role(RoleName=role["RoleName"])["InstanceProfiles"]
    check([p["InstanceProfileName"] for p in profiles] == [role["RoleName"]], "instance profiles %s" % profiles)

    # EC2: the count, round-robin over the private subnets, stable names, AL2023 from the public parameter.
    wanted_hosts = expected_hosts(settings, cluster)
    reservations = ec2.describe_instances(Filters=[{"Name": "tag:ha_airflow_cluster", "Values": [cluster]},
                                                   {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    name_of = {i["InstanceId"]: {t["Key"]: t["Value"] for t in i.get("Tags", [])}.get("Name") for i in instances}
    check(sorted(name_of.values()) == sorted(wanted_hosts), "hosts %s, expected %s" % (sorted(name_of.values()), sorted(wanted_hosts)))
    check(sorted(i["InstanceId"] for i in instances) == sorted(out["instance_ids"]), "instances %s vs outputs" % [i["InstanceId"] for i in instances])
    ami = args.ami or boto3.client("ssm", region_name=region).get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
    for inst in instances:
        name = name_of[inst["InstanceId"]] or ""
        itags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
        group_name, index = name[len(cluster) + 1:].rsplit("-", 1) if "-" in name else ("", "0")
        check(inst["SubnetId"] == out["private_subnet_ids"][(int(index) - 1) % len(out["private_subnet_ids"])],
              "%s is in %s, not round-robin over %s" % (name, inst["SubnetId"], out["private_subnet_ids"]))
        check(inst["ImageId"] == ami, "%s runs %s, not %s (%s)" % (name, inst["ImageId"], ami, "infra_ami_id" if args.ami else AMI_PARAMETER))
        check(itags.get("ha_airflow_role") == "airflow" and itags.get("ha_airflow_cluster") == cluster, "instance tags %s" % itags)
        check(itags.get("ha_airflow_components") == ",".join(wanted_hosts.get(name, [])),
              "%s components tag %r" % (name, itags.get("ha_airflow_components")))
        check(inst["MetadataOptions"]["HttpTokens"] == "required", "IMDSv2 not required on %s (EC2.8)" % name)
        check(inst["State"]["Name"] == "running", "%s is %s" % (name, inst["State"]["Name"]))
        check(not inst.get("PublicIpAddress"), "%s has a public IP (EC2.9)" % name)
        check([g["GroupId"] for g in inst["SecurityGroups"]] == [gid["hosts"]], "instance groups %s" % inst["SecurityGroups"])
        check(inst["IamInstanceProfile"]["Arn"].startswith("arn:%s:iam::" % part), "instance profile ARN %s" % inst["IamInstanceProfile"]["Arn"])
        root = [m for m in inst["BlockDeviceMappings"] if m["DeviceName"] == inst["RootDeviceName"]]
        volumes = ec2.describe_volumes(VolumeIds=[m["Ebs"]["VolumeId"] for m in root])["Volumes"] if root else []
        check(volumes and all(v["Encrypted"] and v["VolumeType"] == "gp3" for v in volumes), "root volume of %s not encrypted gp3" % name)
    image_names = {i["ImageId"]: i["Name"] for i in ec2.describe_images(ImageIds=sorted({i["ImageId"] for i in instances}))["Images"]} if instances else {}
    check(not [n for n in image_names.values() if n.startswith("amzn2-")], "hosts run Amazon Linux 2: %s" % image_names)

    # Target group and load balancer
    elb = boto3.client("elbv2", region_name=region)
    tg = elb.describe_target_groups(Names=["%s-webserver" % cluster])["TargetGroups"][0]
    check(tg["HealthCheckPath"] == "/health" and tg["HealthCheckProtocol"] == "HTTP", "health check %s %s" % (tg["HealthCheckProtocol"], tg["HealthCheckPath"]))
    check(tg["Port"] == 8080 and tg["Protocol"] == "HTTP" and tg["Matcher"]["HttpCode"] == "200", "target group port/protocol/matcher")
    registered = sorted(d["Target"]["Id"] for d in elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"])
    webservers = sorted(i for i, n in name_of.items() if "webserver" in wanted_hosts.get(n, []))
    check(registered == webservers, "registered targets %s, expected the webserver hosts %s" % (registered, webservers))
    lb = elb.describe_load_balancers(Names=["%s-alb" % cluster])["LoadBalancers"][0]
    check(lb["DNSName"] == out["alb_dns_name"], "ALB DNS differs from outputs")
    check(lb["SecurityGroups"] == [gid["alb"]], "ALB groups %s" % lb["SecurityGroups"])
    check(lb["Scheme"] == settings["infra_alb_scheme"], "ALB scheme %s, expected %s" % (lb["Scheme"], settings["infra_alb_scheme"]))
    lb_subnets = sorted(z["SubnetId"] for z in lb["AvailabilityZones"])
    check(lb_subnets == sorted(s["SubnetId"] for s in (public if lb["Scheme"] == "internet-facing" else private)),
          "ALB (%s) in subnets %s" % (lb["Scheme"], lb_subnets))
    attributes = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    check(attributes.get("routing.http.drop_invalid_header_fields.enabled") == "true", "invalid header fields not dropped (ELB.4)")
    check(attributes.get("routing.http.desync_mitigation_mode") in ("defensive", "strictest"), "desync mitigation (ELB.12)")
    check(attributes.get("deletion_protection.enabled") == str(settings["infra_alb_deletion_protection"]).lower(),
          "ALB deletion protection %s (ELB.6)" % attributes.get("deletion_protection.enabled"))
    logs_bucket = settings["infra_alb_access_logs_bucket"]
    check(attributes.get("access_logs.s3.enabled") == str(bool(logs_bucket)).lower()
          and (not logs_bucket or attributes.get("access_logs.s3.bucket") == logs_bucket),
          "ALB access logs %s to %r (ELB.5)" % (attributes.get("access_logs.s3.enabled"), attributes.get("access_logs.s3.bucket")))
    listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    expected = {("HTTP", 80)} | ({("HTTPS", 443)} if https else set())
    check({(lst["Protocol"], lst["Port"]) for lst in listeners} == expected, "listeners %s" % [(lst["Protocol"], lst["Port"]) for lst in listeners])
    for lst in listeners:
        actions = lst["DefaultActions"]
        if https and lst["Protocol"] == "HTTP":
            redirect = actions[0].get("RedirectConfig", {}) if len(actions) == 1 and actions[0]["Type"] == "redirect" else {}
            check(redirect.get("Protocol") == "HTTPS" and str(redirect.get("Port")) == "443" and redirect.get("StatusCode") == "HTTP_301",
                  "HTTP listener does not redirect to HTTPS (ELB.1): %s" % actions)
            continue
        forwards = len(actions) == 1 and actions[0]["Type"] == "forward" and actions[0]["TargetGroupArn"] == tg["TargetGroupArn"]
        check(forwards, "listener %s action %s" % (lst["Port"], actions))


def check_glue_policy(document, part, region, account, bucket):
    statements = document["Statement"]
    by_action = {}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            by_action[action] = statement
    runs = {"glue:GetJob", "glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"}
    check(runs <= set(by_action), "Glue policy lacks %s" % sorted(runs - set(by_action)))
    job_arn = "arn:%s:glue:%s:%s:job/*" % (part, region, account)
    for action in runs & set(by_action):
        resources = by_action[action]["Resource"]
        check(resources in (job_arn, [job_arn]), "%s on %s, expected %s" % (action, resources, job_arn))
    allowed = {a for a in by_action if not a.startswith(("glue:", "s3:", "iam:PassRole"))}
    check(not allowed, "Glue policy grants more: %s" % sorted(allowed))
    check(not any(a in ("*", "glue:*", "s3:*", "iam:*") for a in by_action), "Glue policy has a wildcard action")
    passrole = by_action.get("iam:PassRole")
    if check(passrole is not None, "Glue policy lacks iam:PassRole"):
        services = passrole.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService")
        services = services if isinstance(services, list) else [services]
        check(services and all(s in ("glue.amazonaws.com", "glue.amazonaws.com.cn") for s in services),
              "iam:PassRole not limited to Glue: %s" % passrole.get("Condition"))
        resources = passrole["Resource"] if isinstance(passrole["Resource"], list) else [passrole["Resource"]]
        check(all(r.startswith("arn:%s:iam::%s:role/" % (part, account)) for r in resources), "iam:PassRole on %s" % resources)
    # What AWS would decide for the calls of the amazon provider's GlueJobOperator on a job the DAG does not define:
    # get the job, start a run, poll it (and a job of another partition or region is not covered).
    job = "arn:%s:glue:%s:%s:job/nightly" % (part, region, account)
    for action in ("glue:GetJob", "glue:StartJobRun", "glue:GetJobRun"):
        check(iam_policy.evaluate([document], action, [job])[0] == iam_policy.ALLOW, "the hosts may not %s" % action)
    check(iam_policy.evaluate([document], "glue:CreateJob", [job])[0] != iam_policy.ALLOW,
          "the hosts may create Glue jobs, which infra_glue_job_management (off) did not ask for")
    if bucket:
        for action, resource in (("s3:GetObject", "arn:%s:s3:::%s/*" % (part, bucket)), ("s3:ListBucket", "arn:%s:s3:::%s" % (part, bucket))):
            statement = by_action.get(action)
            resources = statement and (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
            check(statement is not None and resource in resources, "Glue scripts bucket: %s on %s" % (action, resources))


def absent(args):
    region, cluster = args.region, args.cluster
    ec2 = boto3.client("ec2", region_name=region)
    tag = [{"Name": "tag:ha_airflow_cluster", "Values": [cluster]}]
    check(not ec2.describe_vpcs(Filters=tag)["Vpcs"], "a VPC is left")
    check(not ec2.describe_subnets(Filters=tag)["Subnets"], "a subnet is left")
    check(not ec2.describe_security_groups(Filters=tag)["SecurityGroups"], "a security group is left")
    check(not ec2.describe_internet_gateways(Filters=tag)["InternetGateways"], "an internet gateway is left")
    check(not ec2.describe_route_tables(Filters=tag)["RouteTables"], "a route table is left")
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "state", "Values": ["pending", "available", "deleting"]}])["NatGateways"]
    nats = [n for n in nats if {"Key": "ha_airflow_cluster", "Value": cluster} in n.get("Tags", [])]
    check(not nats, "a NAT gateway is left")
    endpoints = ec2.describe_vpc_endpoints(Filters=tag + [{"Name": "vpc-endpoint-state", "Values": ["pending", "available"]}])["VpcEndpoints"]
    check(not endpoints, "VPC endpoints are left: %s" % [e["VpcEndpointId"] for e in endpoints])
    stacks = boto3.client("cloudformation", region_name=region).list_stacks()["StackSummaries"]
    check(not [s for s in stacks if s["StackName"] == "%s-flow-logs" % cluster and s["StackStatus"] != "DELETE_COMPLETE"],
          "the flow logs stack is left")
    if args.no_addresses:
        check(not ec2.describe_addresses()["Addresses"], "an Elastic IP is left")
    not_terminated = [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    live = [i for r in ec2.describe_instances(Filters=tag + not_terminated)["Reservations"] for i in r["Instances"]]
    check(not live, "instances are left: %s" % [i["InstanceId"] for i in live])
    rds = boto3.client("rds", region_name=region)
    check(not [d for d in rds.describe_db_instances()["DBInstances"] if d["DBInstanceIdentifier"] == "%s-postgres" % cluster], "the RDS instance is left")
    check(not [g for g in rds.describe_db_subnet_groups()["DBSubnetGroups"] if g["DBSubnetGroupName"] == "%s-postgres" % cluster],
          "the RDS subnet group is left")
    ec = boto3.client("elasticache", region_name=region)
    groups = ec.describe_replication_groups()["ReplicationGroups"]
    check(not [g for g in groups if g["ReplicationGroupId"] == "%s-redis" % cluster], "the replication group is left")
    check(not [g for g in ec.describe_cache_subnet_groups()["CacheSubnetGroups"] if g["CacheSubnetGroupName"] == "%s-redis" % cluster],
          "the cache subnet group is left")
    efs = boto3.client("efs", region_name=region)
    check(not [f for f in efs.describe_file_systems()["FileSystems"] if f["CreationToken"] == "%s-shared" % cluster], "the EFS file system is left")
    elb = boto3.client("elbv2", region_name=region)
    check(not [lb for lb in elb.describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerName"] == "%s-alb" % cluster], "the ALB is left")
    check(not [tg for tg in elb.describe_target_groups()["TargetGroups"] if tg["TargetGroupName"] == "%s-webserver" % cluster], "the target group is left")
    iam = boto3.client("iam", region_name=region)
    check(not [r for r in iam.list_roles()["Roles"] if r["RoleName"] == "%s-airflow-host" % cluster], "the IAM role is left")
    check(not [p for p in iam.list_instance_profiles()["InstanceProfiles"] if p["InstanceProfileName"] == "%s-airflow-host" % cluster],
          "the instance profile is left")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["present", "absent"])
    parser.add_argument("region")
    parser.add_argument("cluster")
    parser.add_argument("outputs", nargs="?")
    parser.add_argument("--vars", help="present: the region's vars file (molecule/aws/vars/<region>.yml)")
    parser.add_argument("--alb-cidrs", default="")
    parser.add_argument("--ami", help="present: the image the hosts must run (default: the AL2023 public parameter)")
    parser.add_argument("--user-policy", action="append", default=[], help="present: a policy ARN the user attached")
    parser.add_argument("--secret", action="append", default=[])
    parser.add_argument("--no-addresses", action="store_true", help="absent: no Elastic IP at all in the region")
    args = parser.parse_args()
    args.alb_cidrs = [c for c in args.alb_cidrs.split(",") if c]
    present(args) if args.mode == "present" else absent(args)
    if FAILURES:
        print("FAILED %s %s:\n  - %s" % (args.mode, args.region, "\n  - ".join(FAILURES)))
        return 1
    print("OK %s %s %s" % (args.mode, args.region, args.cluster))
    return 0


if __name__ == "__main__":
    sys.exit(main())
