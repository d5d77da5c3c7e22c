# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tables (stdout and docs/benchmarks.md) and the chart (docs/benchmarks.png) of a bench run."""

import datetime
import json
import os
import platform
import subprocess

import lab
import projection

DOC = os.path.join(lab.REPO, 'docs', 'benchmarks.md')
PNG = os.path.join(lab.REPO, 'docs', 'benchmarks.png')


def _out(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ''


def machine_info():
    model = ''
    try:
        with open('/proc/cpuinfo') as handle:
            for line in handle:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from ansible.release import __version__ as ansible_version
    except ImportError:
        ansible_version = _out([os.path.join(lab.REPO, '.venv', 'bin', 'ansible'), '--version']).split('\n')[0]
    return {
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        'cores': os.cpu_count(),
        'cpu': model,
        'kernel': platform.release(),
        'os': _out(['sh', '-c', '. /etc/os-release && echo "$PRETTY_NAME"']),
        'python': platform.python_version(),
        'ansible_core': ansible_version,
        'iptables_machine': _out(['iptables', '--version']),
    }


def lab_info():
    return {'docker': _out(['docker', 'version', '--format', '{{.Server.Version}}']),
            'image': lab.IMAGE}


# -- helpers ----------------------------------------------------------------------------------

def _table(header, rows, align=None):
    align = align or ['---'] + ['---:'] * (len(header) - 1)
    lines = ['| ' + ' | '.join(header) + ' |', '| ' + ' | '.join(align) + ' |']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def _yes(ok):
    return 'yes' if ok else '**no**'


def _s(seconds):
    return '%.1f s' % seconds if seconds >= 10 else '%.2f s' % seconds


# -- the summary ------------------------------------------------------------------------------

def summary_rows(r):
    rows = []
    apply = r.get('apply')
    if apply:
        ping = apply['ping']
        for row in apply['sizes']:
            n = row['rules']
            goal = 20 if n <= 60 else 100
            loop_note = '' if row['loop_measured'] else ' (extrapolated)'
            rows.append(['Apply %d rules to one host' % n, _s(row['collection']),
                         'ansible.builtin.iptables loop: %s%s' % (_s(row['loop']), loop_note),
                         '%.1f× faster' % row['vs_loop'], '≥ %d×' % goal, _yes(row['vs_loop'] >= goal)])
            rows.append(['Apply %d rules vs the floor' % n, _s(row['collection']),
                         'ansible -m ping %s + bare iptables-restore over ssh %s' % (_s(ping), _s(row['restore'])),
                         '%.2f×' % row['vs_floor'], '≤ 1.5×', _yes(row['vs_floor'] <= 1.5)])
    noop = r.get('noop')
    if noop:
        rows.append(noop_goal_row(noop))
    fleet = r.get('fleet')
    if fleet:
        rows += fleet_goal_rows(fleet)
    comp = r.get('compile')
    if comp:
        for row in comp:
            if row['networks'] in (10000, 100000):
                limit = 1.0 if row['networks'] == 10000 else 10.0
                ok = row['seconds'] <= limit and row['peak_mib'] <= 300
                if row['networks'] == 10000:
                    ok = ok and max(row['rules_ipv4'], row['rules_ipv6']) <= 64
                rows.append(['Compile %dk networks' % (row['networks'] // 1000),
                             '%s, %.0f MiB peak, %d/%d rules' % (_s(row['seconds']), row['peak_mib'],
                                                                 row['rules_ipv4'], row['rules_ipv6']),
                             '', '', '≤ %g s, ≤ 300 MiB%s' % (limit, ', ≤ 64 rules' if row['networks'] == 10000 else ''),
                             _yes(ok)])
    sets = r.get('sets')
    if sets:
        rows += sets_summary_rows(sets)
    rel = r.get('reload')
    if rel:
        c, m = rel['collection'], rel['mikopbx']
        rows.append(['Reload safety, %d re-applies under traffic' % rel['applies'],
                     'allowed dropped %d, blocked accepted %d' % (c['allowed_dropped'], c['blocked_accepted']),
                     'MikoPBX-style reload: allowed dropped %d, blocked accepted %d'
                     % (m['allowed_dropped'], m['blocked_accepted']), '',
                     '0 and 0', _yes(c['allowed_dropped'] == 0 and c['blocked_accepted'] == 0)])
    flows = r.get('flows')
    for row in (flows or {}).get('sizes', ()):
        new, old = row['collection'], row['per_flow']
        old_text = ('stopped after %s' % _s(old['seconds']) if old['stopped'] else _s(old['seconds']))
        rows.append(['End %d flows after a blocking apply' % row['flows'],
                     '%s, %.0f MiB peak, block in force: %s'
                     % (_s(new['seconds']), new['peak_mib'] or 0, 'yes' if new['in_force'] else 'no'),
                     'per-flow `conntrack -D`: %s, block in force: %s'
                     % (old_text, 'yes' if old['in_force'] else 'no (rolled back)'), '',
                     'block in force, 0 entries left', _yes(new['in_force'] and new['left'] == 0)])
    return rows


def sets_summary_rows(sets):
    """Summary rows of part 8 (bench/sets_scale.py): compile, apply vs the floor, no-op."""
    import sets_scale
    c, a, role = sets['compile'], sets['apply'], sets['role']
    goals = sets_scale.GOALS
    return [
        ['Compile 10 countries + 50,000-entry blocklist',
         '%s cold, %s warm' % (_s(c['cold_median']), _s(c['warm_median'])),
         '', '', '≤ %g s' % goals['compile'], _yes(max(c['cold_median'], c['warm_median']) <= goals['compile'])],
        ['Apply them to one host vs the floor', _s(a['apply']),
         'ansible -m ping %s + ipset and iptables restores over ssh %s' % (_s(a['ping']), _s(a['restore'])),
         '+%s' % _s(a['over_floor']), '≤ +%g s' % goals['over_floor'], _yes(a['over_floor'] <= goals['over_floor'])],
        ['No-op rerun with them (role)',
         'changed=%d, %d module runs' % (role['with']['changed'], role['with']['module_runs']),
         'without: %d module runs' % role['without']['module_runs'], '', 'changed=0, same runs',
         _yes(not role['with']['changed'] and role['with']['module_runs'] == role['without']['module_runs'])],
    ]


# Issue 21's goals, each measured next to `ansible -m ping` on the same hosts in the same run.
NOOP_MODULES = 1
NOOP_HEADING = '## 2. No-op rerun of the role'
GOAL_APPLY_CPU = 3.0        # controller CPU per host of an apply, times ping's
GOAL_NOOP_CPU = 1.5         # of a no-op rerun, times ping's
GOAL_NOOP_WALL = 2.0        # wall time of a no-op rerun at WALL_GOAL_HOSTS hosts, times ping's
WALL_GOAL_HOSTS = 20        # the issue sets the wall-time goal at 20 hosts (else: the largest size)


def fleet_goals(row):
    """[(name, value, goal, met)] of one fleet size."""
    return [('apply: controller CPU per host vs ping', row['apply']['cpu_vs_ping'], GOAL_APPLY_CPU),
            ('no-op rerun: controller CPU per host vs ping', row['noop']['cpu_vs_ping'], GOAL_NOOP_CPU),
            ('no-op rerun: wall time vs ping', row['noop']['wall_vs_ping'], GOAL_NOOP_WALL)]


def fleet_goal_rows(f):
    """The goals' rows: the CPU ratios at the largest size, the wall time at WALL_GOAL_HOSTS."""
    big = f['sizes'][-1]
    at_wall = next((s for s in f['sizes'] if s['hosts'] == WALL_GOAL_HOSTS), big)
    rows = []
    for (name, ratio, goal), (side, what), size in zip(
            fleet_goals(big)[:2] + fleet_goals(at_wall)[2:], (('apply', 'cpu'), ('noop', 'cpu'), ('noop', 'wall')),
            (big, big, at_wall)):
        n, ping, mine = size['hosts'], size['ping'], size[side]
        if what == 'cpu':
            text = '%.2f CPU s per host' % mine['cpu_controller_per_host']
            other = 'ansible -m ping: %.2f CPU s per host' % ping['cpu_controller_per_host']
        else:
            text = _s(mine['seconds'])
            other = 'ansible -m ping: %s' % _s(ping['seconds'])
        rows.append(['Role on %d hosts, %s' % (n, name), text, other, '%.2f×' % ratio, '≤ %g×' % goal,
                     _yes(ratio <= goal)])
    return rows


def render_summary(r):
    return _table(['benchmark', 'this collection', 'compared with', 'ratio', 'goal', 'met'], summary_rows(r),
                  ['---', '---', '---', '---:', '---', '---'])


# -- the parts --------------------------------------------------------------------------------

def render_apply(a):
    rows = []
    for row in a['sizes']:
        floor = a['ping'] + row['restore']
        rows.append([row['rules'], row['networks'], _s(row['collection']),
                     _s(row['no_rollback']) if 'no_rollback' in row else '-',
                     _s(row['loop']) + ('' if row['loop_measured'] else ' (extrapolated)'),
                     _s(row['restore']), _s(floor), '%.1f×' % row['vs_loop'], '%.2f×' % row['vs_floor'],
                     'yes' if row['same_rules'] else '**NO**'])
    return _table(['rules', 'networks', 'collection', 'collection without rollback', 'builtin loop', 'bare restore', 'ping + restore',
                   'loop / collection', 'collection / (ping + restore)', 'same iptables-save'], rows)


def render_noop(n):
    rows = [[name.replace('pbxops.firewall.pbx_firewall : ', ''), action, count]
            for name, action, count in n['module_tasks']]
    return _table(['task that ran a module on the host', 'action', 'runs'], rows, ['---', '---', '---:'])


def _per_host(value):
    return '-' if value is None else '%.2f' % value


def render_fleet(f):
    rows = []
    for row in f['sizes']:
        a, n, p = row['apply'], row['noop'], row['ping']
        rows.append([row['hosts'],
                     '%s / %s / %s' % (_s(a['seconds']), _s(n['seconds']), _s(p['seconds'])),
                     '%s / %s / %s' % (_per_host(a['cpu_controller_per_host']), _per_host(n['cpu_controller_per_host']),
                                       _per_host(p['cpu_controller_per_host'])),
                     '%.2f× / %.2f×' % (a['cpu_vs_ping'], n['cpu_vs_ping']),
                     '%.2f×' % n['wall_vs_ping'],
                     '%s / %s / %s' % (_per_host(a['cpu_hosts_per_host']), _per_host(n['cpu_hosts_per_host']),
                                       _per_host(p['cpu_hosts_per_host'])),
                     'yes' if row['all_changed'] else '**no**', row['noop_changed'],
                     '%.1f' % row['load_before']])
    return _table(['hosts (= forks)', 'wall: apply / no-op / ping', 'controller CPU s per host: apply / no-op / ping',
                   'controller CPU vs ping: apply / no-op', 'no-op wall vs ping',
                   'host CPU s per host: apply / no-op / ping', 'every host changed', 'no-op changed',
                   'load before'], rows)


def render_breakdown(b, title):
    """Where the controller's CPU goes, per host, for one instrumented apply, no-op and ping."""
    n = b['hosts']
    lines = [title, '',
             _table(['run', 'wall', 'CPU s per host', 'main process', 'task workers', 'SSH and the rest',
                     'worker processes per host'],
                    [[key, _s(b[key]['seconds']), '%.3f' % (b[key]['total'] / n), '%.3f' % (b[key]['main'] / n),
                      '%.3f' % (b[key]['workers'] / n), '%.3f' % (b[key]['ssh_and_rest'] / n),
                      '%.0f' % (b[key]['worker_runs'] / n)] for key in ('apply', 'noop', 'ping')]), '']
    tasks = {}
    for key in ('apply', 'noop'):
        for row in b[key]['tasks']:
            entry = tasks.setdefault(row['task'], {'action': row['action'].replace('ansible.builtin.', '')})
            entry[key] = row
    rows = []
    for name, entry in tasks.items():
        cells = [name.replace('pbxops.firewall.pbx_firewall : ', '')[:70], entry['action']]
        for key in ('apply', 'noop'):
            row = entry.get(key)
            skipped = row is not None and row['skipped'] == row['runs']
            cells.append('-' if row is None else '%.3f%s' % (row['cpu'] / n, ' (skipped)' if skipped else ''))
        rows.append(cells)
    lines.append(_table(['task', 'action', 'apply: CPU s per host', 'no-op: CPU s per host'], rows,
                        ['---', '---', '---:', '---:']))
    return '\n'.join(lines)


def _fleet_advice(f):
    """Why a goal was missed, from the measured numbers: what Ansible itself costs per task."""
    big = f['sizes'][-1]
    missed = [(name, ratio, goal) for name, ratio, goal in fleet_goals(big) if ratio > goal]
    if not missed:
        return ''
    n, ping = big['hosts'], big['ping']
    text = ['', 'Goals not met at %d hosts: %s.' % (n, '; '.join('%s %.2f× (goal ≤ %g×)' % m for m in missed))]
    b = f.get('breakdown')
    if b:
        p, q = b['ping'], b['noop']
        n = b['hosts']      # the instrumented runs' own size
        cheapest = min((row for row in q['tasks'] if row['runs']), key=lambda row: row['cpu'] / row['runs'])
        text.append(
            ' In the instrumented runs (%d hosts), `ansible -m ping` cost the controller %.3f CPU s per host (%.3f in its main '
            'process, %.3f in its one task worker, %.3f in SSH). The no-op rerun cost %.3f per host: %.3f in the '
            'main process (Ansible\'s strategy computes every host\'s variables for every task, forks a worker for '
            'it and takes its result back), %.3f in %d task workers per host and %.3f in SSH. The cheapest of them, '
            '"%s" (`%s`), costs %.3f CPU s per host in its worker: about what Ansible itself spends on any task per '
            'host. The role runs %d tasks per host (Ansible\'s argument check, the policy call and the two module tasks) '
            'where ping runs one.'
            % (n, p['total'] / n, p['main'] / n, p['workers'] / n, p['ssh_and_rest'] / n, q['total'] / n, q['main'] / n,
               q['workers'] / n, q['worker_runs'] / n, q['ssh_and_rest'] / n,
               cheapest['task'].replace('pbxops.firewall.pbx_firewall : ', '').split(' - ')[0], cheapest['action'],
               cheapest['cpu'] / cheapest['runs'],
               q['worker_runs'] / n))
    return ''.join(text) + '\n'


def render_compile(c):
    rows = [[row['networks'], '%.2f' % row['seconds'], '%.0f' % row['peak_mib'], row['rules_ipv4'],
             row['rules_ipv6'], row['ipsets']] for row in c]
    return _table(['networks', 'compile s', 'peak RSS MiB', 'rules IPv4', 'rules IPv6', 'ipsets'], rows)


def render_reload(rel):
    rows = []
    for key, label in (('control', 'control: no reloads'), ('collection', 'this collection (module via Ansible)'),
                       ('mikopbx', 'MikoPBX style (flush + one iptables command per rule)')):
        x = rel[key]
        if key == 'collection':
            how = '%d applies in %s (%.2f s each)' % (rel['applies'], _s(x['seconds']), x['per_apply'])
        elif key == 'mikopbx':
            how = '%d reloads, %.0f ms each, one every %.2f s' % (rel['applies'], x['per_reload_ms'], x['interval'])
        else:
            how = '%s of traffic' % _s(x['stream_seconds'])
        rows.append([label, how, x['probes'], '%d / %d' % (x['allowed_dropped'], x['allowed_sent']),
                     '%d / %d' % (x['blocked_accepted'], x['blocked_sent']), x['blocked_accepted_on_retry'],
                     x['errors']])
    return _table(['side', 'reloads', 'probes', 'allowed dropped / sent', 'blocked accepted / sent',
                   'blocked TCP in on a SYN retry', 'errors'],
                  rows, ['---', '---', '---:', '---:', '---:', '---:', '---:'])


def render_machine(r):
    m = r['machine']
    ls, le = r['load_start'], r.get('load_end', (0, 0, 0))
    lines = [
        '- date: %s; total bench time %.1f min' % (m['date'], r.get('seconds', 0) / 60),
        '- machine: %s cores (%s), %s, kernel %s' % (m['cores'], m['cpu'] or 'unknown CPU', m['os'], m['kernel']),
        '- load average (1/5/15 min): %.2f %.2f %.2f at the start, %.2f %.2f %.2f at the end'
        % (tuple(ls) + tuple(le)),
        '- Python %s, ansible-core %s; Docker %s, image `%s`'
        % (m['python'], m['ansible_core'], m.get('docker', '-'), m.get('image', '-')),
        '- iptables backend: lab hosts `%s`; this machine `%s`'
        % (m.get('iptables_host1', '-'), m['iptables_machine']),
    ]
    if r.get('retried'):
        lines.append('- re-run after the lab broke under them (containers gone: the Docker daemon was restarted '
                     'by other work on the machine): %s' % ', '.join(r['retried']))
    return '\n'.join(lines)


def render_text(r):
    parts = ['pbxops.firewall benchmarks', '', render_machine(r), '', render_summary(r)]
    if r.get('apply'):
        parts += ['', 'Apply (part 1): ansible -m ping %s (median)' % _s(r['apply']['ping']), render_apply(r['apply'])]
    if r.get('noop'):
        parts += ['', 'No-op rerun (part 2): changed=%d, %s' % (r['noop']['changed'], _s(r['noop']['seconds'])),
                  render_noop(r['noop'])]
    if r.get('compile'):
        parts += ['', 'Compile scale (part 3)', render_compile(r['compile'])]
    if r.get('fleet'):
        parts += ['', 'Fleet scale (part 4)', render_fleet(r['fleet'])]
        if r['fleet'].get('breakdown'):
            b = r['fleet']['breakdown']
            parts += ['', render_breakdown(b, 'Where the controller\'s CPU goes at %d hosts' % b['hosts'])]
        if r['fleet'].get('playbooks'):
            parts += ['', 'drift and verify', render_playbooks(r['fleet']['playbooks'])]
        parts += ['', 'Projection (controller CPU)', render_projection(r['fleet'])]
    if r.get('fleet_ab'):
        import fleet_ab
        parts += ['', 'Fleet A/B at %d hosts: this tree (A) and %s (B), and the role\'s shape'
                  % (r['fleet_ab']['hosts'], r['fleet_ab']['commit']), fleet_ab.render(r['fleet_ab'])]
    if r.get('reload'):
        parts += ['', 'Reload safety (part 5)', render_reload(r['reload'])]
    if r.get('sip'):
        import sip_guards
        parts += ['', 'SIP guards (part 6)', sip_guards.render(r['sip'])]
    if r.get('flows'):
        import flows_scale
        parts += ['', 'Ending flows after a block (part 7)', flows_scale.render(r['flows'])]
    if r.get('sets'):
        import sets_scale
        parts += ['', 'Countries and blocklists (part 8)', sets_scale.table(r['sets'])]
    if r.get('counters'):
        import counter_cost
        parts += ['', 'Drop counters in a no-op rerun (part 9)', counter_cost.render(r['counters'])]
    return '\n'.join(parts)


SIP_HEADING = '## SIP guards under real attack tools'
FLOWS_HEADING = '## Ending flows after a block'


def render_sip_section(sip):
    """The page's SIP section (lines), also written alone by a run of just the sip part."""
    import sip_guards
    return [SIP_HEADING, '', sip_guards.__doc__.split('\n\n', 2)[2].strip(), '',
            sip_guards.render(sip), '']


def render_flows_section(flows):
    """The page's flows section (lines), also written alone by a run of just the flows part."""
    import flows_scale
    return [FLOWS_HEADING, '', flows_scale.__doc__.split('\n\n', 2)[2].strip(), '',
            flows_scale.render(flows), '']


COUNTERS_HEADING = '## Drop counters in a no-op rerun'


def render_counters_section(counters):
    """The page's counters section (lines), also written alone by a run of just that part."""
    import counter_cost
    return [COUNTERS_HEADING, '', counter_cost.__doc__.split('\n\n', 1)[1].strip(), '',
            counter_cost.render(counters), '']


SETS_HEADING = '## Countries and blocklists'


def render_sets_section(sets):
    """The page's sets section (lines), also written alone by a run of just the sets part."""
    import sets_scale
    return [SETS_HEADING, '', sets_scale.__doc__.split('\n\n', 1)[1].strip(), '', sets_scale.table(sets), '']


def noop_goal_row(noop):
    """The no-op rerun's row of the summary (also refreshed by a run of just the noop part)."""
    return ['No-op rerun of the role, one host',
            'changed=%d, %d module tasks, %d module run%s (AnsiballZ), %s'
            % (noop['changed'], noop['module_task_count'], noop['ansiballz'], '' if noop['ansiballz'] == 1 else 's',
               _s(noop['seconds'])),
            'first apply on a clean host: %s' % _s(noop['first_apply']), '',
            'changed=0, ≤ %d module run%s' % (NOOP_MODULES, '' if NOOP_MODULES == 1 else 's'),
            _yes(noop['changed'] == 0 and noop['ansiballz'] <= NOOP_MODULES)
            if noop['changed'] == 0 else '**no** (changed)']


def render_noop_section(n):
    """The page's no-op section (lines), also written alone by a run of just the noop part."""
    return [NOOP_HEADING, '',
            'The `pbx_firewall` role (one play, `gather_facts: false`, like a rollout batch) on one lab host, '
            'with the same %d-network inventory and the role\'s defaults (%d IPv4 and %d IPv6 rules, %d '
            'ipsets), first on a clean host (%s), then again with nothing to change: '
            '**changed=%d**, %s (median of %d runs: %s). The lab image has fail2ban and an '
            '`/etc/asterisk/pjsip.conf`, so every part of the role runs.'
            % (n['networks'], n['rules_ipv4'], n['rules_ipv6'], n['ipsets'], _s(n['first_apply']), n['changed'],
               _s(n['seconds']), len(n['runs']), ', '.join(_s(x) for x in n['runs'])),
            '',
            'Module runs on the host, counted two ways: tasks that ran a module there, from a JSON stdout '
            'callback that ships with the benchmark (`bench/callback_plugins/bench_json.py`; ansible-core has '
            'none and Galaxy is not reachable) - every non-skipped task result whose action is not '
            'controller-only (set_fact, debug, meta, include/import, assert, fail, argument validation), although an '
            'action plugin may answer without running its module; '
            'and AnsiballZ executions counted on the host, with `ansible_python_interpreter` pointing to a '
            'wrapper that logs each start of python3 (with pipelining, one per module execution).',
            '',
            '**%d tasks that can run a module on the host ran; %d AnsiballZ executions (the module runs '
            'themselves)**; the play has %d tasks in all '
            '(%d ok, %d skipped).' % (n['module_task_count'], n['ansiballz'], n['tasks_total'], n['stats']['ok'],
                                      n['stats']['skipped']),
            '', render_noop(n), _noop_advice(n)]


SECTIONS = {'noop': (NOOP_HEADING, render_noop_section), 'sip': (SIP_HEADING, render_sip_section),
            'flows': (FLOWS_HEADING, render_flows_section),
            'counters': (COUNTERS_HEADING, render_counters_section), 'sets': (SETS_HEADING, render_sets_section)}
# parts with a row in the summary table that a run of the part alone refreshes
SUMMARY_ROWS = {'noop': noop_goal_row}


def write_section(part, measured, md=DOC):
    """Replace (or add before "## Reproduce") the section of one part in the published page."""
    heading, render = SECTIONS[part]
    with open(md) as handle:
        text = handle.read()
    section = '\n'.join(render(measured)) + '\n'
    if heading in text:
        head, rest = text.split(heading, 1)
        tail = rest[rest.index('\n## '):] if '\n## ' in rest else '\n'
        text = head + section + tail.lstrip('\n')
    elif '## Reproduce' in text:
        head, tail = text.split('## Reproduce', 1)
        text = head + section + '## Reproduce' + tail
    else:
        text += '\n' + section
    if part in SUMMARY_ROWS:            # its row of the summary table, found by its first cell
        row = SUMMARY_ROWS[part](measured)
        lines = text.split('\n')
        lines = [_table([], [row]).split('\n')[2] if line.startswith('| %s |' % row[0]) else line for line in lines]
        text = '\n'.join(lines)
    with open(md, 'w') as handle:
        handle.write(_with_reproduce(text))


# -- the chart --------------------------------------------------------------------------------

def chart(r, path=PNG):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    fig.suptitle('pbxops.firewall benchmarks (%s, %s cores)' % (r['machine']['date'], r['machine']['cores']))

    ax = axes[0][0]
    a = r.get('apply')
    if a:
        sizes = [row['rules'] for row in a['sizes']]
        series = [('this collection', [row['collection'] for row in a['sizes']], '#1f77b4'),
                  ('ansible.builtin.iptables loop', [row['loop'] for row in a['sizes']], '#d62728'),
                  ('ping + bare iptables-restore', [a['ping'] + row['restore'] for row in a['sizes']], '#7f7f7f')]
        width = 0.27
        for i, (label, values, color) in enumerate(series):
            xs = [k + (i - 1) * width for k in range(len(sizes))]
            rects = ax.bar(xs, values, width, label=label, color=color)
            for rect, value in zip(rects, values):
                ax.annotate('%.1f' % value, (rect.get_x() + rect.get_width() / 2, value), ha='center',
                            va='bottom', fontsize=8)
        ax.set_yscale('log')
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: '%g' % v))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        top = max(max(values) for _label, values, _color in series)
        ax.set_ylim(top=top * 4)
        ax.set_xticks(range(len(sizes)))
        ax.set_xticklabels(['%d rules' % n for n in sizes])
        ax.set_ylabel('seconds (log scale)')
        ax.set_title('Apply to one host')
        ax.legend(fontsize=8, loc='upper left')

    ax = axes[0][1]
    f = r.get('fleet')
    if f:
        hosts = [row['hosts'] for row in f['sizes']]
        for side, marker, label in (('apply', 'o-', 'apply (clean hosts)'), ('noop', 's-', 'no-op rerun'),
                                    ('ping', 'x-', 'ansible -m ping')):
            ax.plot(hosts, [row[side]['cpu_controller_per_host'] for row in f['sizes']], marker, label=label)
        ax.plot(hosts, [GOAL_APPLY_CPU * row['ping']['cpu_controller_per_host'] for row in f['sizes']], '--',
                color='#1f77b4', lw=0.8, label='goal: apply ≤ %g× ping' % GOAL_APPLY_CPU)
        ax.plot(hosts, [GOAL_NOOP_CPU * row['ping']['cpu_controller_per_host'] for row in f['sizes']], '--',
                color='#ff7f0e', lw=0.8, label='goal: no-op ≤ %g× ping' % GOAL_NOOP_CPU)
        ax.set_xticks(hosts)
        ax.set_xlabel('hosts (forks = hosts)')
        ax.set_ylabel('controller CPU seconds per host')
        ax.set_ylim(bottom=0)
        ax.set_title('Fleet: pbx_firewall role vs ansible -m ping')
        ax.legend(fontsize=8)

    ax = axes[1][0]
    c = r.get('compile')
    if c:
        labels = ['%dk' % (row['networks'] // 1000) for row in c]
        rects = ax.bar(labels, [row['seconds'] for row in c], color='#2ca02c', label='compile seconds')
        for rect, row in zip(rects, c):
            ax.annotate('%.2f s' % row['seconds'], (rect.get_x() + rect.get_width() / 2, row['seconds']),
                        ha='center', va='bottom', fontsize=8)
        ax.set_yscale('log')
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: '%g' % v))
        ax.set_ylim(top=max(row['seconds'] for row in c) * 5)
        ax.set_ylabel('compile seconds (log scale)')
        ax.set_xlabel('networks')
        twin = ax.twinx()
        twin.plot(labels, [row['peak_mib'] for row in c], 'D-', color='#9467bd', label='peak RSS MiB')
        for label, row in zip(labels, c):
            twin.annotate('%.0f MiB' % row['peak_mib'], (label, row['peak_mib']), textcoords='offset points',
                          xytext=(-8, 8), ha='right', fontsize=8, color='#9467bd')
        twin.set_ylabel('peak RSS MiB')
        twin.set_ylim(bottom=0, top=max(row['peak_mib'] for row in c) * 1.3)
        ax.set_title('Compile scale')
        handles = ax.get_legend_handles_labels()
        thandles = twin.get_legend_handles_labels()
        ax.legend(handles[0] + thandles[0], handles[1] + thandles[1], fontsize=8, loc='upper left')

    ax = axes[1][1]
    rel = r.get('reload')
    if rel:
        groups = ['allowed dropped', 'blocked accepted']
        sides = [('this collection', rel['collection'], '#1f77b4'), ('MikoPBX style', rel['mikopbx'], '#d62728')]
        width = 0.38
        for i, (label, x, color) in enumerate(sides):
            values = [x['allowed_dropped'], x['blocked_accepted']]
            xs = [k + (i - 0.5) * width for k in range(len(groups))]
            rects = ax.bar(xs, values, width, label=label, color=color)
            for rect, value in zip(rects, values):
                ax.annotate(str(value), (rect.get_x() + rect.get_width() / 2, value), ha='center', va='bottom',
                            fontsize=9)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups)
        ax.set_ylabel('probes (first packet of each)')
        ax.set_title('Reload safety: %d re-applies under traffic' % rel['applies'])
        ax.legend(fontsize=8)

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- docs/benchmarks.md -----------------------------------------------------------------------

