# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a ruleset accepts (ports, protocols, ICMP types), whatever the source."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import accepts as acc
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy

EST = '-A PBX-FIREWALL -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "established" -j ACCEPT'
LO = '-A PBX-FIREWALL -i lo -m comment --comment "pbx-firewall: loopback" -j ACCEPT'


@pytest.mark.parametrize('rules, ports, protocols, icmp, unbounded', [
    ([EST, LO], [], set(), set(), []),
    (['-A PBX-FIREWALL -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j ACCEPT'], [('tcp', 22, 22)], set(), set(), []),
    (['-A PBX-FIREWALL -s 10.0.0.0/8 -p tcp -m multiport --dports 22,80,5060:5061 -j ACCEPT',
      '-A PBX-FIREWALL -p tcp -m tcp --dport 81 -j ACCEPT'],
     [('tcp', 22, 22), ('tcp', 80, 81), ('tcp', 5060, 5061)], set(), set(), []),
    (['-A PBX-FIREWALL -p udp -m udp --dport 5060 -j DROP'], [], set(), set(), []),
    (['-A PBX-FIREWALL -p udp -j ACCEPT'], [('udp', 1, 65535)], set(), set(), []),
    (['-A PBX-FIREWALL -p tcp -m tcp ! --dport 22 -j ACCEPT'], [('tcp', 1, 65535)], set(), set(), []),
    (['-A PBX-FIREWALL -p tcp -m conntrack --ctstate NEW -m tcp --dport 5061 -j ACCEPT'],
     [('tcp', 5061, 5061)], set(), set(), []),
    (['-A PBX-FIREWALL -s 10.0.0.0/8 -p icmp -m icmp --icmp-type 8 -j ACCEPT'], [], set(), {8}, []),
    (['-A PBX-FIREWALL -p gre -j ACCEPT', '-A PBX-FIREWALL -p 47 -j ACCEPT'], [], {'gre', '47'}, set(), []),
    (['-A PBX-FIREWALL -s 10.0.0.5/32 -j ACCEPT'], [], set(), set(),
     [('ipv4', '-A PBX-FIREWALL -s 10.0.0.5/32 -j ACCEPT')]),
    (['-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT'], [], set(), set(), []),     # not an owned chain
])
def test_ipv4(rules, ports, protocols, icmp, unbounded):
    accepts = acc.from_ruleset({'ipv4': rules})
    assert accepts.port_list() == ports
    assert accepts.protocols['ipv4'] == protocols
    assert accepts.icmp['ipv4'] == icmp
    assert accepts.unbounded == unbounded


def test_ipv6_icmp_types_by_number_and_name():
    accepts = acc.from_ruleset({'ipv6': ['-A PBX-FIREWALL -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT',
                                         '-A PBX-FIREWALL -p ipv6-icmp -m icmp6 --icmpv6-type echo-request -j ACCEPT',
                                         '-A PBX-FIREWALL -p ipv6-icmp -j ACCEPT']})
    assert accepts.icmp['ipv6'] == {135, 128, None}


def test_the_compiled_demo_policy():
    networks = [
        {'name': 'Management', 'subnet': '10.201.0.0/24', 'services': ['ssh']},
        {'name': 'Office LAN', 'subnet': '10.201.10.0/24', 'services': ['sip', 'web', 'icmp']},
        {'name': 'Internet', 'subnet': '0.0.0.0/0', 'services': ['sip'], 'block': ['web']},
    ]
    accepts = acc.from_ruleset(_policy.firewall_ruleset(networks, trunks=['203.0.113.5'], sip_rate_limit=20))
    assert accepts.port_list() == [('tcp', 22, 22), ('tcp', 80, 80), ('tcp', 443, 443), ('tcp', 5060, 5061),
                                   ('udp', 5060, 5060), ('udp', 10000, 10200)]
    assert accepts.icmp['ipv4'] == {8}
    # IPv6: the ICMPv6 types IPv6 needs, nothing else
    assert accepts.icmp['ipv6'] == {1, 2, 3, 4, 133, 134, 135, 136}
    assert accepts.ports['ipv6'] == {} and not accepts.unbounded
    assert accepts.touches_port('tcp', 5000, 5060) and not accepts.touches_port('tcp', 8088, 8089)
    assert accepts.accepts_port('udp', 10100, 10150) and not accepts.accepts_port('udp', 10100, 10300)


@pytest.mark.parametrize('ranges, merged', [
    ([(5, 6), (1, 2), (3, 4)], [(1, 6)]),
    ([(5, 6), (1, 2), (3, 3)], [(1, 3), (5, 6)]),
    ([(1, 2), (4, 5)], [(1, 2), (4, 5)]),
    ([(10, 20), (12, 15)], [(10, 20)]),
])
def test_merge_ranges(ranges, merged):
    assert acc.merge_ranges(ranges) == merged
