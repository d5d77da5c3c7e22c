# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The grammar of ``pbx_firewall_custom_rules``: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns one
promise: a custom rule the controller accepts is one the host loads, in each family it
is written for. A custom rule goes into ``PBX-FIREWALL`` (filter table, jumped to from
``INPUT``) in the host's one ``iptables-restore --noflush`` transaction. The host runs
``--test`` first, but ``--test`` (nft or legacy) does not see what the kernel checks only
at the commit: a jump to a built-in chain (a loop), the targets and matches of other
tables or hooks (``DNAT``, ``CT``, ``TCPMSS``, ``TRACE``, ``-m owner``, ``-m rpfilter``),
a protocol match without its ``-p`` (``-m tcp`` without ``-p tcp``, ``-m icmp`` without
``-p icmp``, ``REJECT --reject-with tcp-reset`` without ``-p tcp``). A commit that fails
takes the host's recovery path; the controller must refuse such a rule instead, naming it.

So the grammar is a list of what is allowed, checked per family: the options, the match
modules with their options and the targets below, each with the values iptables takes
and prints back the same way; ``family: both`` means both families' grammar. Names the
collection owns (``pbxfw-`` ipsets and hashlimit tables, ``PBX-FW-`` chains) are refused.
Anything else is refused with what is valid. ``restore_test`` adds the controller's own
``iptables-restore --test`` / ``ip6tables-restore --test`` when the controller can run it
(root, the binaries, a private network namespace): a second opinion on the values.

Pure Python apart from ``restore_test``; no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os
import re
import shutil
import subprocess

from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import (
    BUILTIN_CHAINS,
    HASHLIMIT_PREFIX,
    IPSET_NAME_MAX,
    IPSET_PREFIX,
    MAIN_CHAIN,
    is_owned_chain,
    restore_error_line,
    restore_error_text,
    unquote,
)

FAMILY_NAMES = {4: 'IPv4', 6: 'IPv6'}
# Options of iptables that are not matches or targets: a custom rule is appended to the
# owned chain in one iptables-restore transaction and may not choose its table, another
# command or a chain policy.
COMMANDS = frozenset((
    '-A', '--append', '-C', '--check', '-D', '--delete', '-I', '--insert', '-R', '--replace',
    '-L', '--list', '-S', '--list-rules', '-F', '--flush', '-Z', '--zero', '-N', '--new-chain',
    '-X', '--delete-chain', '-P', '--policy', '-E', '--rename-chain', '-t', '--table',
))
PROTOCOLS = {
    4: ('tcp', 'udp', 'udplite', 'icmp', 'sctp', 'dccp', 'gre', 'esp', 'ah', 'all'),
    6: ('tcp', 'udp', 'udplite', 'ipv6-icmp', 'sctp', 'dccp', 'gre', 'esp', 'ah', 'all'),
}
# protocols a protocol match needs (non-negated -p before it)
NEEDS_PROTOCOL = {'tcp': ('tcp',), 'udp': ('udp',), 'icmp': ('icmp',), 'icmp6': ('ipv6-icmp', 'icmpv6'),
                  'multiport': ('tcp', 'udp', 'udplite', 'sctp', 'dccp')}
TARGETS = ('ACCEPT', 'DROP', 'REJECT', 'RETURN', 'LOG', 'NFLOG')
REJECT_WITH = {
    4: ('icmp-net-unreachable', 'icmp-host-unreachable', 'icmp-port-unreachable', 'icmp-proto-unreachable',
        'icmp-net-prohibited', 'icmp-host-prohibited', 'icmp-admin-prohibited', 'tcp-reset'),
    6: ('icmp6-no-route', 'icmp6-adm-prohibited', 'icmp6-addr-unreachable', 'icmp6-port-unreachable',
        'icmp6-policy-fail', 'icmp6-reject-route', 'tcp-reset'),
}
LOG_LEVELS = ('0', '1', '2', '3', '4', '5', '6', '7', 'emerg', 'alert', 'crit', 'error', 'warning',
              'notice', 'info', 'debug')
