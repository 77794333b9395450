"""What AWS and users change between two runs of provision.yml, and what the second run then sent (moto's recorder).

  drift.py apply STATE_DIR REGION CLUSTER      make the drift, start recording; prints the alternative AMI id
  drift.py check STATE_DIR REGION CLUSTER      stop recording; the re-run sent no downgrade, no shrink, no new
                                               host, no detach, no password; the drift is still there
  drift.py record STATE_DIR                    (re)start recording from empty
  drift.py password STATE_DIR NEW_PASSWORD     stop recording; a ModifyDBInstance carried NEW_PASSWORD
  drift.py al2 REGION CLUSTER                  replace the cluster's last host by one of the same name on an
                                               Amazon Linux 2 image; prints its name, id and image

The drift, as AWS and a user make it on a real account:
- RDS applied an automatic minor version upgrade (the newest minor of the major) and storage autoscaling grew the
  allocated storage past infra_rds_allocated_storage;
- a user attached a policy of their own to the hosts' IAM role;
- AWS published a newer Amazon Linux 2023 image (the re-run gets another image id through infra_ami_id).
"""

import base64
import json
import os
import sys
import urllib.parse
import urllib.request

import boto3

# The newest PostgreSQL 16 minor the twin offers (tools/twin/moto_server.py POSTGRES_OFFERED): what an automatic
# minor version upgrade moves a 16 instance to.
NEWEST_16 = "16.14"
GROWN_BY = 25
OTHER_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64"


def moto(state_dir, path):
    port = open(os.path.join(state_dir, "moto.port")).read().strip()
    with urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/moto-api/recorder/%s" % (port, path), method="POST"
                                                       if path != "download-recording" else "GET")) as response:
        return response.read().decode()


def requests(state_dir):
    """The recorded AWS query-protocol requests, as (Action, {param: value})."""
    moto(state_dir, "stop-recording")
    out = []
    for line in moto(state_dir, "download-recording").splitlines():
        entry = json.loads(line)
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(body).items()}
        if "Action" in params:
            out.append((params["Action"], params))
    return out


