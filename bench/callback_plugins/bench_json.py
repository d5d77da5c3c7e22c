# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stdout callback for bench/: one JSON document per run (tasks, per-host results, stats).

ansible-core ships no JSON stdout callback (ansible.posix.json is not installed here and
Galaxy is not reachable), so the benchmark brings this small one. Use it with
ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins ANSIBLE_STDOUT_CALLBACK=bench_json.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = '''
name: bench_json
type: stdout
short_description: JSON summary of a run for the benchmarks
description:
  - Prints one JSON document at the end of the run with every task (name, action, handler or
    not, seconds), its per-host result (status, changed, loop items) and the per-host stats.
'''

import json
import time

from ansible.plugins.callback import CallbackBase


def _short(action):
    for prefix in ('ansible.builtin.', 'ansible.legacy.'):
        if action.startswith(prefix):
            return action[len(prefix):]
    return action


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'bench_json'

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.tasks = []
        self.by_uuid = {}
        self.play = None
        self.started = time.time()

    def v2_playbook_on_play_start(self, play):
        self.play = play.get_name()

    def _start(self, task, handler):
        entry = {'play': self.play, 'name': task.get_name(), 'action': _short(task.action),
                 'handler': handler, 'start': time.time(), 'end': None, 'hosts': {}}
        self.tasks.append(entry)
        self.by_uuid[task._uuid] = entry

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task, False)

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task, True)

    def _record(self, result, status):
        entry = self.by_uuid.get(result._task._uuid)
        if entry is None:
            return
        res = result._result
        host = {'status': status, 'changed': bool(res.get('changed'))}
        if isinstance(res.get('results'), list):
            host['items'] = [{'skipped': bool(item.get('skipped')), 'changed': bool(item.get('changed')),
                              'failed': bool(item.get('failed'))}
                             for item in res['results'] if isinstance(item, dict)]
        if status == 'failed' or status == 'unreachable':
            host['msg'] = str(res.get('msg', ''))[:2000]
        entry['hosts'][result._host.get_name()] = host
        entry['end'] = time.time()

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'ignored' if ignore_errors else 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        summary = {host: stats.summarize(host) for host in sorted(stats.processed)}
        for entry in self.tasks:
            entry['seconds'] = round((entry['end'] or entry['start']) - entry['start'], 3)
            del entry['start'], entry['end']
        self._display.display(json.dumps({'tasks': self.tasks, 'stats': summary,
                                          'seconds': round(time.time() - self.started, 3)}, indent=1))
