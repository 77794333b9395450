#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to ha_airflow.aws
# Apache License 2.0 (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: file_drift
short_description: Tell which of many files and directories differ from what they should be, in one round trip
version_added: 0.4.0
description:
  - Compares each path given with what it should be - a file or a directory, its owner, group and mode, and a file's
    content by its SHA-1 - and returns the paths that differ. Read-only.
  - One look at every file a role writes, so the role's own M(ansible.builtin.template), M(ansible.builtin.copy) and
    M(ansible.builtin.file) tasks run only for the paths that differ. On a run with nothing to change that is one
    module run on the host instead of one or two per file.
  - The wanted content is given by its SHA-1 only (for a template, C(lookup('ansible.builtin.template', src) | hash('sha1'))
    on the controller), so no content, and no secret inside it, travels or is returned.
  - An owner or group that does not exist on the host yet counts as a difference; so does a path that cannot be read.
author:
  - ha_airflow maintainers (@ha-airflow)
options:
  paths:
    description: The paths to compare, each with what it should be.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path. Each path is given once.
        type: path
        required: true
      state:
        description: A regular file or a directory. A symbolic link is followed.
        type: str
        choices: [file, directory]
        default: file
      owner:
        description: The user that should own the path, by name. Not compared when omitted.
        type: str
      group:
        description: The group that should own the path, by name. Not compared when omitted.
        type: str
      mode:
        description: The permission bits it should have, in octal (V(0640)). Not compared when omitted.
        type: str
      checksum:
        description: The SHA-1 (hex) of the content a file should have. Not compared when omitted.
        type: str
attributes:
  check_mode:
    support: full
    description: Reads only; the same answer in check mode.
  diff_mode:
    support: none
    description: It changes nothing, so there is no diff.
  platform:
    support: full
    platforms: posix
    description: Linux and other POSIX systems (users and groups by name through C(pwd) and C(grp)).
notes:
  - The answer is as of the module's run. A task that changes one of the paths between this read and its own write is
    not seen; read right before the tasks that use the answer.
"""

EXAMPLES = r"""
- name: Read which of the files this role writes differ from what they should be
  ha_airflow.aws.file_drift:
    paths:
      - path: /etc/myapp/app.conf
        owner: root
        group: myapp
        mode: "0640"
        checksum: "{{ lookup('ansible.builtin.template', 'app.conf.j2') | hash('sha1') }}"
      - path: /var/lib/myapp
        state: directory
        owner: myapp
        group: myapp
        mode: "0750"
  register: myapp__drift

- name: Write app.conf, when it differs
  ansible.builtin.template:
    src: app.conf.j2
    dest: /etc/myapp/app.conf
    owner: root
    group: myapp
    mode: "0640"
  when: "'/etc/myapp/app.conf' in myapp__drift.differ"
"""

RETURN = r"""
differ:
  description: The paths that differ from what they should be (missing ones included), in the order given.
  returned: always
  type: list
  elements: str
  sample: ["/etc/myapp/app.conf"]
reasons:
  description: For each path that differs, what differs (V(missing), V(type), V(owner), V(group), V(mode), V(content)).
  returned: always
  type: dict
  sample: {"/etc/myapp/app.conf": ["mode", "content"]}
"""

import grp
import hashlib
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule


def _sha1(path):
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        return None


def drift(spec):
    """What differs at spec['path'] from spec: a list of reasons, empty when nothing does."""
    path = spec["path"]
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return ["missing"]
    except OSError:
        return ["unreadable"]
    wanted_dir = spec.get("state") == "directory"
    if not (stat.S_ISDIR(info.st_mode) if wanted_dir else stat.S_ISREG(info.st_mode)):
        return ["type"]
    reasons = []
    if spec.get("owner") is not None and _name(pwd.getpwuid, info.st_uid) != spec["owner"]:
        reasons.append("owner")
    if spec.get("group") is not None and _name(grp.getgrgid, info.st_gid) != spec["group"]:
        reasons.append("group")
    if spec.get("mode") is not None and stat.S_IMODE(info.st_mode) != int(spec["mode"], 8):
        reasons.append("mode")
    if not wanted_dir and spec.get("checksum") is not None:
        try:
            if _sha1(path) != spec["checksum"].lower():
                reasons.append("content")
        except OSError:
            reasons.append("unreadable")
    return reasons


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="dict", required=True, options=dict(
                path=dict(type="path", required=True),
                state=dict(type="str", choices=["file", "directory"], default="file"),
                owner=dict(type="str"),
                group=dict(type="str"),
                mode=dict(type="str"),
                checksum=dict(type="str", no_log=False),
            )),
        ),
        supports_check_mode=True,
    )
    seen = set()
    for spec in module.params["paths"]:
        if spec["path"] in seen:
            module.fail_json(msg="paths: %s is given twice; give each path once" % spec["path"])
        seen.add(spec["path"])
        if not os.path.isabs(spec["path"]):
            module.fail_json(msg="paths: %s is not an absolute path" % spec["path"])
        mode = spec.get("mode")
        if mode is not None and (not mode.isdigit() or any(c not in "01234567" for c in mode) or int(mode, 8) > 0o7777):
            module.fail_json(msg="paths: mode %r of %s is not an octal mode such as 0640" % (mode, spec["path"]))
        checksum = spec.get("checksum")
        if checksum is not None and (len(checksum) != 40 or any(c not in "0123456789abcdefABCDEF" for c in checksum)):
            module.fail_json(msg="paths: the checksum of %s is not a SHA-1 in hex (40 characters)" % spec["path"])
    reasons = {}
    for spec in module.params["paths"]:
        found = drift(spec)
        if found:
            reasons[spec["path"]] = found
    module.exit_json(changed=False, differ=[s["path"] for s in module.params["paths"] if s["path"] in reasons],
                     reasons=reasons)


if __name__ == "__main__":
    main()