ICMP_TYPES = {
    4: ('any', 'echo-reply', 'destination-unreachable', 'network-unreachable', 'host-unreachable',
        'protocol-unreachable', 'port-unreachable', 'fragmentation-needed', 'source-route-failed',
        'network-unknown', 'host-unknown', 'network-prohibited', 'host-prohibited',
        'TOS-network-unreachable', 'TOS-host-unreachable', 'communication-prohibited',
        'host-precedence-violation', 'precedence-cutoff', 'source-quench', 'redirect', 'network-redirect',
        'host-redirect', 'TOS-network-redirect', 'TOS-host-redirect', 'echo-request', 'router-advertisement',
        'router-solicitation', 'time-exceeded', 'ttl-zero-during-transit', 'ttl-zero-during-reassembly',
        'parameter-problem', 'ip-header-bad', 'required-option-missing', 'timestamp-request',
        'timestamp-reply', 'address-mask-request', 'address-mask-reply'),
    6: ('destination-unreachable', 'no-route', 'communication-prohibited', 'beyond-scope',
        'address-unreachable', 'port-unreachable', 'failed-policy', 'reject-route', 'packet-too-big',
        'time-exceeded', 'ttl-zero-during-transit', 'ttl-zero-during-reassembly', 'parameter-problem',
        'bad-header', 'unknown-header-type', 'unknown-option', 'echo-request', 'echo-reply',
        'router-solicitation', 'router-advertisement', 'neighbour-solicitation', 'neighbour-advertisement',
        'redirect'),
}
CTSTATES = ('INVALID', 'NEW', 'ESTABLISHED', 'RELATED', 'UNTRACKED', 'SNAT', 'DNAT')
ADDRTYPES = {
    4: ('UNSPEC', 'UNICAST', 'LOCAL', 'BROADCAST', 'ANYCAST', 'MULTICAST', 'BLACKHOLE', 'UNREACHABLE', 'PROHIBIT',
        'THROW', 'NAT', 'XRESOLVE'),
    # the kernel refuses BROADCAST, BLACKHOLE and PROHIBIT onwards for IPv6 when the rule is loaded
    6: ('UNSPEC', 'UNICAST', 'LOCAL', 'ANYCAST', 'MULTICAST', 'UNREACHABLE'),
}
TCP_FLAGS = ('FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ALL', 'NONE')
RATE_UNITS = ('second', 'minute', 'hour', 'day', 'sec', 'min', 's', 'm', 'h', 'd')
RATE_MAX = 10000          # XT_LIMIT_SCALE: more per unit is "too fast" for -m limit
MULTIPORT_SLOTS = 15      # a range takes two
NAME_RE = re.compile(r'[A-Za-z0-9_.:-]+\Z')
INTERFACE_RE = re.compile(r'[A-Za-z0-9_.-]{1,15}\+?\Z')
MAC_RE = re.compile(r'([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}\Z')
EXAMPLE = '"-s 198.51.100.7/32 -p tcp -m tcp --dport 8080 -j ACCEPT"'


# the options of a rule that are not a match's or a target's
RULE_OPTIONS = ('-s', '--source', '-d', '--destination', '-p', '--protocol', '-i', '--in-interface', '-o',
                '--out-interface', '-f', '--fragment', '-m', '--match')


class Refused(ValueError):
    """Why a custom rule cannot go into the owned chain as it is."""


# ------------------------------------------------------------------------------ values

def _number(value, low, high, what):
    if not re.match(r'[0-9]+\Z', value) or not low <= int(value) <= high:
        raise Refused('%s %r must be a number %d-%d' % (what, value, low, high))
    return int(value)


def _port_range(value, what):
    low, sep, high = value.partition(':')
    first = _number(low, 0, 65535, what)
    if sep and _number(high, 0, 65535, what) < first:
        raise Refused('%s %r: the range must go up (FROM:TO with FROM <= TO)' % (what, value))
    return 2 if sep else 1


def _ports(what):
    return lambda value, ctx: _port_range(value, what) and None


def _port_list(what):
    def check(value, ctx):
        slots = sum(_port_range(part, what) for part in value.split(','))
        if slots > MULTIPORT_SLOTS:
            raise Refused('%s %r takes %d slots; multiport takes at most %d (a range takes two)'
                          % (what, value, slots, MULTIPORT_SLOTS))
    return check


def _uint(low, high):
    return lambda value, ctx: _number(value, low, high, ctx.option) and None


def _prefix(value, ctx):
    _number(value, 0, 32 if ctx.version == 4 else 128, ctx.option)


