"""Bad input is rejected before any AWS call that creates: run playbooks/provision.yml once per case and require
that it fails, and fails in argument validation or in a "Preflight |" task (tasks/preflight.yml: read-only calls at
most), with a message that names what to fix. The caller then checks that moto holds nothing of the cluster
("badinput").

  bad_input.py PROJECT_DIR OUTPUTS_DIR
"""

import concurrent.futures
import json
import os
import subprocess
import sys

import boto3

GOOD = {
    "infra_region": "cn-north-1",
    "infra_cluster_name": "badinput",
    "infra_rds_password": "moto-only-Passw0rd",
    "infra_redis_auth_token": "moto-only-auth-token-0123456789",
    "infra_alb_ingress_cidrs": ["10.0.0.0/8"],
}


def amazon_linux_2_image(region="cn-north-1"):
    """An Amazon Linux 2 image id as the region lists it (the twin serves the Amazon catalogue in China too)."""
    images = boto3.client("ec2", region_name=region).describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*-x86_64-gp2"]}])["Images"]
    return sorted(images, key=lambda image: image["CreationDate"])[-1]["ImageId"]


def plain_redis_cluster():
    """A cluster name whose replication group already exists without TLS (Redis 7.1), as one made before TLS was on."""
    boto3.client("elasticache", region_name="cn-north-1").create_replication_group(
        ReplicationGroupId="%s-redis" % PLAIN_REDIS_CLUSTER, ReplicationGroupDescription="made without TLS",
        Engine="redis", EngineVersion="7.1", NumCacheClusters=2, CacheNodeType="cache.t3.medium",
        TransitEncryptionEnabled=False)
    return PLAIN_REDIS_CLUSTER


PLAIN_REDIS_CLUSTER = "badtls"
NO_DNS_VPCS = []


def no_dns_vpc():
    """A VPC of the user's without DNS hostnames (what CreateVpc makes by default), to give as infra_vpc_id."""
    ec2 = boto3.client("ec2", region_name="cn-north-1")
    vpc_id = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": False})
    NO_DNS_VPCS.append(vpc_id)
    return vpc_id


EXISTING_SUBNETS = {
    "infra_private_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    "infra_public_subnet_ids": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
}
CERTIFICATE = {"airflow_version": "3.3.2",
               "infra_alb_certificate_arn": "arn:aws-cn:acm:cn-north-1:123456789012:certificate/0123abcd"}

CASES = {
    "missing password": ({}, ["infra_rds_password"]),
    "password too short": ({"infra_rds_password": "short"}, []),
    "overlapping subnet CIDRs": ({"infra_private_subnet_cidrs": ["10.20.1.0/24", "10.20.1.128/25"]}, []),
    "subnet CIDR outside the VPC": ({"infra_public_subnet_cidrs": ["10.20.101.0/24", "10.99.0.0/24"]}, []),
    "one subnet instead of two AZs": (
        {"infra_vpc_id": "vpc-0123456789abcdef0", "infra_private_subnet_ids": ["subnet-0123456789abcdef0"],
         "infra_public_subnet_ids": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]}, []),
    "one AZ twice": ({"infra_availability_zones": ["cn-north-1a", "cn-north-1a"]}, []),
    "invalid instance type": ({"infra_instance_type": "m5large"}, []),
    "invalid RDS engine version": ({"infra_rds_engine_version": "fifteen"}, []),
    "invalid Redis engine version": ({"infra_redis_engine_version": "7"}, []),
    "region not in the chosen partition": ({"infra_region": "us-east-1", "infra_partition": "aws-cn"}, []),
    "not a region": ({"infra_region": "china-north"}, []),
    "TLS without an AUTH token": ({"infra_redis_transit_encryption": True}, ["infra_redis_auth_token"]),
    "no load balancer CIDRs": ({"infra_alb_ingress_cidrs": []}, []),
    # Case: (overrides, variables to drop, text the failure message must contain)
    "placeholder RDS password from vault.yml": ({"infra_rds_password": "CHANGE-ME-rds-master-password"}, [], "infra_rds_password"),
    "placeholder Redis AUTH token from vault.yml": (
        {"infra_redis_auth_token": "CHANGE-ME-redis-auth-token-16-to-128-chars"}, [], "infra_redis_auth_token"),
    "Redis TLS (the default) without an AUTH token": ({}, ["infra_redis_auth_token"], "infra_redis_auth_token"),
    # ElastiCache's AUTH token rule, the module's own (the preflight used to let _ % . ' and others through)
    "Redis AUTH token with characters ElastiCache refuses": (
        {"infra_redis_auth_token": "moto_only_auth%token.0123456789"}, [], "infra_redis_auth_token"),
    "Redis automatic minor version upgrades on Redis 5.0": (
        {"infra_redis_engine_version": "5.0.6"}, [], "infra_redis_auto_minor_version_upgrade"),
    "Redis AUTH token update while TLS is only preferred": (
        {"infra_redis_transit_encryption_mode": "preferred", "infra_redis_update_auth_token": "always"}, [],
        "infra_redis_transit_encryption_mode=required"),
    "TLS straight to required on an existing group without it": (
        {"infra_cluster_name": plain_redis_cluster}, [], "infra_redis_transit_encryption_mode=preferred"),
    "a VPC of the user's without DNS hostnames": (
        dict(EXISTING_SUBNETS, infra_vpc_id=no_dns_vpc), [], "DNS hostnames off"),
    "a VPC id that is no VPC of the region": (
        dict(EXISTING_SUBNETS, infra_vpc_id="vpc-0123456789abcdef0"), [], "is not a VPC of cn-north-1"),
    "Airflow 3 over HTTPS without a name of the user's": (CERTIFICATE, [], "airflow_webserver_base_url"),
    "Airflow 3 over HTTPS on the ALB's own name": (
        dict(CERTIFICATE, airflow_webserver_base_url="https://internal-x-1.cn-north-1.elb.amazonaws.com.cn"), [],
        "airflow_webserver_base_url"),
    "an Amazon Linux 2 AMI": ({"infra_ami_id": amazon_linux_2_image}, [], "Amazon Linux 2"),
    "no Airflow hosts": ({"infra_instance_count": 0}, [], "infra_instance_count"),
    "an instance group with an unknown component": (
        {"infra_instance_groups": [{"name": "flower", "count": 1, "components": ["flower"]}]}, [], "infra_instance_groups"),
    "an instance group named like the main one": (
        {"infra_instance_groups": [{"name": "airflow", "count": 1, "components": ["worker"]}]}, [], "infra_instance_groups"),
    "RDS engine version as a minor AWS retired": ({"infra_rds_engine_version": "15.8"}, [], "infra_rds_engine_version"),
    "enhanced monitoring without a role": ({"infra_rds_monitoring_interval": 60}, [], "infra_rds_monitoring_role_arn"),
    "ALB access-log prefix without a bucket": ({"infra_alb_access_logs_prefix": "airflow"}, [], "infra_alb_access_logs_bucket"),
    "VPC flow logs to something that is not an S3 bucket or a log group": (
        {"infra_vpc_flow_logs_destination_arn": "arn:aws-cn:sqs:cn-north-1:123456789012:queue"}, [], "infra_vpc_flow_logs_destination_arn"),
}


