# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the controller's CPU goes in a run of the role, next to ``ansible -m ping``.

    .venv/bin/python bench/profile_role.py --hosts 20            # starts and removes its lab
    .venv/bin/python bench/profile_role.py --hosts 1 --cprofile  # + the hottest functions

One apply on clean hosts, one no-op rerun and one ``ansible -m ping``, each launched through
``instrument.py``: the CPU of every worker process (one per task and host), of the main
process, and the rest of the run's cgroup (the SSH clients and ControlMasters). Per task:
how many hosts ran it, how many skipped it, and the CPU it cost summed over the hosts. The
fleet benchmark (``fleet_scale.py``) calls :func:`breakdown` at its largest size, so
``docs/benchmarks.md`` shows the table of the current code.
"""

import argparse
import collections
import json
import os
import pstats
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lab  # noqa: E402

INSTRUMENT = os.path.join(lab.BENCH, 'instrument.py')


def _strip(name):
    return name.replace('pbxops.firewall.pbx_firewall : ', '')


def measure(argv, forks, log_dir, label, cprofile=False):
    """Run argv (ansible or ansible-playbook) instrumented; the breakdown of its controller CPU."""
    log = os.path.join(log_dir, 'profile-%s.jsonl' % label)
    if os.path.exists(log):
        os.unlink(log)
    launcher = [INSTRUMENT, log]
    prof_dir = None
    if cprofile:
        prof_dir = os.path.join(log_dir, 'profile-%s' % label)
        shutil.rmtree(prof_dir, ignore_errors=True)
        os.makedirs(prof_dir)
        launcher.append(prof_dir)
    seconds, proc = lab.ansible(argv, forks=forks, log=os.path.join(log_dir, 'profile-%s.log' % label),
                                launcher=launcher)
    with open(log) as handle:
        records = [json.loads(line) for line in handle]
    main = sum(r['cpu'] for r in records if r['kind'] == 'main')
    tasks = collections.OrderedDict()
    for rec in (r for r in records if r['kind'] == 'worker'):
        row = tasks.setdefault(_strip(rec['task']), {'task': _strip(rec['task']), 'action': rec['action'],
                                                     'runs': 0, 'skipped': 0, 'cpu': 0.0})
        row['runs'] += 1
        row['skipped'] += 1 if rec['skipped'] else 0
        row['cpu'] += rec['cpu'] + rec['children_cpu']
    workers = sum(row['cpu'] for row in tasks.values())
    result = {'label': label, 'seconds': seconds, 'total': proc.controller_cpu, 'main': main,
              'workers': workers, 'ssh_and_rest': max(proc.controller_cpu - main - workers, 0.0),
              'tasks': list(tasks.values()), 'worker_runs': sum(row['runs'] for row in tasks.values())}
    if prof_dir:
        result['hot'] = hot_functions(prof_dir)
    return result


def hot_functions(prof_dir, top=40):
    """[(function, calls, own s, cumulative s)] summed over every worker's profile and the main one."""
    files = [os.path.join(prof_dir, f) for f in sorted(os.listdir(prof_dir)) if f.endswith('.prof')]
    workers = [f for f in files if not f.endswith('main.prof')]
    found = {}
    for kind, group in (('workers', workers), ('main', [f for f in files if f.endswith('main.prof')])):
        if not group:
            continue
        stats = None
        for path in group:
            try:
                stats = pstats.Stats(path) if stats is None else stats.add(path)
            except (EOFError, ValueError, TypeError):
                continue        # a worker ended before it wrote its profile
        if stats is None:
            continue
        rows = []
        for (filename, line, func), (_cc, calls, own, cumulative, _callers) in stats.stats.items():
            where = filename.split('site-packages/')[-1].split('ansible_collections/')[-1]
            rows.append(('%s:%d(%s)' % (where, line, func), calls, own, cumulative))
        found[kind] = {'by_cumulative': sorted(rows, key=lambda r: -r[3])[:top],
                       'by_own': sorted(rows, key=lambda r: -r[2])[:top]}
    return found


