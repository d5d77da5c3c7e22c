# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Since when each rule's counters count: the state an apply keeps and the report reads."""

from __future__ import annotations

import json
import os
import subprocess

from ansible_collections.pbxops.firewall.plugins.module_utils import _counters
from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf

A = '-A PBX-FIREWALL -s 10.0.0.1/32 -j DROP'
B = '-A PBX-FIREWALL -s 10.0.0.2/32 -j DROP'
C = '-A PBX-FIREWALL -s 10.0.0.3/32 -j DROP'
NEW = '-A PBX-FIREWALL -s 10.0.0.9/32 -j DROP'


def table(rules):
    t = nf.Table()
    for rule in ['-A INPUT -j PBX-FIREWALL'] + rules:
        chain = nf.rule_chain(rule)
        t.add_chain(chain)
        t.rules[chain].append(rule)
    return t


def keys(rules, backend='nft'):
    return _counters.rule_keys(backend, 'ipv4', 'PBX-FIREWALL', rules)


def test_keys_tell_copies_of_one_rule_apart_and_depend_on_backend_and_family():
    assert len(set(keys([A, A, B]))) == 3
    assert keys([A]) != keys([A], backend='legacy')
    assert keys([A]) != _counters.rule_keys('nft', 'ipv6', 'PBX-FIREWALL', [A])
    assert keys([A, B])[0] == keys([A])[0]


def test_an_apply_keeps_the_time_of_kept_and_moved_rules_and_starts_new_ones_now():
    live = table([A, B, C])
    old = {'rules': dict(zip(keys([A, B, C]), [100.0, 200.0, 300.0])), 'reset': 50.0, 'applied': 300.0}
    # B moves to the end, C is replaced by NEW, A stays
    plan = nf.compute_plan({'ipv4': live}, {}, nf.validate_ruleset({'ipv4': [A, NEW, B]}))
    state = _counters.after_apply(old, 'nft', {'ipv4': live}, plan, 400.0)
    assert state == {'rules': dict(zip(keys([A, NEW, B]), [100.0, 400.0, 200.0])), 'reset': 50.0,
                     'applied': 400.0}


def test_a_kept_rule_without_a_time_stays_without_one():
    """Loaded by the restore script: it counts since the reset, not since the apply."""
    live = table([A])
    plan = nf.compute_plan({'ipv4': live}, {}, nf.validate_ruleset({'ipv4': [A, NEW]}))
    state = _counters.after_apply({'rules': {}, 'reset': 50.0, 'applied': None}, 'nft', {'ipv4': live}, plan, 400.0)
    assert state['rules'] == {keys([A, NEW])[1]: 400.0}
    assert _counters.since(state, keys([A, NEW]), boot=10.0) == [50.0, 400.0]


def test_since_is_the_latest_of_the_rule_time_the_reset_and_boot():
    state = {'rules': {'a#1': 100.0, 'b#1': 20.0}, 'reset': 50.0, 'applied': 100.0}
    assert _counters.since(state, ['a#1', 'b#1', 'c#1'], boot=30.0) == [100.0, 50.0, 50.0]
    assert _counters.since(state, ['a#1'], boot=500.0) == [500.0]       # a state from before the boot
    assert _counters.since({'rules': {}, 'reset': None, 'applied': None}, ['x#1'], boot=None) == [None]


def test_state_round_trips_and_a_bad_file_reads_as_empty(tmp_path):
    path = str(tmp_path / 'run' / 'counters-1.json')
    empty = {'rules': {}, 'reset': None, 'applied': None}
    assert _counters.load(path) == empty
    _counters.write(path, {'rules': {'k#1': 1.5}, 'reset': None, 'applied': 1.5})
    assert _counters.load(path) == {'rules': {'k#1': 1.5}, 'reset': None, 'applied': 1.5}
    assert oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == '0o700'
    for text in ('{', '[]', '{"rules": [], "reset": "soon"}'):
        with open(path, 'w') as handle:
            handle.write(text)
        assert _counters.load(path) == empty


def test_record_warns_when_it_cannot_write(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    live = table([A])
    plan = nf.compute_plan({'ipv4': live}, {}, nf.validate_ruleset({'ipv4': [A, NEW]}))
    warnings = _counters.record('nft', {'ipv4': live}, plan, 1.0, path=str(blocker / 'sub' / 'c.json'))
    assert len(warnings) == 1 and warnings[0].startswith('could not record since when the rule counters count in ')


def test_the_restore_script_lines_write_the_reset_where_the_report_reads_it(tmp_path):
    run_dir = str(tmp_path / 'run')
    subprocess.run(['sh', '-c', '\n'.join(_counters.reset_shell(run_dir))], check=True)
    with open(_counters.state_path(run_dir)) as handle:
        state = json.load(handle)
    assert set(state) == {'reset'} and isinstance(state['reset'], int)
    assert _counters.load(_counters.state_path(run_dir))['reset'] == state['reset']
    step = _counters.revert_step('/bin/sh')
    assert step['kind'] == 'run' and step['argv'][:2] == ['/bin/sh', '-c'] and not step['check']


def test_boot_time(tmp_path):
    stat = tmp_path / 'stat'
    stat.write_text('cpu  1 2 3\nbtime 1796000000\nprocesses 9\n')
    assert _counters.boot_time(str(stat)) == 1796000000.0
    assert _counters.boot_time(str(tmp_path / 'missing')) is None
