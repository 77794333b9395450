"""The Glue job of the site scenario, as a user defines it in their account, and the policy edits of its IAM test.
Runs on the controller with the scenario's (administrator) access to the twin (AWS_CONFIG_FILE names moto).

  glue_site.py REGION setup                the job's role (trusting Glue), the script in the scripts bucket, the job
  glue_site.py REGION without ROLE ACTION  the hosts' role's inline policy "glue" without ACTION (the original is
                                           printed, as JSON, for restore)
  glue_site.py REGION restore ROLE FILE    that policy put back exactly
  glue_site.py REGION runs                 the job's runs, as JSON
"""
import json
import sys

import boto3
from botocore.exceptions import ClientError

JOB, ROLE, BUCKET, KEY = "site-probe", "AWSGlueServiceRole-site", "ha-airflow-glue-scripts", "probe.py"
GLUE_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def setup(region):
    iam, s3, glue = (boto3.client(name, region_name=region) for name in ("iam", "s3", "glue"))
    try:
        arn = iam.get_role(RoleName=ROLE)["Role"]["Arn"]
    except ClientError:
        arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(GLUE_TRUST))["Role"]["Arn"]
    if BUCKET not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"print('ha_airflow Glue probe')\n")
    try:
        glue.get_job(JobName=JOB)
    except ClientError:
        glue.create_job(Name=JOB, Role=arn, Command={"Name": "glueetl", "ScriptLocation": "s3://%s/%s" % (BUCKET, KEY)},
                        GlueVersion="4.0", WorkerType="G.1X", NumberOfWorkers=2)
    print(json.dumps({"role": arn, "job": JOB}))


def without(region, role, action):
    iam = boto3.client("iam", region_name=region)
    original = iam.get_role_policy(RoleName=role, PolicyName="glue")["PolicyDocument"]
    changed = json.loads(json.dumps(original))
    for statement in changed["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [a for a in actions if a != action] or ["glue:GetDataCatalogEncryptionSettings"]
    if changed == original:
        sys.exit("the policy of %s does not allow %s: nothing to take out" % (role, action))
    iam.put_role_policy(RoleName=role, PolicyName="glue", PolicyDocument=json.dumps(changed))
    print(json.dumps(original))


def restore(region, role, path):
    with open(path) as fh:
        document = json.load(fh)
    boto3.client("iam", region_name=region).put_role_policy(RoleName=role, PolicyName="glue",
                                                            PolicyDocument=json.dumps(document))
    print(json.dumps({"restored": role}))


def runs(region):
    found = boto3.client("glue", region_name=region).get_job_runs(JobName=JOB)["JobRuns"]
    print(json.dumps([{"id": r["Id"], "state": r["JobRunState"]} for r in found]))


if __name__ == "__main__":
    {"setup": setup, "without": without, "restore": restore, "runs": runs}[sys.argv[2]](sys.argv[1], *sys.argv[3:])
