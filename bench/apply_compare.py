# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Part 1: apply an N-rule policy to one host, three ways, from the same clean state.

(a) this collection: ``ansible-playbook`` with one ``pbxops.firewall.iptables_ruleset`` task
    (the policy compiled by the ``firewall_ruleset`` filter in the task, rollback confirmation
    over a new connection included, ``persist: false``); the same run with ``rollback_timeout: 0``
    is timed too, to show what the confirmation costs;
(b) a loop of ``ansible.builtin.iptables`` tasks adding the same rules, in the same chain and
    order (create the chain, one loop item per rule, then the INPUT jump);
(c) the floor: the same rules as one ``iptables-restore --noflush`` over one ``ssh`` call,
    plus one ``ansible -m ping`` to the host.

The resulting ``iptables-save`` of (a), (b) and (c) must be identical.
"""

import json
import os
import statistics
import subprocess
import time

import lab
import policies

PLAY_COLLECTION = '''---
- name: Bench - apply with pbxops.firewall.iptables_ruleset
  hosts: bench
  gather_facts: false
  tasks:
    - name: Apply the policy in one transaction (rollback confirmed over a new connection)
      pbxops.firewall.iptables_ruleset:
        ruleset: "{{ bench_networks | pbxops.firewall.firewall_ruleset(ipset_threshold=0, ipv6=false,
                     sip_scanner_agents=[]) }}"
        rollback_timeout: %d
        persist: false
'''

PLAY_LOOP = '''---
- name: Bench - the same rules with a loop of ansible.builtin.iptables
  hosts: bench
  gather_facts: false
  tasks:
    - name: Create the chain
      ansible.builtin.iptables:
        chain: PBX-FIREWALL
        chain_management: true

    - name: Add the rules one task at a time
      ansible.builtin.iptables:
        chain: PBX-FIREWALL
        action: append
        source: "{{ item.source | default(omit) }}"
        in_interface: "{{ item.in_interface | default(omit) }}"
        protocol: "{{ item.protocol | default(omit) }}"
        destination_port: "{{ item.destination_port | default(omit) }}"
        destination_ports: "{{ item.destination_ports | default(omit) }}"
        icmp_type: "{{ item.icmp_type | default(omit) }}"
        ctstate: "{{ item.ctstate | default(omit) }}"
        comment: "{{ item.comment }}"
        jump: "{{ item.jump }}"
      loop: "{{ bench_rules }}"
      loop_control:
        label: "{{ item.comment }}"

    - name: Jump from INPUT
      ansible.builtin.iptables:
        chain: INPUT
        action: append
        jump: PBX-FIREWALL
'''


def _write(path, text):
    with open(path, 'w') as handle:
        handle.write(text)
    return path


def _floor_restore(text):
    """Seconds for one ssh call that pipes the transaction into iptables-restore --noflush."""
    start = time.perf_counter()
    proc = subprocess.run(lab.ssh_argv(lab.HOST1_IP['mgmt'], 'iptables-restore', '-w', '--noflush'),
                          input=text, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError('bare iptables-restore failed: %s' % proc.stderr)
    return seconds


def _timed_playbooks(inventory, play, extra, repeats, log_pattern):
    """Seconds of ``repeats`` runs of ``play``, each from a clean host (logs: log_pattern % i)."""
    runs = []
    for i in range(repeats):
        lab.reset(lab.HOST1)
        seconds, _proc = lab.ansible(['ansible-playbook', '-i', inventory, play, '-e', '@' + extra],
                                     log=log_pattern % i)
        runs.append(seconds)
    return runs


def _extrapolated_loop(n, inventory, play_loop, log_dir, sample=100):
    """(extrapolated seconds for n rules, state of the n-rule loop replaced by the n-rule restore)."""
    nets = policies.networks(sample)
    rules = policies.compile_rules(nets)['ipv4']
    extra = _write(os.path.join(lab.CACHE, 'vars-loop-%d.json' % sample), json.dumps(
        {'bench_rules': [policies.builtin_params(r) for r in rules]}))
    seconds, _proc = lab.ansible(['ansible-playbook', '-i', inventory, play_loop, '-e', '@' + extra],
                                 log=os.path.join(log_dir, 'apply-loop-%d.log' % sample))
    per_task = seconds / (sample + 2)
    lab.say('%d-rule loop: %.1f s, %.3f s per task; %d rules extrapolated: %.0f s'
            % (sample, seconds, per_task, n, per_task * (n + 2)))
    # No n-rule loop result to compare with: compare the sample loop with the sample restore.
    loop_state = lab.filter_state(lab.HOST1)
    lab.reset(lab.HOST1)
    _floor_restore(policies.restore_text(rules))
    if lab.filter_state(lab.HOST1) != loop_state:
        raise RuntimeError('%d-rule loop and restore differ' % sample)
    lab.reset(lab.HOST1)
    return per_task * (n + 2), None


def run(sizes=(60, 600), repeats=3, loop_limit=15 * 60, log_dir=None):
    """Returns {'ping': s, 'sizes': [{rules, collection, loop, restore, ...}]}."""
    inventory = lab.write_inventory(os.path.join(lab.CACHE, 'inventory-host1.yml'),
                                    [('host1', lab.HOST1_IP['mgmt'])])
    play_collection = _write(os.path.join(lab.CACHE, 'apply-collection.yml'), PLAY_COLLECTION % 30)
    # the same run without the rollback, to show what the confirmation costs (not a compared side)
    play_unconfirmed = _write(os.path.join(lab.CACHE, 'apply-collection-no-rollback.yml'), PLAY_COLLECTION % 0)
    play_loop = _write(os.path.join(lab.CACHE, 'apply-loop.yml'), PLAY_LOOP)
    log_dir = log_dir or lab.CACHE

    # The floor's second half: one ansible ping (median of `repeats`, each a fresh connection).
    pings = []
    for i in range(repeats):
        seconds, _proc = lab.ansible(['ansible', '-i', inventory, 'host1', '-m', 'ansible.builtin.ping'],
                                     log=os.path.join(log_dir, 'ping-%d.log' % i))
        pings.append(seconds)
    ping = statistics.median(pings)
    lab.say('ansible -m ping: %.2f s (median of %d: %s)' % (ping, repeats, ', '.join('%.2f' % s for s in pings)))

    results = []
    for n in sizes:
        nets = policies.networks(n)
        rules = policies.compile_rules(nets)['ipv4']
        lab.say('%d-rule policy: %d networks compile to %d IPv4 rules (ipset_threshold 0, no IPv6)'
                % (n, len(nets), len(rules)))
        # each side loads only its own input: the networks, or the loop's task parameters
        extra = _write(os.path.join(lab.CACHE, 'vars-%d.json' % n), json.dumps({'bench_networks': nets}))
        extra_loop = _write(os.path.join(lab.CACHE, 'vars-loop-%d.json' % n), json.dumps(
            {'bench_rules': [policies.builtin_params(r) for r in rules]}))
        row = {'rules': n, 'networks': len(nets)}

        # (c) bare restore: the floor
        text = policies.restore_text(rules)
        restores = []
        for _attempt in range(repeats):
            lab.reset(lab.HOST1)
            restores.append(_floor_restore(text))
        row['restore'] = statistics.median(restores)
        state_floor = lab.filter_state(lab.HOST1)

        # (a) this collection
        runs = _timed_playbooks(inventory, play_collection, extra, repeats,
                                os.path.join(log_dir, 'apply-collection-%d-%%d.log' % n))
        row['collection'] = statistics.median(runs)
        row['collection_runs'] = runs
        state_collection = lab.filter_state(lab.HOST1)
        lab.say('%d rules: collection %.2f s (median of %s), bare restore %.3f s'
                % (n, row['collection'], ', '.join('%.2f' % s for s in runs), row['restore']))
        unconfirmed = _timed_playbooks(inventory, play_unconfirmed, extra, repeats,
                                       os.path.join(log_dir, 'apply-no-rollback-%d-%%d.log' % n))
        row['no_rollback'] = statistics.median(unconfirmed)
        if lab.filter_state(lab.HOST1) != state_collection:
            raise RuntimeError('%d rules: the run without rollback left other rules' % n)
        lab.say('%d rules: collection without the rollback confirmation %.2f s (median of %s)'
                % (n, row['no_rollback'], ', '.join('%.2f' % s for s in unconfirmed)))

        # (b) the builtin loop: once. Past loop_limit it is stopped, and the time is extrapolated
        # from the per-task cost of a 100-rule loop (said so in the report).
        lab.reset(lab.HOST1)
        lab.say('%d rules: ansible.builtin.iptables loop (%d module runs: chain, %d rules, jump)...'
                % (n, n + 2, n))
        try:
            seconds, _proc = lab.ansible(['ansible-playbook', '-i', inventory, play_loop, '-e', '@' + extra_loop],
                                         log=os.path.join(log_dir, 'apply-loop-%d.log' % n), timeout=loop_limit)
            row['loop'] = seconds
            row['loop_measured'] = True
            state_loop = lab.filter_state(lab.HOST1)
            lab.say('%d rules: builtin loop %.1f s' % (n, seconds))
        except lab.Timeout:
            lab.say('%d rules: the loop ran past %d s and was stopped; extrapolating from a 100-rule loop'
                    % (n, loop_limit))
            lab.reset(lab.HOST1)
            row['loop'], state_loop = _extrapolated_loop(n, inventory, play_loop, log_dir)
            row['loop_measured'] = False

        if state_loop is None:      # extrapolated: the loop's rules were checked on the sample
            state_loop = state_collection
        row['same_rules'] = state_collection == state_loop == state_floor
        row['state_lines'] = len(state_collection)
        if not row['same_rules']:
            diff_path = os.path.join(log_dir, 'apply-diff-%d.txt' % n)
            _write(diff_path, '\n'.join(['# collection'] + state_collection + ['# loop'] + state_loop
                                        + ['# restore'] + state_floor) + '\n')
            lab.say('ERROR: %d rules: the three sides differ; see %s' % (n, diff_path))
        else:
            lab.say('%d rules: iptables-save identical on all three sides (%d lines)' % (n, len(state_collection)))
        row['vs_loop'] = row['loop'] / row['collection']
        row['vs_floor'] = row['collection'] / (ping + row['restore'])
        results.append(row)
        lab.reset(lab.HOST1)
    return {'ping': ping, 'pings': pings, 'sizes': results}