def run(project, outputs, name, overrides, drop, expected=""):
    extra = dict(GOOD, infra_outputs_file=os.path.join(outputs, "badinput.yml"))
    extra.update({key: value() if callable(value) else value for key, value in overrides.items()})
    for key in drop:
        extra.pop(key)
    # Only the json callback (ansible.cfg enables profile_tasks, whose lines would break the JSON); not "", which
    # ansible-core 2.19 rejects as an empty plugin name.
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.json")
    proc = subprocess.run(
        ["ansible-playbook", os.path.join(project, "playbooks", "provision.yml"), "-e", json.dumps(extra)],
        cwd=project, env=env, capture_output=True, text=True, check=False,
    )
    failed_task = None
    message = ""
    aws_tasks = []
    try:
        report = json.loads(proc.stdout)
        for play in report["plays"]:
            for task in play["tasks"]:
                result = task["hosts"].get("localhost", {})
                task_name = task["task"]["name"].split(" : ", 1)[-1]
                module = result.get("invocation", {}).get("module_args") is not None
                if result.get("failed"):
                    failed_task = task_name
                    message = str(result.get("msg", ""))
                    break
                if module and not task_name.startswith(("Preflight |", "Validating arguments")):
                    aws_tasks.append(task_name)
    except (ValueError, KeyError) as exc:
        return name, False, "unreadable ansible output (%s): %s" % (exc, proc.stderr[-500:])
    ok = (
        proc.returncode != 0
        and failed_task is not None
        and failed_task.startswith(("Preflight |", "Validating arguments"))
        and not aws_tasks
        and expected in message
    )
    return name, ok, "rc=%s, failed in %r%s, AWS tasks before it: %s" % (
        proc.returncode, failed_task, "" if expected in message else " without naming %r (%s)" % (expected, message[:300]), aws_tasks)


def main():
    project, outputs = sys.argv[1], sys.argv[2]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda item: run(project, outputs, item[0], *item[1]), CASES.items()))
    for name, ok, detail in results:
        print("%s %-36s %s" % ("ok  " if ok else "FAIL", name, detail))
    # the group plain_redis_cluster() made stands for one that existed before: it goes, so nothing else is left
    boto3.client("elasticache", region_name="cn-north-1").delete_replication_group(
        ReplicationGroupId="%s-redis" % PLAIN_REDIS_CLUSTER)
    for vpc_id in NO_DNS_VPCS:
        boto3.client("ec2", region_name="cn-north-1").delete_vpc(VpcId=vpc_id)
    if os.path.exists(os.path.join(outputs, "badinput.yml")):
        print("FAIL an outputs file was written")
        return 1
    return 0 if all(ok for name, ok, detail in results) else 1


if __name__ == "__main__":
    sys.exit(main())
