# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Part 4, A/B mode: the role at one fleet size, this tree (A) next to git COMMIT (B), and the
floor of the role's shape.

    .venv/bin/python bench/run.py --parts fleet --fleet-ab a880f1b [--fleet-sizes 20] [--fleet-repeats 3]

Two runs of the fleet part on this shared two-core machine differ by about a quarter, tasks
whose work did not change included, so a figure of one run cannot be compared with one of an
earlier run. Here both sides run in the same rounds on the same hosts: at one size (20 by
default; forks = hosts, the fleet part's inventory and play), each round runs A, then B (B
first every other round), and each side resets every host (no owned chains, no role files),
applies the role, reruns it with nothing to change and runs `ansible -m ping`. B is git
COMMIT's plugins and role (`counter_cost.base_collection`) on the controller and shipped to
the hosts through `ANSIBLE_COLLECTIONS_PATH`. Controller CPU: each run's own cgroup, as in the
fleet part; figures are medians over the rounds, and each round's A/B ratio is shown too.

The floor of the role's shape, measured in the same rounds next to A's no-op rerun and ping:
a role with the tasks the role's invariants need and trivial content. Ansible's argument
check (the role has `meta/argument_specs.yml`, so Ansible inserts one), one `set_fact` of a
small expression with `any_errors_fatal` (the compile: every host's compile is done before
any host's apply, and one bad inventory stops the play before any host changes) and one
module task (`ansible.builtin.ping`): three tasks per host, the shape of a no-op rerun
without its content. The same role with a fourth task (a second `set_fact`) shows what one
more task costs per host. Settings that keep the role's semantics are measured on A's no-op
rerun and on ping alike; the `free` strategy only to show what it would give: it breaks the
invariant (each host runs its tasks on its own, so a host may apply before another host's
compile fails; Ansible warns that `any_errors_fatal` is not supported with it). The shapes and
the settings run after A's default no-op rerun and ping in A's turn, in the order of the tables.
After the rounds, one more ping and one more run of each shape through `bench/instrument.py`
(as in the fleet part's breakdown) show what each task's worker processes cost.
"""

import configparser
import os
import shutil
import statistics

import counter_cost
import fleet_scale
import lab
import noop_rerun
import policies
import profile_role
import report

SIDES = ('A', 'B')
KINDS = ('apply', 'noop', 'ping')
SHAPE_SPECS = '''---
argument_specs:
  main:
    short_description: The pbx_firewall role's shape with trivial content (bench only)
    options:
      pbx_firewall_networks:
        type: list
        elements: dict
        required: true
        description: The fleet part's networks, as the real role gets them.
      bench_shape_enabled:
        type: bool
        default: true
        description: One option with a default, as the real role has many.
'''
SHAPE_TASKS = '''---
- name: Compile a small policy on the controller
  any_errors_fatal: true
  ansible.builtin.set_fact:
    __bench_shape_policy: "{{ pbx_firewall_networks | map(attribute='name') | list if bench_shape_enabled else [] }}"

- name: Run the one module on the host
  ansible.builtin.ping:
'''
ONE_MORE_TASK = '''
- name: One more task that runs no module
  ansible.builtin.set_fact:
    __bench_shape_count: "{{ __bench_shape_policy | length }}"
'''
# the role's no-op rerun: Ansible's argument check, the compile, the firewall module, the files task
ROLE_NOOP_TASKS = 4
# name: (tasks per host, tasks/main.yml)
SHAPES = {'shape3': (3, SHAPE_TASKS), 'shape4': (4, SHAPE_TASKS + ONE_MORE_TASK)}
SHAPE_PLAY = '''---
- name: Bench - the role's shape with trivial content
  hosts: bench
  gather_facts: false
  roles:
    - role: %s
'''
# name: (what it sets, keeps the role's invariants, forks (None: = hosts), environment, ansible.cfg [defaults])
SETTINGS = {
    'forks5': ('`forks = 5`', True, 5, {}, {}),
    'poll10ms': ('`internal_poll_interval = 0.01` (default 0.001)', True, None, {}, {'internal_poll_interval': '0.01'}),
    'quiet': ('`display_ok_hosts` and `display_skipped_hosts` off', True, None,
              {'ANSIBLE_DISPLAY_OK_HOSTS': 'false', 'ANSIBLE_DISPLAY_SKIPPED_HOSTS': 'false'}, {}),
    'free': ('`strategy = free`', False, None, {'ANSIBLE_STRATEGY': 'free'}, {}),
}


def write_shapes(root):
    """The shape roles and their plays under root: {shape: play path}."""
    plays = {}
    for name, (_tasks_per_host, tasks) in SHAPES.items():
        role = os.path.join(root, 'roles', 'bench_%s' % name)
        for rel, text in (('meta/argument_specs.yml', SHAPE_SPECS), ('defaults/main.yml', '---\nbench_shape_enabled: true\n'),
                          ('tasks/main.yml', tasks)):
            os.makedirs(os.path.dirname(os.path.join(role, rel)), exist_ok=True)
            with open(os.path.join(role, rel), 'w') as handle:
                handle.write(text)
        plays[name] = os.path.join(root, '%s.yml' % name)
        with open(plays[name], 'w') as handle:
            handle.write(SHAPE_PLAY % role)
    return plays


def settings_config(root, name, defaults):
    """An ansible.cfg: the repo's with these [defaults] (None: the repo's own is enough)."""
    if not defaults:
        return None
    parser = configparser.ConfigParser()
    parser.read(os.path.join(lab.REPO, 'ansible.cfg'))
    # relative paths of a configuration file are its own directory's: this one is elsewhere
    parser['defaults']['collections_path'] = os.path.join(lab.REPO, '.build')
    parser['defaults'].update(defaults)
    path = os.path.join(root, 'ansible-%s.cfg' % name)
    with open(path, 'w') as handle:
        parser.write(handle)
    return path


def _record(timed, size, idle_rate):
    """One run: wall, controller and hosts' CPU per host, and its recap's changed count."""
    seconds, proc, ctl, hosts = timed
    if hosts is not None and idle_rate is not None:
        hosts = max(hosts - idle_rate * size * seconds, 0.0)
    recap = fleet_scale.recap(proc.stdout)
    return {'seconds': seconds, 'cpu_controller_per_host': ctl / size,
            'cpu_hosts_per_host': None if hosts is None else hosts / size,
            'changed': sum(r['changed'] for r in recap.values()),
            'hosts_changed': sum(1 for r in recap.values() if r['changed']), 'recap_hosts': len(recap)}


def summarize(rounds):
    """{run: {figure: median over the rounds}} of every run the rounds have."""
    out = {}
    for run in rounds[0]['runs']:
        records = [r['runs'][run] for r in rounds if run in r['runs']]
        out[run] = {key: statistics.median(rec[key] for rec in records)
                    for key in ('seconds', 'cpu_controller_per_host', 'cpu_hosts_per_host')
                    if all(rec.get(key) is not None for rec in records)}
    return out


def paired(rounds, run_a, run_b, key='cpu_controller_per_host'):
    """run_a / run_b of each round (both measured in the same round)."""
    return [r['runs'][run_a][key] / r['runs'][run_b][key] for r in rounds]


def paired_vs_ping(rounds, kind):
    """Per round, A / B of one kind with each side's figure taken against its own ping (the same
    command on both sides, run right after it): what is left once the machine's drift between the
    two sides' turns is taken out."""
    return [(r['runs']['A:%s' % kind]['cpu_controller_per_host'] / r['runs']['A:ping']['cpu_controller_per_host'])
            / (r['runs']['B:%s' % kind]['cpu_controller_per_host'] / r['runs']['B:ping']['cpu_controller_per_host'])
            for r in rounds]


