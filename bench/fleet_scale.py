# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Part 4: fleet scale. The ``pbx_firewall`` role (one play, like a rollout batch) on 1, 10 and
20 lab hosts (``--fleet-sizes``, up to 149) with forks = hosts, next to ``ansible -m ping`` on the
same hosts.

The containers ``pbxbench-h1..hN`` (N the largest size) start once; each size uses an inventory
of the first N. Per size, ``repeats`` times (default twice; the best run counts: other work
shares the two cores): every host is reset to a clean state (no owned chains, no role files),
the role is applied (every host changed), rerun with nothing to change (changed=0 everywhere),
and ``ansible -m ping`` runs with the same inventory, forks and SSH settings: the floor of one
module over SSH. Same inventory as the no-op benchmark (60 networks, role defaults). CPU
seconds are counted on both sides: the controller's (the run's own cgroup: ansible-playbook,
its forks, the SSH clients and ControlMasters; ``lab.CpuGroup``) and the hosts' (the
containers' cgroups, less what they use when idle). At the largest size one more instrumented
apply, no-op and ping (``profile_role.py``, or at the size ``profile_at`` names) break the
controller's CPU down per task. Then, at the largest size, the collection's ``drift`` and
``verify`` playbooks run over the whole fleet as it stands after the no-op rerun: drift must
find nothing, and verify sends real probes from one probe container (``pbxbench-probe`` on the
management network) to every host and must find every answer as each host's policy says.

Goals (issue 21): controller CPU per host of an apply at most 3x ping's, of a no-op rerun at
most 1.5x ping's, and the no-op rerun's wall time at 20 hosts at most 2x ping's.
"""

import concurrent.futures
import json
import os
import re
import time

import lab
import noop_rerun
import policies
import profile_role

SIZES = (1, 10, 20)
PROBE, PROBE_IP = 'pbxbench-probe', '10.202.0.250'
FLEET_MAX = 149          # hosts .101-.249 of pbxbench-mgmt, below the probe
RECAP = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def recap(stdout):
    return {m.group(1): {'ok': int(m.group(2)), 'changed': int(m.group(3)), 'unreachable': int(m.group(4)),
                         'failed': int(m.group(5))} for m in RECAP.finditer(stdout)}


def start_fleet(the_lab, count):
    t0 = time.perf_counter()
    the_lab.start_many([(lab.fleet_name(i), 'pbx', [('mgmt', lab.fleet_ip(i))]) for i in range(1, count + 1)])
    time.sleep(3)    # let fail2ban and the listener finish starting
    seconds = time.perf_counter() - t0
    lab.say('fleet: %d containers up, SSH answers (%.0f s)' % (count, seconds))
    return seconds


def _container_cpu(ids):
    """CPU seconds used so far by these containers (cgroup v1 cpuacct or v2 cpu.stat), or None."""
    total = 0.0
    for cid in ids:
        v1 = '/sys/fs/cgroup/cpuacct/docker/%s/cpuacct.usage' % cid
        v2 = '/sys/fs/cgroup/docker/%s/cpu.stat' % cid
        try:
            if os.path.exists(v1):
                with open(v1) as handle:
                    total += int(handle.read()) / 1e9
            else:
                with open(v2) as handle:
                    stat = dict(line.split() for line in handle)
                total += int(stat['usage_usec']) / 1e6
        except (OSError, KeyError, ValueError):
            return None
    return total


def timed_run(argv, forks, log, ids, env=None):
    """(wall seconds, CompletedProcess, controller CPU s, hosts' CPU s or None)."""
    before_hosts = _container_cpu(ids)
    seconds, proc = lab.ansible(argv, forks=forks, log=log, env_extra=env)
    after_hosts = _container_cpu(ids)
    hosts = None if before_hosts is None or after_hosts is None else after_hosts - before_hosts
    return seconds, proc, proc.controller_cpu, hosts


def container_ids(names):
    return {name: lab.docker('inspect', '--format', '{{.Id}}', name).stdout.strip() for name in names}


def idle_cpu_rate(ids, seconds=5):
    """What idle containers burn anyway (sshd, fail2ban's polling, the listener), CPU s per second
    each, or None: subtracted from the hosts' CPU of every run."""
    start, t0 = _container_cpu(ids), time.perf_counter()
    time.sleep(seconds)
    end = _container_cpu(ids)
    if start is None or end is None:
        return None
    rate = (end - start) / (time.perf_counter() - t0) / len(ids)
    lab.say('fleet: idle containers use %.3f CPU s per second each' % rate)
    return rate


def reset_all(names):
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda name: lab.reset(name, role=True), names))


