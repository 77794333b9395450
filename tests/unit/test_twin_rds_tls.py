"""The AWS twin's RDS TLS rule (tools/twin/twin): the RDS stand-in serves a certificate of a twin "RDS CA" for the
endpoint's name, on both data hosts, and refuses clients without TLS; the inventory gives the role that CA.

AWS: Amazon RDS User Guide, "Using SSL with a PostgreSQL DB instance" (sslmode=verify-full with the rds-ca bundle;
rds.force_ssl on by default from PostgreSQL 15). Each test fails without the piece of the rule it names. openssl
checks the certificates; nothing boots (the site scenario's molecule/site/tasks/tls.yml proves it on the machines).
"""

import importlib.machinery
import importlib.util
import os
import subprocess

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_LOADER = importlib.machinery.SourceFileLoader("twin_tool_rds", os.path.join(ROOT, "tools", "twin", "twin"))
_SPEC = importlib.util.spec_from_loader("twin_tool_rds", _LOADER)
twin = importlib.util.module_from_spec(_SPEC)
_LOADER.exec_module(twin)

ENDPOINT = "airflow-db.abcdefghijkl.cn-north-1.rds.amazonaws.com.cn"
INFO = {"name": "unit", "region": "cn-north-1", "endpoint": "http://127.0.0.1:1", "vpc_cidr": "10.210.0.0/20",
        "private_subnet_cidrs": ["10.210.1.0/24"], "public_subnet_cidrs": ["10.210.2.0/24"]}


@pytest.fixture(name="sdir")
def fixture_sdir(tmp_path):
    twin.prepare_files(str(tmp_path), INFO)
    return str(tmp_path)


def _subject(path):
    return subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", path], capture_output=True, text=True,
                          check=True).stdout


def _verify(sdir, ca_pem, *extra):
    return subprocess.run(["openssl", "verify", "-CAfile", os.path.join(sdir, "ca", ca_pem)] + list(extra)
                          + [os.path.join(sdir, "ca", "rds.pem")], capture_output=True, text=True, check=False)


class FakeTwin:
    """What serve_rds_tls and issue_cert use of the twin: its state folder, its data hosts and ssh to them."""

    def __init__(self, sdir):
        self.sdir, self.data_hosts, self.scripts = sdir, ["10.210.0.10", "10.210.0.12"], []

    def ssh(self, address, script, timeout=600):
        self.scripts.append((address, script))
        return ""

    issue_cert = twin.Twin.issue_cert
    serve_rds_tls = twin.Twin.serve_rds_tls


def test_rds_ca_is_apart_from_the_twins_other_ca(sdir):
    """The machines' OS store trusts ca.pem (Redis, the endpoints): the RDS CA must be another, or a client that
    trusts the wrong CA would still be let in."""
    rds, other = _subject(os.path.join(sdir, "ca", "rds-ca.pem")), _subject(os.path.join(sdir, "ca", "ca.pem"))
    assert "RDS CA" in rds and rds != other


def test_certificate_names_the_endpoint_and_chains_to_the_rds_ca_only(sdir):
    fake = FakeTwin(sdir)
    fake.serve_rds_tls(ENDPOINT)
    assert _verify(sdir, "rds-ca.pem", "-verify_hostname", ENDPOINT).returncode == 0
    # The wrong CA (the one Redis and the OS store use) refuses it.
    assert _verify(sdir, "ca.pem").returncode != 0
    # verify-full by address fails: the certificate names no IP.
    assert _verify(sdir, "rds-ca.pem", "-verify_ip", fake.data_hosts[0]).returncode != 0
    assert _verify(sdir, "rds-ca.pem", "-verify_hostname", "other.example.internal").returncode != 0


def test_both_data_hosts_get_the_certificate_and_reload(sdir):
    """The endpoint's name moves to the standby on failover: it must serve the same name's certificate."""
    fake = FakeTwin(sdir)
    fake.serve_rds_tls(ENDPOINT)
    assert [address for address, _ in fake.scripts] == fake.data_hosts
    with open(os.path.join(sdir, "ca", "rds.pem")) as fh:
        cert = fh.read()
    for _address, script in fake.scripts:
        assert cert in script
        assert "chmod 0600 /etc/postgresql/15/main/rds.key" in script
        assert "systemctl reload postgresql@15-main" in script
    # Once served, a name is not issued again on every tick; a second DB instance's name joins the certificate.
    fake.serve_rds_tls(ENDPOINT)
    assert len(fake.scripts) == 2
    fake.serve_rds_tls("second." + ENDPOINT.split(".", 1)[1])
    assert len(fake.scripts) == 4
    assert _verify(sdir, "rds-ca.pem", "-verify_hostname", ENDPOINT).returncode == 0


def test_a_failed_push_is_tried_again(sdir):
    fake = FakeTwin(sdir)
    calls = []

    def flaky(address, script, timeout=600):
        calls.append(address)
        if len(calls) == 2:
            raise twin.TwinError("on %s: connection refused" % address)
    fake.ssh = flaky
    with pytest.raises(twin.TwinError):
        fake.serve_rds_tls(ENDPOINT)
    fake.serve_rds_tls(ENDPOINT)
    assert len(calls) == 4


def test_data_setup_serves_tls_only():
    """PostgreSQL on the data hosts: ssl on with the RDS certificate's files, and hostssl (rds.force_ssl) for the VPC."""
    lines = twin.DATA_SETUP.splitlines()
    assert "ssl = on" in lines
    assert "ssl_cert_file = '/etc/postgresql/15/main/rds.pem'" in lines
    assert "ssl_key_file = '/etc/postgresql/15/main/rds.key'" in lines
    assert any("hostssl all all @VPC@ scram-sha-256" in line for line in lines)
    assert not any("'host all all @VPC@" in line for line in lines)


def test_inventory_gives_the_role_the_twins_rds_ca(sdir):
    twin.write_inventory(sdir, INFO, os.path.join(ROOT, "inventories", "cn-north-1"))
    with open(os.path.join(sdir, "inventory", "group_vars", "all", "twin.yml")) as fh:
        values = yaml.safe_load(fh)
    assert values["airflow_db_ca_bundle_src"] == os.path.join(sdir, "ca", "rds-ca.pem")
    assert os.path.isfile(values["airflow_db_ca_bundle_src"])