def breakdown(inventory, play, hosts, reset, log_dir, cprofile=False):
    """apply (on clean hosts: ``reset()`` first), no-op rerun and ping, instrumented."""
    reset()
    apply_run = measure(['ansible-playbook', '-i', inventory, play], hosts, log_dir, 'apply-%d' % hosts, cprofile)
    noop_run = measure(['ansible-playbook', '-i', inventory, play], hosts, log_dir, 'noop-%d' % hosts, cprofile)
    ping_run = measure(['ansible', '-i', inventory, 'bench', '-m', 'ansible.builtin.ping'], hosts, log_dir,
                       'ping-%d' % hosts, cprofile)
    return {'hosts': hosts, 'apply': apply_run, 'noop': noop_run, 'ping': ping_run}


def render(b):
    """Text tables of one breakdown."""
    n = b['hosts']
    lines = ['Controller CPU at %d host(s), per host (CPU s / %d)' % (n, n),
             '| run | wall | total | main process | workers | SSH and the rest | worker processes |',
             '| --- | ---: | ---: | ---: | ---: | ---: | ---: |']
    for key in ('apply', 'noop', 'ping'):
        r = b[key]
        lines.append('| %s | %.2f s | %.3f | %.3f | %.3f | %.3f | %d |' % (
            key, r['seconds'], r['total'] / n, r['main'] / n, r['workers'] / n, r['ssh_and_rest'] / n,
            r['worker_runs']))
    for key in ('apply', 'noop'):
        lines += ['', '%s: per task (CPU s per host, summed over the worker processes)' % key,
                  '| task | action | hosts | skipped | CPU s per host |', '| --- | --- | ---: | ---: | ---: |']
        for row in b[key]['tasks']:
            action = row['action'].replace('ansible.builtin.', '')
            cells = (row['task'], action, row['runs'], row['skipped'], row['cpu'] / n)
            lines.append('| %s | %s | %d | %d | %.3f |' % cells)
    return '\n'.join(lines)


def render_hot(b):
    lines = []
    for key in ('apply', 'noop', 'ping'):
        hot = b[key].get('hot')
        if not hot:
            continue
        for kind, table in sorted(hot.items()):
            lines += ['', '%s, %s: cumulative CPU s (all processes)' % (key, kind)]
            lines += ['%8.3f %8.3f %8d  %s' % (cum, own, calls, name) for name, calls, own, cum in
                      table['by_cumulative'][:30]]
            lines += ['', '%s, %s: own CPU s' % (key, kind)]
            lines += ['%8.3f %8.3f %8d  %s' % (cum, own, calls, name) for name, calls, own, cum in
                      table['by_own'][:25]]
    return '\n'.join(lines)


def main():
    import fleet_scale
    import noop_rerun
    import policies

    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--hosts', type=int, default=20)
    parser.add_argument('--networks', type=int, default=60)
    parser.add_argument('--cprofile', action='store_true', help='also profile every process (slow)')
    parser.add_argument('--out', help='JSON file (default lab/.cache/bench/profile-HOSTS.json)')
    args = parser.parse_args()
    log_dir = os.path.join(lab.CACHE, 'logs')
    os.makedirs(log_dir, exist_ok=True)
    the_lab = lab.Lab()
    try:
        the_lab.prepare()
        fleet_scale.start_fleet(the_lab, args.hosts)
        play = os.path.join(lab.CACHE, 'role.yml')
        with open(play, 'w') as handle:
            handle.write(noop_rerun.PLAY)
        hosts = [('h%d' % i, lab.fleet_ip(i)) for i in range(1, args.hosts + 1)]
        inventory = lab.write_inventory(os.path.join(lab.CACHE, 'inventory-profile-%d.yml' % args.hosts), hosts,
                                        extra_vars=noop_rerun.role_vars(policies.networks(args.networks)))
        names = [lab.fleet_name(i) for i in range(1, args.hosts + 1)]
        result = breakdown(inventory, play, args.hosts, lambda: fleet_scale.reset_all(names), log_dir,
                           cprofile=args.cprofile)
    finally:
        the_lab.destroy()
    out = args.out or os.path.join(lab.CACHE, 'profile-%d.json' % args.hosts)
    with open(out, 'w') as handle:
        json.dump(result, handle, indent=1)
    print(render(result))
    if args.cprofile:
        print(render_hot(result))
    lab.say('wrote %s' % out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
