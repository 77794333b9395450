# -*- coding: utf-8 -*-

# Copyright: (c) 2024, ha_airflow maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: elasticache_auth_token
version_added: 0.2.0
short_description: Whether ElastiCache accepts a string as a Redis AUTH token
description:
  - True for 16 to 128 characters of letters, digits and C(!), C(&), C(#), C($), C(^), C(<), C(>), C(-) only; false
    for anything else (C(@), C("), C(/), C(%), spaces, other punctuation, other characters).
  - The same rule as M(ha_airflow.aws.elasticache_replication_group) (one source, in the collection's
    C(module_utils/_elasticache_rules.py)), so a role can refuse a token in a pure preflight, before any AWS call.
author:
  - ha_airflow maintainers (@ha-airflow)
options:
  _input:
    description: The token.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse a token ElastiCache would refuse, without printing it
  ansible.builtin.assert:
    that: redis_auth_token is ha_airflow.aws.elasticache_auth_token
    fail_msg: "redis_auth_token: 16 to 128 letters, digits or ! & # $ ^ < > -"
    quiet: true
"""

RETURN = r"""
_value:
  description: Whether ElastiCache accepts the token.
  type: bool
"""

from ansible_collections.ha_airflow.aws.plugins.module_utils._elasticache_rules import auth_token_valid


def elasticache_auth_token(value):
    return auth_token_valid(value if isinstance(value, str) else str(value))


class TestModule(object):
    def tests(self):
        return {"elasticache_auth_token": elasticache_auth_token}