def _noop_advice(n):
    """What makes the no-op rerun run more than NOOP_MODULES modules, from the measured tasks."""
    if n['ansiballz'] <= NOOP_MODULES:
        return ''
    tasks = [(name.replace('pbxops.firewall.pbx_firewall : ', ''), action, count)
             for name, action, count in n['module_tasks']]
    probes = [name for name, action, _c in tasks if action == 'stat']
    removals = [name for name, action, _c in tasks if action == 'file' and name.lower().startswith('remove')]
    templates = [name for name, action, _c in tasks if action in ('template', 'copy')]
    lines = ['', 'The rerun runs %d modules on the host, over the goal of %d. What contributes, and what could be '
             'merged:' % (n['ansiballz'], NOOP_MODULES), '']
    if len(probes) > 1:
        lines.append('- %d `stat` probes (%s): one module run could answer all of them (for example one '
                     '`ansible.builtin.find` over the directories, or one probe task whose result every part '
                     'reads);' % (len(probes), ', '.join('`%s`' % p for p in probes)))
    if removals:
        lines.append('- %s: a "make sure it is absent" task that runs a module on every run even though '
                     'there is nothing to remove; it could run only when the thing exists (e.g. known from a '
                     'probe that already runs), or be done by a module that already runs (the '
                     '`iptables_ruleset` module manages the other persistence files);'
                     % ', '.join('`%s`' % r for r in removals))
    if any(action == 'lineinfile' for _n, action, _c in tasks) and templates:
        pair = [name for name, action, _c in tasks if action == 'lineinfile']
        lines.append('- %s next to its template: two runs for one artefact (the template section file plus '
                     'the `#include` line); one `blockinfile` in the target file would be one;'
                     % ', '.join('`%s`' % p for p in pair))
    if templates:
        lines.append('- each `template`/`copy` task costs two AnsiballZ runs when nothing changes (its action '
                     'plugin runs `stat`, then `file` to check mode and owner): %d tasks, %d executions on the '
                     'host.' % (n['module_task_count'], n['ansiballz']))
    return '\n'.join(lines) + '\n'


