"""What only the user has, made in moto before the scenario provisions (AWS_CONFIG_FILE points at moto):

  fixtures.py STATE_DIR

- an ACM certificate in us-east-1 for the HTTPS listener; its ARN goes to STATE_DIR/certificate_arn;
- the ALB access-log bucket in us-east-1, with the bucket policy AWS asks for (the region's Elastic Load Balancing
  account may put objects under the prefix);
- the VPC flow logs bucket in us-east-1;
- the Glue scripts bucket in cn-north-1.
Idempotent: an existing certificate or bucket is reused.
"""

import json
import os
import sys

import boto3

# The Elastic Load Balancing account of each region that writes ALB access logs (AWS documents one per region).
ELB_LOG_ACCOUNTS = {"us-east-1": "127311923021", "cn-north-1": "638102146993", "cn-northwest-1": "037604701340"}


def partition(region):
    return "aws-cn" if region.startswith("cn-") else "aws"


def bucket(region, name, log_prefix=None):
    s3 = boto3.client("s3", region_name=region)
    if name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **config)
    if log_prefix is not None:
        policy = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": "arn:%s:iam::%s:root" % (partition(region), ELB_LOG_ACCOUNTS[region])},
            "Action": "s3:PutObject",
            "Resource": "arn:%s:s3:::%s/%s/AWSLogs/*" % (partition(region), name, log_prefix),
        }]}
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))


def certificate(state_dir):
    acm = boto3.client("acm", region_name="us-east-1")
    existing = [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"] if c["DomainName"] == "airflow.example.com"]
    arn = existing[0] if existing else acm.request_certificate(DomainName="airflow.example.com", ValidationMethod="DNS")["CertificateArn"]
    with open(os.path.join(state_dir, "certificate_arn"), "w") as handle:
        handle.write(arn)
    return arn


def main():
    state_dir = sys.argv[1]
    print("certificate", certificate(state_dir))
    bucket("us-east-1", "moto-alb-logs-use1", log_prefix="airflow")
    bucket("us-east-1", "moto-flow-logs-use1")
    bucket("cn-north-1", "moto-glue-scripts-cn")
    print("buckets moto-alb-logs-use1, moto-flow-logs-use1 (us-east-1), moto-glue-scripts-cn (cn-north-1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