def direction(ratios):
    """How a set of per-round ratios reads: more or less in every round, or no consistent change."""
    if all(x > 1 for x in ratios):
        return 'more in every round'
    if all(x < 1 for x in ratios):
        return 'less in every round'
    return 'no consistent change'


def shape_costs(medians):
    """Controller CPU per host: the three-task shape above ping, one more task, the role's no-op
    above the shape; and the shape's and the role's no-op as multiples of ping."""
    cpu = {run: medians[run]['cpu_controller_per_host'] for run in ('A:ping', 'shape3', 'shape4', 'A:noop')}
    return {'shape_over_ping': cpu['shape3'] - cpu['A:ping'], 'one_more_task': cpu['shape4'] - cpu['shape3'],
            'role_over_shape': cpu['A:noop'] - cpu['shape4'],
            'shape3_vs_ping': cpu['shape3'] / cpu['A:ping'], 'shape4_vs_ping': cpu['shape4'] / cpu['A:ping'],
            'noop_vs_ping': cpu['A:noop'] / cpu['A:ping']}


def run(the_lab, commit, size=20, rounds=3, log_dir=None):
    log_dir = log_dir or lab.CACHE
    if size > fleet_scale.FLEET_MAX:
        raise ValueError('fleet sizes go up to %d hosts, not %d' % (fleet_scale.FLEET_MAX, size))
    root = os.path.join(lab.CACHE, 'fleet-ab')
    shutil.rmtree(root, ignore_errors=True)
    base = counter_cost.base_collection(os.path.join(root, 'base'), commit)
    if base is None:
        raise RuntimeError('fleet A/B: git has no commit %s here (a shallow clone?)' % commit)
    envs = {'A': None, 'B': {'ANSIBLE_COLLECTIONS_PATH': base}}
    shapes = write_shapes(root)
    configs = {name: settings_config(root, name, spec[4]) for name, spec in SETTINGS.items()}
    started = fleet_scale.start_fleet(the_lab, size)
    names = [lab.fleet_name(i) for i in range(1, size + 1)]
    ids = list(fleet_scale.container_ids(names).values())
    idle_rate = fleet_scale.idle_cpu_rate(ids)
    inventory = lab.write_inventory(os.path.join(lab.CACHE, 'inventory-fleet-ab-%d.yml' % size),
                                    [('h%d' % i, lab.fleet_ip(i)) for i in range(1, size + 1)],
                                    extra_vars=noop_rerun.role_vars(policies.networks(60)))
    play = os.path.join(root, 'role.yml')
    with open(play, 'w') as handle:
        handle.write(noop_rerun.PLAY)
    argv = {'role': ['ansible-playbook', '-i', inventory, play],
            'ping': ['ansible', '-i', inventory, 'bench', '-m', 'ansible.builtin.ping']}

    def measure(label, command, attempt, env=None, forks=None):
        timed = fleet_scale.timed_run(command, forks or size, os.path.join(log_dir, 'fleet-ab-%s-%d.log' % (
            label.replace(':', '-'), attempt)), ids, env=env)
        return _record(timed, size, idle_rate)

    done = []
    for attempt in range(rounds):
        order = SIDES if attempt % 2 == 0 else SIDES[::-1]
        runs = {}
        for side in order:
            fleet_scale.reset_all(names)
            for kind in KINDS:
                runs['%s:%s' % (side, kind)] = measure('%s:%s' % (side, kind), argv['ping' if kind == 'ping' else 'role'],
                                                       attempt, envs[side])
            if side != 'A':
                continue
            # next to A's no-op rerun: the shape's floor and the settings (the hosts hold A's policy)
            for name, shape_play in shapes.items():
                runs[name] = measure(name, ['ansible-playbook', '-i', inventory, shape_play], attempt)
            for name, (_what, _keeps, forks, env, _cfg) in SETTINGS.items():
                env = dict(env, **({'ANSIBLE_CONFIG': configs[name]} if configs[name] else {}))
                runs['%s:noop' % name] = measure('%s:noop' % name, argv['role'], attempt, env, forks)
                runs['%s:ping' % name] = measure('%s:ping' % name, argv['ping'], attempt, env, forks)
        done.append({'order': ''.join(order), 'runs': runs})
        lab.say('fleet A/B %d hosts, round %d (%s): controller CPU s per host apply %.2f / %.2f, no-op %.2f / %.2f, '
                'ping %.2f / %.2f (A / B); shape 3 tasks %.2f, 4 tasks %.2f'
                % ((size, attempt + 1, ' then '.join(order)) + tuple(
                    runs['%s:%s' % (side, kind)]['cpu_controller_per_host'] for kind in KINDS for side in SIDES)
                   + (runs['shape3']['cpu_controller_per_host'], runs['shape4']['cpu_controller_per_host'])))
    # where the shape's CPU goes, task by task: one instrumented run of each (profile_role.py)
    breakdown = {name: profile_role.measure(command, size, log_dir, 'ab-%s-%d' % (name, size)) for name, command in (
        ('ping', argv['ping']), ('shape3', ['ansible-playbook', '-i', inventory, shapes['shape3']]),
        ('shape4', ['ansible-playbook', '-i', inventory, shapes['shape4']]))}
    the_lab.remove(names)
    shutil.rmtree(root, ignore_errors=True)
    result = {'hosts': size, 'commit': commit, 'rounds': done, 'idle_cpu_per_host': idle_rate,
              'start_seconds': started, 'breakdown': breakdown}
    result['medians'] = summarize(done)
    lab.say('fleet A/B medians:\n%s' % render(result))
    return result


