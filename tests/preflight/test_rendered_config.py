"""What the airflow role writes on a host, rendered without a host.

One ansible-playbook run on the controller (connection local, nothing changes outside a temporary folder) loads the
role's defaults and variables the way a host run does (``tasks_from: vars``) and renders its templates for a few
inventories: the broker over ``redis://`` and over ``rediss://`` (ElastiCache in-transit encryption), a longer
visibility timeout, a China region. The checks read the results the way the services do: ``airflow.cfg`` with
configparser, the environment file as systemd's ``EnvironmentFile=``, the unit's ``[Unit]`` section.

Run: pytest -q tests/preflight/test_rendered_config.py   (no root, no test bed; part of `make preflight`)
"""

import configparser
import json
import os
import subprocess
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATES = os.path.join(REPO, "roles", "airflow", "templates")
FERNET = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="  # test value: URL-safe base64 of 32 bytes

COMMON = {
    "airflow_db_host": "db.example.internal",
    "airflow_db_password": "good-password",
    "airflow_redis_host": "redis.example.internal",
}

# case name -> inventory values
CASES = {
    "redis": {},
    "rediss": {"airflow_redis_tls": True, "airflow_redis_password": "a-redis-auth-token"},
    "rediss-long-tasks": {"airflow_redis_tls": True, "airflow_celery_visibility_timeout": 172800},
    "china": {"ha_airflow_infra": {"region": "cn-north-1"}},
    "region-variable": {"ha_airflow_infra": {"region": "cn-north-1"}, "airflow_aws_region": "cn-northwest-1"},
    "no-region": {},
    "other-mount": {"airflow_requires_mounts": ["/mnt/efs-airflow"]},
}

# One module call per case: the templates are rendered by lookups, the way the role's template tasks render them.
RENDER = """{%% set units = {} %%}
{%% for c in airflow_components %%}
{%%   set _ = units.update({c: lookup('ansible.builtin.template', '%(t)s/airflow.service.j2', template_vars={'item': c})}) %%}
{%% endfor %%}
{{ {'airflow.cfg': lookup('ansible.builtin.template', '%(t)s/airflow.cfg.j2'),
    'airflow.env': lookup('ansible.builtin.template', '%(t)s/airflow.env.j2'),
    'units': units} | to_json }}"""


def _play(name, values, out):
    return {
        "name": "Render the airflow role's files for case " + name,
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": dict(COMMON, ansible_python_interpreter=sys.executable, **values),
        "tasks": [
            {"name": "Load the role's defaults and variables as a host run does",
             "ansible.builtin.include_role": {"name": "ha_airflow.aws.airflow", "tasks_from": "vars", "public": True}},
            {"name": "Stand in for the keys tasks/secrets.yml resolves",
             "ansible.builtin.set_fact": {"__airflow_secrets": {"fernet_key": FERNET, "webserver_secret_key": "x" * 40,
                                                                "admin_password": "y" * 24}}},
            {"name": "Render airflow.cfg, the environment file and the units into one JSON file",
             "ansible.builtin.copy": {"dest": out + ".json", "mode": "0600", "content": RENDER % {"t": TEMPLATES}}},
        ],
    }


@pytest.fixture(scope="module")
def rendered():
    tmp = tempfile.mkdtemp(prefix="ha-airflow-render-")
    playbook = os.path.join(tmp, "render.yml")
    with open(playbook, "w") as fh:
        json.dump([_play(name, values, os.path.join(tmp, name)) for name, values in CASES.items()], fh)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", playbook], cwd=REPO, env=env, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return tmp


def _files(rendered, case):
    with open(os.path.join(rendered, case + ".json")) as fh:
        return json.load(fh)


def _cfg(rendered, case):
    parser = configparser.ConfigParser()  # Airflow's own parser: '%' interpolation, as the services read it
    parser.read_string(_files(rendered, case)["airflow.cfg"])
    return parser


def _env(rendered, case):
    values = {}
    for line in _files(rendered, case)["airflow.env"].splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def _unit(rendered, case, component):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(_files(rendered, case)["units"][component])
    return parser


@pytest.mark.parametrize("case,scheme", [("redis", "redis://"), ("rediss", "rediss://")])
def test_visibility_timeout_for_both_broker_schemes(rendered, case, scheme):
    cfg = _cfg(rendered, case)
    assert cfg.get("celery", "broker_url").startswith(scheme)
    # Airflow 2.0.2 sets its own 21600 s only for redis:// and sqs:// URLs: rediss:// needs it spelled out.
    assert cfg.getint("celery_broker_transport_options", "visibility_timeout") == 21600


def test_visibility_timeout_is_the_role_variable(rendered):
    assert _cfg(rendered, "rediss-long-tasks").getint("celery_broker_transport_options", "visibility_timeout") == 172800


@pytest.mark.parametrize("case,region", [("china", "cn-north-1"), ("region-variable", "cn-northwest-1")])
def test_services_get_the_region(rendered, case, region):
    env = _env(rendered, case)
    assert env["AWS_DEFAULT_REGION"] == region
    assert env["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"


def test_no_region_no_variable(rendered):
    assert "AWS_DEFAULT_REGION" not in _env(rendered, "no-region")


@pytest.mark.parametrize("component", ["webserver", "scheduler", "worker"])
def test_units_need_the_shared_mount(rendered, component):
    unit = _unit(rendered, "redis", component)
    assert unit.get("Unit", "RequiresMountsFor").split() == ["/airflow"]
    assert unit.get("Unit", "BindsTo").split() == ["airflow.mount"]


def test_mount_unit_names_are_escaped_as_systemd_does(rendered):
    unit = _unit(rendered, "other-mount", "scheduler")
    assert unit.get("Unit", "RequiresMountsFor") == "/mnt/efs-airflow"
    assert unit.get("Unit", "BindsTo") == "mnt-efs\\x2dairflow.mount"  # systemd-escape --path --suffix=mount
