# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Native nftables next to iptables-nft (private to pbxops.firewall).

iptables-nft keeps its rules in nftables tables of its own (``ip filter``, ``ip6 filter``,
``ip nat``...). Any other table with a base chain on the ``input`` hook sees every packet
too, and a ``drop`` there is final whatever our chain said. This file reads
``nft -j list ruleset``: the native tables (neither iptables-nft's nor firewalld's), their
input-hook chains, and for each thing the policy accepts whether such a chain certainly
lets it through. It also reads ``/etc/nftables.conf`` for the statements that would wipe
our chains when ``nftables.service`` (re)starts.

Only what the chain certainly does counts: matches on the protocol, the destination port,
the ICMP type, the conntrack state and the loopback interface are evaluated; any other
match (a source address, a set, a mark) makes the rule uncertain, and an uncertain rule
that could drop, or an uncertain ``accept``, means "not certainly let through".

Standard library only; no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

# tables that iptables-nft / ebtables-nft / arptables-nft create (family, name)
XTABLES = set([(f, t) for f in ('ip', 'ip6') for t in ('filter', 'nat', 'mangle', 'raw', 'security')]
              + [('arp', 'filter'), ('bridge', 'filter'), ('bridge', 'nat'), ('bridge', 'broute')])
FIREWALLD_TABLE = 'firewalld'
CONF_PATH = '/etc/nftables.conf'
FAMILY_OF = {'ipv4': ('ip', 'inet'), 'ipv6': ('ip6', 'inet')}
MAX_DEPTH = 16
PROTO_NUMBERS = {6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'ipv6-icmp', 132: 'sctp', 33: 'dccp'}
ICMP_TYPE_NAMES = {'echo-request': 8}
ICMP6_TYPE_NAMES = {'echo-request': 128, 'destination-unreachable': 1, 'packet-too-big': 2, 'time-exceeded': 3,
                    'parameter-problem': 4, 'nd-router-solicit': 133, 'nd-router-advert': 134,
                    'nd-neighbor-solicit': 135, 'nd-neighbor-advert': 136}
_FLUSH_RE = re.compile(r'^\s*(flush\s+ruleset\b|flush\s+table\s+(?:ip6?\s+)?(?:filter|nat|mangle|raw)\b)',
                       re.M)

UNCERTAIN = 'uncertain'


class Ruleset(object):
    """Tables, chains and rules of ``nft -j list ruleset``."""

    def __init__(self, text):
        try:
            data = json.loads(text) if (text or '').strip() else {'nftables': []}
        except ValueError as exc:
            raise ValueError('nft -j list ruleset printed no JSON: %s' % exc)
        self.tables = []                 # (family, name)
        self.chains = {}                 # (family, table, chain) -> chain dict
        self.rules = {}                  # (family, table, chain) -> [expr lists]
        for item in data.get('nftables', []):
            if 'table' in item:
                self.tables.append((item['table']['family'], item['table']['name']))
            elif 'chain' in item:
                chain = item['chain']
                key = (chain['family'], chain['table'], chain['name'])
                self.chains[key] = chain
                self.rules.setdefault(key, [])
            elif 'rule' in item:
                rule = item['rule']
                self.rules.setdefault((rule['family'], rule['table'], rule['chain']), []).append(rule.get('expr', []))

    def native_tables(self):
        """(family, name) of the tables that are neither iptables-nft's nor firewalld's."""
        return [t for t in self.tables if t not in XTABLES and t[1] != FIREWALLD_TABLE]

    def input_chains(self):
        """Keys of the base chains on the input hook of the native tables."""
        native = set(self.native_tables())
        return [key for key, chain in sorted(self.chains.items())
                if chain.get('hook') == 'input' and (key[0], key[1]) in native]

    def policy(self, key):
        return self.chains[key].get('policy', 'accept')

    def has_drop(self, key):
        """Whether the chain can drop: a drop policy, or a rule with a drop or reject verdict."""
        return self.policy(key) == 'drop' or any(_verdict(expr)[0] in ('drop', 'reject') for expr in self.rules[key])

    def verdict(self, key, packet):
        """``accept``, ``drop`` or ``uncertain`` for a new ``packet`` (see Packet) in a base chain."""
        policy = 'accept' if self.policy(key) == 'accept' else 'drop'
        outcomes = set(policy if o is None else o for o in self._walk(key, packet, 0))
        return outcomes.pop() if len(outcomes) == 1 else UNCERTAIN

    def _walk(self, key, packet, depth):
        """The possible outcomes of a chain: ``accept``, ``drop``, ``uncertain`` or None (it
        ends without a verdict: back to the caller, or the base chain's policy)."""
        if depth > MAX_DEPTH or key not in self.rules:
            return set([UNCERTAIN])
        possible = set()
        for expr in self.rules[key]:
            matched = _matches(expr, packet)
            verdict, target = _verdict(expr)
            if matched is False or verdict is None:
                continue
            if verdict in ('jump', 'goto'):
                inner = self._walk((key[0], key[1], target), packet, depth + 1)
                # after a jump the walk goes on; after a goto this chain ends too
                outcomes = set(('next' if verdict == 'jump' else None) if o is None else o for o in inner)
            else:
                outcomes = set([{'reject': 'drop', 'return': None}.get(verdict, verdict)])
            if matched is UNCERTAIN:
                outcomes.add('next')
            possible.update(o for o in outcomes if o != 'next')
            if 'next' not in outcomes:
                return possible
        possible.add(None)
        return possible