def _cpu(value):
    return '-' if value is None else '%.2f' % value


def _run_cells(rec):
    return ['%.2f' % rec['cpu_controller_per_host'], report._s(rec['seconds'])]


def render_ab(ab):
    """A (this tree) next to B (COMMIT): medians and each round's A/B ratio."""
    med, n = ab['medians'], ab['hosts']
    rows = []
    for kind, label in (('apply', 'apply (every host changes)'), ('noop', 'no-op rerun'), ('ping', '`ansible -m ping`')):
        a, b = med['A:%s' % kind], med['B:%s' % kind]
        ratios = paired(ab['rounds'], 'A:%s' % kind, 'B:%s' % kind)
        normal = paired_vs_ping(ab['rounds'], kind) if kind != 'ping' else None
        rows.append([label, _cpu(a['cpu_controller_per_host']), _cpu(b['cpu_controller_per_host']),
                     '%.2f× (%s)' % (statistics.median(ratios), ', '.join('%.2f' % x for x in ratios)),
                     '-' if normal is None else '%.2f× (%s)' % (statistics.median(normal), ', '.join('%.2f' % x for x in normal)),
                     '%s / %s' % (report._s(a['seconds']), report._s(b['seconds'])),
                     '%s / %s' % (_cpu(a.get('cpu_hosts_per_host')), _cpu(b.get('cpu_hosts_per_host')))])
    rounds = '%d round%s' % (len(ab['rounds']), '' if len(ab['rounds']) == 1 else 's')
    lines = [report._table(['%d hosts, median of %s' % (n, rounds), 'controller CPU s per host: A',
                            'B (%s)' % ab['commit'], 'A / B: median (each round)',
                            'A / B, each side against its own ping: median (each round)', 'wall: A / B',
                            'host CPU s per host: A / B'], rows), '']
    per_round = []
    for i, rnd in enumerate(ab['rounds']):
        for side in SIDES:
            runs = rnd['runs']
            cells = ['%d (%s)' % (i + 1, ' then '.join(rnd['order'])), side if side == 'A' else 'B (%s)' % ab['commit']]
            for kind in KINDS:
                cells += _run_cells(runs['%s:%s' % (side, kind)])
            cells.append('%d / %d hosts' % (runs['%s:apply' % side]['hosts_changed'], runs['%s:apply' % side]['recap_hosts']))
            cells.append(runs['%s:noop' % side]['changed'])
            per_round.append(cells)
    lines.append(report._table(['round (order)', 'side', 'apply: CPU s per host', 'wall', 'no-op: CPU s per host',
                                'wall', 'ping: CPU s per host', 'wall', 'apply changed', 'no-op changed'], per_round,
                               ['---', '---'] + ['---:'] * 8))
    return '\n'.join(lines)


