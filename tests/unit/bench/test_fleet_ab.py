# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/fleet_ab.py and its part of the page: medians, paired ratios, the shape's costs, and
the A/B subsection written into (and kept in) docs/benchmarks.md's fleet section."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path[:0] = [os.path.join(ROOT, 'bench')]

import fleet_ab  # noqa: E402  pylint: disable=wrong-import-position
import report  # noqa: E402  pylint: disable=wrong-import-position


def _rec(cpu, seconds=10.0, hosts_cpu=0.3):
    return {'seconds': seconds, 'cpu_controller_per_host': cpu, 'cpu_hosts_per_host': hosts_cpu, 'changed': 0,
            'hosts_changed': 20, 'recap_hosts': 20}


def _ab(scale=(1.0, 1.2, 0.9)):
    """Three rounds in which A costs 1.1x B and the machine's speed moves every figure by `scale`."""
    rounds = []
    for i, f in enumerate(scale):
        runs = {}
        for side, m in (('A', 1.1), ('B', 1.0)):
            runs.update({'%s:apply' % side: _rec(1.2 * m * f, 40), '%s:noop' % side: _rec(0.6 * m * f, 15),
                         '%s:ping' % side: _rec(0.25 * f, 6)})
        runs.update({'shape3': _rec(0.40 * f, 8), 'shape4': _rec(0.47 * f, 9)})
        for name in fleet_ab.SETTINGS:
            runs.update({'%s:noop' % name: _rec(0.6 * f, 16), '%s:ping' % name: _rec(0.25 * f, 7)})
        rounds.append({'order': 'AB' if i % 2 == 0 else 'BA', 'runs': runs})
    return {'hosts': 20, 'commit': 'a880f1b', 'rounds': rounds, 'idle_cpu_per_host': 0.0,
            'medians': fleet_ab.summarize(rounds)}


def test_medians_are_per_run_over_the_rounds():
    med = _ab()['medians']
    assert med['A:noop']['cpu_controller_per_host'] == pytest.approx(0.66)      # 0.6 * 1.1 * median(1, 1.2, 0.9)
    assert med['B:ping']['seconds'] == 6
    assert med['shape4']['cpu_hosts_per_host'] == pytest.approx(0.3)


def test_a_figure_missing_in_a_round_has_no_median():
    rounds = _ab()['rounds']
    rounds[1]['runs']['A:ping']['cpu_hosts_per_host'] = None
    assert 'cpu_hosts_per_host' not in fleet_ab.summarize(rounds)['A:ping']


def test_paired_ratios_take_out_what_moves_both_sides():
    ab = _ab(scale=(1.0, 1.5, 0.7))
    assert fleet_ab.paired(ab['rounds'], 'A:noop', 'B:noop') == pytest.approx([1.1, 1.1, 1.1])
    assert fleet_ab.paired(ab['rounds'], 'A:ping', 'B:ping') == pytest.approx([1.0, 1.0, 1.0])


def test_against_its_own_ping_a_side_slowed_by_the_machine_is_not_a_cost():
    ab = _ab(scale=(1.0, 1.0))
    for rnd in ab['rounds']:                 # A's turn ran on a machine 30% slower: every A figure moves
        for kind in fleet_ab.KINDS:
            rnd['runs']['A:%s' % kind]['cpu_controller_per_host'] *= 1.3
    assert fleet_ab.paired(ab['rounds'], 'A:ping', 'B:ping') == pytest.approx([1.3, 1.3])
    assert fleet_ab.paired_vs_ping(ab['rounds'], 'noop') == pytest.approx([1.1, 1.1])


@pytest.mark.parametrize('ratios, reading', [
    ([1.2, 1.01, 1.5], 'more in every round'),
    ([0.9, 0.99], 'less in every round'),
    ([1.1, 0.9, 1.0], 'no consistent change'),
    ([1.0], 'no consistent change'),
])
def test_direction(ratios, reading):
    assert fleet_ab.direction(ratios) == reading


def test_shape_costs():
    costs = fleet_ab.shape_costs(_ab()['medians'])
    assert costs['shape_over_ping'] == pytest.approx(0.15)
    assert costs['one_more_task'] == pytest.approx(0.07)
    assert costs['role_over_shape'] == pytest.approx(0.66 - 0.47)
    assert costs['shape3_vs_ping'] == pytest.approx(1.6)
    assert costs['noop_vs_ping'] == pytest.approx(2.64)


@pytest.mark.parametrize('shape4, verdict', [(0.47, '**not** reachable'), (0.30, 'reachable only if')])
def test_the_goal_is_judged_from_the_shape(shape4, verdict):
    ab = _ab(scale=(1.0,))
    ab['rounds'][0]['runs']['shape4']['cpu_controller_per_host'] = shape4
    ab['medians'] = fleet_ab.summarize(ab['rounds'])
    text = fleet_ab.conclusions(ab)
    assert verdict in text
    assert 'A against B (a880f1b)' in text