def _apply_advice(a):
    """Why a speed-up goal was missed, from the measured numbers."""
    lines = []
    for row in a['sizes']:
        goal = 20 if row['rules'] <= 60 else 100
        if row['vs_loop'] >= goal:
            continue
        needed = row['loop'] / goal
        module = row['collection'] - a['ping']
        text = ('- %d rules: %.1f× (goal %d×). The goal needs the collection\'s run to take at most %s; it took '
                '%s, of which `ansible -m ping` alone (one Ansible run with one module on this host) is %s'
                % (row['rules'], row['vs_loop'], goal, _s(needed), _s(row['collection']), _s(a['ping'])))
        if needed < a['ping']:
            text += ', already more than the whole budget: no module can reach %d× against this loop here.' % goal
        elif 'no_rollback' in row:
            text += ('; the rest (%s) is compiling the policy, building and running the module, and the rollback '
                     'confirmation over a new SSH connection, which alone costs %s (the same run with '
                     '`rollback_timeout: 0` takes %s).'
                     % (_s(max(module, 0)), _s(max(row['collection'] - row['no_rollback'], 0)),
                        _s(row['no_rollback'])))
        else:
            text += '; the rest (%s) is the module\'s work, its rollback confirmation over a new SSH ' \
                    'connection and compiling the policy.' % _s(max(module, 0))
        lines.append(text)
    over = [row for row in a['sizes'] if row['vs_floor'] > 1.5]
    if over and len(a['sizes']) > 1:
        small, large = a['sizes'][0], a['sizes'][-1]
        extra_rules = large['rules'] - small['rules']
        module_ms = (large['collection'] - small['collection']) / extra_rules * 1000
        restore_ms = (large['restore'] - small['restore']) / extra_rules * 1000
        lines.append('- floor: %s over 1.5×. From %d to %d rules the collection\'s run grows by %s (%.1f ms per '
                     'rule) while the bare restore grows by %s (%.2f ms per rule): the per-rule cost is in the '
                     'module (reading, planning, the `--test` pass, verifying) or in compiling, not in the kernel.'
                     % (', '.join('%d rules %.2f×' % (row['rules'], row['vs_floor']) for row in over),
                        small['rules'], large['rules'], _s(large['collection'] - small['collection']), module_ms,
                        _s(large['restore'] - small['restore']), restore_ms))
    elif over:
        lines.append('- floor: %s over 1.5×.' % ', '.join('%d rules %.2f×' % (row['rules'], row['vs_floor'])
                                                          for row in over))
    if not lines:
        return ''
    per_rule = a['sizes'][-1]['loop'] / (a['sizes'][-1]['rules'] + 2)
    return ('\nGoals not met:\n\n' + '\n'.join(lines) +
            '\n\nThe loop costs about %.2f s per rule on this machine, the collection a few milliseconds, so the '
            'ratio grows with the rule count; what keeps it low is the collection\'s fixed cost of one Ansible '
            'run.\n' % per_rule)


