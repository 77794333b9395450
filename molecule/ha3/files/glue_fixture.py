"""What a Glue job needs in the account, made in moto from the controller, and proof that this moto is strict.

  glue_fixture.py ENDPOINT REGION setup   the job's role (trusting Glue), the script bucket and the script;
                                          a job with a role Glue may not assume, or one that does not exist, is
                                          refused (as AWS refuses it); prints what it made, as JSON
  glue_fixture.py ENDPOINT REGION runs    the runs of the job ha_glue's task made, as JSON

moto is tools/twin/moto_server.py (its Glue rules: CreateJob checks the role, a run whose script is not in S3 fails,
runs take time), started by prepare.yml on the test bed's gateway.
"""
import json
import sys

import boto3
from botocore.exceptions import ClientError

JOB, ROLE, BUCKET, KEY = "ha-airflow-probe", "ha-airflow-glue", "ha-airflow-glue-scripts", "probe.py"
GLUE_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def client(service, endpoint, region):
    return boto3.client(service, endpoint_url=endpoint, region_name=region, aws_access_key_id="molecule",
                        aws_secret_access_key="molecule")


def ensure_role(iam, name, trust):
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except ClientError:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def refused(glue, role):
    try:
        glue.create_job(Name="ha-airflow-refused", Role=role,
                        Command={"Name": "glueetl", "ScriptLocation": "s3://%s/%s" % (BUCKET, KEY)})
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    glue.delete_job(JobName="ha-airflow-refused")
    return None


def setup(endpoint, region):
    iam, s3, glue = (client(name, endpoint, region) for name in ("iam", "s3", "glue"))
    arn = ensure_role(iam, ROLE, GLUE_TRUST)
    ensure_role(iam, "ha-airflow-ec2", EC2_TRUST)
    if BUCKET not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"print('ha_airflow Glue probe')\n")
    print(json.dumps({"role": arn, "script": "s3://%s/%s" % (BUCKET, KEY),
                      "refused": {"untrusted_role": refused(glue, "ha-airflow-ec2"),
                                  "missing_role": refused(glue, "ha-airflow-missing")}}))


def runs(endpoint, region):
    glue = client("glue", endpoint, region)
    try:
        found = glue.get_job_runs(JobName=JOB)["JobRuns"]
    except ClientError:
        found = []
    print(json.dumps([{"id": r["Id"], "state": r["JobRunState"]} for r in found]))


if __name__ == "__main__":
    {"setup": setup, "runs": runs}[sys.argv[3]](sys.argv[1], sys.argv[2])
