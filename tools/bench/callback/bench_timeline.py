# -*- coding: utf-8 -*-
# Copyright: contributors to ha_airflow.aws
# Apache License 2.0 (see galaxy.yml)
"""The bench's timeline of a playbook run: each task's start, its play, role and file, and each host's outcome.

Not part of the collection: tools/bench/bench.py enables it for the runs it measures
(ANSIBLE_CALLBACK_PLUGINS=tools/bench/callback, ANSIBLE_CALLBACKS_ENABLED=bench_timeline) and writes the JSON file
named by BENCH_TIMELINE when the run ends. Only names, paths, times and statuses are kept, never a result's data.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timeline
type: aggregate
short_description: the task timeline tools/bench/bench.py reads (per task start, file, and each host's status)
description:
  - Writes JSON to the file named by the BENCH_TIMELINE environment variable when the playbook ends.
requirements:
  - enabled by tools/bench/bench.py only
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._out = os.environ.get("BENCH_TIMELINE", "")
        self._doc = {"start": time.time(), "tasks": [], "end": None}
        self._play = {"name": "", "path": ""}
        self._by_uuid = {}

    def v2_playbook_on_play_start(self, play):
        self._play = {"name": play.get_name(), "path": play.get_path()}

    def _start(self, task, handler=False):
        role = getattr(task, "_role", None)
        entry = {"name": task.get_name(), "action": task.action, "path": task.get_path(),
                 "delegate_to": str(task.delegate_to or ""),
                 "role": role.get_name(include_role_fqcn=False) if role else "",
                 "play": self._play["name"], "play_path": self._play["path"], "handler": handler,
                 "start": time.time(), "hosts": {}}
        self._doc["tasks"].append(entry)
        self._by_uuid[task._uuid] = entry

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task, handler=True)

    def _result(self, result, status):
        task = getattr(result, "task", None) or result._task
        host = getattr(result, "host", None) or result._host
        entry = self._by_uuid.get(task._uuid)
        if entry is None:
            return
        if status == "ok" and result.is_changed():
            status = "changed"
        data = getattr(result, "result", None)
        if data is None:
            data = result._result
        items = data.get("results") if isinstance(data, dict) else None
        entry["hosts"][host.get_name()] = {"status": status, "end": time.time(),
                                           "items": len([i for i in items if not (isinstance(i, dict) and i.get("skipped"))])
                                           if isinstance(items, list) else 1}

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._doc["end"] = time.time()
        self._doc["stats"] = {host: stats.summarize(host) for host in sorted(stats.processed)}
        if self._out:
            with open(self._out, "w") as handle:
                json.dump(self._doc, handle)