def _one_of(choices):
    def check(value, ctx):
        if value not in choices:
            raise Refused('%s %r; valid: %s' % (ctx.option, value, ', '.join(choices)))
    return check


def _list_of(choices, unique=True):
    """A comma-separated list of CHOICES (a tuple, or {version: tuple} when it depends on the family)."""
    def check(value, ctx):
        valid = choices[ctx.version] if isinstance(choices, dict) else choices
        items = value.split(',')
        wrong = [item for item in items if item not in valid]
        if wrong or (unique and len(set(items)) != len(items)):
            raise Refused('%s %r must be a comma-separated list of %s, each once%s'
                          % (ctx.option, value, ', '.join(valid), ' (for %s)' % FAMILY_NAMES[ctx.version]
                             if isinstance(choices, dict) else ''))
    return check


def _rate(value, ctx):
    count, sep, unit = value.partition('/')
    if not sep or unit not in RATE_UNITS or not re.match(r'[0-9]+\Z', count) or not 1 <= int(count) <= RATE_MAX:
        raise Refused('%s %r must be a rate N/UNIT with N 1-%d and UNIT one of %s'
                      % (ctx.option, value, RATE_MAX, ', '.join(RATE_UNITS)))


def _text(limit):
    def check(value, ctx):
        if not value or len(value.encode('utf-8')) > limit:
            raise Refused('%s %r must be 1-%d bytes of text' % (ctx.option, value, limit))
    return check


def _address(value, version, what):
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise Refused('%s %r is not an IP address' % (what, value))
    if address.version != version:
        raise Refused('%s %s is an IPv%d address, not %s' % (what, value, address.version, FAMILY_NAMES[version]))
    return address


def _network(value, ctx):
    """-s/-d: one address or CIDR of the rule's family, written the way iptables-save prints it."""
    if ',' in value:
        raise Refused('%s %r: one address or CIDR per rule (iptables splits a list into several rules, '
                      'which then never read back as written)' % (ctx.option, value))
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise Refused('%s %r is not an address or CIDR (e.g. 198.51.100.7 or 2001:db8::/32; host names '
                      'are not resolved here)' % (ctx.option, value))
    if net.version != ctx.version:
        kind = 'address' if '/' not in value else 'subnet'
        raise Refused('%s %s is an IPv%d %s, not %s' % (ctx.option, value, net.version, kind,
                                                        FAMILY_NAMES[ctx.version]))
    if '/' in value and (not value.split('/')[1].isdigit() or str(net) != value):
        raise Refused('%s %r: write it as %s' % (ctx.option, value, net))
    if net.prefixlen == 0:
        raise Refused('%s %s matches every address: leave it out (iptables-save does not print it back, and '
                      'nft refuses it negated)' % (ctx.option, value))


def _range(value, ctx):
    low, sep, high = value.partition('-')
    if not sep:
        raise Refused('%s %r must be FROM-TO (two addresses)' % (ctx.option, value))
    if _address(low, ctx.version, ctx.option) > _address(high, ctx.version, ctx.option):
        raise Refused('%s %r never matches: the range must go up' % (ctx.option, value))


def _icmp_type(value, ctx):
    kind, sep, code = value.partition('/')
    if kind in ICMP_TYPES[ctx.version] and not sep:
        return
    _number(kind, 0, 255, ctx.option)
    if sep:
        _number(code, 0, 255, ctx.option)


def _set_name(value, ctx):
    name, _sep, flags = value.partition(' ')
    if name.startswith(IPSET_PREFIX):
        raise Refused('--match-set %s: ipsets named %s* belong to the collection (it swaps and removes them); '
                      'use a set of your own' % (name, IPSET_PREFIX))
    if not NAME_RE.match(name) or len(name) > IPSET_NAME_MAX:
        raise Refused('--match-set %r: a set name is 1-%d of A-Z a-z 0-9 _ . : -' % (name, IPSET_NAME_MAX))
    items = flags.split(',')
    if not flags or len(items) > 6 or any(item not in ('src', 'dst') for item in items):
        raise Refused('--match-set %s %r: give 1-6 of src, dst, comma-separated' % (name, flags))


