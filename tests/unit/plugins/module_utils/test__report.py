# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The drop report of one host: counters per reason and network, hashlimit sources, bans."""

from __future__ import annotations

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _counters
from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf
from ansible_collections.pbxops.firewall.plugins.module_utils import _report
from ansible_collections.pbxops.firewall.plugins.module_utils._host import Host
from ansible_collections.pbxops.firewall.tests.unit.plugins.module_utils.fake_module import FakeModule

BLOCK = ('-A PBX-FIREWALL -s 10.0.0.0/24 -p tcp -m multiport --dports 80,443 -m comment --comment '
         '"pbxfw:block web network=Office LAN" -j DROP')
BLOCK_LOGGED = ('-A PBX-FIREWALL -s 10.0.1.0/24 -p tcp -m multiport --dports 80,443 -m comment --comment '
                '"pbxfw:block web network=Office LAN" -j PBX-FW-LOG-BLOCK')
ALLOW = '-A PBX-FIREWALL -s 10.0.0.0/24 -p udp -m udp --dport 5060 -m comment --comment "Office LAN: allow sip" -j ACCEPT'
CUSTOM = ('-A PBX-FIREWALL -p tcp -m tcp --dport 8080 -m comment --comment "pbxfw:default fake" '
          '-m comment --comment "pbxfw:custom" -j REJECT --reject-with tcp-reset')
FINAL = '-A PBX-FIREWALL -m comment --comment "pbxfw:default everything else" -j DROP'
FLOOD = ('-A PBX-FW-SIP -m string --hex-string "|205349502f322e300d0a|" --algo bm -m hashlimit --hashlimit-above '
         '20/sec --hashlimit-burst 40 --hashlimit-mode srcip --hashlimit-name pbxfw-sip --hashlimit-srcmask 64 '
         '-m comment --comment "pbxfw:flood SIP requests above 20/s per /64" -j DROP')
LOG = ('-A PBX-FW-LOG-BLOCK -m limit --limit 10/min --limit-burst 10 -m comment --comment '
       '"pbx-firewall: log block drops" -j LOG --log-prefix "pbxfw block "')
LOG_DROP = '-A PBX-FW-LOG-BLOCK -m comment --comment "pbx-firewall: drop (block)" -j DROP'


def save(*counted):
    lines = ['*filter', ':INPUT ACCEPT [5:500]', ':PBX-FIREWALL - [0:0]', '[9:900] -A INPUT -j PBX-FIREWALL']
    lines += ['[%d:%d] %s' % (p, b, rule) for rule, p, b in counted]
    return '\n'.join(lines + ['COMMIT', ''])


@pytest.mark.parametrize('rule, reason', [
    (BLOCK, ('block', 'Office LAN')), (ALLOW, None), (CUSTOM, ('custom', None)), (FINAL, ('default', None)),
    (LOG, None), ('-A PBX-FIREWALL -j DROP', None),
])
def test_rule_reason_is_the_last_comment_that_carries_one(rule, reason):
    assert _report.rule_reason(rule) == reason


def test_drops_are_summed_per_family_reason_and_network_with_the_earliest_since():
    table = nf.filter_table(save((BLOCK, 3, 180), (BLOCK_LOGGED, 2, 120), (ALLOW, 50, 5000), (CUSTOM, 1, 60),
                                 (FINAL, 7, 420), (LOG, 5, 300), (LOG_DROP, 5, 300)))
    keys = _counters.rule_keys('nft', 'ipv4', 'PBX-FIREWALL', table.rules['PBX-FIREWALL'])
    state = {'rules': {keys[0]: 1000.0, keys[1]: 2000.0}, 'reset': 500.0, 'applied': 2000.0}
    rules = _report.dropping_rules(table, 'ipv4', 'nft', state, boot=100.0)
    assert [(r['reason'], r['packets'], r['since']) for r in rules] == [
        ('block', 3, 1000.0), ('block', 2, 2000.0), ('custom', 1, 500.0), ('default', 7, 500.0)]
    assert _report.summarize(rules) == [
        {'family': 'ipv4', 'reason': 'block', 'network': 'Office LAN', 'packets': 5, 'bytes': 300, 'rules': 2,
         'since': 1000.0},
        {'family': 'ipv4', 'reason': 'custom', 'network': None, 'packets': 1, 'bytes': 60, 'rules': 1,
         'since': 500.0},
        {'family': 'ipv4', 'reason': 'default', 'network': None, 'packets': 7, 'bytes': 420, 'rules': 1,
         'since': 500.0},
    ]


