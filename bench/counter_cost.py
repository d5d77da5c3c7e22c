# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Part 7: what keeping the drop counters costs a no-op rerun.

A rerun with nothing to change reads each family's rules with their packet and byte counters
(`iptables-save -c`), parses them and plans; nothing is written. The collection before it
kept the counters (git `BASE`: it read `iptables-save` without `-c`) did the same without
them. One `iptables_ruleset` task with the role's 60-network policy (compiled once here and
given to both as data, so both see the same rules) is rerun on the bench host with each
collection in turn, A (this one) and B (BASE) alternating; both must report changed=0. Under
it, the host-side difference alone: `iptables-save` with and without `-c` on that host,
and parsing both outputs here.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import timeit

import lab
import policies

from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf

# main just before the drop counters were kept (re-applies flushed and refilled the owned chains)
BASE = '6df1f65'
PLAY = '''---
- name: Bench - a no-op rerun of the module
  hosts: bench
  gather_facts: false
  tasks:
    - name: Apply the same ruleset again
      pbxops.firewall.iptables_ruleset:
        ruleset: "{{ bench_ruleset }}"
        rollback_timeout: 0
        persist: false
'''
SAVE_TIMES = '''import subprocess, sys, time
argv, n = sys.argv[1:-1], int(sys.argv[-1])
start = time.perf_counter()
for _ in range(n):
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
print((time.perf_counter() - start) / n)
'''


def base_collection(root, commit=BASE):
    """The plugins and the role of git ``commit`` as a collection under ``root`` (None when git
    cannot give them)."""
    dest = os.path.join(root, 'ansible_collections', 'pbxops', 'firewall')
    os.makedirs(dest, exist_ok=True)
    archive = subprocess.run(['git', '-C', lab.REPO, 'archive', commit, 'plugins', 'roles', 'meta', 'galaxy.yml'],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        return None
    subprocess.run(['tar', '-x', '-C', dest], input=archive.stdout, check=True)
    return root


def run(repeats=5, log_dir=None):
    log_dir = log_dir or lab.CACHE
    base = base_collection(os.path.join(lab.CACHE, 'counters-base'))
    if base is None:
        lab.say('counters: git has no commit %s here (a shallow clone?): part skipped' % BASE)
        return {'skipped': 'no commit %s in this clone' % BASE}
    ruleset = policies._policy.firewall_ruleset(policies.networks(60))
    inventory = lab.write_inventory(os.path.join(lab.CACHE, 'inventory-counters.yml'),
                                    [('host1', lab.HOST1_IP['mgmt'])], extra_vars={'bench_ruleset': ruleset})
    play = os.path.join(lab.CACHE, 'counters.yml')
    with open(play, 'w') as handle:
        handle.write(PLAY)
    lab.reset(lab.HOST1)
    variants = {'with': {}, 'without': {'ANSIBLE_COLLECTIONS_PATH': base}}
    seconds, proc = lab.ansible(['ansible-playbook', '-i', inventory, play],
                                log=os.path.join(log_dir, 'counters-first.log'))
    lab.say('counters: first apply %.2f s' % seconds)
    times = {name: [] for name in variants}
    for i in range(repeats):
        for name, env in sorted(variants.items(), reverse=True):      # with, without, with, ...
            seconds, proc = lab.ansible(['ansible-playbook', '-i', inventory, play], env_extra=env,
                                        log=os.path.join(log_dir, 'counters-%s-%d.log' % (name, i)))
            if 'changed=0' not in proc.stdout:
                raise RuntimeError('counters: the %s rerun changed something:\n%s' % (name, proc.stdout[-2000:]))
            times[name].append(seconds)

    save = lab.dexec(lab.HOST1, 'iptables-save -t filter -c').stdout
    plain = lab.dexec(lab.HOST1, 'iptables-save -t filter').stdout
    per_save = {}
    for name, flags in (('with', ['-c']), ('without', [])):
        out = lab.docker('exec', '-i', lab.HOST1, 'python3', '-c', SAVE_TIMES, 'iptables-save', '-t', 'filter',
                         *flags, '50').stdout
        per_save[name] = float(out.strip())
    per_parse = {name: min(timeit.repeat(lambda text=text: nf.filter_table(text), number=20, repeat=5)) / 20
                 for name, text in (('with', save), ('without', plain))}
    result = {
        'base': BASE, 'rules': len(ruleset['ipv4']) + len(ruleset['ipv6']),
        'noop': {name: statistics.median(runs) for name, runs in times.items()},
        'noop_runs': times,
        'save': per_save, 'parse': per_parse,
        'python': sys.version.split()[0],
    }
    lab.say('counters: no-op rerun with counters %.2f s, without %.2f s (medians of %d); iptables-save %.1f ms '
            'vs %.1f ms; parse %.2f ms vs %.2f ms'
            % (result['noop']['with'], result['noop']['without'], repeats, per_save['with'] * 1000,
               per_save['without'] * 1000, per_parse['with'] * 1000, per_parse['without'] * 1000))
    lab.reset(lab.HOST1)
    shutil.rmtree(base, ignore_errors=True)
    return result


def render(c):
    """The part's table (text and Markdown alike)."""
    if c.get('skipped'):
        return 'skipped: %s' % c['skipped']
    rows = [
        '| step | with the counters | without (%s) |' % c['base'],
        '| --- | ---: | ---: |',
        '| no-op rerun of the module, %d rules (median) | %.2f s | %.2f s |'
        % (c['rules'], c['noop']['with'], c['noop']['without']),
        '| runs | %s | %s |' % tuple(', '.join('%.2f' % t for t in c['noop_runs'][k]) for k in ('with', 'without')),
        '| `iptables-save -t filter` on the host | %.1f ms (`-c`) | %.1f ms |'
        % (c['save']['with'] * 1000, c['save']['without'] * 1000),
        '| parsing it (controller, Python %s) | %.2f ms | %.2f ms |'
        % (c['python'], c['parse']['with'] * 1000, c['parse']['without'] * 1000),
    ]
    return '\n'.join(rows)


if __name__ == '__main__':
    print(json.dumps(run(), indent=1))
