"""tools/twin/iam_policy.py decides as AWS's policy evaluation does (IAM User Guide, "Policy evaluation logic"):
each case below is one rule of it, with the policies the infra role writes for the hosts."""

import importlib.util
import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_SPEC = importlib.util.spec_from_file_location("twin_iam_policy", os.path.join(ROOT, "tools", "twin", "iam_policy.py"))
iam = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(iam)

JOB = "arn:aws-cn:glue:cn-north-1:123456789012:job/nightly"
ROLE = "arn:aws-cn:iam::123456789012:role/AWSGlueServiceRole-etl"
GLUE = {"Version": "2012-10-17", "Statement": [
    {"Sid": "GlueJobRuns", "Effect": "Allow", "Action": ["glue:GetJob", "glue:StartJobRun", "glue:GetJobRun"],
     "Resource": "arn:aws-cn:glue:cn-north-1:123456789012:job/*"},
    {"Sid": "PassJobRolesToGlueOnly", "Effect": "Allow", "Action": "iam:PassRole",
     "Resource": ["arn:aws-cn:iam::123456789012:role/AWSGlueServiceRole*"],
     "Condition": {"StringEquals": {"iam:PassedToService": ["glue.amazonaws.com"]}}}]}


@pytest.mark.parametrize("action, resource, expected", [
    ("glue:GetJob", JOB, iam.ALLOW),
    ("GLUE:getjob", JOB, iam.ALLOW),  # actions are case-insensitive
    ("glue:CreateJob", JOB, iam.IMPLICIT_DENY),  # nothing allows it
    ("glue:GetJob", JOB.replace("aws-cn", "aws"), iam.IMPLICIT_DENY),  # the partition is part of the ARN
    ("glue:GetJob", JOB.replace("cn-north-1", "cn-northwest-1"), iam.IMPLICIT_DENY),
    ("glue:GetJob", "*", iam.IMPLICIT_DENY),  # an unresolved resource is not "any resource"
])
def test_action_and_resource_must_match_an_allow(action, resource, expected):
    assert iam.evaluate([GLUE], action, [resource])[0] == expected


def test_pass_role_needs_the_service_condition():
    assert iam.evaluate([GLUE], "iam:PassRole", [ROLE], {"iam:PassedToService": "glue.amazonaws.com"})[0] == iam.ALLOW
    assert iam.evaluate([GLUE], "iam:PassRole", [ROLE], {"iam:PassedToService": "ec2.amazonaws.com"})[0] \
        == iam.IMPLICIT_DENY
    assert iam.evaluate([GLUE], "iam:PassRole", [ROLE], {})[0] == iam.IMPLICIT_DENY  # key absent: no match
    other = ROLE.replace("AWSGlueServiceRole-etl", "admin")
    assert iam.evaluate([GLUE], "iam:PassRole", [other], {"iam:PassedToService": "glue.amazonaws.com"})[0] \
        == iam.IMPLICIT_DENY


def test_explicit_deny_wins_and_its_condition_counts():
    deny_plain = {"Statement": [{"Effect": "Deny", "Action": "glue:*", "Resource": "*",
                                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    assert iam.evaluate([GLUE, deny_plain], "glue:GetJob", [JOB], {"aws:SecureTransport": "false"})[0] \
        == iam.EXPLICIT_DENY
    # A Deny whose condition does not match denies nothing (moto 5 denied here).
    assert iam.evaluate([GLUE, deny_plain], "glue:GetJob", [JOB], {"aws:SecureTransport": "true"})[0] == iam.ALLOW
    assert iam.evaluate([GLUE, {"Statement": {"Effect": "Deny", "Action": "glue:GetJob", "Resource": JOB}}],
                        "glue:GetJob", [JOB])[0] == iam.EXPLICIT_DENY


def test_not_action_not_resource_and_wildcards():
    doc = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws-cn:s3:::secret/*"}]}
    assert iam.evaluate([doc], "s3:GetObject", ["arn:aws-cn:s3:::logs/a"])[0] == iam.ALLOW
    assert iam.evaluate([doc], "s3:GetObject", ["arn:aws-cn:s3:::secret/a"])[0] == iam.IMPLICIT_DENY
    assert iam.evaluate([doc], "iam:GetRole", [ROLE])[0] == iam.IMPLICIT_DENY
    one = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObjec?", "Resource": "arn:aws-cn:s3:::b/k?"}]}
    assert iam.evaluate([one], "s3:GetObject", ["arn:aws-cn:s3:::b/k1"])[0] == iam.ALLOW
    assert iam.evaluate([one], "s3:GetObject", ["arn:aws-cn:s3:::b/k12"])[0] == iam.IMPLICIT_DENY


def test_negated_and_if_exists_operators_with_an_absent_key():
    neg = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                          "Condition": {"StringNotEquals": {"s3:prefix": "private/"}}}]}
    assert iam.evaluate([neg], "s3:ListBucket", ["arn:aws-cn:s3:::b"], {})[0] == iam.ALLOW
    assert iam.evaluate([neg], "s3:ListBucket", ["arn:aws-cn:s3:::b"], {"s3:prefix": "private/"})[0] \
        == iam.IMPLICIT_DENY
    ifx = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                          "Condition": {"StringEqualsIfExists": {"s3:prefix": "logs/"}}}]}
    assert iam.evaluate([ifx], "s3:ListBucket", ["arn:aws-cn:s3:::b"], {})[0] == iam.ALLOW
    assert iam.evaluate([ifx], "s3:ListBucket", ["arn:aws-cn:s3:::b"], {"s3:prefix": "x/"})[0] == iam.IMPLICIT_DENY


def test_arn_like_matches_part_by_part():
    doc = {"Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
                          "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws-cn:iam::*:role/airflow-*"}}}]}
    ok = {"aws:PrincipalArn": "arn:aws-cn:iam::123456789012:role/airflow-hosts"}
    assert iam.evaluate([doc], "iam:PassRole", [ROLE], ok)[0] == iam.ALLOW
    assert iam.evaluate([doc], "iam:PassRole", [ROLE], {"aws:PrincipalArn": "arn:aws:iam::1:role/airflow-x"})[0] \
        == iam.IMPLICIT_DENY


def test_policy_text_as_iam_returns_it():
    import json
    from urllib.parse import quote
    assert iam.evaluate([quote(json.dumps(GLUE))], "glue:GetJob", [JOB])[0] == iam.ALLOW