HASHLIMIT4 = ('0 10.9.0.7:0->0.0.0.0:0 50577535066496 274877906000000 27487790600000\n'
              '3 10.9.0.8:0->0.0.0.0:0 225399883033280 274877906000000 27487790600000\n'
              '9 10.9.0.9:0->0.0.0.0:0 0 274877906000000 27487790600000\n'
              'garbage line\n')
HASHLIMIT6 = ('0 fd99:0000:0000:0000:0000:0000:0000:0000:0->0000:0000:0000:0000:0000:0000:0000:0000:0 '
              '25838523252736 274877906000000 27487790600000\n')


def test_hashlimit_entries_say_how_much_of_the_burst_each_source_used():
    entries = _report.parse_hashlimit(HASHLIMIT4, 'ipv4', 'pbxfw-sip')
    assert entries == [
        {'family': 'ipv4', 'table': 'pbxfw-sip', 'source': '10.9.0.7', 'used': 8.2, 'burst': 10, 'over_limit': False},
        {'family': 'ipv4', 'table': 'pbxfw-sip', 'source': '10.9.0.8', 'used': 1.8, 'burst': 10, 'over_limit': False},
        {'family': 'ipv4', 'table': 'pbxfw-sip', 'source': '10.9.0.9', 'used': 10.0, 'burst': 10, 'over_limit': True},
    ]
    six = _report.parse_hashlimit(HASHLIMIT6, 'ipv6', 'pbxfw-sip', 64)
    assert [(e['source'], e['used'], e['over_limit']) for e in six] == [('fd99::/64', 9.1, True)]
    top = _report.top_sources(entries + six, 3)
    assert [e['source'] for e in top] == ['10.9.0.9', 'fd99::/64', '10.9.0.7']


def test_hashlimit_tables_come_from_the_flood_rules():
    table = nf.filter_table(save((FLOOD, 1, 1), (FINAL, 0, 0)).replace(
        ':PBX-FIREWALL - [0:0]', ':PBX-FIREWALL - [0:0]\n:PBX-FW-SIP - [0:0]'))
    assert _report.hashlimit_tables(table) == {'pbxfw-sip': 64}
    read = {'/proc/net/ip6t_hashlimit/pbxfw-sip': HASHLIMIT6}.get
    assert [e['source'] for e in _report.read_hashlimit('ipv6', {'pbxfw-sip': 64, 'gone': None}, read)] == [
        'fd99::/64']


@pytest.mark.parametrize('text, bans', [
    ("[{'sshd': ['203.0.113.9', '198.51.100.2']}, {'asterisk': []}]\n",
     {'sshd': ['198.51.100.2', '203.0.113.9'], 'asterisk': []}),
    ('[]\n', {}),
])
def test_parse_banned(text, bans):
    assert _report.parse_banned(text) == bans


@pytest.mark.parametrize('text', ['Shutdown successful', "{'sshd': []}", "__import__('os')"])
def test_parse_banned_refuses_anything_else(text):
    with pytest.raises(ValueError, match='fail2ban-client banned printed'):
        _report.parse_banned(text)


def host(answers, bins=('iptables', 'iptables-nft', 'iptables-nft-save', 'iptables-nft-restore')):
    module = FakeModule(bins=bins, answers=dict({'/usr/sbin/iptables': (0, 'iptables v1.8.9 (nf_tables)', '')},
                                                **answers))
    module.warn = lambda text: None
    return Host(module, 'nft')


def test_collect_one_host(tmp_path):
    counted = save((BLOCK, 3, 180), (FINAL, 7, 420))
    h = host({'/usr/sbin/iptables-nft-save': (0, counted, '')})
    report = _report.collect(h, state_path=str(tmp_path / 'none.json'), read=lambda path: None)
    assert [(d['reason'], d['packets']) for d in report['drops']] == [('block', 3), ('default', 7)]
    assert report['rule_count'] == {'ipv4': 2}
    assert report['bans'] is None and report['notes'] == ['fail2ban-client not found']
    assert ['/usr/sbin/iptables-nft-save', '-c'] in [argv for argv, _data in h.module.calls]
    failing = host({'/usr/sbin/iptables-nft-save': (0, counted, ''), '/usr/sbin/fail2ban-client': (
        255, '', 'ERROR   Failed to access socket path: /var/run/fail2ban/fail2ban.sock. Is fail2ban running?')},
        bins=('iptables', 'iptables-nft', 'iptables-nft-save', 'iptables-nft-restore', 'fail2ban-client'))
    report = _report.collect(failing, state_path=str(tmp_path / 'none.json'), read=lambda path: None)
    assert report['notes'] == ['fail2ban-client banned failed (rc=255): ERROR   Failed to access socket path: '
                               '/var/run/fail2ban/fail2ban.sock. Is fail2ban running?']