class Packet(object):
    """A new packet: family (``ipv4``/``ipv6``), protocol, destination port or ICMP type."""

    def __init__(self, family, proto, port=None, icmp_type=None):
        self.family = family
        self.proto = proto
        self.port = port
        self.icmp_type = icmp_type

    def describe(self):
        if self.port is not None:
            return '%d/%s' % (self.port, self.proto)
        if self.icmp_type is not None:
            return '%s type %d' % ('ICMP' if self.family == 'ipv4' else 'ICMPv6', self.icmp_type)
        return self.proto


def _verdict(expr):
    """(verdict, jump target) of a rule's expressions; (None, None) when it has none."""
    for item in expr:
        for name in ('accept', 'drop', 'reject', 'return'):
            if name in item:
                return name, None
        for name in ('jump', 'goto'):
            if name in item:
                return name, item[name].get('target')
    return None, None


def _number(value):
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _in(value, right, names=None):
    """True/False/UNCERTAIN: is ``value`` in nft's right-hand side (number, name, set, range)?"""
    if isinstance(right, dict) and 'set' in right:
        results = [_in(value, item, names) for item in right['set']]
        if True in results:
            return True
        return UNCERTAIN if UNCERTAIN in results else False
    if isinstance(right, list):
        return _in(value, {'set': right}, names)
    if isinstance(right, dict) and 'range' in right:
        low, high = (_number(v) if _number(v) is not None else (names or {}).get(v) for v in right['range'])
        if low is None or high is None:
            return UNCERTAIN
        return low <= value <= high
    number = _number(right)
    if number is None and names is not None and isinstance(right, str):
        number = names.get(right)
    if number is None:
        return UNCERTAIN
    return value == number


def _proto_name(value):
    number = _number(value)
    if number is not None:
        return PROTO_NUMBERS.get(number, str(number))
    return {'icmpv6': 'ipv6-icmp'}.get(value, value)


def _match(match, packet):
    """True/False/UNCERTAIN for one ``match`` expression."""
    left, right, op = match.get('left'), match.get('right'), match.get('op', '==')
    result = _match_left(left, right, packet)
    if result is UNCERTAIN:
        return UNCERTAIN
    if op in ('==', 'in'):
        return result
    if op == '!=':
        return not result
    return UNCERTAIN


def _match_left(left, right, packet):
    if not isinstance(left, dict):
        return UNCERTAIN
    if 'meta' in left:
        key = left['meta'].get('key')
        if key == 'l4proto':
            return _proto_in(packet.proto, right)
        if key == 'nfproto':
            return _in_names({'ipv4': 'ipv4', 'ipv6': 'ipv6'}[packet.family], right)
        if key in ('iifname', 'iif'):
            return _in_names('not-lo', right) if right != 'lo' else False
        return UNCERTAIN
    if 'ct' in left and left['ct'].get('key') == 'state':
        states = right if isinstance(right, list) else [right]
        return 'new' in states
    if 'payload' in left:
        payload = left['payload']
        proto, field = payload.get('protocol'), payload.get('field')
        if field == 'dport' and proto in ('tcp', 'udp', 'sctp', 'dccp', 'th'):
            if packet.port is None or (proto != 'th' and proto != packet.proto):
                return False
            return _in(packet.port, right)
        if field == 'type' and proto in ('icmp', 'icmpv6'):
            wire = 'icmp' if proto == 'icmp' else 'ipv6-icmp'
            if packet.icmp_type is None or wire != packet.proto:
                return False
            return _in(packet.icmp_type, right, ICMP_TYPE_NAMES if proto == 'icmp' else ICMP6_TYPE_NAMES)
        if (proto, field) in (('ip', 'protocol'), ('ip6', 'nexthdr')):
            return _proto_in(packet.proto, right)
    return UNCERTAIN


def _items(right):
    """The values of nft's right-hand side: a set, a list or one value."""
    if isinstance(right, dict) and 'set' in right:
        return right['set']
    return right if isinstance(right, list) else [right]


def _in_names(value, right):
    items = _items(right)
    if any(not isinstance(i, str) for i in items):
        return UNCERTAIN
    return value in items


def _proto_in(proto, right):
    items = _items(right)
    names = [_proto_name(i) for i in items]
    if any(not isinstance(n, str) for n in names):
        return UNCERTAIN
    return proto in names


def _matches(expr, packet):
    """True/False/UNCERTAIN: do all matches of a rule hold for the packet?"""
    result = True
    for item in expr:
        if 'match' in item:
            one = _match(item['match'], packet)
            if one is False:
                return False
            if one is UNCERTAIN:
                result = UNCERTAIN
        elif any(k in item for k in ('counter', 'log', 'accept', 'drop', 'reject', 'return', 'jump', 'goto',
                                     'limit', 'comment')):
            if 'limit' in item:
                result = UNCERTAIN
            continue
        else:
            result = UNCERTAIN
    return result


def flush_statements(conf_text):
    """The statements of an nftables.conf that would wipe iptables-nft's tables
    (``flush ruleset``, ``flush table ip filter``...), in file order."""
    return [m.group(1).strip() for m in _FLUSH_RE.finditer(conf_text or '')]
