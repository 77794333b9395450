# -*- coding: utf-8 -*-

# Copyright: (c) 2024, ha_airflow maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""EFS helpers for ha_airflow.aws: one small function per API call, errors raised as AnsibleEFSError so that only a
module's main() turns them into fail_json."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


class AnsibleEFSError(AnsibleAWSError):
    pass


class EFSErrorHandler(AWSErrorHandler):
    _CUSTOM_EXCEPTION = AnsibleEFSError

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("FileSystemNotFound")


@EFSErrorHandler.list_error_handler("describe file system")
@AWSRetry.jittered_backoff()
def describe_file_system(client, file_system_id):
    """The file system as boto3 returns it (id or ARN), or None when it does not exist."""
    file_systems = client.describe_file_systems(FileSystemId=file_system_id)["FileSystems"]
    return file_systems[0] if file_systems else None


@EFSErrorHandler.common_error_handler("describe backup policy")
@AWSRetry.jittered_backoff()
def describe_backup_policy(client, file_system_id):
    """The backup policy's status (ENABLED, ENABLING, DISABLED, DISABLING), or None when the file system never had a
    backup policy (EFS answers PolicyNotFound: automatic backups are off)."""
    try:
        return client.describe_backup_policy(FileSystemId=file_system_id)["BackupPolicy"]["Status"]
    except is_boto3_error_code("PolicyNotFound"):
        return None


@EFSErrorHandler.common_error_handler("put backup policy")
@AWSRetry.jittered_backoff()
def put_backup_policy(client, file_system_id, status):
    """Turn automatic backups on (ENABLED) or off (DISABLED); the status EFS answers with."""
    return client.put_backup_policy(FileSystemId=file_system_id, BackupPolicy={"Status": status})["BackupPolicy"]["Status"]
