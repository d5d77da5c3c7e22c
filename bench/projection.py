# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the fleet benchmark's measured controller CPU means for 1,000 and 10,000 hosts.

From the fleet part's sizes (``fleet_scale.py``), per run kind (apply, no-op rerun, ping), a
least-squares line through (hosts, controller CPU s): the slope is the CPU per host, the
intercept what one run costs whatever its size (Ansible starting, reading the inventory and
the role). A fleet of H hosts then costs ``fixed + H * per_host`` CPU seconds on one
controller; spread over C cores, no run can be faster than that divided by C. On AWX/AAP
with job slicing, each of N execution nodes runs one slice of H/N hosts and pays the fixed
cost again. These are lower bounds of the wall time: they assume the cores do nothing else
and enough forks to keep them busy.
"""

KINDS = (('apply', 'apply (every host changes)'), ('noop', 'no-op rerun / drift check'),
         ('ping', '`ansible -m ping` (the floor)'))
FLEETS = (1000, 10000)
CORES = (2, 8, 32)
NODES = (4, 16)           # AWX/AAP execution nodes, one slice each
NODE_CORES = 4


def fit(points):
    """(per host, fixed) of the least-squares line through [(hosts, cpu s)]."""
    n = len(points)
    if n == 1:
        hosts, cpu = points[0]
        return cpu / hosts, 0.0
    xs, ys = [x for x, y in points], [y for x, y in points]
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x in xs)
    return slope, max(mean_y - slope * mean_x, 0.0)


def costs(fleet):
    """{kind: (CPU s per host, fixed CPU s per run)} from the fleet part's results."""
    return {kind: fit([(row['hosts'], row[kind]['cpu_controller']) for row in fleet['sizes']])
            for kind, _label in KINDS}


def _duration(seconds):
    if seconds < 90:
        return '%.0f s' % seconds
    if seconds < 90 * 60:
        return '%.0f min' % (seconds / 60)
    return '%.1f h' % (seconds / 3600)


def rows(fleet):
    """Table rows: run, hosts, controller CPU in all, then the least wall time per setup."""
    out = []
    for kind, label in KINDS:
        per_host, fixed = costs(fleet)[kind]
        for hosts in FLEETS:
            total = fixed + hosts * per_host
            cells = [label, '{:,}'.format(hosts), _duration(total)]
            cells += [_duration(total / cores) for cores in CORES]
            cells += [_duration((fixed + hosts / nodes * per_host) / NODE_CORES) for nodes in NODES]
            out.append(cells)
    return out


def header():
    return (['run', 'hosts', 'controller CPU in all'] + ['%d cores' % c for c in CORES]
            + ['%d AWX nodes × %d cores' % (n, NODE_CORES) for n in NODES])


def describe(fleet):
    """How the projection is made, and its measured inputs, as a paragraph of Markdown."""
    sizes = ', '.join(str(row['hosts']) for row in fleet['sizes'])
    parts = ['%s %.3f CPU s per host + %.1f per run' % (kind, per_host, fixed)
             for kind, (per_host, fixed) in costs(fleet).items()]
    method = ' '.join(__doc__.split('\n\n', 1)[1].split()).replace('``', '`')
    return '%s Measured above (%s hosts): %s.' % (method, sizes, '; '.join(parts))
