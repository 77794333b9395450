"""The instance metadata service of the twin's EC2 instances, as EC2 serves it at 169.254.169.254 (IMDSv2).

Rules (EC2 User Guide, "Use the Instance Metadata Service to access instance metadata", "Retrieve security
credentials from instance metadata"):
- IMDSv2: PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1-21600) returns a session token; a PUT
  without that header, or with an X-Forwarded-For header, is refused (400 / 403). Every GET with a token must carry
  a valid, unexpired token of this instance (else 401).
- HttpTokens "required": a GET without a token gets 401; "optional" allows IMDSv1 GETs.
- HttpEndpoint "disabled": the service does not answer the instance (403 here).
- HttpPutResponseHopLimit: the token's response leaves with that IP TTL, so a container one hop further (behind a
  bridge or NAT on the host) never gets it with the default limit of 1.
- iam/security-credentials/<role>: short-lived credentials of the instance profile's role (from STS), refreshed
  before they expire (AWS makes new ones available at least 5 minutes before the old ones expire); an instance
  launched without a profile has no iam/ tree (404); a role whose trust policy does not let EC2 assume it gives
  Code "AssumeRoleUnauthorizedAccess" and no keys.
- dynamic/instance-identity/document: the identity document the SDKs read (region, AZ, account, instance).
Standard library only: the twin gives it a lookup (client address -> the instance's facts) and a credential maker.
"""

import datetime
import http.server
import json
import secrets
import socket
import threading
import time

MAX_TTL = 21600
REFRESH_BEFORE = 300  # s: new credentials at least this long before the old ones expire


