"""What the airflow role writes on a host, rendered without a host.

One ansible-playbook run on the controller (connection local, nothing changes outside a temporary folder) loads the
role's defaults and variables the way a host run does (``tasks_from: vars``) and renders its templates for a few
inventories: the broker over ``redis://`` and over ``rediss://`` (ElastiCache in-transit encryption), a longer
visibility timeout, a China region, and Airflow 3.3.2 (keys moved to their 3.x sections, the execution API URL, the
units of its components). A second play resolves the keys with the role's own ``tasks/secrets.yml`` for a cluster of
two hosts, as a run does. The checks read the results the way the services do: ``airflow.cfg`` with configparser, the
environment file as systemd's ``EnvironmentFile=``, the unit's ``[Unit]`` and ``[Service]`` sections.

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
ALB = "internal-airflow-alb-1234567890.cn-north-1.elb.amazonaws.com.cn"

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
    # Airflow 3.3.2: provisioned (the ALB in the infra outputs), a static inventory, a public URL with a certificate.
    "v3": {"airflow_version": "3.3.2", "airflow_config_overrides": {"api": {"workers": 2}},
           "ha_airflow_infra": {"region": "cn-north-1", "alb_dns_name": ALB, "alb_url": "http://" + ALB}},
    "v3-static": {"airflow_version": "3.3.2"},
    "v3-base-url": {"airflow_version": "3.3.2", "airflow_webserver_base_url": "https://airflow.example.cn/",
                    "ha_airflow_infra": {"alb_dns_name": ALB, "alb_url": "https://" + ALB}},
    "v3-no-proxy": {"airflow_version": "3.3.2", "airflow_enable_proxy_fix": False},
}
# The cluster-wide keys as tasks/secrets.yml resolves them for two hosts: generated once, or given (Vault).
CLUSTER_CASES = {
    "v3-generated": {"airflow_version": "3.3.2"},
    "v3-vault": {"airflow_version": "3.3.2", "airflow_jwt_secret": "v" * 48},
    "v2-generated": {},
}

# One module call per case: the templates are rendered by lookups, the way the role's template tasks render them.
RENDER = """{%% set units = {} %%}
{%% for c in airflow_components %%}
{%%   set _ = units.update({c: lookup('ansible.builtin.template', '%(t)s/airflow.service.j2', template_vars={'item': c})}) %%}
{%% endfor %%}
{{ {'airflow.cfg': lookup('ansible.builtin.template', '%(t)s/airflow.cfg.j2'),
    'airflow.env': lookup('ansible.builtin.template', '%(t)s/airflow.env.j2'),
    'resume': lookup('ansible.builtin.template', '%(t)s/airflow-resume.service.j2'),
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
             "ansible.builtin.set_fact": {"__airflow_secrets": {"fernet_key": FERNET, "webserver_secret_key": "x" * 40, "jwt_secret": "j" * 64,
                                                                "admin_password": "y" * 24}}},
            {"name": "Render airflow.cfg, the environment file and the units into one JSON file",
             "ansible.builtin.copy": {"dest": out + ".json", "mode": "0600", "content": RENDER % {"t": TEMPLATES}}},
        ],
    }


def _cluster_play(name, values, out, secrets=None):
    """Two hosts (both local): the role's secrets.yml resolves the keys once, each host renders its airflow.cfg."""
    return {
        "name": "Resolve the keys and render airflow.cfg on two hosts, case " + name,
        "hosts": "host1,host2",
        "connection": "local",
        "gather_facts": False,
        "vars": dict(COMMON, ansible_python_interpreter=sys.executable, airflow_secrets_dir=secrets or out + "-secrets",
                     **values),
        "tasks": [
            {"name": "Load the role's defaults and variables as a host run does",
             "ansible.builtin.include_role": {"name": "ha_airflow.aws.airflow", "tasks_from": "vars", "public": True}},
            {"name": "Resolve the keys every host shares",
             "ansible.builtin.include_role": {"name": "ha_airflow.aws.airflow", "tasks_from": "secrets",
                                              "public": True}},
            {"name": "Render airflow.cfg of each host",
             "ansible.builtin.copy": {"dest": out + "-{{ inventory_hostname }}.cfg", "mode": "0600",
                                      "content": "{{ lookup('ansible.builtin.template', '%s/airflow.cfg.j2') }}"
                                                 % TEMPLATES}},
        ],
    }


def _ansible_playbook(tmp, plays):
    playbook = os.path.join(tmp, "render.yml")
    with open(playbook, "w") as fh:
        json.dump(plays, fh)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,host1,host2,", playbook], cwd=REPO, env=env,
                          check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:]


@pytest.fixture(scope="module")
def rendered():
    tmp = tempfile.mkdtemp(prefix="ha-airflow-render-")
    plays = [_play(name, values, os.path.join(tmp, name)) for name, values in CASES.items()]
    plays += [_cluster_play(name, values, os.path.join(tmp, name)) for name, values in CLUSTER_CASES.items()]
    _ansible_playbook(tmp, plays)
    # A later run (a new ansible-playbook, as the next site.yml) must resolve the same generated keys.
    _ansible_playbook(tmp, [_cluster_play("v3-generated", CLUSTER_CASES["v3-generated"],
                                          os.path.join(tmp, "v3-generated-again"),
                                          secrets=os.path.join(tmp, "v3-generated-secrets"))])
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


def _host_cfg(rendered, case, host):
    parser = configparser.ConfigParser()
    with open(os.path.join(rendered, "%s-%s.cfg" % (case, host))) as fh:
        parser.read_file(fh)
    return parser


def _unit(rendered, case, component):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(_files(rendered, case)["units"][component])
    return parser


@pytest.mark.parametrize("case,scheme", [("redis", "redis://"), ("rediss", "rediss://")])
def test_visibility_timeout_for_both_broker_schemes(rendered, case, scheme):
    cfg = _cfg(rendered, case)
    assert cfg.get("celery", "broker_url").startswith(scheme)
    # Airflow 2.0.2 sets its own 21600 s only for redis:// and sqs:// URLs: the role's value is written for both.
    assert cfg.getint("celery_broker_transport_options", "visibility_timeout") == 300


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


def test_lost_tasks_noticed_in_about_a_minute(rendered):
    """The scheduler settings that bound how long a lost task waits (issue 11), as 2.0.2 reads them."""
    cfg = _cfg(rendered, "redis")
    assert cfg.getint("scheduler", "scheduler_zombie_task_threshold") == 60
    assert cfg.getint("scheduler", "job_heartbeat_sec") == 5
    assert cfg.getint("scheduler", "scheduler_health_check_threshold") == 30
    assert cfg.getint("scheduler", "orphaned_tasks_check_interval") == 60
    assert cfg.getint("scheduler", "scheduler_zombie_task_threshold") >= 6 * cfg.getint("scheduler", "job_heartbeat_sec")


def test_v3_reads_the_heartbeat_timeout_under_its_own_name(rendered):
    assert _cfg(rendered, "v3").getint("scheduler", "task_instance_heartbeat_timeout") == 60


@pytest.mark.parametrize("case,mount,components", [
    ("redis", "airflow.mount", ["webserver", "scheduler", "worker"]),
    ("other-mount", "mnt-efs\\x2dairflow.mount", ["webserver", "scheduler", "worker"]),
    ("v3", "airflow.mount", ["api-server", "scheduler", "dag-processor", "triggerer", "worker"]),
])
def test_resume_unit_starts_every_component_when_the_mount_comes_back(rendered, case, mount, components):
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read_string(_files(rendered, case)["resume"])
    assert unit.get("Install", "WantedBy") == mount
    assert unit.get("Unit", "After") == mount
    assert unit.get("Service", "Type") == "oneshot"
    assert unit.get("Service", "ExecStart") == "systemctl --no-block start " + " ".join(
        "airflow-%s.service" % c for c in components)


def test_v2_keeps_its_layout(rendered):
    cfg = _cfg(rendered, "redis")
    assert cfg.get("webserver", "secret_key") == "x" * 40
    assert cfg.get("webserver", "web_server_port") == "8080"
    assert cfg.has_option("core", "sql_alchemy_conn") and not cfg.has_section("database")
    assert not cfg.has_section("api_auth") and not cfg.has_option("core", "execution_api_server_url")
    assert not cfg.has_section("workers")
    assert not cfg.has_option("core", "auth_manager")


# Airflow 3.3.2 ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("old,new", [
    ("webserver.secret_key", "api.secret_key"),
    ("webserver.web_server_port", "api.port"),
    ("webserver.expose_config", "api.expose_config"),
    ("webserver.enable_proxy_fix", "fab.enable_proxy_fix"),
    ("scheduler.dag_dir_list_interval", "dag_processor.refresh_interval"),
    ("scheduler.child_process_log_directory", "logging.dag_processor_child_process_log_directory"),
    ("core.sql_alchemy_conn", "database.sql_alchemy_conn"),
    ("scheduler.scheduler_zombie_task_threshold", "scheduler.task_instance_heartbeat_timeout"),
])
def test_v3_keys_moved(rendered, old, new):
    cfg = _cfg(rendered, "v3")
    assert not cfg.has_option(*old.split(".")), old + " is still written"
    assert cfg.has_option(*new.split(".")), new + " is missing"


def test_v3_values_where_airflow_3_reads_them(rendered):
    cfg = _cfg(rendered, "v3")
    assert not cfg.has_section("webserver")
    assert cfg.get("api", "secret_key") == "x" * 40
    assert cfg.get("api", "port") == "8080"
    assert cfg.get("api", "expose_config") == "False"
    assert cfg.get("fab", "enable_proxy_fix") == "True"
    assert cfg.getint("dag_processor", "refresh_interval") == 30
    assert cfg.get("database", "sql_alchemy_conn").startswith("postgresql+psycopg2://")
    assert cfg.get("core", "fernet_key") == FERNET
    assert cfg.get("api_auth", "jwt_secret") == "j" * 64
    assert cfg.get("core", "auth_manager") == "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
    assert not cfg.has_option("logging", "dag_processor_manager_log_location")  # config_removed
    assert cfg.getint("api", "workers") == 2  # airflow_config_overrides, as written
    assert cfg.getint("workers", "execution_api_timeout") == 30
    assert cfg.getint("celery_broker_transport_options", "visibility_timeout") == 300


@pytest.mark.parametrize("case,url", [
    ("v3", "http://%s/execution/" % ALB),  # the load balancer of the infra outputs
    ("v3-base-url", "https://airflow.example.cn/execution/"),  # the public name (on the certificate)
    ("v3-static", "http://127.0.0.1:8080/execution/"),  # no load balancer known: this host's api-server
])
def test_v3_execution_api_url(rendered, case, url):
    assert _cfg(rendered, case).get("core", "execution_api_server_url") == url


def test_v3_units_are_its_components(rendered):
    units = _files(rendered, "v3")["units"]
    assert sorted(units) == sorted(["api-server", "scheduler", "dag-processor", "triggerer", "worker"])
    execs = {c: _unit(rendered, "v3", c).get("Service", "ExecStart") for c in units}
    pid = " --pid /run/airflow-%s/%s.pid"
    assert execs == {
        "api-server": "/opt/airflow/venv/bin/airflow api-server --proxy-headers" + pid % ("api-server", "api-server"),
        "scheduler": "/opt/airflow/venv/bin/airflow scheduler" + pid % ("scheduler", "scheduler"),
        "dag-processor": "/opt/airflow/venv/bin/airflow dag-processor" + pid % ("dag-processor", "dag-processor"),
        "triggerer": "/opt/airflow/venv/bin/airflow triggerer" + pid % ("triggerer", "triggerer"),
        "worker": "/opt/airflow/venv/bin/airflow celery worker" + pid % ("worker", "worker"),
    }
    for component in units:
        unit = _unit(rendered, "v3", component)
        # The PID file in /run, which a boot empties: a stale one from before a power-off cannot block the start.
        assert unit.get("Service", "RuntimeDirectory") == "airflow-" + component
        assert unit.get("Unit", "RequiresMountsFor").split() == ["/airflow"]
        assert "3.3.2" in unit.get("Unit", "Description")
    assert _unit(rendered, "v3", "worker").get("Service", "KillMode") == "mixed"


def test_v3_proxy_headers_follow_the_proxy_fix(rendered):
    assert _unit(rendered, "v3-no-proxy", "api-server").get("Service", "ExecStart").endswith(
        "airflow api-server --pid /run/airflow-api-server/api-server.pid")
    assert _cfg(rendered, "v3-no-proxy").get("fab", "enable_proxy_fix") == "False"


def test_v2_webserver_gets_no_proxy_args(rendered):
    assert _unit(rendered, "redis", "webserver").get("Service", "ExecStart") == \
        "/opt/airflow/venv/bin/airflow webserver --pid /run/airflow-webserver/webserver.pid"
    assert _unit(rendered, "redis", "webserver").get("Service", "RuntimeDirectory") == "airflow-webserver"


@pytest.mark.parametrize("case", ["v3-generated", "v3-vault"])
def test_v3_keys_are_the_same_on_every_host(rendered, case):
    host1, host2 = _host_cfg(rendered, case, "host1"), _host_cfg(rendered, case, "host2")
    for section, key in (("api_auth", "jwt_secret"), ("core", "fernet_key"), ("api", "secret_key")):
        assert host1.get(section, key) == host2.get(section, key), "%s.%s differs between the hosts" % (section, key)
        assert len(host1.get(section, key)) >= 32


def test_v3_generated_jwt_secret_is_kept(rendered):
    secret = _host_cfg(rendered, "v3-generated", "host1").get("api_auth", "jwt_secret")
    with open(os.path.join(rendered, "v3-generated-secrets", "jwt_secret")) as fh:
        assert fh.read().strip() == secret
    assert oct(os.stat(os.path.join(rendered, "v3-generated-secrets", "jwt_secret")).st_mode & 0o777) == "0o600"
    # The next run reads the same file: the same key.
    assert _host_cfg(rendered, "v3-generated-again", "host2").get("api_auth", "jwt_secret") == secret


def test_v3_jwt_secret_from_vault(rendered):
    assert _host_cfg(rendered, "v3-vault", "host1").get("api_auth", "jwt_secret") == "v" * 48
    assert not os.path.exists(os.path.join(rendered, "v3-vault-secrets", "jwt_secret"))


def test_v2_generates_no_jwt_secret(rendered):
    assert not _host_cfg(rendered, "v2-generated", "host1").has_section("api_auth")
    assert not os.path.exists(os.path.join(rendered, "v2-generated-secrets", "jwt_secret"))
