"""The test plugin ha_airflow.aws.elasticache_auth_token is the module's AUTH token rule, and the infra role's preflight
uses it: one rule for the role and the module."""

import os

import pytest

from ansible_collections.ha_airflow.aws.plugins.modules import elasticache_replication_group as erg
from ansible_collections.ha_airflow.aws.plugins.test import elasticache_auth_token as plugin

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
TEST = plugin.TestModule().tests()["elasticache_auth_token"]
TOKENS = [
    ("Abc!&#$^<>-0123456789", True), ("a" * 16, True), ("Z9" * 64, True), ("moto-only-auth-token-0123456789", True),
    ("CHANGE-ME-redis-auth-token-16-to-128-chars", True),  # refused by its own preflight check, not by this rule
    ("short-0123456", False), ("x" * 129, False), ("has@sign-0123456789", False), ('has"quote-0123456789', False),
    ("has/slash-0123456789", False), ("has%percent-0123456789", False), ("has space-0123456789", False),
    ("has_underscore-0123456789", False), ("has.dot-0123456789abc", False), ("non-ascii-\u00e9\u00e9-0123456789", False),
    ("tab\tinside-0123456789", False), ("", False), (None, False),
]


@pytest.mark.parametrize("token, accepted", TOKENS)
def test_plugin_and_module_agree(token, accepted):
    assert TEST(token) is accepted
    if token is not None:
        module_params = dict(replication_group_id="airflow-redis", state="present", num_cache_clusters=2, multi_az=True,
                             automatic_failover=True, final_snapshot_identifier=None, transit_encryption=True,
                             auth_token=token, update_auth_token="on_create", transit_encryption_mode="required",
                             preferred_cache_cluster_azs=None, auto_minor_version_upgrade=None, engine="redis",
                             engine_version="7.1")
        if accepted:
            erg.validate_params(module_params)
        else:
            with pytest.raises(erg.ParameterError):
                erg.validate_params(module_params)


def test_infra_preflight_checks_the_token_with_the_plugin():
    with open(os.path.join(ROOT, "roles", "infra", "tasks", "preflight.yml")) as handle:
        text = handle.read()
    assert "infra_redis_auth_token | default('') is ha_airflow.aws.elasticache_auth_token" in text