class Metadata:
    """State of the service: tokens, cached credentials. lookup(address) -> dict or None; issue(instance, role_arn,
    seconds) -> {AccessKeyId, SecretAccessKey, Token, Expiration (datetime, UTC)}."""

    def __init__(self, lookup, issue, credential_seconds=3600, clock=time.time):
        self.lookup, self.issue, self.seconds, self.clock = lookup, issue, credential_seconds, clock
        self.tokens = {}       # token -> (instance id, expires at)
        self.credentials = {}  # (instance id, role arn) -> credentials
        self.lock = threading.Lock()

    def put_token(self, address, headers):
        inst = self.lookup(address)
        if inst is None:
            return 404, "text/plain", "not an instance of this twin"
        if inst["metadata"].get("http_endpoint", "enabled") != "enabled":
            return 403, "text/plain", "the instance metadata service is disabled for this instance"
        headers = {k.lower(): v for k, v in headers.items()}
        if "x-forwarded-for" in headers:
            return 403, "text/plain", "Forbidden"
        ttl = headers.get("x-aws-ec2-metadata-token-ttl-seconds")
        if ttl is None or not str(ttl).strip().isdigit() or not 1 <= int(ttl) <= MAX_TTL:
            return 400, "text/plain", "Bad Request"
        token = secrets.token_urlsafe(40)
        with self.lock:
            self.tokens[token] = (inst["instance_id"], self.clock() + int(ttl))
        return 200, "text/plain", token

    def get(self, address, path, headers):
        inst = self.lookup(address)
        if inst is None:
            return 404, "text/plain", "not an instance of this twin"
        meta = inst["metadata"]
        if meta.get("http_endpoint", "enabled") != "enabled":
            return 403, "text/plain", "the instance metadata service is disabled for this instance"
        token = {k.lower(): v for k, v in headers.items()}.get("x-aws-ec2-metadata-token")
        if token is not None:
            with self.lock:
                owner, expires = self.tokens.get(token, (None, 0))
            if owner != inst["instance_id"] or expires <= self.clock():
                return 401, "text/plain", "Unauthorized"
        elif meta.get("http_tokens", "optional") == "required":
            return 401, "text/plain", "Unauthorized"
        return self.answer(inst, path)

    def answer(self, inst, path):
        path = "/" + path.strip("/")
        role_arn = inst.get("role_arn")
        role = role_arn.split("/")[-1] if role_arn else None
        doc = {"accountId": inst["account"], "architecture": "x86_64", "availabilityZone": inst["az"],
               "imageId": inst.get("image_id", ""), "instanceId": inst["instance_id"],
               "instanceType": inst.get("instance_type", ""), "privateIp": inst["private_ip"],
               "region": inst["region"], "version": "2017-09-30", "pendingTime": inst.get("launched", "")}
        tree = {
            "/latest/meta-data/instance-id": inst["instance_id"],
            "/latest/meta-data/local-ipv4": inst["private_ip"],
            "/latest/meta-data/instance-type": inst.get("instance_type", ""),
            "/latest/meta-data/ami-id": inst.get("image_id", ""),
            "/latest/meta-data/placement/availability-zone": inst["az"],
            "/latest/meta-data/placement/region": inst["region"],
            "/latest/meta-data/services/partition": inst["partition"],
            "/latest/meta-data/services/domain": inst["domain"],
            "/latest/dynamic/instance-identity/document": json.dumps(doc, indent=2),
        }
        if role:
            tree["/latest/meta-data/iam/info"] = json.dumps({
                "Code": "Success", "LastUpdated": _iso(self.clock()), "InstanceProfileArn": inst["profile_arn"],
                "InstanceProfileId": inst.get("profile_id", "")})
            tree["/latest/meta-data/iam/security-credentials"] = role
        if path in tree:
            return 200, "text/plain", tree[path]
        if role and path == "/latest/meta-data/iam/security-credentials/" + role:
            return 200, "text/plain", json.dumps(self.role_credentials(inst, role_arn), indent=2)
        children = sorted({k[len(path) + 1:].split("/")[0] + ("/" if k[len(path) + 1:].count("/") else "")
                           for k in tree if k.startswith(path + "/")})
        if children:
            return 200, "text/plain", "\n".join(children)
        return 404, "text/plain", "Not Found"

    def role_credentials(self, inst, role_arn):
        if not inst.get("role_trusts_ec2", True):
            return {"Code": "AssumeRoleUnauthorizedAccess", "LastUpdated": _iso(self.clock()),
                    "Message": "EC2 cannot assume the role %s: its trust policy does not allow ec2.%s"
                               % (role_arn, inst["domain"])}
        key = (inst["instance_id"], role_arn)
        with self.lock:
            cred = self.credentials.get(key)
            if cred is None or cred["Expiration"].timestamp() - self.clock() < REFRESH_BEFORE:
                cred = dict(self.issue(inst, role_arn, self.seconds), LastUpdated=_iso(self.clock()))
                self.credentials[key] = cred
        return {"Code": "Success", "LastUpdated": cred["LastUpdated"], "Type": "AWS-HMAC",
                "AccessKeyId": cred["AccessKeyId"], "SecretAccessKey": cred["SecretAccessKey"],
                "Token": cred["Token"], "Expiration": cred["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ")}


def _iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "EC2ws"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # the twin's log stays readable
        return

    def _send(self, status, ctype, body, ttl=None):
        if ttl is not None:  # Rule: the PUT's response carries the hop limit as its IP TTL
            self.connection.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, int(ttl))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):  # noqa: N802 (http.server's names)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        md = self.server.metadata
        if self.path.rstrip("/") != "/latest/api/token":
            return self._send(405, "text/plain", "Method Not Allowed")
        status, ctype, body = md.put_token(self.client_address[0], dict(self.headers.items()))
        inst = md.lookup(self.client_address[0])
        hop = (inst or {}).get("metadata", {}).get("hop_limit", 1) if status == 200 else None
        return self._send(status, ctype, body, ttl=hop)

    def do_GET(self):  # noqa: N802
        status, ctype, body = self.server.metadata.get(self.client_address[0], self.path.split("?")[0],
                                                       dict(self.headers.items()))
        return self._send(status, ctype, body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(address, port, metadata):
    """Serve metadata on address:port in a thread; returns the server (shutdown() stops it)."""
    srv = Server((address, port), Handler)
    srv.metadata = metadata
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv
