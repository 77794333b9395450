#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2024, ha_airflow maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: efs_backup_policy
version_added: 0.2.0
short_description: Turn the automatic backups of an EFS file system on or off
description:
  - Sets the backup policy of an Amazon EFS file system (C(PutBackupPolicy)), which turns its automatic daily backups
    by AWS Backup on or off (FSBP control EFS.2). Neither C(amazon.aws) nor C(community.aws) manages it;
    M(community.aws.efs) creates file systems without it.
  - Idempotent. The module describes the policy (C(DescribeBackupPolicy)) and calls C(PutBackupPolicy) only when the
    status differs. A file system that never had a backup policy has automatic backups off. C(ENABLING) counts as
    on and C(DISABLING) as off (EFS is already getting there).
  - In check mode the module only describes, and reports what it would change in the same C(changes) list a real run
    returns.
  - Works in every partition; the file system is named by its id, or by an ARN of any partition.
  - The file system must be C(available); in another state the task fails with what to do.
author:
  - ha_airflow maintainers (@ha-airflow)
options:
  file_system_id:
    description:
      - The file system, by id (C(fs-0123456789abcdef0)) or ARN.
    type: str
    required: true
    aliases: ['id']
  status:
    description:
      - V(enabled) turns automatic backups on (AWS Backup keeps daily backups in the vault
        C(aws/efs/automatic-backup-vault) for 35 days by default, billed as AWS Backup storage).
      - V(disabled) turns them off; backups already taken stay in the vault until they expire.
    type: str
    choices: [enabled, disabled]
    default: enabled
notes:
  - The caller needs C(elasticfilesystem:DescribeFileSystems), C(elasticfilesystem:DescribeBackupPolicy) and
    C(elasticfilesystem:PutBackupPolicy); the first time automatic backups are turned on in an account, AWS Backup
    also creates its service-linked role and the default backup vault and plan, which needs the permissions of the
    AWS-managed policy AWSBackupServiceRolePolicyForBackup or an administrator.
  - In a region without AWS Backup, EFS refuses with C(ValidationException), reported as the task's error.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Automatic backups of the Airflow file system (FSBP EFS.2)
  ha_airflow.aws.efs_backup_policy:
    file_system_id: "{{ efs.efs.file_system_id }}"
    status: enabled

- name: Turn them off again
  ha_airflow.aws.efs_backup_policy:
    file_system_id: fs-0123456789abcdef0
    status: disabled
"""

RETURN = r"""
file_system_id:
  description: The id of the file system.
  returned: always
  type: str
  sample: fs-0123456789abcdef0
file_system_arn:
  description: The ARN of the file system, as EFS gives it (in the region's partition).
  returned: always
  type: str
  sample: arn:aws-cn:elasticfilesystem:cn-north-1:123456789012:file-system/fs-0123456789abcdef0
backup_policy:
  description: The backup policy after the run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    status:
      description: C(ENABLED), C(ENABLING), C(DISABLED) or C(DISABLING).
      type: str
      sample: ENABLED
changes:
  description:
    - What the module changed or, in check mode, would change; empty when nothing differs. The same shape as the
      C(changes) of M(ha_airflow.aws.elasticache_replication_group).
    - The entry names the EFS API setting (C(Status)); C(before) is C(DISABLED) for a file system that never had a
      backup policy.
  returned: always
  type: list
  elements: dict
  contains:
    setting:
      description: The EFS API setting.
      type: str
      sample: Status
    before:
      description: The status before.
      type: str
      sample: DISABLED
    after:
      description: The status asked for.
      type: str
      sample: ENABLED
  sample: [{"setting": "Status", "before": "DISABLED", "after": "ENABLED"}]
"""

import re

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.ha_airflow.aws.plugins.module_utils.efs import AnsibleEFSError
from ansible_collections.ha_airflow.aws.plugins.module_utils.efs import describe_backup_policy
from ansible_collections.ha_airflow.aws.plugins.module_utils.efs import describe_file_system
from ansible_collections.ha_airflow.aws.plugins.module_utils.efs import put_backup_policy

# EFS API reference, PutBackupPolicy FileSystemId: an id, or an ARN of any partition (arn:aws, arn:aws-cn, ...).
FILE_SYSTEM_PATTERN = re.compile(r"^(arn:aws[-a-z]*:elasticfilesystem:[0-9a-z-:]+:file-system/fs-[0-9a-f]{8,40}"
                                 r"|fs-[0-9a-f]{8,40})$")
# Transitional statuses count as where EFS is going.
EFFECTIVE = {"ENABLED": "ENABLED", "ENABLING": "ENABLED", "DISABLED": "DISABLED", "DISABLING": "DISABLED"}


class BackupPolicyError(Exception):
    """Bad input, or a file system the policy cannot be set on now; the message says what to do."""


def change(setting, before, after):
    """One entry of ``changes``: the same shape as elasticache_replication_group's."""
    return dict(setting=setting, before=before, after=after)


def validate_params(params):
    if not FILE_SYSTEM_PATTERN.match(params["file_system_id"]):
        raise BackupPolicyError("file_system_id %r is neither a file system id (fs-0123456789abcdef0) nor an EFS file "
                                "system ARN" % params["file_system_id"])


def ensure_backup_policy(module, client, params):
    wanted = params["status"].upper()
    file_system = describe_file_system(client, params["file_system_id"])
    if file_system is None:
        raise BackupPolicyError("EFS file system %s does not exist in this region: check file_system_id and region"
                                % params["file_system_id"])
    file_system_id = file_system["FileSystemId"]
    result = dict(file_system_id=file_system_id, file_system_arn=file_system.get("FileSystemArn"))
    current = describe_backup_policy(client, file_system_id) or "DISABLED"
    if EFFECTIVE.get(current, current) == wanted:
        return dict(result, changed=False, changes=[], backup_policy=dict(status=current))
    changes = [change("Status", current, wanted)]
    if module.check_mode:
        return dict(result, changed=True, changes=changes, backup_policy=dict(status=wanted))
    state = file_system.get("LifeCycleState")
    if state != "available":
        raise BackupPolicyError("EFS file system %s is %s: its backup policy can be set once it is available. Run "
                                "again then" % (file_system_id, state))
    status = put_backup_policy(client, file_system_id, wanted)
    return dict(result, changed=True, changes=changes, backup_policy=dict(status=status))


def main():
    argument_spec = dict(
        file_system_id=dict(type="str", required=True, aliases=["id"]),
        status=dict(type="str", default="enabled", choices=["enabled", "disabled"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        validate_params(module.params)
        client = module.client("efs")
        result = ensure_backup_policy(module, client, module.params)
    except BackupPolicyError as e:
        module.fail_json(msg=str(e))
    except AnsibleEFSError as e:
        module.fail_json_aws_error(e)
    if module._diff:
        before = result["changes"][0]["before"] if result["changes"] else result["backup_policy"]["status"]
        after = result["changes"][0]["after"] if result["changes"] else before
        result["diff"] = dict(before=dict(status=before), after=dict(status=after))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
