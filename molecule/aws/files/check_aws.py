"""boto3 checks of what the infra role built (or removed), against moto (AWS_CONFIG_FILE points at it).

  check_aws.py present REGION CLUSTER OUTPUTS_FILE [--tls] [--https] [--alb-cidrs a,b] [--secret S ...]
  check_aws.py absent REGION CLUSTER

Exits non-zero with every failed property listed. Reads AWS only; changes nothing.
"""

import argparse
import os
import stat
import sys

import boto3
import yaml

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


def present(args):
    region, cluster = args.region, args.cluster
    part, suffix = partition_of(region), suffix_of(region)
    ec2 = boto3.client("ec2", region_name=region)

    # Outputs file: one variable, no secrets, mode 0640, China-correct names.
    mode = stat.S_IMODE(os.stat(args.outputs).st_mode)
    check(mode == 0o640, "outputs file mode is %o, not 0640" % mode)
    text = open(args.outputs).read()
    for secret in args.secret:
        check(secret not in text, "a secret appears in the outputs file")
    doc = yaml.safe_load(text)
    check(list(doc) == ["ha_airflow_infra"], "outputs file defines %s, not only ha_airflow_infra" % list(doc))
    out = doc["ha_airflow_infra"]
    for key in ("region", "partition", "vpc_id", "efs_id", "efs_dns_name", "rds_endpoint", "rds_port", "db_name", "db_username",
                "redis_primary_endpoint", "redis_port", "redis_tls", "alb_dns_name", "instance_ids"):
        check(key in out and out[key] not in ("", None, []), "outputs lack %s" % key)
    check(out["region"] == region and out["partition"] == part, "outputs region/partition %s/%s" % (out["region"], out["partition"]))
    check(out["redis_tls"] is args.tls, "outputs redis_tls is %r" % out["redis_tls"])
    check(out["rds_port"] == 5432 and out["redis_port"] == 6379, "outputs ports %r %r" % (out["rds_port"], out["redis_port"]))
    for key in ("rds_endpoint", "redis_primary_endpoint", "alb_dns_name", "efs_dns_name"):
        check(str(out[key]).endswith("." + suffix), "%s %s does not end with .%s" % (key, out[key], suffix))

    # Network
    vpc_id = out["vpc_id"]
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:ha_airflow_cluster", "Values": [cluster]}])["Vpcs"]
    check([v["VpcId"] for v in vpcs] == [vpc_id], "VPCs tagged %s: %s" % (cluster, [v["VpcId"] for v in vpcs]))
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    tier = {s["SubnetId"]: {t["Key"]: t["Value"] for t in s.get("Tags", [])}.get("ha_airflow_tier") for s in subnets}
    private = [s for s in subnets if tier[s["SubnetId"]] == "private"]
    public = [s for s in subnets if tier[s["SubnetId"]] == "public"]
    check(len(private) == 2 and len({s["AvailabilityZone"] for s in private}) == 2, "private subnets not two in two AZs")
    check(len(public) == 2 and len({s["AvailabilityZone"] for s in public}) == 2, "public subnets not two in two AZs")
    check(sorted(out["private_subnet_ids"]) == sorted(s["SubnetId"] for s in private), "outputs private subnets differ")
    check(not any(s.get("MapPublicIpOnLaunch") for s in subnets), "a subnet maps public IPs on launch")
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "state", "Values": ["available"]}])["NatGateways"]
    check(len(nats) == 1, "%d NAT gateways" % len(nats))
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    check(len(igws) == 1, "%d internet gateways" % len(igws))

    # Security groups: each tier open only to the next
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    sg = {g["GroupName"]: g for g in groups}
    names = {k: "%s-%s" % (cluster, k) for k in ("alb", "hosts", "efs", "rds", "redis")}
    if not check(all(n in sg for n in names.values()), "security groups missing: %s" % [n for n in names.values() if n not in sg]):
        return
    gid = {k: sg[n]["GroupId"] for k, n in names.items()}
    alb_in = {("tcp", 80, 80, c) for c in args.alb_cidrs}
    if args.https:
        alb_in |= {("tcp", 443, 443, c) for c in args.alb_cidrs}
    check(rules(sg[names["alb"]]["IpPermissions"]) == alb_in, "ALB ingress %s != %s" % (rules(sg[names["alb"]]["IpPermissions"]), alb_in))
    alb_out = rules(sg[names["alb"]]["IpPermissionsEgress"])
    check(alb_out == {("tcp", 8080, 8080, gid["hosts"])}, "ALB egress %s" % alb_out)
    hosts_in = {("tcp", 8080, 8080, gid["alb"]), ("tcp", 8793, 8793, gid["hosts"])}
    check(rules(sg[names["hosts"]]["IpPermissions"]) == hosts_in, "hosts ingress %s" % rules(sg[names["hosts"]]["IpPermissions"]))
    for key, port in (("efs", 2049), ("rds", 5432), ("redis", 6379)):
        check(rules(sg[names[key]]["IpPermissions"]) == {("tcp", port, port, gid["hosts"])}, "%s ingress %s" % (key, rules(sg[names[key]]["IpPermissions"])))
        check(rules(sg[names[key]]["IpPermissionsEgress"]) == set(), "%s egress %s" % (key, rules(sg[names[key]]["IpPermissionsEgress"])))
    for name, group in sg.items():
        if name != names["alb"]:
            check(not any(r[3] == "0.0.0.0/0" for r in rules(group["IpPermissions"])), "%s is open to 0.0.0.0/0" % name)

    # EFS
    efs = boto3.client("efs", region_name=region)
    filesystems = efs.describe_file_systems(FileSystemId=out["efs_id"])["FileSystems"]
    check(filesystems and filesystems[0]["Encrypted"], "EFS not encrypted")
    targets = efs.describe_mount_targets(FileSystemId=out["efs_id"])["MountTargets"]
    check(sorted(t["SubnetId"] for t in targets) == sorted(out["private_subnet_ids"]), "EFS mount targets %s" % [t["SubnetId"] for t in targets])
    for target in targets:
        groups_of = efs.describe_mount_target_security_groups(MountTargetId=target["MountTargetId"])["SecurityGroups"]
        check(groups_of == [gid["efs"]], "EFS mount target groups %s" % groups_of)

    # RDS
    rds = boto3.client("rds", region_name=region)
    db = rds.describe_db_instances(DBInstanceIdentifier="%s-postgres" % cluster)["DBInstances"][0]
    check(db["MultiAZ"], "RDS not Multi-AZ")
    check(db["StorageEncrypted"], "RDS storage not encrypted")
    check(not db["PubliclyAccessible"], "RDS publicly accessible")
    check(db.get("MaxAllocatedStorage") == 200 and db["AllocatedStorage"] == 50, "RDS storage %s/%s" % (db["AllocatedStorage"], db.get("MaxAllocatedStorage")))
    check(db["Engine"] == "postgres" and db["EngineVersion"] == "15.8", "RDS engine %s %s" % (db["Engine"], db["EngineVersion"]))
    check([g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [gid["rds"]], "RDS groups %s" % db["VpcSecurityGroups"])
    check(sorted(s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]) == sorted(out["private_subnet_ids"]), "RDS subnet group")
    check(db["Endpoint"]["Address"] == out["rds_endpoint"], "RDS endpoint differs from outputs")

    # ElastiCache
    ec = boto3.client("elasticache", region_name=region)
    group = ec.describe_replication_groups(ReplicationGroupId="%s-redis" % cluster)["ReplicationGroups"][0]
    check(group["MultiAZ"] == "enabled" and group["AutomaticFailover"] == "enabled",
          "Redis MultiAZ/failover %s/%s" % (group["MultiAZ"], group["AutomaticFailover"]))
    check(group["AtRestEncryptionEnabled"], "Redis not encrypted at rest")
    check(bool(group["TransitEncryptionEnabled"]) is args.tls and bool(group.get("AuthTokenEnabled")) is args.tls, "Redis TLS/AUTH")
    check(group["ClusterEnabled"] is False, "Redis cluster mode enabled")
    members = group["NodeGroups"][0]["NodeGroupMembers"]
    check(len(group["MemberClusters"]) == 2 and len({m["PreferredAvailabilityZone"] for m in members}) == 2, "Redis not two nodes in two AZs")
    check(group["ARN"].startswith("arn:%s:elasticache:%s:" % (part, region)), "Redis ARN %s" % group["ARN"])
    check(group["NodeGroups"][0]["PrimaryEndpoint"]["Address"] == out["redis_primary_endpoint"], "Redis endpoint differs from outputs")
    tags = {t["Key"]: t["Value"] for t in ec.list_tags_for_resource(ResourceName=group["ARN"])["TagList"]}
    check(tags.get("ha_airflow_cluster") == cluster, "Redis tags %s" % tags)

    # IAM
    iam = boto3.client("iam", region_name=region)
    role = iam.get_role(RoleName="%s-airflow-host" % cluster)["Role"]
    principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    check(principal == "ec2." + suffix, "trust principal %s" % principal)
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]]
    check(attached == ["arn:%s:iam::aws:policy/AmazonSSMManagedInstanceCore" % part], "managed policies %s" % attached)
    profiles = iam.list_instance_profiles_for_role(RoleName=role["RoleName"])["InstanceProfiles"]
    check([p["InstanceProfileName"] for p in profiles] == [role["RoleName"]], "instance profiles %s" % profiles)

    # EC2
    reservations = ec2.describe_instances(Filters=[{"Name": "tag:ha_airflow_cluster", "Values": [cluster]},
                                                   {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    check(sorted(i["InstanceId"] for i in instances) == sorted(out["instance_ids"]), "instances %s vs outputs" % [i["InstanceId"] for i in instances])
    check(sorted(i["SubnetId"] for i in instances) == sorted(out["private_subnet_ids"]), "instances not one per private subnet")
    check(len({i["Placement"]["AvailabilityZone"] for i in instances}) == 2, "instances not in two AZs")
    for inst in instances:
        itags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
        check(itags.get("ha_airflow_role") == "airflow" and itags.get("ha_airflow_cluster") == cluster, "instance tags %s" % itags)
        check(inst["MetadataOptions"]["HttpTokens"] == "required", "IMDSv2 not required on %s" % inst["InstanceId"])
        check(inst["State"]["Name"] == "running", "%s is %s" % (inst["InstanceId"], inst["State"]["Name"]))
        check(not inst.get("PublicIpAddress"), "%s has a public IP" % inst["InstanceId"])
        check([g["GroupId"] for g in inst["SecurityGroups"]] == [gid["hosts"]], "instance groups %s" % inst["SecurityGroups"])
        check(inst["IamInstanceProfile"]["Arn"].startswith("arn:%s:iam::" % part), "instance profile ARN %s" % inst["IamInstanceProfile"]["Arn"])
        root = [m for m in inst["BlockDeviceMappings"] if m["DeviceName"] == inst["RootDeviceName"]]
        volumes = ec2.describe_volumes(VolumeIds=[m["Ebs"]["VolumeId"] for m in root])["Volumes"] if root else []
        check(volumes and all(v["Encrypted"] for v in volumes), "root volume of %s not encrypted" % inst["InstanceId"])

    # Target group and load balancer
    elb = boto3.client("elbv2", region_name=region)
    tg = elb.describe_target_groups(Names=["%s-webserver" % cluster])["TargetGroups"][0]
    check(tg["HealthCheckPath"] == "/health" and tg["HealthCheckProtocol"] == "HTTP", "health check %s %s" % (tg["HealthCheckProtocol"], tg["HealthCheckPath"]))
    check(tg["Port"] == 8080 and tg["Protocol"] == "HTTP" and tg["Matcher"]["HttpCode"] == "200", "target group port/protocol/matcher")
    registered = sorted(d["Target"]["Id"] for d in elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"])
    check(registered == sorted(out["instance_ids"]), "registered targets %s" % registered)
    lb = elb.describe_load_balancers(Names=["%s-alb" % cluster])["LoadBalancers"][0]
    check(lb["DNSName"] == out["alb_dns_name"], "ALB DNS differs from outputs")
    check(lb["SecurityGroups"] == [gid["alb"]], "ALB groups %s" % lb["SecurityGroups"])
    attributes = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    check(attributes.get("routing.http.drop_invalid_header_fields.enabled") == "true", "invalid header fields not dropped")
    listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    expected = {("HTTP", 80)} | ({("HTTPS", 443)} if args.https else set())
    check({(lst["Protocol"], lst["Port"]) for lst in listeners} == expected, "listeners %s" % [(lst["Protocol"], lst["Port"]) for lst in listeners])
    for lst in listeners:
        actions = lst["DefaultActions"]
        forwards = len(actions) == 1 and actions[0]["Type"] == "forward" and actions[0]["TargetGroupArn"] == tg["TargetGroupArn"]
        check(forwards, "listener %s action" % lst["Port"])


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
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--https", action="store_true")
    parser.add_argument("--alb-cidrs", default="")
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