def render_shape(ab):
    """ping, the three- and four-task shapes and the role's no-op (A), with what each step adds."""
    med = ab['medians']
    ping = med['A:ping']
    rows = []
    for run, label, tasks in (('A:ping', '`ansible -m ping`', 1),
                              ('shape3', 'shape: argument check, `set_fact`, `ping`', SHAPES['shape3'][0]),
                              ('shape4', 'shape + one more `set_fact`', SHAPES['shape4'][0]),
                              ('A:noop', 'the role\'s no-op rerun (A)', ROLE_NOOP_TASKS)):
        m = med[run]
        rows.append([label, tasks, _cpu(m['cpu_controller_per_host']),
                     '%.2f×' % (m['cpu_controller_per_host'] / ping['cpu_controller_per_host']),
                     report._s(m['seconds']), '%.2f×' % (m['seconds'] / ping['seconds']),
                     ', '.join('%.2f×' % x for x in paired(ab['rounds'], run, 'A:ping'))])
    return report._table(['run (%d hosts)' % ab['hosts'], 'tasks per host', 'controller CPU s per host (median)',
                          'vs ping', 'wall (median)', 'wall vs ping', 'CPU vs ping in each round'], rows)


def render_breakdown(ab):
    """One instrumented run of ping and of each shape: the main process, the task workers (each task's
    own), SSH; per host."""
    n, rows = ab['hosts'], []
    for name, label in (('ping', '`ansible -m ping`'), ('shape3', 'shape, 3 tasks'), ('shape4', 'shape, 4 tasks')):
        b = ab['breakdown'][name]
        tasks = ', '.join('%s %.3f' % (row['action'].replace('ansible.builtin.', ''), row['cpu'] / n) for row in b['tasks'])
        rows.append([label, report._s(b['seconds']), '%.3f' % (b['total'] / n), '%.3f' % (b['main'] / n),
                     '%.3f' % (b['workers'] / n), '%.3f' % (b['ssh_and_rest'] / n), tasks])
    return report._table(['instrumented run (%d hosts)' % n, 'wall', 'CPU s per host', 'main process', 'task workers',
                          'SSH and the rest', 'each task\'s workers, CPU s per host'], rows,
                         ['---'] + ['---:'] * 5 + ['---'])