BEFORE = os.path.join(lab.BENCH, 'before-issue21.json')


def _breakdown_section(f):
    """Where the controller's CPU goes: this run's instrumented runs, and the same measurement of
    the role before issue 21 (bench/before-issue21.json), for comparison."""
    out = []
    if f.get('breakdown'):
        b = f['breakdown']
        out += ['', render_breakdown(b, '### Where the controller\'s CPU goes (%d hosts)' % b['hosts']), '',
                'One more apply, no-op rerun and ping at %d hosts, each launched through '
                '`bench/instrument.py`: every worker process (one per task and host) adds its own CPU seconds '
                '(`getrusage`, counted from its fork) to its task, the main process (inventory, the strategy\'s '
                'per-host variables, forking, results, callbacks) its own, and the rest of the run\'s cgroup is '
                'SSH. `.venv/bin/python bench/profile_role.py --hosts N [--cprofile]` repeats it alone, with the '
                'hottest functions.' % b['hosts']]
    if os.path.exists(BEFORE):
        with open(BEFORE) as handle:
            before = json.load(handle)
        out += ['', render_breakdown(before['breakdown'], '### Before issue 21 (%s, commit %s, %d hosts)'
                                     % (before['date'], before['commit'], before['breakdown']['hosts'])), '',
                before['note']]
    return out + ['']


