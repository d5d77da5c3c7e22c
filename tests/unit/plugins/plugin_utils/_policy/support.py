# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rules and networks the controller-core tests share."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

CHAIN = '-A PBX-FIREWALL '
ESTABLISHED = (CHAIN + '-m conntrack --ctstate RELATED,ESTABLISHED '
               '-m comment --comment "pbx-firewall: established, related" -j ACCEPT')
LOOPBACK = CHAIN + '-i lo -m comment --comment "pbx-firewall: loopback" -j ACCEPT'
PRELUDE4 = [LOOPBACK, ESTABLISHED]
PRELUDE6 = PRELUDE4 + [
    CHAIN + '-p ipv6-icmp -m icmp6 --icmpv6-type %d -m comment --comment '
    '"pbx-firewall: IPv6 needs %s" -j ACCEPT' % item
    for item in ((1, 'destination-unreachable'), (2, 'packet-too-big'), (3, 'time-exceeded'),
                 (4, 'parameter-problem'), (133, 'router-solicitation'),
                 (134, 'router-advertisement'), (135, 'neighbour-solicitation'),
                 (136, 'neighbour-advertisement'))]
DROP_ALL = CHAIN + '-m comment --comment "pbxfw:default everything else" -j DROP'
JUMPS = [{'chain': 'INPUT', 'target': 'PBX-FIREWALL'}]

OFFICE = {'name': 'Office LAN', 'subnet': '192.168.10.0/24',
          'services': ['web', 'sip', 'ssh', 'icmp'], 'local_network': True, 'never_block': True}
BAD_HOST = {'name': 'Bad host', 'subnet': ['192.168.10.66', '2001:DB8::1'], 'block': ['ssh']}
INTERNET = {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']}


def members(spec):
    """An ipset's members as a list: the compiler writes a large set's as one string, a member per line."""
    entries = spec['entries']
    return [e for e in entries.split('\n') if e] if isinstance(entries, str) else list(entries)


VALID_PORTS = 'valid: an integer 1-65535 or a range "FROM-TO" with FROM <= TO, e.g. "10000-10200"'
