# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The drop report as Prometheus metrics for node_exporter's textfile collector (private).

Private to the pbxops.firewall collection. ``render`` turns one host's report
(``_report.collect``) into the text exposition format; ``write`` puts it into the
collector's directory atomically (a temporary file that does not end in ``.prom``, renamed
over ``pbx_firewall.prom``), so node_exporter never reads half a file. The metric names
are defined here once; the README lists them. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.pbxops.firewall.plugins.module_utils import _steps

FILE_NAME = 'pbx_firewall.prom'
# Debian's prometheus-node-exporter reads this directory (--collector.textfile.directory)
DEBIAN_TEXTFILE_DIR = '/var/lib/prometheus/node-exporter'

METRICS = (
    ('pbx_firewall_drops_total', 'counter',
     'Packets the PBX firewall dropped, by reason, deciding network and address family.'),
    ('pbx_firewall_drop_bytes_total', 'counter',
     'Bytes of the packets the PBX firewall dropped, by reason, deciding network and address family.'),
    ('pbx_firewall_bans', 'gauge', 'Addresses fail2ban bans now, per jail.'),
    ('pbx_firewall_rules', 'gauge', 'Rules in the chains the PBX firewall owns, per address family.'),
    ('pbx_firewall_last_apply_timestamp_seconds', 'gauge',
     'When the owned rules were last changed by an apply or loaded by the restore script.'),
)


def _label(value):
    return (value or '').replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def _labels(**labels):
    return '{%s}' % ','.join('%s="%s"' % (k, _label(labels[k])) for k in sorted(labels))


def _number(value):
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    return '%d' % value


def render(report):
    """The exposition text of one host's report (``_report.collect``)."""
    samples = {name: [] for name, _kind, _help in METRICS}
    for row in report['drops']:
        labels = _labels(reason=row['reason'], network=row['network'], family=row['family'])
        samples['pbx_firewall_drops_total'].append((labels, row['packets']))
        samples['pbx_firewall_drop_bytes_total'].append((labels, row['bytes']))
    for jail in sorted(report['bans'] or {}):
        samples['pbx_firewall_bans'].append((_labels(jail=jail), len(report['bans'][jail])))
    for family in sorted(report['rule_count']):
        samples['pbx_firewall_rules'].append((_labels(family=family), report['rule_count'][family]))
    if report['last_apply'] is not None:
        samples['pbx_firewall_last_apply_timestamp_seconds'].append(('', report['last_apply']))
    lines = []
    for name, kind, text in METRICS:
        lines += ['# HELP %s %s' % (name, text), '# TYPE %s %s' % (name, kind)]
        lines += ['%s%s %s' % (name, labels, _number(value)) for labels, value in samples[name]]
    return '\n'.join(lines) + '\n'


def textfile_dir(option, exists=os.path.isdir):
    """The directory to write to: ``option`` when it names one, else Debian's when it exists;
    None when there is none (``option`` '': metrics off)."""
    if option == '':
        return None
    if option not in (None, 'auto'):
        return option
    return DEBIAN_TEXTFILE_DIR if exists(DEBIAN_TEXTFILE_DIR) else None


def write(directory, text):
    """Write ``pbx_firewall.prom`` in ``directory`` atomically; returns its path."""
    path = os.path.join(directory, FILE_NAME)
    _steps.write_atomically(path, text, 0o644, prefix='.%s.' % FILE_NAME)
    return path
