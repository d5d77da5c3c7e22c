# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report playbook's fleet view: per-host entries, totals, the table."""

from __future__ import annotations

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _report_summary


def drop(reason, packets, network=None, family='ipv4', size=60):
    return {'family': family, 'reason': reason, 'network': network, 'packets': packets, 'bytes': packets * size,
            'rules': 1, 'since': 1796601600.0}


PBX1 = {'changed': False, 'backend': 'nft', 'rule_count': {'ipv4': 30, 'ipv6': 28}, 'last_apply': 1796601600.0,
        'boot': 1796500000.0, 'metrics_file': None, 'notes': [],
        'drops': [drop('scanner', 212, size=500), drop('flood', 1843, size=480), drop('block', 5, 'Internet'),
                  drop('block', 0, 'VPN'), drop('default', 12)],
        'sip_sources': [{'family': 'ipv4', 'table': 'pbxfw-sip', 'source': '10.201.30.101', 'used': 40.0,
                         'burst': 40, 'over_limit': True}],
        'bans': {'sshd': ['10.201.20.101'], 'asterisk': []}}
PBX2 = {'changed': False, 'backend': 'legacy', 'rule_count': {'ipv4': 30}, 'last_apply': None, 'boot': None,
        'metrics_file': '/var/lib/prometheus/node-exporter/pbx_firewall.prom',
        'notes': ['fail2ban-client not found'], 'drops': [drop('default', 0)], 'sip_sources': [], 'bans': None}


def test_hosts_totals_and_table():
    report = _report_summary.summary([
        {'name': 'pbx1', 'result': PBX1},
        {'name': 'pbx2', 'result': PBX2},
        {'name': 'pbx3', 'result': None},
        {'name': 'pbx4', 'result': {'unreachable': True, 'msg': 'Failed to connect to the host via ssh'}},
        {'name': 'pbx5', 'result': {'failed': True, 'msg': 'iptables-nft-restore/-save ... not found'}},
    ])
    assert [(h, e['status']) for h, e in report['hosts'].items()] == [
        ('pbx1', 'ok'), ('pbx2', 'ok'), ('pbx3', 'unreachable'), ('pbx4', 'unreachable'), ('pbx5', 'error')]
    assert report['hosts']['pbx4']['error'] == 'Failed to connect to the host via ssh'
    assert report['hosts']['pbx1']['drops'][0]['since_utc'] == '2026-12-07 00:00:00'
    assert report['totals'] == {
        'drops': [{'reason': 'scanner', 'packets': 212, 'bytes': 106000, 'hosts': ['pbx1']},
                  {'reason': 'flood', 'packets': 1843, 'bytes': 884640, 'hosts': ['pbx1']},
                  {'reason': 'block', 'packets': 5, 'bytes': 300, 'hosts': ['pbx1']},
                  {'reason': 'default', 'packets': 12, 'bytes': 720, 'hosts': ['pbx1']}],
        'bans': {'asterisk': 0, 'sshd': 1},
        'hosts': 5, 'reported': 2, 'unreachable': ['pbx3', 'pbx4'], 'errors': ['pbx5']}
    assert report['lines'] == [
        'pbx1 (nft; rules ipv4 30, ipv6 28; last apply 2026-12-07 00:00:00 UTC)',
        '  reason     network                  fam      packets        bytes  since (UTC)',
        '  scanner    -                        v4           212       106000  2026-12-07 00:00:00',
        '  flood      -                        v4          1843       884640  2026-12-07 00:00:00',
        '  block      Internet                 v4             5          300  2026-12-07 00:00:00',
        '  default    -                        v4            12          720  2026-12-07 00:00:00',
        '  (and 1 reason/network row without drops)',
        '  busiest SIP sources (burst used): 10.201.30.101 40/40 over the limit',
        '  fail2ban bans: asterisk 0, sshd 1 (10.201.20.101)',
        'pbx2 (legacy; rules ipv4 30; last apply - UTC)',
        '  no drops counted',
        '  note: fail2ban-client not found',
        'pbx3: unreachable: no answer (unreachable)',
        'pbx4: unreachable: Failed to connect to the host via ssh',
        'pbx5: error: iptables-nft-restore/-save ... not found',
        'Fleet: 5 host(s), 2 reported, 2 unreachable, 1 with errors',
        '  scanner           212 packets       106000 bytes  on pbx1',
        '  flood            1843 packets       884640 bytes  on pbx1',
        '  block               5 packets          300 bytes  on pbx1',
        '  default            12 packets          720 bytes  on pbx1',
        '  fail2ban bans: asterisk 0, sshd 1',
        '  unreachable: pbx3, pbx4',
    ]


def test_no_hosts():
    assert _report_summary.summary([])['lines'] == ['Fleet: 0 host(s), 0 reported, 0 unreachable, 0 with errors']