FLEET_HEADING = '## 4. Fleet scale'


def render_playbooks(p):
    """drift and verify over the whole fleet at the largest size."""
    n = p['hosts']
    d, v = p['drift'], p['verify']
    return _table(['playbook', 'hosts', 'wall', 'controller CPU s per host', 'outcome'], [
        ['`pbxops.firewall.drift`', n, _s(d['seconds']), '%.2f' % (d['cpu_controller'] / n),
         'rc=%d, drift on %s of %s hosts' % (d['rc'], d['drifted'], d['of'])],
        ['`pbxops.firewall.verify`', n, _s(v['seconds']), '%.2f' % (v['cpu_controller'] / n),
         'rc=%d, %s' % (v['rc'], v['summary'] or 'no report')]], ['---', '---:', '---:', '---:', '---'])


def render_projection(f):
    return _table(projection.header(), projection.rows(f), ['---', '---:'] + ['---:'] * (len(projection.header()) - 2))


def _repeats(count):
    if count == 1:
        return 'once'
    return '%s and the best run of each side counts' % ('twice' if count == 2 else '%d times' % count)


def fleet_section(f, kept_ab=None):
    """The page's fleet section (lines), also written alone by a run of just the fleet part;
    kept_ab: the A/B subsection as the page has it (a run with --fleet-ab writes it)."""
    largest = max(row['hosts'] for row in f['sizes'])
    out = [FLEET_HEADING, '',
           'The role as in part 2 on the first N of %d containers `pbxbench-h1..h%d` (started once), forks '
           '= N, one play, next to `ansible -m ping` with the same inventory, forks and SSH settings (one module '
           'over SSH: the floor a role is measured against). "apply" starts from clean hosts (owned chains and '
           'role files removed, an `/etc/asterisk/pjsip.conf` with one transport), so every host changes '
           '(firewall with rollback confirmation, fail2ban file and reload, Asterisk files and reload); "no-op '
           'rerun" and ping follow right after. Each size runs %s (all '
           'runs: `fleet-N-*.log` in the logs). CPU seconds: the controller\'s (the run\'s own cgroup: '
           '`ansible-playbook` or `ansible`, its forks, the SSH clients and their ControlMasters, which '
           '`getrusage` would miss) and the hosts\' (the containers\' cgroups: modules, sshd, fail2ban; less '
           'what the idle containers use, measured before: %s CPU s per second per host). Goals: controller CPU '
           'per host of an apply ≤ %g× ping\'s, of a no-op rerun ≤ %g× ping\'s, the same at every size, and the '
           'no-op rerun\'s wall time at %d hosts ≤ %g× ping\'s.'
           % (largest, largest, _repeats(f.get('repeats', 2)), '%.3f' % f['idle_cpu_per_host'] if f.get('idle_cpu_per_host') is not None else '-',
              GOAL_APPLY_CPU, GOAL_NOOP_CPU, WALL_GOAL_HOSTS, GOAL_NOOP_WALL),
           '', render_fleet(f), '', _fleet_advice(f)]
    out += _breakdown_section(f)
    out += kept_ab.rstrip('\n').split('\n') + [''] if kept_ab else []
    if f.get('playbooks'):
        out += ['### drift and verify at %d hosts' % f['playbooks']['hosts'], '',
                'After the largest size\'s no-op rerun, every host holds its policy: `pbxops.firewall.drift` '
                '(check mode and diff over every host, forks = hosts) must find no drift, and '
                '`pbxops.firewall.verify` sends real probes from one probe container on the management network '
                '(`pbxbench-probe`, 10.202.0.250) to every port of every service of every host\'s policy and '
                'compares each answer with the policy (128 probes at once).', '',
                render_playbooks(f['playbooks']), '']
    out += ['### Projection: 1,000 and 10,000 hosts', '',
            projection.describe(f) + ' Job slicing and its single canary: [docs/fleets.md](fleets.md).', '',
            render_projection(f), '']
    return out


