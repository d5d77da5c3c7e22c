# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Since when each rule's counters count (private to this collection).

The kernel counts packets and bytes per rule from the moment the rule is added. An apply
edits the owned chains rule by rule (``_netfilter.chain_edits``), so a rule it keeps keeps
counting; the restore script (boot, Docker's restart) loads every owned chain afresh.
This file owns the small state that says when each count started, in
``/run/pbx-firewall/counters-<netns>.json`` (a tmpfs, like the counters: both start over at
boot; one file per network namespace, since each has its own netfilter state):

* ``rules``: rule key -> the time the module added the rule;
* ``reset``: when the restore script last loaded every owned chain;
* ``applied``: when the module last changed the owned rules.

A rule counts since the latest of its own time, ``reset`` and the system's boot. The
module writes the file after an apply that changed rules (a rerun with nothing to change
writes nothing); the restore script writes ``reset``; the report reads it. Standard library
only. Not seen: counters zeroed by hand (``iptables -Z``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os

from ansible_collections.pbxops.firewall.plugins.module_utils import _steps
from ansible_collections.pbxops.firewall.plugins.module_utils._rollback import RUN_DIR

NETNS = '/proc/self/ns/net'


def state_path(run_dir=RUN_DIR):
    """The state file of this process's network namespace."""
    return os.path.join(run_dir, 'counters-%d.json' % os.stat(NETNS).st_ino)


def reset_shell(run_dir=RUN_DIR):
    """POSIX sh lines for the restore script: every owned chain was just loaded afresh."""
    return [
        '# the owned chains were loaded afresh: their counters count from now (pbxops.firewall.report)',
        'mkdir -p %s && printf \'{"reset": %%s}\\n\' "$(date +%%s)" >"%s/counters-$(stat -L -c %%i %s).json" '
        '|| true' % (run_dir, run_dir, NETNS),
    ]


def rule_keys(backend, family, chain, rules):
    """A key per rule: its backend, family, chain and text, and which copy of that text it is."""
    seen = {}
    keys = []
    for rule in rules:
        digest = hashlib.sha1(('%s %s %s' % (backend, family, rule)).encode('utf-8')).hexdigest()[:20]
        seen[digest] = seen.get(digest, 0) + 1
        keys.append('%s#%d' % (digest, seen[digest]))
    return keys


def load(path):
    """The state ({'rules': {}, 'reset': None, 'applied': None} when absent or unreadable)."""
    state = {'rules': {}, 'reset': None, 'applied': None}
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (IOError, OSError, ValueError):
        return state
    if isinstance(data, dict):
        if isinstance(data.get('rules'), dict):
            state['rules'] = data['rules']
        for key in ('reset', 'applied'):
            if isinstance(data.get(key), (int, float)):
                state[key] = data[key]
    return state


def after_apply(state, backend, tables, plan, now):
    """The state once ``plan`` (a ``_netfilter.Plan``) is applied to ``tables`` at ``now``.

    A rule the plan keeps, or only moves (its counters are carried), keeps its time; a new
    rule starts now.
    """
    rules = {}
    for family, fplan in plan.families.items():
        live = tables[family]
        for chain, after in fplan.after.owned_chains().items():
            sources = fplan.sources.get(chain, [])
            old = rule_keys(backend, family, chain, live.rules.get(chain, [])) if chain in live.chains else []
            for key, source in zip(rule_keys(backend, family, chain, after), sources):
                started = now if source is None else state['rules'].get(old[source])
                if started is not None:
                    rules[key] = started
    return {'rules': rules, 'reset': state['reset'], 'applied': now}


def write(path, state):
    """Write the state atomically (a new file renamed over the old one)."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    _steps.write_atomically(path, json.dumps(state, sort_keys=True), prefix='.counters-')


def record(backend, tables, plan, now, path=None):
    """After an apply of ``plan``: update the state file. Returns warnings (the apply stands)."""
    path = path or state_path()
    try:
        write(path, after_apply(load(path), backend, tables, plan, now))
    except (IOError, OSError) as exc:
        return ['could not record since when the rule counters count in %s: %s' % (path, exc)]
    return []


def revert_step(shell):
    """The step that marks every count as restarting now, for an apply that is undone (the
    revert inserts the rules the apply had removed, whose counts start again)."""
    return _steps.command([shell, '-c', '\n'.join(reset_shell())], check=False)


def boot_time(stat_path='/proc/stat'):
    """The system's boot time (seconds since the epoch), or None."""
    try:
        with open(stat_path) as handle:
            for line in handle:
                if line.startswith('btime '):
                    return float(line.split()[1])
    except (IOError, OSError, ValueError):
        pass
    return None


def since(state, keys, boot):
    """Since when the rule of each key counts: its own time, the last reset or boot, the latest."""
    floor = [t for t in (state['reset'], boot) if t is not None]
    result = []
    for key in keys:
        own = state['rules'].get(key)
        times = floor + ([own] if own is not None else [])
        result.append(max(times) if times else None)
    return result
