# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report playbook's fleet view (private to pbxops.firewall).

This file is private to the ``pbxops.firewall`` collection; its interface may change
without notice. It owns the controller's side of ``pbxops.firewall.report``: it takes each
PBX's ``firewall_report`` result (or the lack of one: an unreachable host), and builds the
whole report: per host its drops, busiest SIP sources and bans, fleet totals per reason,
and the text table the playbook prints. Pure Python, no Ansible imports; the work is one
pass over the hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.pbxops.firewall.plugins.module_utils._reasons import REASONS

OK = 'ok'
UNREACHABLE = 'unreachable'
ERROR = 'error'
HOST_KEYS = ('backend', 'drops', 'rule_count', 'sip_sources', 'bans', 'last_apply', 'boot', 'notes',
             'metrics_file')


def _when(epoch):
    return '-' if epoch is None else time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(epoch))


def _host(name, result):
    """One host's entry from its registered result (None, or a dict without drops: no report)."""
    if not isinstance(result, dict) or result.get('unreachable'):
        message = result.get('msg') if isinstance(result, dict) else None
        return {'name': name, 'status': UNREACHABLE, 'error': message or 'no answer (unreachable)'}
    if result.get('failed') or result.get('skipped') or 'drops' not in result:
        message = result.get('msg') or ('skipped' if result.get('skipped') else 'no report returned')
        return {'name': name, 'status': ERROR, 'error': message}
    entry = {'name': name, 'status': OK, 'error': None}
    for key in HOST_KEYS:
        entry[key] = result.get(key)
    for row in entry['drops'] or []:
        row['since_utc'] = _when(row.get('since'))
    return entry


def _totals(hosts):
    by_reason = {}
    bans = {}
    for host in hosts:
        if host['status'] != OK:
            continue
        for row in host['drops'] or []:
            total = by_reason.setdefault(row['reason'], {'reason': row['reason'], 'packets': 0, 'bytes': 0,
                                                         'hosts': []})
            total['packets'] += row['packets']
            total['bytes'] += row['bytes']
            if row['packets'] and host['name'] not in total['hosts']:
                total['hosts'].append(host['name'])
        for jail, addresses in (host['bans'] or {}).items():
            bans[jail] = bans.get(jail, 0) + len(addresses)
    order = list(REASONS)
    drops = sorted(by_reason.values(), key=lambda t: order.index(t['reason']) if t['reason'] in order else 99)
    return {'drops': drops, 'bans': dict(sorted(bans.items())),
            'hosts': len(hosts), 'reported': sum(h['status'] == OK for h in hosts),
            'unreachable': [h['name'] for h in hosts if h['status'] == UNREACHABLE],
            'errors': [h['name'] for h in hosts if h['status'] == ERROR]}


def _source_text(source):
    text = '%s %g/%d' % (source['source'], source['used'], source['burst'])
    return text + (' over the limit' if source['over_limit'] else '')


def _host_lines(host):
    if host['status'] != OK:
        return ['%s: %s: %s' % (host['name'], host['status'], host['error'])]
    counts = ', '.join('%s %d' % (f, n) for f, n in sorted((host['rule_count'] or {}).items())) or 'none'
    lines = ['%s (%s; rules %s; last apply %s UTC)'
             % (host['name'], host['backend'], counts, _when(host['last_apply']))]
    rows = [r for r in host['drops'] or [] if r['packets']]
    if rows:
        lines.append('  %-10s %-24s %-5s %10s %12s  %s'
                     % ('reason', 'network', 'fam', 'packets', 'bytes', 'since (UTC)'))
        for row in rows:
            lines.append('  %-10s %-24s %-5s %10d %12d  %s' % (
                row['reason'], row['network'] or '-', row['family'].replace('ipv', 'v'), row['packets'],
                row['bytes'], row['since_utc']))
    silent = len(host['drops'] or []) - len(rows)
    if not rows:
        lines.append('  no drops counted')
    elif silent:
        lines.append('  (and %d reason/network row%s without drops)' % (silent, '' if silent == 1 else 's'))
    if host['sip_sources']:
        lines.append('  busiest SIP sources (burst used): %s' % ', '.join(_source_text(s) for s in host['sip_sources']))
    if host['bans'] is not None:
        bans = ', '.join('%s %d%s' % (jail, len(addresses), ' (%s)' % ', '.join(addresses[:5]) if addresses else '')
                         for jail, addresses in sorted(host['bans'].items()))
        lines.append('  fail2ban bans: %s' % (bans or 'no jails'))
    for note in host['notes'] or []:
        lines.append('  note: %s' % note)
    return lines


def summary(results):
    """The whole report from ``[{'name': host, 'result': registered result or None}, ...]``."""
    hosts = [_host(str(item.get('name')), item.get('result')) for item in results]
    totals = _totals(hosts)
    lines = []
    for host in hosts:
        lines += _host_lines(host)
    lines.append('Fleet: %d host(s), %d reported, %d unreachable, %d with errors' % (
        totals['hosts'], totals['reported'], len(totals['unreachable']), len(totals['errors'])))
    for total in totals['drops']:
        lines.append('  %-10s %10d packets %12d bytes  on %s' % (
            total['reason'], total['packets'], total['bytes'], ', '.join(total['hosts']) or 'no host'))
    if totals['bans']:
        lines.append('  fail2ban bans: %s' % ', '.join('%s %d' % item for item in totals['bans'].items()))
    if totals['unreachable']:
        lines.append('  unreachable: %s' % ', '.join(totals['unreachable']))
    return {'hosts': {h['name']: h for h in hosts}, 'totals': totals, 'lines': lines}