def _hashlimit_name(value, ctx):
    if value.startswith(HASHLIMIT_PREFIX):
        raise Refused('--hashlimit-name %s: tables named %s* belong to the collection\'s SIP guards; use a '
                      'name of your own' % (value, HASHLIMIT_PREFIX))
    if not NAME_RE.match(value) or len(value) > 15:
        raise Refused('--hashlimit-name %r: 1-15 of A-Z a-z 0-9 _ . : -' % value)


def _recent_name(value, ctx):
    if not NAME_RE.match(value) or len(value) > 32:
        raise Refused('--name %r: 1-32 of A-Z a-z 0-9 _ . : -' % value)


def _mask(value, ctx):
    _address(value, ctx.version, ctx.option)


def _interface(value, ctx):
    if not INTERFACE_RE.match(value) or len(value) > 15:
        raise Refused('%s %r is not an interface name (1-15 of A-Z a-z 0-9 _ . -, + at the end for any '
                      'suffix)' % (ctx.option, value))


def _protocol(value, ctx):
    valid = PROTOCOLS[ctx.version]
    if value == 'icmpv6' and ctx.version == 6:
        return
    if value not in valid:
        other = 'ipv6-icmp' if value in ('icmp', '1') else 'icmp' if value in ('ipv6-icmp', 'icmpv6', '58') else None
        hint = ' (ICMP in %s is -p %s)' % (FAMILY_NAMES[ctx.version], other) if other else ''
        raise Refused('%s %r is not a protocol name of %s%s; valid: %s'
                      % (ctx.option, value, FAMILY_NAMES[ctx.version], hint, ', '.join(valid)))


def _hex(value, ctx):
    if not value or value.count('|') % 2:
        raise Refused('--hex-string %r: hex bytes between bars, e.g. "|0d0a|INVITE"' % value)
    for index, part in enumerate(value.split('|')):
        if index % 2 and not re.match(r'([0-9A-Fa-f]{2} ?)+\Z', part):
            raise Refused('--hex-string %r: %r is not hex bytes' % (value, part))


# ------------------------------------------------------------------------------ the grammar

FLAG = None       # an option without a value