def apply(state_dir, region, cluster):
    rds = boto3.client("rds", region_name=region)
    db = rds.describe_db_instances(DBInstanceIdentifier="%s-postgres" % cluster)["DBInstances"][0]
    rds.modify_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"], EngineVersion=NEWEST_16,
                           AllocatedStorage=db["AllocatedStorage"] + GROWN_BY, ApplyImmediately=True)
    iam = boto3.client("iam", region_name=region)
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}]}
    policy = iam.create_policy(PolicyName="%s-user-attached" % cluster, PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="%s-airflow-host" % cluster, PolicyArn=policy)
    ec2 = boto3.client("ec2", region_name=region)
    instances = sorted(i["InstanceId"] for r in ec2.describe_instances(Filters=[
        {"Name": "tag:ha_airflow_cluster", "Values": [cluster]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"] for i in r["Instances"])
    other_ami = boto3.client("ssm", region_name=region).get_parameter(Name=OTHER_AMI_PARAMETER)["Parameter"]["Value"]
    state = {"engine_version": NEWEST_16, "allocated_storage": db["AllocatedStorage"] + GROWN_BY, "policy": policy,
             "instances": instances, "other_ami": other_ami}
    with open(os.path.join(state_dir, "drift.json"), "w") as handle:
        json.dump(state, handle)
    moto(state_dir, "reset-recording")
    moto(state_dir, "start-recording")
    print(json.dumps(state))
    return 0


def check(state_dir, region, cluster):
    state = json.load(open(os.path.join(state_dir, "drift.json")))
    failures = []
    for action, params in requests(state_dir):
        if action == "ModifyDBInstance":
            for key in ("EngineVersion", "AllocatedStorage", "MasterUserPassword"):
                if key in params:
                    failures.append("the re-run sent ModifyDBInstance %s=%s" % (key, "****" if "Password" in key else params[key]))
        if action in ("RunInstances", "TerminateInstances", "DetachRolePolicy", "DeleteRolePolicy"):
            failures.append("the re-run called %s %s" % (action, {k: v for k, v in params.items() if k != "Action"}))
    db = boto3.client("rds", region_name=region).describe_db_instances(DBInstanceIdentifier="%s-postgres" % cluster)["DBInstances"][0]
    if (db["EngineVersion"], db["AllocatedStorage"]) != (state["engine_version"], state["allocated_storage"]):
        failures.append("RDS runs %s on %s GiB, not %s on %s GiB"
                        % (db["EngineVersion"], db["AllocatedStorage"], state["engine_version"], state["allocated_storage"]))
    attached = [p["PolicyArn"] for p in boto3.client("iam", region_name=region).list_attached_role_policies(
        RoleName="%s-airflow-host" % cluster)["AttachedPolicies"]]
    if state["policy"] not in attached:
        failures.append("the user's policy %s was detached (%s)" % (state["policy"], attached))
    instances = sorted(i["InstanceId"] for r in boto3.client("ec2", region_name=region).describe_instances(Filters=[
        {"Name": "tag:ha_airflow_cluster", "Values": [cluster]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"] for i in r["Instances"])
    if instances != state["instances"]:
        failures.append("hosts %s became %s" % (state["instances"], instances))
    if failures:
        print("FAILED drift %s:\n  - %s" % (region, "\n  - ".join(failures)))
        return 1
    print("OK drift %s: RDS %s on %s GiB kept, %s kept, hosts kept" % (region, db["EngineVersion"], db["AllocatedStorage"], state["policy"]))
    return 0


def password(state_dir, new_password):
    sent = [p for action, p in requests(state_dir) if action == "ModifyDBInstance" and p.get("MasterUserPassword") == new_password]
    if not sent:
        print("FAILED password: no ModifyDBInstance carried the new master password")
        return 1
    print("OK password: ModifyDBInstance carried the new master password (%d call)" % len(sent))
    return 0


def name_of(instance):
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}.get("Name", "")


def name_order(instance):
    """airflow-airflow-2 before airflow-airflow-10."""
    return [int(part) if part.isdigit() else part for part in name_of(instance).split("-")]


def al2(region, cluster):
    """A host that an earlier version of the collection launched on Amazon Linux 2 (before the default image became
    Amazon Linux 2023): the cluster's last host, by name, is terminated and launched again under the same name, tags,
    subnet, security groups, instance profile, metadata options and root volume, on the newest amzn2 image moto
    offers. provision.yml never replaces a running host for its image: it must keep this host and name it."""
    ec2 = boto3.client("ec2", region_name=region)
    image = sorted(ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*-x86_64-gp2"]}])[
        "Images"], key=lambda i: i["Name"])[-1]
    hosts = [i for r in ec2.describe_instances(Filters=[
        {"Name": "tag:ha_airflow_cluster", "Values": [cluster]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"] for i in r["Instances"]]
    old = sorted(hosts, key=name_order)[-1]
    root = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [old["InstanceId"]]}])["Volumes"]
    ec2.terminate_instances(InstanceIds=[old["InstanceId"]])
    new = ec2.run_instances(
        ImageId=image["ImageId"], MinCount=1, MaxCount=1, InstanceType=old["InstanceType"], SubnetId=old["SubnetId"],
        SecurityGroupIds=[g["GroupId"] for g in old["SecurityGroups"]],
        IamInstanceProfile={"Arn": old["IamInstanceProfile"]["Arn"]},
        MetadataOptions={"HttpEndpoint": "enabled", "HttpTokens": "required", "HttpPutResponseHopLimit": 2},
        BlockDeviceMappings=[{"DeviceName": image["RootDeviceName"], "Ebs": {
            "VolumeSize": root[0]["Size"] if root else 30, "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True}}],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [t for t in old["Tags"] if not t["Key"].startswith("aws:")]}],
    )["Instances"][0]
    print(json.dumps({"host": name_of(old), "instance": new["InstanceId"], "image": image["ImageId"], "image_name": image["Name"],
                      "others": sorted(name_of(i) for i in hosts if i is not old)}))
    return 0


def main():
    command, state_dir = sys.argv[1], sys.argv[2]
    if command == "apply":
        return apply(state_dir, *sys.argv[3:5])
    if command == "check":
        return check(state_dir, *sys.argv[3:5])
    if command == "record":
        moto(state_dir, "reset-recording")
        moto(state_dir, "start-recording")
        return 0
    if command == "password":
        return password(state_dir, sys.argv[3])
    if command == "al2":
        return al2(*sys.argv[2:4])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
