# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a ruleset accepts, as another firewall manager would have to let it through
(private to pbxops.firewall).

Another manager that also filters input (firewalld's own nftables table, a native
``inet filter`` table) sees every packet our chains accept; for the policy to hold it must
let those packets through, and our chains keep deciding per source. This file reads the
``ACCEPT`` rules of the owned chains of a ruleset and says what they accept regardless of
source: destination ports per protocol (merged ranges), other protocols, ICMP types, and
the rules that accept without naming a protocol (no port list can describe them).

Rules that accept only answers (``--ctstate``/``--state`` without ``NEW``) and loopback
(``-i lo``) are left out: every manager accepts those itself.

Standard library only; no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import (
    FAMILIES,
    is_owned_chain,
    rule_chain,
    rule_target,
    split_rule,
    unquote,
)

PORT_PROTOCOLS = ('tcp', 'udp', 'sctp', 'dccp')
ANY_PORT = (1, 65535)
_PROTOCOL_NAMES = {'6': 'tcp', '17': 'udp', '132': 'sctp', '33': 'dccp', '1': 'icmp', '58': 'ipv6-icmp',
                   'icmpv6': 'ipv6-icmp'}
_ANSWER_STATES = {'ESTABLISHED', 'RELATED'}


def merge_ranges(ranges):
    """Sorted, merged (low, high) port ranges."""
    merged = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def covers(ranges, low, high):
    """Whether the merged ``ranges`` hold every port from ``low`` to ``high``."""
    return any(a <= low and high <= b for a, b in merge_ranges(ranges))


def port_text(low, high):
    """``5060`` or ``10000-10200`` (firewalld's and ufw's way of writing a range)."""
    return str(low) if low == high else '%d-%d' % (low, high)


def _port_ranges(text):
    """``22,80,5060:5061`` -> [(22, 22), (80, 80), (5060, 5061)]."""
    ranges = []
    for part in text.split(','):
        low, _sep, high = part.partition(':')
        low = int(low) if low else 1
        high = int(high) if high else (65535 if _sep else low)
        ranges.append((low, high))
    return ranges


class Accepts(object):
    """What the owned chains accept, per family, whatever the source."""

    def __init__(self):
        self.ports = dict((f, {}) for f in FAMILIES)       # family -> proto -> [(low, high)]
        self.protocols = dict((f, set()) for f in FAMILIES)  # family -> other protocol names
        self.icmp = dict((f, set()) for f in FAMILIES)     # family -> ICMP (v6) type numbers, None: any
        self.unbounded = []                                # (family, rule): accepts every protocol

    def add_ports(self, family, proto, ranges):
        found = self.ports[family].setdefault(proto, [])
        found.extend(ranges)
        self.ports[family][proto] = merge_ranges(found)

    def port_list(self):
        """[(proto, low, high)] over both families, merged, sorted by protocol and port."""
        merged = {}
        for family in FAMILIES:
            for proto, ranges in self.ports[family].items():
                merged.setdefault(proto, []).extend(ranges)
        return [(proto, low, high) for proto in sorted(merged) for low, high in merge_ranges(merged[proto])]

    def accepts_port(self, proto, low, high, family=None):
        """Whether some rule accepts (from some source) every port of ``proto`` low-high."""
        families = FAMILIES if family is None else (family,)
        return any(covers(self.ports[f].get(proto, []), low, high) for f in families)

    def touches_port(self, proto, low, high, family=None):
        """Whether some rule accepts (from some source) at least one port of ``proto`` low-high."""
        families = FAMILIES if family is None else (family,)
        return any(a <= high and low <= b for f in families for a, b in self.ports[f].get(proto, []))

    def empty(self):
        return not (self.unbounded or any(self.ports[f] or self.protocols[f] or self.icmp[f] for f in FAMILIES))


def _accepting_rule(tokens):
    """(proto, ports, icmp type or 'any', negated proto) of an ACCEPT rule's tokens, or None
    when the rule accepts only answers or loopback."""
    proto = None
    proto_negated = False
    ports = None
    icmp_type = None
    index = 2
    while index < len(tokens):
        token = tokens[index]
        negated = tokens[index - 1] == '!'
        value = tokens[index + 1] if index + 1 < len(tokens) else ''
        if token in ('-p', '--protocol'):
            proto = _PROTOCOL_NAMES.get(value.lower(), value.lower())
            proto_negated = negated
        elif token in ('-i', '--in-interface') and value == 'lo' and not negated:
            return None
        elif token in ('--ctstate', '--state'):
            states = set(value.upper().split(','))
            if not negated and states <= _ANSWER_STATES:
                return None
        elif token in ('--dport', '--dports', '--destination-port', '--destination-ports'):
            ports = [ANY_PORT] if negated else _port_ranges(value)
        elif token in ('--icmp-type', '--icmpv6-type'):
            icmp_type = 'any' if negated else value
        index += 1
    return proto, ports, icmp_type, proto_negated


_ICMP_TYPES = {'echo-request': 8, 'ping': 8, 'echo-reply': 0, 'destination-unreachable': 3}
_ICMP6_TYPES = {'echo-request': 128, 'ping': 128, 'destination-unreachable': 1, 'packet-too-big': 2,
                'time-exceeded': 3, 'parameter-problem': 4, 'router-solicitation': 133,
                'router-advertisement': 134, 'neighbour-solicitation': 135, 'neighbor-solicitation': 135,
                'neighbour-advertisement': 136, 'neighbor-advertisement': 136}


def _icmp_number(family, value):
    if value in (None, 'any'):
        return None
    names = _ICMP_TYPES if family == 'ipv4' else _ICMP6_TYPES
    head = value.split('/')[0]
    if head.isdigit():
        return int(head)
    return names.get(head.lower())


def from_ruleset(ruleset):
    """Accepts of a ruleset dict (docs/ruleset-format.md); its rules are already validated."""
    accepts = Accepts()
    for family in FAMILIES:
        for rule in (ruleset or {}).get(family) or []:
            if not is_owned_chain(rule_chain(rule)) or rule_target(rule) != 'ACCEPT':
                continue
            found = _accepting_rule([unquote(t) for t in split_rule(rule)])
            if found is None:
                continue
            proto, ports, icmp_type, proto_negated = found
            if proto in (None, 'all', '0') or proto_negated:
                accepts.unbounded.append((family, rule))
            elif proto in PORT_PROTOCOLS:
                accepts.add_ports(family, proto, ports or [ANY_PORT])
            elif proto in ('icmp', 'ipv6-icmp'):
                accepts.icmp[family].add(_icmp_number(family, icmp_type))
            else:
                accepts.protocols[family].add(proto)
    return accepts