# match module -> {option: (check or FLAG, negatable)}; VERSIONS: modules of one family only
MATCHES = {
    'tcp': {'--dport': (_ports('--dport'), True), '--destination-port': (_ports('--dport'), True),
            '--sport': (_ports('--sport'), True), '--source-port': (_ports('--sport'), True),
            '--syn': (FLAG, True), '--tcp-flags': ('tcp-flags', True)},
    'udp': {'--dport': (_ports('--dport'), True), '--destination-port': (_ports('--dport'), True),
            '--sport': (_ports('--sport'), True), '--source-port': (_ports('--sport'), True)},
    'multiport': {name: (_port_list(name), True) for name in
                  ('--dports', '--destination-ports', '--sports', '--source-ports', '--ports')},
    'icmp': {'--icmp-type': (_icmp_type, True)},
    'icmp6': {'--icmpv6-type': (_icmp_type, True)},
    'conntrack': {'--ctstate': (_list_of(CTSTATES), True)},
    'state': {'--state': (_list_of(CTSTATES[:5]), True)},
    'comment': {'--comment': (_text(255), False)},
    'limit': {'--limit': (_rate, False), '--limit-burst': (_uint(1, 10000), False)},
    'hashlimit': {'--hashlimit-upto': (_rate, False), '--hashlimit-above': (_rate, False),
                  '--hashlimit-burst': (_uint(1, 10000), False),
                  '--hashlimit-mode': (_list_of(('srcip', 'srcport', 'dstip', 'dstport')), False),
                  '--hashlimit-name': (_hashlimit_name, False),
                  '--hashlimit-srcmask': (_prefix, False), '--hashlimit-dstmask': (_prefix, False),
                  '--hashlimit-htable-size': (_uint(1, 1048576), False),
                  '--hashlimit-htable-max': (_uint(1, 1048576), False),
                  '--hashlimit-htable-expire': (_uint(1, 86400000), False),
                  '--hashlimit-htable-gcinterval': (_uint(1, 86400000), False)},
    'recent': {'--name': (_recent_name, False), '--set': (FLAG, True), '--rcheck': (FLAG, True),
               '--update': (FLAG, True), '--remove': (FLAG, True), '--seconds': (_uint(1, 2 ** 31 - 1), False),
               '--reap': (FLAG, False), '--hitcount': (_uint(1, 254), False), '--rttl': (FLAG, False),
               '--rsource': (FLAG, False), '--rdest': (FLAG, False), '--mask': (_mask, False)},
    'set': {'--match-set': ('set', True)},
    'iprange': {'--src-range': (_range, True), '--dst-range': (_range, True)},
    'addrtype': {'--src-type': (_list_of(ADDRTYPES), True), '--dst-type': (_list_of(ADDRTYPES), True),
                 '--limit-iface-in': (FLAG, False)},
    'length': {'--length': (_ports('--length'), True)},
    'pkttype': {'--pkt-type': (_one_of(('unicast', 'broadcast', 'multicast')), True)},
    'mac': {'--mac-source': (lambda value, ctx: None if MAC_RE.match(value) else _refuse(
        '--mac-source %r must be six hex bytes, e.g. 00:11:22:33:44:55' % value), True)},
    'connlimit': {'--connlimit-upto': (_uint(0, 2 ** 32 - 1), False),
                  '--connlimit-above': (_uint(0, 2 ** 32 - 1), False),
                  '--connlimit-mask': (_prefix, False), '--connlimit-saddr': (FLAG, False),
                  '--connlimit-daddr': (FLAG, False)},
    'string': {'--string': (_text(128), True), '--hex-string': (_hex, True),
               '--algo': (_one_of(('bm', 'kmp')), False), '--from': (_uint(0, 65535), False),
               '--to': (_uint(0, 65535), False), '--icase': (FLAG, False)},
    'ttl': {'--ttl-eq': (_uint(0, 255), True), '--ttl-gt': (_uint(0, 255), False),
            '--ttl-lt': (_uint(0, 255), False)},
    'hl': {'--hl-eq': (_uint(0, 255), True), '--hl-gt': (_uint(0, 255), False),
           '--hl-lt': (_uint(0, 255), False)},
}
VERSIONS = {'icmp': 4, 'ttl': 4, 'icmp6': 6, 'hl': 6}
# options a match cannot do without, and options it takes only one of
REQUIRED = {'hashlimit': (('--hashlimit-name',), ('--hashlimit-upto', '--hashlimit-above')),
            'string': (('--algo',), ('--string', '--hex-string')),
            'recent': ((), ('--set', '--rcheck', '--update', '--remove')),
            'limit': ((), ('--limit',)), 'connlimit': ((), ('--connlimit-upto', '--connlimit-above')),
            'icmp': ((), ('--icmp-type',)), 'icmp6': ((), ('--icmpv6-type',)), 'set': ((), ('--match-set',)),
            'comment': ((), ('--comment',)), 'conntrack': ((), ('--ctstate',)), 'state': ((), ('--state',)),
            'mac': ((), ('--mac-source',)), 'length': ((), ('--length',)), 'pkttype': ((), ('--pkt-type',)),
            'ttl': ((), ('--ttl-eq', '--ttl-gt', '--ttl-lt')), 'hl': ((), ('--hl-eq', '--hl-gt', '--hl-lt')),
            'multiport': ((), tuple(MATCHES['multiport']))}
# options of which a match takes at least one, or at most one
AT_LEAST_ONE = {'addrtype': ('--src-type', '--dst-type'), 'iprange': ('--src-range', '--dst-range')}
AT_MOST_ONE = {'recent': ('--rsource', '--rdest'), 'connlimit': ('--connlimit-saddr', '--connlimit-daddr')}
TARGET_OPTIONS = {
    'REJECT': {'--reject-with': None},
    'LOG': {'--log-prefix': _text(29), '--log-level': _one_of(LOG_LEVELS), '--log-tcp-sequence': FLAG,
            '--log-tcp-options': FLAG, '--log-ip-options': FLAG, '--log-uid': FLAG, '--log-macdecode': FLAG},
    'NFLOG': {'--nflog-group': _uint(0, 65535), '--nflog-prefix': _text(63), '--nflog-threshold': _uint(1, 65535),
              '--nflog-size': _uint(0, 2 ** 32 - 1)},
}


def _refuse(message):
    raise Refused(message)


class _Context(object):
    """What one check needs to know: the family, the option being read, the rule so far."""

    def __init__(self, version):
        self.version = version
        self.option = None
        self.protocol = None      # the non-negated -p so far