def _best(runs):
    """The run with the shortest wall time (other work shares the cores), with every run's time."""
    best = min(runs, key=lambda r: r[0])
    return best, [r[0] for r in runs]


def _side(runs, size, idle_rate):
    """One side (apply, noop or ping) of one size, from its runs."""
    (seconds, proc, ctl, hosts), walls = _best(runs)
    if hosts is not None:
        hosts = max(hosts - (idle_rate * size * seconds if idle_rate is not None else 0.0), 0.0)
    return {'seconds': seconds, 'runs': walls, 'cpu_controller': ctl, 'cpu_hosts': hosts,
            'cpu_controller_per_host': ctl / size, 'cpu_hosts_per_host': None if hosts is None else hosts / size,
            'recap': recap(proc.stdout)}


def playbooks_at_scale(the_lab, inventory, size, log_dir):
    """drift and verify over every host (each holds its policy): wall, controller CPU, outcome."""
    out = {'hosts': size}
    seconds, proc = lab.ansible(['ansible-playbook', '-i', inventory, 'pbxops.firewall.drift'], forks=size,
                                log=os.path.join(log_dir, 'fleet-%d-drift.log' % size), check=False)
    drift = re.search(r'Drift on (\d+) of (\d+) host', proc.stdout)
    out['drift'] = {'seconds': seconds, 'cpu_controller': proc.controller_cpu, 'rc': proc.returncode,
                    'drifted': int(drift.group(1)) if drift else None, 'of': int(drift.group(2)) if drift else None}
    the_lab.start_many([(PROBE, 'client', [('mgmt', PROBE_IP)])])
    probes = lab.write_inventory(os.path.join(lab.CACHE, 'inventory-probes.yml'), [('probe', PROBE_IP)],
                                 group='pbx_firewall_probes', extra_vars={'pbx_firewall_probe_reach': ['10.202.0.0/24']})
    report = os.path.join(lab.CACHE, 'verify-%d.json' % size)
    # 128 probes at once: about 16 per host, most of them dropped (each waits its 2 s timeout)
    seconds, proc = lab.ansible(['ansible-playbook', '-i', inventory, '-i', probes, 'pbxops.firewall.verify',
                                 '-e', 'pbx_firewall_verify_report=%s' % report, '-e', 'pbx_firewall_verify_parallel=128'],
                                forks=size, log=os.path.join(log_dir, 'fleet-%d-verify.log' % size), check=False)
    matrix = {}
    if os.path.exists(report):
        with open(report) as handle:
            matrix = json.load(handle)
    out['verify'] = {'seconds': seconds, 'cpu_controller': proc.controller_cpu, 'rc': proc.returncode,
                     'summary': matrix.get('summary'), 'counts': matrix.get('counts')}
    the_lab.remove([PROBE])
    lab.say('fleet %d hosts: drift %.1f s, %.2f controller CPU s per host, rc=%d, drifted %s of %s; verify %.1f s, '
            '%.2f controller CPU s per host, rc=%d, %s'
            % (size, out['drift']['seconds'], out['drift']['cpu_controller'] / size, out['drift']['rc'],
               out['drift']['drifted'], out['drift']['of'], seconds, proc.controller_cpu / size, proc.returncode,
               out['verify']['summary']))
    return out


