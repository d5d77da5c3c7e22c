# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Part 2: no-op rerun of the whole ``pbx_firewall`` role on one lab host.

The role is applied once from a clean host, then run again with the same inventory.
The rerun must report ``changed=0``. Two counts of what runs on the host:

- tasks that ran a module there, from this benchmark's JSON stdout callback
  (``bench/callback_plugins/bench_json.py``): every task result that is not skipped and
  whose action is not controller-only (set_fact, debug, meta, include/import, assert,
  fail, validate_argument_spec, ...); a loop counts its non-skipped items;
- AnsiballZ executions, counted on the host itself: ``ansible_python_interpreter`` is a
  wrapper that logs one line per start of the interpreter and then execs
  ``/usr/bin/python3`` (with pipelining every module execution is one interpreter start,
  including the modules an action plugin runs internally, e.g. template's stat).
"""

import json
import os
import statistics

import lab
import policies

PLAY = '''---
- name: Bench - the pbx_firewall role (rollout-like, one play)
  hosts: bench
  gather_facts: false
  roles:
    - role: pbxops.firewall.pbx_firewall
'''

CONTROLLER_ONLY = {
    'set_fact', 'debug', 'meta', 'include_tasks', 'import_tasks', 'include_role', 'import_role',
    'assert', 'fail', 'add_host', 'group_by', 'include_vars', 'set_stats', 'pause',
    'validate_argument_spec', 'noop', 'include',
}
WRAPPER = '/usr/local/bin/bench-python3'
COUNT_LOG = '/run/bench-ansiballz.log'
INSTALL_WRAPPER = '''cat >%s <<'EOF'
#!/bin/sh
echo "$$" >>%s
exec /usr/bin/python3 "$@"
EOF
chmod 0755 %s
''' % (WRAPPER, COUNT_LOG, WRAPPER)


def role_vars(networks):
    return {'pbx_firewall_networks': networks}


def module_tasks(report, host):
    """[(task name, action, executions)] for the tasks that ran a module on host."""
    found = []
    for task in report['tasks']:
        res = task['hosts'].get(host)
        if res is None or res['status'] == 'skipped' or task['action'] in CONTROLLER_ONLY:
            continue
        if 'items' in res:
            count = sum(1 for item in res['items'] if not item['skipped'])
        else:
            count = 1
        if count:
            found.append((task['name'], task['action'], count))
    return found


def run(repeats=3, log_dir=None):
    log_dir = log_dir or lab.CACHE
    nets = policies.networks(60)
    ruleset = policies._policy.firewall_ruleset(nets)    # role defaults (ipsets above 16 subnets, IPv6)
    inv_vars = role_vars(nets)
    inventory = lab.write_inventory(os.path.join(lab.CACHE, 'inventory-role.yml'),
                                    [('host1', lab.HOST1_IP['mgmt'])], extra_vars=inv_vars)
    counted = lab.write_inventory(os.path.join(lab.CACHE, 'inventory-role-counted.yml'),
                                  [('host1', lab.HOST1_IP['mgmt'])],
                                  extra_vars=dict(inv_vars, ansible_python_interpreter=WRAPPER))
    play = os.path.join(lab.CACHE, 'role.yml')
    with open(play, 'w') as handle:
        handle.write(PLAY)

    lab.reset(lab.HOST1, role=True)
    lab.dexec(lab.HOST1, INSTALL_WRAPPER)
    first, _proc = lab.ansible(['ansible-playbook', '-i', inventory, play],
                               log=os.path.join(log_dir, 'role-first.log'))
    lab.say('role, first apply on a clean host: %.2f s' % first)

    env = {'ANSIBLE_CALLBACK_PLUGINS': os.path.join(lab.BENCH, 'callback_plugins'),
           'ANSIBLE_STDOUT_CALLBACK': 'bench_json'}
    times, reports, executions = [], [], []
    for i in range(repeats):
        lab.dexec(lab.HOST1, ': >%s' % COUNT_LOG)
        seconds, proc = lab.ansible(['ansible-playbook', '-i', counted, play], env_extra=env,
                                    log=os.path.join(log_dir, 'role-noop-%d.log' % i))
        report = json.loads(proc.stdout[proc.stdout.index('{'):])
        times.append(seconds)
        reports.append(report)
        executions.append(len(lab.dexec(lab.HOST1, 'cat %s' % COUNT_LOG).stdout.split()))
    lab.dexec(lab.HOST1, 'rm -f %s %s' % (WRAPPER, COUNT_LOG))

    stats = reports[0]['stats']['host1']
    tasks = module_tasks(reports[0], 'host1')
    changed = [r['stats']['host1']['changed'] for r in reports]
    result = {
        'first_apply': first,
        'seconds': statistics.median(times),
        'runs': times,
        'changed': max(changed),
        'changed_runs': changed,
        'stats': stats,
        'module_tasks': tasks,
        'module_task_count': sum(count for _n, _a, count in tasks),
        'ansiballz': executions[0],
        'ansiballz_runs': executions,
        'rules_ipv4': len(ruleset['ipv4']),
        'rules_ipv6': len(ruleset['ipv6']),
        'ipsets': len(ruleset['ipsets']),
        'networks': len(nets),
        'tasks_total': sum(1 for t in reports[0]['tasks'] if 'host1' in t['hosts']),
    }
    lab.say('role no-op rerun: %.2f s (median of %s), changed=%s, %d tasks ran a module on the host, '
            '%d AnsiballZ executions' % (result['seconds'], ', '.join('%.2f' % t for t in times),
                                         result['changed'], result['module_task_count'], result['ansiballz']))
    for name, action, count in tasks:
        lab.say('  module task: %-55s %-30s x%d' % (name[:55], action, count))
    lab.reset(lab.HOST1, role=True)
    return result