def render_settings(ab):
    """A's no-op rerun and ping under each setting, next to the defaults."""
    med = ab['medians']
    rows = []
    for name, what, keeps in [('A', 'defaults (forks = hosts, linear, poll 0.001)', True)] + [
            (name, spec[0], spec[1]) for name, spec in SETTINGS.items()]:
        noop, ping = med['%s:noop' % name], med['%s:ping' % name]
        versus = paired(ab['rounds'], '%s:noop' % name, 'A:noop')
        rows.append([what, 'yes' if keeps else '**no**: a host may apply before another host\'s compile fails (`any_errors_fatal` unsupported)',
                     _cpu(noop['cpu_controller_per_host']), _cpu(ping['cpu_controller_per_host']),
                     '%.2f×' % (noop['cpu_controller_per_host'] / ping['cpu_controller_per_host']),
                     '-' if name == 'A' else '%s: %s' % (direction(versus), ', '.join('%.2f×' % x for x in versus)),
                     report._s(noop['seconds']), report._s(ping['seconds'])])
    return report._table(['setting (%d hosts)' % ab['hosts'], 'keeps the invariants', 'no-op: CPU s per host',
                          'ping: CPU s per host', 'no-op vs ping', 'no-op CPU vs the defaults\' in each round',
                          'no-op wall', 'ping wall'], rows, ['---', '---'] + ['---:'] * 6)