def write_fleet_section(r, md=DOC):
    """Replace the fleet section and the fleet rows of the summary of the published page."""
    with open(md) as handle:
        text = handle.read()
    lines = fleet_section(r['fleet'], kept_ab=_kept_ab(text))
    lines[2:2] = ['This section and the fleet rows of the summary: `bench/run.py --parts fleet` alone, %s, %.1f min; '
                  'load average at the start %.2f %.2f %.2f, at the end %.2f %.2f %.2f.'
                  % ((r['machine']['date'], r.get('seconds', 0) / 60) + tuple(r['load_start'])
                     + tuple(r.get('load_end', (0, 0, 0)))), '']
    section = '\n'.join(lines)
    head, rest = text.split(FLEET_HEADING, 1)
    tail = rest[rest.index('\n## '):] if '\n## ' in rest else '\n'
    lines = head.split('\n')
    fleet_rows = [i for i, line in enumerate(lines) if line.startswith('| Role on ')]
    if fleet_rows:
        lines[fleet_rows[0]:fleet_rows[-1] + 1] = _table([], fleet_goal_rows(r['fleet'])).split('\n')[2:]
    text = '\n'.join(lines) + section + '\n' + tail.lstrip('\n')
    with open(md, 'w') as handle:
        handle.write(_with_reproduce(text))


