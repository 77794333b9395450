# -*- coding: utf-8 -*-

# Copyright: (c) 2024, ha_airflow maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""What ElastiCache accepts, in one place: the module elasticache_replication_group checks its parameters with these
rules, and the infra role's preflight with the same ones (the test plugin ha_airflow.aws.elasticache_auth_token).
Plain Python, no AWS import, so that controller-side plugins can use it too."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# The AUTH token: 16 to 128 printable ASCII characters, and the only non-alphanumeric ones allowed are
# ! & # $ ^ < > - (AWS ElastiCache user guide, "Authenticating with the Valkey and Redis OSS AUTH command"; API
# reference, CreateReplicationGroup AuthToken).
AUTH_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9!&#$^<>-]{16,128}$")
AUTH_TOKEN_RULE = ("16 to 128 characters, only letters, digits and the special characters ! & # $ ^ < > - "
                   "(no @, \", /, %, spaces or other punctuation)")

# The first engine version, per engine, that has a feature (ElastiCache API reference, ModifyReplicationGroup:
# AutoMinorVersionUpgrade "Valkey or Redis OSS engine version 6.0 or later ... disabled for previous versions";
# TransitEncryptionMode, and the user guide "Enabling in-transit encryption": online TLS migration of an existing
# group "only for clusters with Valkey version 7.2 and above or Redis OSS version 7.0 or above"). Every Valkey version
# ElastiCache offers (7.2 and later) has both.
AUTO_MINOR_VERSION_UPGRADE_SINCE = {"redis": (6, 0), "valkey": (7, 2)}
TRANSIT_ENCRYPTION_ON_EXISTING_SINCE = {"redis": (7, 0), "valkey": (7, 2)}
ENGINE_NAMES = {"redis": "Redis OSS", "valkey": "Valkey"}


def auth_token_valid(token):
    """Whether ElastiCache accepts ``token`` as an AUTH token."""
    return isinstance(token, str) and AUTH_TOKEN_PATTERN.match(token) is not None


def version_parts(text):
    """"7.1" -> [7, 1]; "6.x" -> [6] (x matches any); "" -> []."""
    parts = []
    for part in str(text or "").split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return parts


def version_at_least(version, minimum):
    """Whether ``version`` ("7.1", "7.1.0", "6.x") is ``minimum`` (a tuple) or later; None when ``version`` says nothing.
    Missing parts count as 0, so "7" and "7.x" are 7.0 and "6.x" is below 7.0."""
    parts = version_parts(version)
    if not parts:
        return None
    parts += [0] * (len(minimum) - len(parts))
    return tuple(parts) >= tuple(minimum)


def since(feature, engine):
    """(engine name, first version as text) of a feature table above."""
    return ENGINE_NAMES.get(engine, engine), ".".join(str(p) for p in feature.get(engine, (0,)))