def run(the_lab, sizes=SIZES, log_dir=None, repeats=2, profile=True, profile_at=None, playbooks=True):
    log_dir = log_dir or lab.CACHE
    largest = max(sizes)
    if largest > FLEET_MAX:
        raise ValueError('fleet sizes go up to %d hosts (10.202.0.101-%d), not %d' % (FLEET_MAX, 100 + FLEET_MAX, largest))
    profile_at = profile_at or largest
    started = start_fleet(the_lab, largest)
    play = os.path.join(lab.CACHE, 'role.yml')
    with open(play, 'w') as handle:
        handle.write(noop_rerun.PLAY)
    inv_vars = noop_rerun.role_vars(policies.networks(60))
    ids_by_name = container_ids([lab.fleet_name(i) for i in range(1, largest + 1)])
    idle_rate = idle_cpu_rate(list(ids_by_name.values()))
    rows = []
    breakdown = None
    for size in sorted(sizes):
        hosts = [('h%d' % i, lab.fleet_ip(i)) for i in range(1, size + 1)]
        inventory = lab.write_inventory(os.path.join(lab.CACHE, 'inventory-fleet-%d.yml' % size), hosts,
                                        extra_vars=inv_vars)
        names = [lab.fleet_name(i) for i in range(1, size + 1)]
        ids = [ids_by_name[name] for name in names]
        load = os.getloadavg()[0]
        runs = {'apply': [], 'noop': [], 'ping': []}
        for attempt in range(repeats):     # best of `repeats`: other work shares the two cores
            reset_all(names)
            for side, argv in (('apply', ['ansible-playbook', '-i', inventory, play]),
                               ('noop', ['ansible-playbook', '-i', inventory, play]),
                               ('ping', ['ansible', '-i', inventory, 'bench', '-m', 'ansible.builtin.ping'])):
                runs[side].append(timed_run(argv, size, os.path.join(log_dir, 'fleet-%d-%s-%d.log'
                                                                     % (size, side, attempt)), ids))
            lab.say('fleet %2d hosts, run %d: apply %.1f s, no-op rerun %.1f s, ping %.1f s'
                    % (size, attempt + 1, runs['apply'][-1][0], runs['noop'][-1][0], runs['ping'][-1][0]))
        row = {'hosts': size, 'load_before': load}
        for side in runs:
            row[side] = _side(runs[side], size, idle_rate)
        applied, rerun = row['apply'].pop('recap'), row['noop'].pop('recap')
        row['ping'].pop('recap')
        row['all_changed'] = len(applied) == size and all(r['changed'] > 0 for r in applied.values())
        row['noop_changed'] = sum(r['changed'] for r in rerun.values())
        row['recap_hosts'] = len(rerun)
        ping = row['ping']
        for side in ('apply', 'noop'):
            row[side]['cpu_vs_ping'] = row[side]['cpu_controller'] / ping['cpu_controller']
            row[side]['wall_vs_ping'] = row[side]['seconds'] / ping['seconds']
        rows.append(row)
        lab.say('fleet %2d hosts (forks %d): controller CPU s per host apply %.2f, no-op %.2f, ping %.2f '
                '(%.1fx / %.1fx ping); wall apply %.1f s, no-op %.1f s, ping %.1f s (no-op %.1fx ping); '
                'no-op changed=%d; load before %.2f'
                % (size, size, row['apply']['cpu_controller_per_host'], row['noop']['cpu_controller_per_host'],
                   ping['cpu_controller_per_host'], row['apply']['cpu_vs_ping'], row['noop']['cpu_vs_ping'],
                   row['apply']['seconds'], row['noop']['seconds'], ping['seconds'], row['noop']['wall_vs_ping'],
                   row['noop_changed'], load))
        if profile and size == profile_at:
            breakdown = profile_role.breakdown(inventory, play, size, lambda: reset_all(names), log_dir)
            lab.say('fleet %d hosts, where the controller\'s CPU goes:\n%s' % (size, profile_role.render(breakdown)))
    at_scale = playbooks_at_scale(the_lab, os.path.join(lab.CACHE, 'inventory-fleet-%d.yml' % largest), largest,
                                  log_dir) if playbooks else None
    the_lab.remove([lab.fleet_name(i) for i in range(1, largest + 1)])
    return {'sizes': rows, 'start_seconds': started, 'idle_cpu_per_host': idle_rate, 'breakdown': breakdown,
            'playbooks': at_scale, 'repeats': repeats}
