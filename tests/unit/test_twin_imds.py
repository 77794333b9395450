"""tools/twin/imds.py serves the instance metadata as EC2 does (IMDSv2): each test is one rule of the EC2 User
Guide's "Use the Instance Metadata Service", against the real HTTP server on the loopback, and boto3's own
credential chain finds the instance role's keys through it with nothing configured."""

import datetime
import importlib.util
import json
import os
import socket
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_SPEC = importlib.util.spec_from_file_location("twin_imds", os.path.join(ROOT, "tools", "twin", "imds.py"))
imds = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(imds)

ROLE = "arn:aws-cn:iam::123456789012:role/airflow-hosts"


def _instance(**metadata):
    return {"instance_id": "i-0abc", "account": "123456789012", "az": "cn-north-1a", "region": "cn-north-1",
            "partition": "aws-cn", "domain": "amazonaws.com.cn", "private_ip": "127.0.0.1", "role_arn": ROLE,
            "profile_arn": "arn:aws-cn:iam::123456789012:instance-profile/airflow-hosts", "role_trusts_ec2": True,
            "metadata": dict({"http_tokens": "required", "hop_limit": 1, "http_endpoint": "enabled"}, **metadata)}


@pytest.fixture
def served():
    state = {"inst": _instance(), "issued": [], "now": 1_000_000.0}

    def issue(inst, role_arn, seconds):
        state["issued"].append(role_arn)
        n = len(state["issued"])
        return {"AccessKeyId": "ASIATWIN%04d" % n, "SecretAccessKey": "s%d" % n, "Token": "t%d" % n,
                "Expiration": datetime.datetime.fromtimestamp(state["now"] + seconds, datetime.timezone.utc)}
    md = imds.Metadata(lambda addr: state["inst"] if addr == "127.0.0.1" else None, issue, 900,
                       clock=lambda: state["now"])
    srv = imds.serve("127.0.0.1", 0, md)
    state["url"] = "http://127.0.0.1:%d" % srv.server_address[1]
    yield state
    srv.shutdown()


def _call(url, method="GET", headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _token(state, ttl="60", extra=None):
    return _call(state["url"] + "/latest/api/token", "PUT",
                 dict({"X-aws-ec2-metadata-token-ttl-seconds": ttl}, **(extra or {})))


def test_token_needs_a_valid_ttl_and_no_forwarding(served):
    assert _call(served["url"] + "/latest/api/token", "PUT")[0] == 400
    assert _token(served, "0")[0] == 400
    assert _token(served, "21601")[0] == 400
    assert _token(served, extra={"X-Forwarded-For": "10.0.0.9"})[0] == 403
    status, token = _token(served)
    assert status == 200 and len(token) > 20


def test_required_tokens_refuse_imdsv1_and_bad_or_expired_tokens(served):
    url = served["url"] + "/latest/meta-data/instance-id"
    assert _call(url)[0] == 401
    assert _call(url, headers={"X-aws-ec2-metadata-token": "forged"})[0] == 401
    token = _token(served, "60")[1]
    assert _call(url, headers={"X-aws-ec2-metadata-token": token}) == (200, "i-0abc")
    served["now"] += 61
    assert _call(url, headers={"X-aws-ec2-metadata-token": token})[0] == 401
    served["inst"] = _instance(http_tokens="optional")
    assert _call(url) == (200, "i-0abc")  # IMDSv1 only where the instance allows it


def test_disabled_endpoint_answers_nothing(served):
    served["inst"] = _instance(http_endpoint="disabled")
    assert _token(served)[0] == 403


def test_hop_limit_is_the_token_responses_ttl(served, monkeypatch):
    """The kernel sends the PUT's answer with the socket's IP TTL: the instance's hop limit, so one hop further
    (a container behind a bridge) the token never arrives."""
    seen = []
    send = imds.Handler._send

    def spy(self, status, ctype, body, ttl=None):
        send(self, status, ctype, body, ttl)
        seen.append((self.command, self.connection.getsockopt(socket.IPPROTO_IP, socket.IP_TTL)))
    monkeypatch.setattr(imds.Handler, "_send", spy)
    for limit in (1, 3):
        served["inst"] = _instance(hop_limit=limit)
        seen.clear()
        assert _token(served)[0] == 200
        for _attempt in range(100):  # the handler records after its answer went out
            if seen:
                break
            time.sleep(0.01)
        assert seen == [("PUT", limit)]


def test_credentials_of_the_profiles_role_refreshed_before_expiry(served):
    token = _token(served, "21600")[1]
    head = {"X-aws-ec2-metadata-token": token}
    base = served["url"] + "/latest/meta-data/iam/security-credentials/"
    assert _call(base, headers=head) == (200, "airflow-hosts")
    first = json.loads(_call(base + "airflow-hosts", headers=head)[1])
    assert first["Code"] == "Success" and first["AccessKeyId"] == "ASIATWIN0001" and first["Type"] == "AWS-HMAC"
    assert json.loads(_call(base + "airflow-hosts", headers=head)[1])["AccessKeyId"] == "ASIATWIN0001"
    served["now"] += 900 - imds.REFRESH_BEFORE + 1  # within 5 minutes of expiry: new keys
    assert json.loads(_call(base + "airflow-hosts", headers=head)[1])["AccessKeyId"] == "ASIATWIN0002"
    assert _call(base + "other-role", headers=head)[0] == 404


def test_no_profile_no_iam_tree_and_untrusted_role_no_keys(served):
    token = _token(served)[1]
    head = {"X-aws-ec2-metadata-token": token}
    served["inst"] = dict(_instance(), role_arn=None)
    assert _call(served["url"] + "/latest/meta-data/iam/security-credentials/", headers=head)[0] == 404
    assert "iam" not in _call(served["url"] + "/latest/meta-data/", headers=head)[1].split()
    served["inst"] = dict(_instance(), role_trusts_ec2=False)
    answer = json.loads(_call(served["url"] + "/latest/meta-data/iam/security-credentials/airflow-hosts",
                              headers=head)[1])
    assert answer["Code"] == "AssumeRoleUnauthorizedAccess" and "AccessKeyId" not in answer
    assert served["issued"] == []


def test_identity_document_and_placement(served):
    head = {"X-aws-ec2-metadata-token": _token(served)[1]}
    doc = json.loads(_call(served["url"] + "/latest/dynamic/instance-identity/document", headers=head)[1])
    assert (doc["region"], doc["availabilityZone"], doc["accountId"]) == ("cn-north-1", "cn-north-1a", "123456789012")
    assert _call(served["url"] + "/latest/meta-data/placement/region", headers=head) == (200, "cn-north-1")


def test_boto3_finds_the_role_through_its_default_chain(served, monkeypatch, tmp_path):
    botocore = pytest.importorskip("botocore.session")
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", served["url"] + "/")
    monkeypatch.setenv("AWS_EC2_METADATA_V1_DISABLED", "true")
    served["now"] = datetime.datetime.now(datetime.timezone.utc).timestamp()
    creds = botocore.Session().get_credentials()
    assert creds is not None and creds.method == "iam-role"
    assert creds.get_frozen_credentials().access_key == "ASIATWIN0001"