def _is_option(token):
    return token.startswith('-') and len(token) > 1 and not token.startswith('"')


def _command_problem(tokens):
    """The family-independent checks: a match and a target only, nothing that makes
    iptables-restore read another command, a comment or another chain."""
    first = tokens[0]
    if not (first.startswith('-') or first == '!'):
        return ('must start with a match or target option such as -s, -p, -m or -j (the collection adds '
                '"-A %s" itself); got %r first' % (MAIN_CHAIN, first))
    for index, token in enumerate(tokens):
        if token.startswith('#'):
            return 'has %r outside quotes, which iptables-restore may read as a comment; quote it' % token
        name = token.split('=', 1)[0]
        if name in COMMANDS or (token.startswith('-t') and not token.startswith('--')):
            return ('%r is not allowed: give only the match and target; the collection appends the rule to %s '
                    'in the filter table itself' % (token, MAIN_CHAIN))
        if token in ('-j', '--jump', '-g', '--goto') and index + 1 < len(tokens):
            target = unquote(tokens[index + 1])
            if is_owned_chain(target):
                return ('may not jump to %r: the collection\'s own chains are not targets for custom rules'
                        % target)
    return None


def problem(tokens, version):
    """Why the custom rule TOKENS (raw tokens of ``split_rule``) cannot be loaded as a rule of
    IPv4 or IPv6 (VERSION 4 or 6); None when it can."""
    found = _command_problem(tokens)
    if found:
        return found
    try:
        _Rule(tokens, version).read()
    except Refused as exc:
        return str(exc)
    return None