AB_HEADING = '### A/B at one size, and the floor of the role\'s shape'


def _subsection(text, heading):
    """(start, end) of a subsection of text: from its heading line to the next heading of level 2
    or 3, or None."""
    start = text.find('\n%s\n' % heading)
    if start < 0:
        return None
    ends = [i for i in (text.find('\n### ', start + 1), text.find('\n## ', start + 1)) if i >= 0]
    return start + 1, (min(ends) + 1 if ends else len(text))


def _kept_ab(text):
    """The A/B subsection of a page (a run with --fleet-ab wrote it), or None."""
    span = _subsection(text, AB_HEADING)
    return text[span[0]:span[1]] if span else None


def fleet_ab_section(r):
    """The A/B subsection of the fleet section (lines), from a run with --fleet-ab."""
    import fleet_ab
    ab = r['fleet_ab']
    return [AB_HEADING, '',
            '`bench/run.py --parts fleet --fleet-ab %s --fleet-sizes %d --fleet-repeats %d`, %s, %.1f min; load average '
            'at the start %.2f %.2f %.2f, at the end %.2f %.2f %.2f.'
            % ((ab['commit'], ab['hosts'], len(ab['rounds']), r['machine']['date'], r.get('seconds', 0) / 60)
               + tuple(r['load_start']) + tuple(r.get('load_end', (0, 0, 0)))), '',
            '\n\n'.join(' '.join(paragraph.split()) for paragraph in fleet_ab.__doc__.split('\n\n')[2:]), '',
            fleet_ab.render(ab), '']


def write_fleet_ab_section(r, md=DOC):
    """Replace (or add, before drift and verify) the A/B subsection of the published page's fleet section."""
    with open(md) as handle:
        text = handle.read()
    section = '\n'.join(fleet_ab_section(r)) + '\n'
    span = _subsection(text, AB_HEADING)
    if span is None:
        fleet = text.index(FLEET_HEADING)
        after = [text.find(mark, fleet) for mark in ('\n### drift and verify', '\n### Projection', '\n## ')]
        at = min(i for i in after if i >= 0) + 1 if any(i >= 0 for i in after) else len(text)
        span = (at, at)
    text = text[:span[0]] + section + text[span[1]:]
    with open(md, 'w') as handle:
        handle.write(_with_reproduce(text))


REPRODUCE_HEADING = '## Reproduce'


def reproduce_section():
    """The page's Reproduce list (lines): every run that writes the page or a section of it."""
    return [REPRODUCE_HEADING, '', '```console',
            'make bench                                  # everything, rewrites this page',
            '.venv/bin/python bench/run.py --parts apply   # one part, print only (with --no-write)',
            '.venv/bin/python bench/run.py --parts noop    # rewrites only the no-op section and its summary row',
            '.venv/bin/python bench/run.py --parts fleet --fleet-sizes 1,20,50,100 --fleet-profile 20   '
            '# rewrites only the fleet section',
            '.venv/bin/python bench/run.py --parts fleet --fleet-ab a880f1b   # only its A/B part: this tree vs '
            'a commit at 20 hosts, and the floor of the role\'s shape',
            '.venv/bin/python bench/run.py --parts sip     # rewrites only the SIP section',
            '.venv/bin/python bench/run.py --parts flows   # rewrites only the flows section',
            '.venv/bin/python bench/run.py --parts sets    # rewrites only the sets section',
            '.venv/bin/python bench/run.py --parts counters   # rewrites only the counters section',
            '.venv/bin/python bench/run.py --quick         # small sizes, to try the harness',
            '.venv/bin/python bench/run.py --render lab/.cache/bench/results.json   # page from saved results',
            '```', '']


def _with_reproduce(text):
    """The page with its Reproduce section as reproduce_section() gives it (added at the end if missing)."""
    section = '\n'.join(reproduce_section())
    if '\n%s\n' % REPRODUCE_HEADING not in text:
        return text.rstrip('\n') + '\n\n' + section
    head, rest = text.split('\n%s\n' % REPRODUCE_HEADING, 1)
    tail = rest[rest.index('\n## ') + 1:] if '\n## ' in rest else ''
    return head + '\n' + section + ('\n' + tail if tail else '')