def conclusions(ab):
    """What the figures say, from the figures (Markdown)."""
    med, rounds = ab['medians'], ab['rounds']
    costs = shape_costs(med)
    ratio = {kind: statistics.median(paired(rounds, 'A:%s' % kind, 'B:%s' % kind)) for kind in KINDS}
    normal = {kind: statistics.median(paired_vs_ping(rounds, kind)) for kind in ('apply', 'noop')}
    host = {side: med['%s:noop' % side].get('cpu_hosts_per_host') for side in SIDES}
    goal = report.GOAL_NOOP_CPU
    ping = med['A:ping']['cpu_controller_per_host']
    if costs['shape4_vs_ping'] > goal:
        verdict = ('**not** reachable with four tasks per host under these invariants: the shape alone, with '
                   'nothing in it, is %.2f× ping. With three (the files check folded into the module task) the empty '
                   'shape is %.2f× ping, which would leave %.3f CPU s per host for all of the content, which costs %.3f '
                   'today' % (costs['shape4_vs_ping'], costs['shape3_vs_ping'],
                              goal * ping - med['shape3']['cpu_controller_per_host'], costs['role_over_shape']))
    else:
        verdict = ('reachable only if the role\'s content costs at most %.3f CPU s per host above the four-task '
                   'shape (%g× ping less the shape); it costs %.3f'
                   % (goal * ping - med['shape4']['cpu_controller_per_host'], goal, costs['role_over_shape']))
    text = [
        'A against B (%s), controller CPU per host, medians of the rounds\' ratios: apply %.2f×, no-op rerun %.2f×, '
        'and ping %.2f×, though ping is the same command on both sides: that much is the machine drifting between the '
        'two sides\' turns. Each side against its own ping, A / B is %.2f× for the apply and %.2f× for the no-op rerun.'
        % (ab['commit'], ratio['apply'], ratio['noop'], ratio['ping'], normal['apply'], normal['noop'])]
    if host['A'] is not None and host['B'] is not None:
        text.append(' On the hosts, a no-op rerun cost %.2f CPU s per host with A and %.2f with B.' % (host['A'], host['B']))
    text.append(
        '\n\nThe shape with trivial content cost %.3f CPU s per host above ping: %.2f× ping with three tasks, %.2f× '
        'with four; one more task that runs no module costs %.3f CPU s per host. The role\'s no-op rerun is %.2f× ping, '
        '%.3f CPU s per host above the four-task shape: what its content (the policy compile, the firewall module\'s '
        'read and plan, the files check) costs. The goal, no-op ≤ %g× ping, is %s.'
        % (costs['shape_over_ping'], costs['shape3_vs_ping'], costs['shape4_vs_ping'], costs['one_more_task'],
           costs['noop_vs_ping'], costs['role_over_shape'], goal, verdict))
    settings = ['%s %s (%s)' % (spec[0], direction(paired(rounds, '%s:noop' % name, 'A:noop')),
                                ', '.join('%.2f×' % x for x in paired(rounds, '%s:noop' % name, 'A:noop')))
                for name, spec in SETTINGS.items()]
    text.append('\n\nThe no-op rerun\'s controller CPU against the defaults\' in the same round: %s.'
                % '; '.join(settings))
    return ''.join(text)


def render(ab):
    """Every table of the A/B run (text and Markdown alike)."""
    tables = [render_ab(ab), render_shape(ab)] + ([render_breakdown(ab)] if ab.get('breakdown') else [])
    return '\n\n'.join(tables + [render_settings(ab), conclusions(ab)])