class _Rule(object):
    """One walk over a rule's tokens, refusing at the first thing the grammar does not allow."""

    def __init__(self, tokens, version):
        self.rest = [(unquote(t), _is_option(t) or t == '!') for t in tokens]
        self.ctx = _Context(version)
        self.seen = set()

    def take(self):
        if not self.rest:
            raise Refused('%s needs a value' % self.ctx.option)
        value, is_option = self.rest.pop(0)
        if is_option and not (value.startswith('-') and value[1:2].isdigit()):
            raise Refused('%s needs a value, got the option %s' % (self.ctx.option, value))
        return value

    def read(self):
        while self.rest:
            token, is_option = self.rest.pop(0)
            if not is_option:
                raise Refused('unexpected %r (not an option)' % token)
            negate = token == '!'
            if negate:
                if not self.rest:
                    raise Refused('! at the end negates nothing')
                token = self.rest.pop(0)[0]
            self.option(token, negate)

    def once(self, name):
        if name in self.seen:
            raise Refused('%s is given twice' % name)
        self.seen.add(name)

    def option(self, token, negate):
        ctx = self.ctx
        ctx.option = token
        if token in ('-s', '--source', '-d', '--destination'):
            self.once('-' + token.lstrip('-')[0])
            _network(self.take(), ctx)
        elif token in ('-p', '--protocol'):
            self.once('-p')
            value = self.take()
            _protocol(value, ctx)
            if negate and value == 'all':
                raise Refused('! -p all matches no packet (nft refuses such a rule); leave -p out instead')
            if not negate:
                ctx.protocol = value
        elif token in ('-i', '--in-interface'):
            self.once('-i')
            _interface(self.take(), ctx)
        elif token in ('-o', '--out-interface'):
            raise Refused('-o: packets to the PBX itself (INPUT) have no output interface')
        elif token in ('-f', '--fragment'):
            if ctx.version == 6:
                raise Refused('-f is IPv4 only (IPv6 fragments: -m frag, which custom rules do not take)')
            self.once('-f')
        elif token in ('-m', '--match'):
            if negate:
                raise Refused('! before -m: negate the match\'s option instead')
            self.match(self.take())
        elif token in ('-j', '--jump'):
            if negate:
                raise Refused('! before -j negates nothing')
            self.jump(self.take())
        elif token in ('-g', '--goto'):
            raise Refused('-g: a custom rule may not go to another chain; valid targets: %s' % ', '.join(TARGETS))
        elif ctx.protocol in MATCHES and token in MATCHES[ctx.protocol]:
            raise Refused('%s: write -m %s %s, as iptables-save prints it (else the rule never reads back as '
                          'written)' % (token, ctx.protocol, token))
        else:
            raise Refused('unknown option %s; valid: -s, -d, -p, -i, -f (IPv4), ! before one of them, -m MATCH '
                          'with its options (%s), -j TARGET (%s)'
                          % (token, ', '.join(sorted(m for m in MATCHES if VERSIONS.get(m, ctx.version) == ctx.version)),
                             ', '.join(TARGETS)))

    def match(self, module):
        ctx = self.ctx
        if module not in MATCHES:
            raise Refused('-m %s is not a match custom rules take; valid: %s'
                          % (module, ', '.join(sorted(m for m in MATCHES if VERSIONS.get(m, ctx.version) == ctx.version))))
        if VERSIONS.get(module, ctx.version) != ctx.version:
            other = {'icmp': 'icmp6 --icmpv6-type', 'icmp6': 'icmp --icmp-type', 'ttl': 'hl', 'hl': 'ttl'}[module]
            raise Refused('-m %s is %s only; in %s it is -m %s'
                          % (module, FAMILY_NAMES[VERSIONS[module]], FAMILY_NAMES[ctx.version], other))
        needs = NEEDS_PROTOCOL.get(module)
        if needs and ctx.protocol not in needs:
            raise Refused('-m %s needs -p %s before it (without it the kernel refuses the rule when it is '
                          'loaded)' % (module, ' or -p '.join(needs[:1] if module != 'multiport' else needs)))
        options = MATCHES[module]
        given = []
        values = {}
        while self.rest:
            token, is_option = self.rest[0]
            negate = token == '!' and len(self.rest) > 1 and self.rest[1][0] in options
            name = self.rest[1][0] if negate else token
            if not is_option or name not in options:
                if is_option and name.startswith('--') and name not in RULE_OPTIONS + ('--jump', '--goto'):
                    raise Refused('-m %s does not take %s; valid: %s' % (module, name, ', '.join(sorted(options))))
                break
            del self.rest[:2 if negate else 1]
            check, negatable = options[name]
            if negate and not negatable:
                raise Refused('-m %s: ! %s is not possible' % (module, name))
            if name in given:
                raise Refused('-m %s: %s is given twice' % (module, name))
            given.append(name)
            ctx.option = name
            if check == 'tcp-flags':
                for value in (self.take(), self.take()):
                    _list_of(TCP_FLAGS)(value, ctx)
            elif check == 'set':
                _set_name('%s %s' % (self.take(), self.take()), ctx)
            elif check is not FLAG:
                values[name] = self.take()
                check(values[name], ctx)
        self.match_complete(module, given, values)

    def match_complete(self, module, given, values):
        required, one_of = REQUIRED.get(module, ((), ()))
        for name in required:
            if name not in given:
                raise Refused('-m %s needs %s' % (module, name))
        if one_of and len([name for name in one_of if name in given]) != 1:
            raise Refused('-m %s needs exactly one of %s' % (module, ', '.join(one_of)))
        if not given:
            raise Refused('-m %s without options matches nothing in particular; give its options (%s)'
                          % (module, ', '.join(sorted(MATCHES[module]))))
        if module in AT_LEAST_ONE and not set(AT_LEAST_ONE[module]) & set(given):
            raise Refused('-m %s needs %s' % (module, ' or '.join(AT_LEAST_ONE[module])))
        if module in AT_MOST_ONE and set(AT_MOST_ONE[module]) <= set(given):
            raise Refused('-m %s takes one of %s, not both' % (module, ', '.join(AT_MOST_ONE[module])))
        if module == 'string' and int(values.get('--from', 0)) > int(values.get('--to', 65535)):
            raise Refused('-m string: --from %s comes after --to %s (the kernel refuses it when the rules are '
                          'loaded)' % (values.get('--from', 0), values.get('--to', 65535)))
        if module == 'recent':
            modifiers = [name for name in ('--seconds', '--hitcount', '--rttl', '--reap') if name in given]
            if modifiers and ('--set' in given or '--remove' in given):
                raise Refused('-m recent: %s only go with --rcheck or --update' % ', '.join(modifiers))
            if '--reap' in given and '--seconds' not in given:
                raise Refused('-m recent: --reap needs --seconds')

    def jump(self, target):
        ctx = self.ctx
        if target in BUILTIN_CHAINS + ('PREROUTING', 'POSTROUTING'):
            raise Refused('-j %s: a custom rule may not jump to a built-in chain (from %s, reached from INPUT, '
                          'that is a loop the kernel refuses when the rules are loaded); valid targets: %s'
                          % (target, MAIN_CHAIN, ', '.join(TARGETS)))
        if target not in TARGETS:
            raise Refused('-j %s is not a target custom rules take (a chain of the host, or a target of another '
                          'table or hook, cannot be checked here and may fail when the host loads it); valid: %s'
                          % (target, ', '.join(TARGETS)))
        options = TARGET_OPTIONS.get(target, {})
        given = []
        while self.rest:
            name, is_option = self.rest.pop(0)
            ctx.option = name
            if not is_option or not name.startswith('-'):
                raise Refused('unexpected %r after -j %s' % (name, target))
            if name in ('-j', '--jump', '-g', '--goto'):
                raise Refused('a rule has one target, this one has -j %s and %s %s; give one -j'
                              % (target, name, self.rest[0][0] if self.rest else ''))
            if name not in options and (name in RULE_OPTIONS or name == '!'):
                raise Refused('%s comes after the target -j %s: the target and its options end the rule'
                              % (name, target))
            if name not in options:
                valid = ', '.join(sorted(options)) or 'none'
                raise Refused('-j %s does not take %s; its options: %s' % (target, name, valid))
            if name in given:
                raise Refused('-j %s: %s is given twice' % (target, name))
            given.append(name)
            if name == '--reject-with':
                value = self.take()
                _one_of(REJECT_WITH[ctx.version])(value, ctx)
                if value == 'tcp-reset' and ctx.protocol != 'tcp':
                    raise Refused('--reject-with tcp-reset needs -p tcp (the kernel refuses it for other packets '
                                  'when the rules are loaded)')
            elif options[name] is not FLAG:
                options[name](self.take(), ctx)