def render_doc(r):
    a, n, c, f, rel = r['apply'], r['noop'], r['compile'], r['fleet'], r['reload']
    out = ['# Benchmarks', '',
           '`make bench` (`bench/run.py`) measures everything below in one run and rewrites this page and '
           '`docs/benchmarks.png`. It builds its own lab from the demo lab\'s image: containers and networks '
           'named `pbxbench-*` (Docker bridges `pbxbench-mgmt` 10.202.0.0/24 and `pbxbench-cli` '
           '10.202.10.0/24), reached over SSH like the demo, and removes them at the end. '
           'Raw results: `lab/.cache/bench/results.json`; every Ansible run\'s output: `lab/.cache/bench/logs/`.',
           '', '## Machine', '', render_machine(r), '',
           'The load average includes the benchmark\'s own work. Other sessions may share the two cores '
           '(a load above 2 means they did): absolute times then stretch, while every ratio compares runs '
           'made back to back on the same host.',
           '', '## Summary', '', render_summary(r), '', '![benchmark chart](benchmarks.png)', '',
           '## 1. Apply a policy to one host', '',
           'Policies come from the inventory model: the management network (ssh), the client network '
           '(sip allowed; web and iax blocked) and filler networks, each a distinct /24 or /32 allowing one '
           'service, compiled with `ipset_threshold=0` (every subnet a real rule), IPv6 off and no SIP '
           'scanner rules, so that the compiled IPv4 chain has exactly %s rules (%s networks).'
           % (' / '.join(str(x['rules']) for x in a['sizes']), ' / '.join(str(x['networks']) for x in a['sizes'])),
           '',
           '- **this collection**: `ansible-playbook` with one `pbxops.firewall.iptables_ruleset` task '
           '(the `firewall_ruleset` filter compiles the policy inside the task; `rollback_timeout: 30`, '
           'so the rollback is armed and confirmed over a new SSH connection; `persist: false`); median of 3. '
           'The same run with `rollback_timeout: 0` (column "collection without rollback", median of 3) is '
           'not a compared side: it shows what the confirmation costs;',
           '- **builtin loop**: `ansible.builtin.iptables` with `chain_management` to create `PBX-FIREWALL`, '
           'one loop item per rule in the same order (source, protocol, port(s), ICMP type, ctstate, '
           'comment, target), then the jump from INPUT: rules + 2 module runs; measured once;',
           '- **floor**: the same chain and jump as one `iptables-restore --noflush` piped through one `ssh` '
           'call (median of 3), plus one `ansible -m ping` (median of 3).',
           '',
           'Every side starts from the same clean host (no owned chain, empty INPUT) and every Ansible '
           'run opens its own SSH connections (a fresh ControlPath directory per run). After each side the '
           'filter table\'s `PBX-FIREWALL` chain and INPUT are read with `iptables-save`: the three sides '
           'must be identical (column "same iptables-save").', '', render_apply(a), _apply_advice(a)]
    out += render_noop_section(n)
    out += ['## 3. Compile scale', '',
            '`bench/compile_scale.py`: the `firewall_ruleset` compiler alone, each size in a fresh Python '
            'process (peak RSS includes the interpreter and netaddr). The networks use five service sets and '
            'every subnet has an IPv6 twin, so above the ipset threshold (16) the rules stay few and the '
            'subnets go into ipsets.', '', render_compile(c), '']
    kept = None
    if os.path.exists(DOC):
        with open(DOC) as handle:
            kept = _kept_ab(handle.read())
    out += fleet_section(f, kept_ab=kept)
    out += ['## 5. Reload safety', '',
            'Two 60-rule policies, both allowing service A (sip: TCP and UDP 5060) and blocking service B '
            '(web TCP 80, iax UDP 4569) from the client network, differing only in an unrelated network, '
            'so every re-apply really changes the chain. The client container `pbxbench-client` '
            '(10.202.10.101, on the host\'s client network) runs `bench/traffic_client.py`: every 10 ms one '
            'NEW TCP connection and one UDP datagram (each from a new source port) to A and to B; on the host, '
            '`bench/responder.py` serves A and B (TCP listen, UDP echo with an 8 MiB receive buffer). Every '
            'probe is judged on its first packet, in a way a busy machine cannot blur: a TCP probe passed when '
            'its connection completed without a SYN retransmission (the kernel\'s TCP_INFO says so; the '
            'SYN-ACK comes from the host\'s kernel, not from a process), and a UDP probe passed when the echo '
            'came back, however late (UDP has no retransmission; the client waits 5 s). Blocked TCP probes '
            'whose first SYN was dropped but a retransmitted SYN got in are shown apart.', '',
            '- **this collection**: one `ansible-playbook` whose single `pbxops.firewall.iptables_ruleset` '
            'task loops %d times over the two compiled rulesets (the module itself, through Ansible, with '
            'rollback confirmation; its apply path is one `iptables-restore --noflush` transaction);'
            % rel['applies'],
            '- **MikoPBX style**: a script on the host that reloads the way MikoPBX does: '
            '`iptables -F INPUT`, then the same rules appended one `iptables -A INPUT ...` command at a time, '
            'the final DROP last. Its %d reloads start at the collection\'s average interval (%.2f s), so both '
            'sides get the same number of reloads over the same time and the same client load.'
            % (rel['applies'], rel['mikopbx']['interval']),
            '- **control**: the policy in place and no reloads (the harness itself loses nothing).', '',
            render_reload(rel), '',
            'Between `iptables -F INPUT` and the final DROP the MikoPBX-style chain accepts everything '
            '(INPUT\'s policy is ACCEPT), so blocked probes get through while rules are added one by one; '
            'allowed traffic is not dropped there, because the flush leaves nothing that drops. %s The '
            'responder on the host answered %s and the host\'s UDP receive errors during the run were %s.'
            % ('The collection switches the whole chain in one kernel transaction: no probe saw an in-between '
               'state.' if rel['collection']['allowed_dropped'] == 0 and rel['collection']['blocked_accepted'] == 0
               else '**The collection did not reach 0 and 0 in this run.**',
               ', '.join('%d %s' % (v, k.upper()) for k, v in sorted(rel['responder']['answered'].items())),
               ', '.join('%s %d' % (k, v) for k, v in sorted(rel['responder']['udp_errors'].items()))), '']
    out += render_sip_section(r['sip']) if r.get('sip') else []
    out += render_flows_section(r['flows']) if r.get('flows') else []
    out += render_sets_section(r['sets']) if r.get('sets') else []
    out += render_counters_section(r['counters']) if r.get('counters') else []
    out += reproduce_section()
    return '\n'.join(out)


def write_docs(r, md=DOC, png=PNG):
    """The page and the chart (the page needs every part; a partial run gets the tables only)."""
    parts = ('apply', 'noop', 'compile', 'fleet', 'reload', 'sip', 'flows', 'sets')
    text = render_doc(r) if all(r.get(p) for p in parts) else '# Benchmarks (partial run)\n\n' + render_text(r) + '\n'
    with open(md, 'w') as handle:
        handle.write(text)
    chart(r, png)