def _measured(total, main, tasks):
    """profile_role.measure's result for 20 hosts: tasks [(action, CPU s per host)]."""
    workers = sum(cpu for _action, cpu in tasks) * 20
    return {'seconds': 8.0, 'total': total * 20, 'main': main * 20, 'workers': workers,
            'ssh_and_rest': total * 20 - main * 20 - workers, 'worker_runs': 20 * len(tasks),
            'tasks': [{'task': action, 'action': action, 'runs': 20, 'skipped': 0, 'cpu': cpu * 20}
                      for action, cpu in tasks]}


def test_the_instrumented_runs_show_each_task():
    ab = _ab()
    ab['breakdown'] = {'ping': _measured(0.25, 0.06, [('ansible.builtin.ping', 0.17)]),
                       'shape3': _measured(0.40, 0.10, [('ansible.builtin.validate_argument_spec', 0.06),
                                                        ('ansible.builtin.set_fact', 0.05), ('ansible.builtin.ping', 0.17)]),
                       'shape4': _measured(0.47, 0.11, [('ansible.builtin.validate_argument_spec', 0.06),
                                                        ('ansible.builtin.set_fact', 0.05), ('ansible.builtin.ping', 0.17),
                                                        ('ansible.builtin.set_fact', 0.05)])}
    text = fleet_ab.render(ab)
    assert '| shape, 3 tasks | 8.00 s | 0.400 | 0.100 | 0.280 | 0.020 | validate_argument_spec 0.060, set_fact 0.050, ping 0.170 |' in text
    assert 'instrumented run' not in fleet_ab.render(_ab())     # results of a run before the breakdown


def test_every_table_renders_every_round():
    text = fleet_ab.render(_ab())
    assert text.count(') | B (a880f1b) |') == 3        # one row per round
    assert '| 2 (B then A) | A |' in text
    assert '`strategy = free` | **no**' in text
    assert '| no-op rerun | 0.66 | 0.60 | 1.10× (1.10, 1.10, 1.10) | 1.10× (1.10, 1.10, 1.10) |' in text
    assert '| 1.60×, 1.60×, 1.60× |' in text                         # the three-task shape against ping
    assert 'no consistent change' not in text
    assert '`forks = 5` | yes | 0.60 | 0.25 | 2.40× | less in every round: 0.91×, 0.91×, 0.91× |' in text


PAGE = '''# Benchmarks

## 4. Fleet scale

The sizes.

### Where the controller's CPU goes (20 hosts)

A table.

### drift and verify at 100 hosts

drift.

### Projection: 1,000 and 10,000 hosts

projection.

## 5. Reload safety

reload.

## Reproduce

```console
make bench
```
'''


def _results():
    return {'fleet_ab': _ab(), 'machine': {'date': '2026-12-07 15:00 UTC'}, 'load_start': (1, 1, 1),
            'load_end': (2, 2, 2), 'seconds': 600}


def test_the_ab_subsection_goes_before_drift_and_is_replaced_in_place(tmp_path):
    page = tmp_path / 'benchmarks.md'
    page.write_text(PAGE)
    report.write_fleet_ab_section(_results(), md=str(page))
    first = page.read_text()
    assert first.index('### Where the controller') < first.index(report.AB_HEADING) < first.index('### drift and verify')
    assert first.count('## Reproduce') == 1 and '--fleet-ab a880f1b' in first.split('## Reproduce')[1]
    assert first.endswith('```\n')
    report.write_fleet_ab_section(_results(), md=str(page))
    assert page.read_text() == first


def _fleet():
    """A fleet part's results at one size, as fleet_scale.run gives them."""
    side = {'seconds': 10.0, 'cpu_controller': 10.0, 'cpu_controller_per_host': 0.5, 'cpu_hosts_per_host': 0.3,
            'cpu_vs_ping': 2.0, 'wall_vs_ping': 1.5}
    return {'sizes': [{'hosts': 20, 'apply': side, 'noop': side, 'ping': side, 'all_changed': True,
                       'noop_changed': 0, 'load_before': 1.0}], 'idle_cpu_per_host': 0.0, 'repeats': 1}


def test_a_fleet_run_keeps_the_ab_subsection(tmp_path):
    page = tmp_path / 'benchmarks.md'
    page.write_text(PAGE)
    assert report._kept_ab(PAGE) is None
    report.write_fleet_ab_section(_results(), md=str(page))
    kept = report._kept_ab(page.read_text())
    assert kept.startswith(report.AB_HEADING) and '### drift' not in kept
    report.write_fleet_section(dict(_results(), fleet=_fleet()), md=str(page))
    text = page.read_text()
    assert report._kept_ab(text) == kept
    assert text.index(report.AB_HEADING) < text.index('### Projection') < text.index('## 5. Reload safety')
    assert 'The sizes.' not in text     # the fleet section itself was rewritten