# ------------------------------------------------------------------------------ --test

def _restore_input(rules):
    return ''.join(['*filter\n', ':%s - [0:0]\n' % MAIN_CHAIN]
                   + ['-A %s %s\n' % (MAIN_CHAIN, rule) for rule in rules] + ['COMMIT\n'])


RESTORE_FIRST_RULE_LINE = 3       # *filter, the chain, then the rules


def restore_test(rules, runner=None):
    """The controller's own ``iptables-restore --test`` (``ip6tables-restore`` for IPv6) of
    RULES ({4: [rule], 6: [rule]}), in a private network namespace (``unshare --net``), so
    nothing on the controller can change.

    Returns {(version, index): message} for every rule it refuses, or None when it cannot
    run here (not root, no ``unshare`` or ``iptables-restore``, no right to a namespace).
    Rules with ``-m set`` are left out: their sets exist on the host, not here.
    """
    if runner is None:
        # one answer per set of rules and process: a fleet of hosts shares its custom rules
        key = tuple(tuple(rules.get(version) or ()) for version in (4, 6))
        if key not in _TESTED:
            _TESTED[key] = _restore_test(rules, _run) if os.geteuid() == 0 and shutil.which('unshare') else None
        return _TESTED[key]
    return _restore_test(rules, runner)


_TESTED = {}


def _restore_test(rules, runner):
    refused = {}
    for version, tool in ((4, 'iptables-restore'), (6, 'ip6tables-restore')):
        if runner is _run and not shutil.which(tool):
            return None
        pending = [(index, rule) for index, rule in enumerate(rules.get(version) or [])
                   if '-m set' not in rule and '--match set' not in rule]
        while pending:
            rc, err = runner(['unshare', '--net', '--', tool, '--test'], _restore_input([r for _i, r in pending]))
            if rc == 0:
                break
            if err.startswith('unshare:'):
                return None
            line = restore_error_line(err)
            position = None if line is None else line - RESTORE_FIRST_RULE_LINE
            if position is None or not 0 <= position < len(pending):
                # not a rule's fault (the tool itself fails here): no opinion
                return None
            refused[(version, pending[position][0])] = restore_error_text(err)
            del pending[position]
    return refused


def _run(argv, data):
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        return 1, 'unshare: %s' % exc
    _out, err = proc.communicate(data.encode('utf-8'))
    return proc.returncode, err.decode('utf-8', 'replace')
