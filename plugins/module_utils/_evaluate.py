# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ruleset evaluator: what one new packet gets from a ruleset (private to pbxops.firewall).

This file is private to the ``pbxops.firewall`` collection; its interface may change
without notice. It owns one question: given a ruleset (docs/ruleset-format.md) and one
packet, which verdict do the owned chains give it, and which rule decides? The
``iptables_ruleset`` module asks it about the controller's own SSH connection before it
changes anything (the lockout check); the unit tests ask it about random packets to
check the compiler against the written policy semantics.

The packet enters the owned chain that the ``INPUT`` jump of the ruleset names and walks
the rules as netfilter does: the first rule whose matches all hold applies its target;
``ACCEPT``, ``DROP`` and ``REJECT`` end the walk, ``RETURN`` (or the end of a chain)
goes back to the calling chain, a jump to an owned chain calls it, ``-g`` goes to it,
``LOG`` and the other non-terminating targets go on; a verdict given in a log chain
(``PBX-FW-LOG-<REASON>``: log, then drop) is the verdict of the rule that jumped there. Leaving the entry chain means the
owned chains do not decide (verdict ``None``: the hook chain and its policy do).

Only matches whose result for the packet is certain are evaluated: ``-s``/``-d``,
``-p``, ``-i lo`` (a packet arrives on ``lo`` exactly when it comes from one of the host's
own addresses: a loopback source, a source equal to the destination, or a packet the
caller knows is local; such a packet matches no other ``-i``),
``-m tcp``/``udp``/``multiport`` destination ports (``--syn`` for a
TCP packet that opens a connection), ``-m set`` on ``src`` with the ruleset's own
ipsets (hash:net: the longest prefix containing the address decides, ``nomatch``
means "not in the set"), ``-m conntrack --ctstate``/``-m state --state``,
``-m icmp``/``icmp6`` types, ``-m comment``, and the SIP guards the compiler writes:
``-m string --string``/``--hex-string`` (with ``--icase``) is searched in the packet's
payload, the bytes after the TCP/UDP header (a packet without one, such as a TCP SYN,
never matches); the SIP guards' ``-m hashlimit`` (a table named with
``HASHLIMIT_PREFIX``) ``--hashlimit-above`` matches exactly when the packet's source is
over its budget (``over_limit``; the bucket bookkeeping is not modelled).
A caller that gives neither asks about an ordinary first packet: no payload, under
every rate, so no SIP guard drops it. Anything else (a custom
rule's ``-m recent``, ``-m limit`` or its own ``-m hashlimit``, whose budget the
packet's source may or may not have used up; an interface of a packet from outside;
an unknown target) makes that rule
*uncertain*: the walk follows both outcomes, and when they give different verdicts the
answer is ``UNKNOWN`` naming the uncertain rules, never a guess.

Standard library only; no Ansible imports. Errors in the ruleset or the packet raise
``ValueError``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import itertools
import operator
import socket

from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import (
    CHAIN_PREFIX,
    FAMILIES,
    HASHLIMIT_PREFIX,
    MAIN_CHAIN,
    entry_list,
    split_rule,
    unquote,
)
from ansible_collections.pbxops.firewall.plugins.module_utils._reasons import is_log_chain
from ansible_collections.pbxops.firewall.plugins.module_utils._verdicts import DENY, FINAL, UNKNOWN

# targets that log, mark or count and let the packet go on to the next rule
CONTINUE_TARGETS = ('LOG', 'NFLOG', 'ULOG', 'MARK', 'CONNMARK', 'TRACE', 'AUDIT', 'NOTRACK', 'CT')
# a walk that meets more uncertain rules than this gives up (UNKNOWN)
MAX_BRANCHES = 256
MAX_DEPTH = 32

PROTOCOLS = {
    'tcp': 'tcp', '6': 'tcp', 'udp': 'udp', '17': 'udp', 'icmp': 'icmp', '1': 'icmp',
    'ipv6-icmp': 'ipv6-icmp', 'icmpv6': 'ipv6-icmp', '58': 'ipv6-icmp',
}
ECHO_REQUEST = {'ipv4': 8, 'ipv6': 128}
ICMP_NAMES = {'echo-request': 8, 'ping': 8}
ICMP6_NAMES = {'echo-request': 128, 'ping': 128}
CTSTATES = ('NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED', 'SNAT', 'DNAT')


class Packet(object):
    """A new packet of ``family`` from ``source``.

    ``proto`` is ``tcp``, ``udp`` or ``icmp`` (an ICMP or ICMPv6 echo request, or the
    ``icmp_type`` given); ``port`` the destination port (tcp and udp); ``destination``
    the host's own address when known; ``state`` the conntrack state (``NEW``);
    ``payload`` the bytes after the TCP/UDP header (None: none, as in a TCP SYN);
    ``over_limit`` whether the source is over the SIP guards' rate budget (``-m hashlimit``);
    ``local`` whether it comes from one of the host's own addresses, and so arrives on
    ``lo`` (None: only when the source is a loopback address or the destination itself).
    """

    def __init__(self, family, source, proto, port=None, destination=None, state='NEW', icmp_type=None,
                 payload=None, over_limit=False, local=None):
        if family not in FAMILIES:
            raise ValueError('family must be one of %s, got %r' % (', '.join(FAMILIES), family))
        self.family = family
        self.source = _address(source, family, 'source')
        self.destination = None if destination is None else _address(destination, family, 'destination')
        if proto not in ('tcp', 'udp', 'icmp'):
            raise ValueError('proto must be tcp, udp or icmp, got %r' % (proto,))
        self.proto = proto
        if proto == 'icmp':
            self.wire = 'icmp' if family == 'ipv4' else 'ipv6-icmp'
            self.port = None
            self.icmp_type = ECHO_REQUEST[family] if icmp_type is None else int(icmp_type)
        else:
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise ValueError('port must be an integer 1-65535 for %s, got %r' % (proto, port))
            self.wire = proto
            self.port = port
            self.icmp_type = None
        if state not in CTSTATES:
            raise ValueError('state must be one of %s, got %r' % (', '.join(CTSTATES), state))
        self.state = state
        if payload is not None and not isinstance(payload, bytes):
            raise ValueError('payload must be bytes or None, got %r' % (payload,))
        self.payload = payload
        self.over_limit = bool(over_limit)
        if local is None:
            local = self.source.is_loopback or self.source == self.destination
        self.local = bool(local)

    def contains(self, pattern, icase):
        """Whether the payload holds ``pattern`` (``-m string``; ``icase``: ASCII case-insensitive)."""
        if not self.payload:
            return False
        if icase:
            return pattern.lower() in self.payload.lower()
        return pattern in self.payload

    def __repr__(self):
        return 'Packet(%r, %r, %r, %r)' % (self.family, str(self.source), self.proto, self.port)

    def describe(self):
        """``new tcp packet from 10.0.0.1 to port 22``."""
        if self.proto == 'icmp':
            what = '%s %s echo request' % (self.state.lower(), 'ICMP' if self.family == 'ipv4' else 'ICMPv6')
            return '%s from %s' % (what, self.source)
        return '%s %s packet from %s to port %d' % (self.state.lower(), self.proto, self.source, self.port)


def _address(text, family, what):
    try:
        address = ipaddress.ip_address(str(text).partition('%')[0])
    except ValueError:
        raise ValueError('%s must be an IP address, got %r' % (what, text))
    if address.version == 6 and address.ipv4_mapped is not None and family == 'ipv4':
        address = address.ipv4_mapped
    want = 4 if family == 'ipv4' else 6
    if address.version != want:
        raise ValueError('%s %s is not an %s address' % (what, text, family))
    return address


# ------------------------------------------------------------------------------ ipsets

class IpSet(object):
    """One ipset of the ruleset: hash:net (longest prefix; nomatch excludes) or hash:ip.

    A set may hold hundreds of thousands of members (a country): they are indexed on first
    use, per prefix length, so that a lookup costs one dictionary probe per length present.
    """

    def __init__(self, spec):
        if not isinstance(spec, dict) or not isinstance(spec.get('name'), str):
            raise ValueError('ipset must be a dict with a name, got %r' % (spec,))
        self.name = spec['name']
        family = spec.get('family', 'inet')
        if family not in ('inet', 'inet6'):
            raise ValueError('ipset %s: family must be inet or inet6, got %r' % (self.name, family))
        self.version = 4 if family == 'inet' else 6
        self._entries = spec.get('entries')     # split into members when first looked up in
        self.source = spec.get('source')        # where the members come from (the compiler says)
        self._index = None

    def _build(self):
        entries = entry_list(self._entries)
        index = self._plain_index(entries)
        if index is None:
            index = self._index_each(entries)
        self._index = [(self._width - length, index[length]) for length in sorted(index, reverse=True)]

    @property
    def _width(self):
        return 32 if self.version == 4 else 128

    def _plain_index(self, entries):
        """The index of members that are plain addresses or CIDRs (no flag, the common case: a
        country's 200,000), each conversion a C loop over all of them; None when one is not (the
        member-by-member index then decides it, and words the refusal)."""
        if not entries:
            return {}
        width = self._width
        family = socket.AF_INET if self.version == 4 else socket.AF_INET6
        try:
            addresses, slashes, lengths = zip(*map(str.partition, entries, itertools.repeat('/')))
            numbers = list(map(int.from_bytes, map(socket.inet_pton, itertools.repeat(family), addresses),
                               itertools.repeat('big')))
            # a host has no length: its width; "/" without a length stays "" (refused by int)
            prefixlens = list(map(int, map(operator.add, lengths, map({'': str(width), '/': ''}.get, slashes))))
        except (TypeError, ValueError, OSError):
            return None
        if min(prefixlens) < 0 or max(prefixlens) > width:
            return None
        masks = [~((1 << (width - length)) - 1) for length in range(width + 1)]
        index = {}
        for value, length, entry in zip(map(operator.and_, numbers, map(masks.__getitem__, prefixlens)),
                                        prefixlens, entries):
            index.setdefault(length, {})[value] = (entry, False)
        return index

    def _index_each(self, entries):
        width = self._width
        family = socket.AF_INET if self.version == 4 else socket.AF_INET6
        index = {}
        for entry in entries:
            parts = str(entry).split()
            if not parts or any(flag != 'nomatch' for flag in parts[1:]):
                raise ValueError('ipset %s: bad entry %r' % (self.name, entry))
            address, slash, length = parts[0].partition('/')
            try:
                value = int.from_bytes(socket.inet_pton(family, address), 'big')
                prefixlen = int(length) if slash else width
            except (OSError, ValueError):
                raise ValueError('ipset %s: %r is not an IPv%d address or CIDR' % (self.name, entry, self.version))
            if not 0 <= prefixlen <= width:
                raise ValueError('ipset %s: %r is not an IPv%d address or CIDR' % (self.name, entry, self.version))
            value &= ~((1 << (width - prefixlen)) - 1)
            index.setdefault(prefixlen, {})[value] = (parts[0], len(parts) > 1)
        return index

    def lookup(self, address):
        """(member, nomatch) of the longest member that contains ``address``, or None."""
        if address.version != self.version:
            return None
        if self._index is None:
            self._build()
        value = int(address)
        for shift, members in self._index:
            found = members.get(value >> shift << shift)
            if found is not None:
                return found
        return None

    def contains(self, address):
        best = self.lookup(address)
        return best is not None and not best[1]


# ------------------------------------------------------------------------------ rules

def _ports(text):
    """"22" -> [(22, 22)]; "5060,10000:10200" -> [(5060, 5060), (10000, 10200)]."""
    result = []
    for part in text.split(','):
        low, _sep, high = part.partition(':')
        low, high = int(low or 0), int(high or (low if not _sep else 65535))
        if not 0 <= low <= high <= 65535:
            raise ValueError('bad port %r' % part)
        result.append((low, high))
    return result


TCP_FLAGS = frozenset(('FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG'))


def _flags(text):
    flags = set(text.split(',')) - {'NONE', ''}
    return set(TCP_FLAGS) if 'ALL' in flags else flags


def _in_ports(port, ranges):
    return port is not None and any(low <= port <= high for low, high in ranges)


class Rule(object):
    """One rule line: its chain, its matches (each a function packet -> True/False/None), its target.

    A match returning None is one this evaluator cannot decide; ``uncertain`` lists why.
    """

    def __init__(self, line, family, index, ipsets, label=None):
        self.line = line
        self.family = family
        self.index = index
        self.label = label or 'ruleset.%s[%d]' % (family, index)
        self.comment = None
        self.target = None
        self.goto = False
        self.protocol = None
        self.modules = []          # [(module, [(option, value), ...])] in order, for callers that lint
        self.set_names = []
        self.uncertain = []        # why some match cannot be decided
        # plain facts for callers that classify rules (None: the rule does not say)
        self.states = None         # conntrack states of a non-negated --ctstate/--state match
        self.in_interface = None   # a non-negated -i
        self.icmp_type = None      # a non-negated --icmp-type/--icmpv6-type
        self.tests = []
        self._ipsets = ipsets
        # (value, is an option): a quoted token is always a value, even "-x"
        tokens = [(unquote(t), t.startswith('-') or t == '!') for t in split_rule(line)]
        if len(tokens) < 2 or tokens[0][0] != '-A':
            raise ValueError('%s: not an -A rule: %r' % (self.label, line))
        self.chain = tokens[1][0]
        self._parse(tokens[2:])
        if self.target is None:
            self.target = ''        # no target: a counting rule, the packet goes on

    # -- parsing ---------------------------------------------------------------------

    def _parse(self, rest):
        negate = False

        def value():
            if not rest:
                raise ValueError('%s: %s needs a value: %r' % (self.label, opt, self.line))
            return rest.pop(0)[0]

        def values():
            found = []
            while rest and not rest[0][1]:
                found.append(rest.pop(0)[0])
            return found

        while rest:
            opt, is_option = rest.pop(0)
            if not is_option:
                raise ValueError('%s: unexpected %r (not an option): %r' % (self.label, opt, self.line))
            if opt == '!':
                negate = True
                continue
            if opt in ('-s', '--source', '-d', '--destination'):
                self._address_match(opt, value(), negate)
            elif opt in ('-p', '--protocol'):
                self._protocol_match(value(), negate)
            elif opt in ('-i', '--in-interface'):
                name = value()
                if not negate:
                    self.in_interface = name
                if name == 'lo':   # exactly the packets from the host's own addresses
                    self._add(lambda p: p.local, negate)
                else:              # which interface a packet from outside arrives on is not known
                    self._unknown('-i %s (the interface the packet arrives on is not known)' % name,
                                  lambda p: False if p.local else None, negate)
            elif opt in ('-j', '--jump', '-g', '--goto'):
                self.target = value()
                self.goto = opt in ('-g', '--goto')
                if rest:           # target options (--reject-with, --log-prefix ...)
                    if self.target not in FINAL and self.target not in CONTINUE_TARGETS:
                        self._unknown('target %s with options %s' % (self.target, ' '.join(t for t, _o in rest)))
                    del rest[:]
            elif opt in ('-m', '--match'):
                module = value()
                options = []
                while rest and (rest[0][0].startswith('--') or rest[0][0] == '!') and rest[0][1]:
                    neg = rest[0][0] == '!'
                    if neg:
                        if len(rest) < 2 or not rest[1][0].startswith('--'):
                            break          # the negation of the next -s/-p, not of our option
                        rest.pop(0)
                    name = rest.pop(0)[0]
                    options.append((name, ' '.join(values()), neg))
                self.modules.append((module, [(n, v) for n, v, _neg in options]))
                self._module(module, options)
            else:
                self._unknown('option %s' % opt)
                values()           # skip its values
            negate = False

    def _add(self, test, negate=False):
        if negate:
            self.tests.append(lambda p, t=test: _not(t(p)))
        else:
            self.tests.append(test)

    def _unknown(self, why, test=None, negate=False):
        """A match this evaluator cannot decide (``test``: one that decides some packets)."""
        self.uncertain.append(why)
        self._add(test or (lambda p: None), negate)

    def _address_match(self, opt, text, negate):
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError('%s: %s %r is not an address or CIDR: %r' % (self.label, opt, text, self.line))
        if opt in ('-s', '--source'):
            self._add(lambda p, n=net: p.source in n, negate)
        else:
            self._add(lambda p, n=net: None if p.destination is None else p.destination in n, negate)

    def _protocol_match(self, text, negate):
        proto = PROTOCOLS.get(text.lower())
        if text.lower() in ('all', '0'):
            self._add(lambda p: True, negate)
            return
        if proto is None:
            self._add(lambda p: False, negate)     # a protocol the asked packets never have
            return
        if not negate:
            self.protocol = proto
        self._add(lambda p, w=proto: p.wire == w, negate)

    def _module(self, module, options):
        if module in ('string', 'hashlimit'):      # their options only make sense together
            getattr(self, '_' + module)(options)
            return
        handler = getattr(self, '_m_' + module.replace('-', '_'), None)
        if handler is None:
            self._unknown('-m %s' % module)
            return
        for name, value, neg in options:
            handler(name, value, neg)

    # one method per understood match module; each handles one of its options

    def _m_comment(self, name, value, neg):
        if name == '--comment':
            self.comment = value
        else:
            self._unknown('-m comment %s' % name)

    def _port_option(self, module, name, value, neg):
        if name in ('--dport', '--destination-port', '--dports', '--destination-ports'):
            try:
                ranges = _ports(value)
            except ValueError:
                # iptables-restore --test rejects such a rule with its own message; here it
                # is only a rule whose outcome cannot be known
                self._unknown('-m %s %s %r (not a port iptables accepts)' % (module, name, value))
                return True
            self._add(lambda p, r=ranges: _in_ports(p.port, r), neg)
        elif name in ('--sport', '--source-port', '--sports', '--source-ports', '--ports'):
            self._unknown('-m %s %s (the source port of a new connection is not known)' % (module, name))
        else:
            return False
        return True

    def _m_tcp(self, name, value, neg):
        if self._port_option('tcp', name, value, neg):
            return
        if name == '--syn':                  # the first packet of a new connection is a SYN
            self._add(lambda p: p.wire == 'tcp' and p.state == 'NEW', neg)
        elif name == '--tcp-flags':
            mask, _sep, comp = value.partition(' ')
            mask, comp = _flags(mask), _flags(comp)
            # the first packet of a new connection carries SYN alone
            result = ({'SYN'} & mask) == comp
            self._add(lambda p, r=result: r if p.wire == 'tcp' and p.state == 'NEW' else None, neg)
        else:
            self._unknown('-m tcp %s' % name)

    def _m_udp(self, name, value, neg):
        if not self._port_option('udp', name, value, neg):
            self._unknown('-m udp %s' % name)

    def _m_multiport(self, name, value, neg):
        if not self._port_option('multiport', name, value, neg):
            self._unknown('-m multiport %s' % name)

    def _m_set(self, name, value, neg):
        if name == '--match-set':
            set_name, _sep, flags = value.partition(' ')
            self.set_names.append(set_name)
            ipset = self._ipsets.get(set_name)
            if ipset is None:
                self._unknown('-m set --match-set %s (not an ipset of this ruleset)' % set_name)
            elif flags != 'src':
                self._unknown('-m set --match-set %s %s (only src is evaluated)' % (set_name, flags))
            else:
                self._add(lambda p, s=ipset: s.contains(p.source), neg)
        else:
            self._unknown('-m set %s' % name)

    def _states(self, module, name, value, neg):
        states = value.split(',')
        unknown = [s for s in states if s not in CTSTATES]
        if unknown:
            raise ValueError('%s: -m %s %s %r: unknown state %s: %r'
                             % (self.label, module, name, value, unknown[0], self.line))
        if not neg:
            self.states = tuple(states)

        def test(packet, states=tuple(states)):
            if packet.state in states:
                return True
            if any(s in ('SNAT', 'DNAT') for s in states):
                return None                 # whether the connection was NATed is not known
            return False
        self._add(test, neg)

    def _m_conntrack(self, name, value, neg):
        if name == '--ctstate':
            self._states('conntrack', name, value, neg)
        else:
            self._unknown('-m conntrack %s' % name)

    def _m_state(self, name, value, neg):
        if name == '--state':
            self._states('state', name, value, neg)
        else:
            self._unknown('-m state %s' % name)

    def _icmp(self, module, names, name, value, neg):
        text = value.split('/')[0]
        if text.isdigit():
            icmp_type = int(text)
        elif text in names:
            icmp_type = names[text]
        else:
            self._unknown('-m %s %s %s' % (module, name, value))
            return
        code = value.split('/')[1] if '/' in value else None
        if not neg:
            self.icmp_type = icmp_type
        self._add(lambda p, t=icmp_type, c=code: p.icmp_type == t and (c is None or c == '0'), neg)

    def _m_icmp(self, name, value, neg):
        if name == '--icmp-type':
            self._icmp('icmp', ICMP_NAMES, name, value, neg)
        else:
            self._unknown('-m icmp %s' % name)

    def _m_icmp6(self, name, value, neg):
        if name == '--icmpv6-type':
            self._icmp('icmp6', ICMP6_NAMES, name, value, neg)
        else:
            self._unknown('-m icmp6 %s' % name)

    def _string(self, options):
        """``-m string``: the pattern searched in the payload (None: no payload, no match)."""
        icase = any(name == '--icase' for name, _v, _n in options)
        ranged = [name for name, _v, _n in options if name in ('--from', '--to')]
        for name, value, neg in options:
            if name in ('--string', '--hex-string'):
                try:
                    pattern = _hex_string(value) if name == '--hex-string' else value.encode('utf-8')
                except ValueError as exc:
                    raise ValueError('%s: -m string %s %r: %s: %r' % (self.label, name, value, exc, self.line))

                def test(packet, pattern=pattern):
                    if not packet.payload:
                        return False
                    if ranged:      # offsets count from the IP header, which is not modelled
                        return None
                    return packet.contains(pattern, icase)
                self._add(test, neg)
            elif name not in ('--algo', '--icase', '--from', '--to'):
                self._unknown('-m string %s' % name)

    def _hashlimit(self, options):
        """``-m hashlimit``: the SIP guards' budgets follow ``over_limit`` (an ordinary client's
        packet, the default, is under them); any other table's budget is not known."""
        table = ''.join(value for name, value, _neg in options if name == '--hashlimit-name')
        if not table.startswith(HASHLIMIT_PREFIX):
            self._unknown('-m hashlimit (whether the source is over the budget of %s is not known)'
                          % (table or 'an unnamed table'))
            return
        for name, _value, neg in options:
            if name == '--hashlimit-above':
                self._add(lambda p: p.over_limit, neg)
            elif name == '--hashlimit-upto':
                self._add(lambda p: not p.over_limit, neg)

    # -- evaluation ------------------------------------------------------------------

    def match(self, packet):
        """True, False, or None when it depends on something this evaluator does not know."""
        result = True
        for test in self.tests:
            outcome = test(packet)
            if outcome is False:
                return False
            if outcome is None:
                result = None
        return result

    def describe(self):
        if self.comment:
            return '%r (%s: %s)' % (self.comment, self.label, self.line)
        return '%s: %s' % (self.label, self.line)


def _hex_string(text):
    """``|0a|User-Agent`` -> b'\\nUser-Agent': text between bars is hex, the rest literal."""
    result = bytearray()
    for index, part in enumerate(text.split('|')):
        if index % 2:
            result += bytearray.fromhex(part.replace(' ', ''))
        else:
            result += part.encode('utf-8')
    if text.count('|') % 2:
        raise ValueError('unbalanced |')
    return bytes(result)


def _not(value):
    return None if value is None else not value


# ------------------------------------------------------------------------------ verdicts

class Verdict(object):
    """What a packet gets.

    ``target``: ``ACCEPT``, ``DROP``, ``REJECT``, ``None`` (the owned chains do not
    decide: the packet goes back to the hook chain) or ``UNKNOWN``. ``rule``: the
    deciding Rule (None when no rule decided). ``uncertain``: the rules whose matches
    could not be decided on the way (for UNKNOWN, the ones that make it unknown);
    ``possible``: the targets the walk could end in.
    """

    def __init__(self, packet, target, rule=None, uncertain=(), possible=()):
        self.packet = packet
        self.target = target
        self.rule = rule
        self.uncertain = list(uncertain)
        self.possible = sorted(set(possible), key=lambda t: (t is None, t or ''))

    @property
    def denied(self):
        return self.target in DENY

    @property
    def comment(self):
        return None if self.rule is None else self.rule.comment

    def as_dict(self):
        return {
            'target': self.target,
            'rule': None if self.rule is None else self.rule.line,
            'rule_index': None if self.rule is None else self.rule.label,
            'comment': self.comment,
            'uncertain': [r.line for r in self.uncertain],
            'possible': list(self.possible),
        }

    def __repr__(self):
        return 'Verdict(%r, %r)' % (self.target, None if self.rule is None else self.rule.line)


class Evaluator(object):
    """A parsed ruleset, ready to evaluate many packets."""

    def __init__(self, ruleset):
        if not isinstance(ruleset, dict):
            raise ValueError('ruleset must be a dict, got %r' % (ruleset,))
        self.ipsets = {}
        for spec in ruleset.get('ipsets') or []:
            ipset = IpSet(spec)
            self.ipsets[ipset.name] = ipset
        jumps = ruleset.get('jumps')
        if jumps is None:
            jumps = [{'chain': 'INPUT', 'target': MAIN_CHAIN}]
        self.entry = dict((j['chain'], j['target']) for j in jumps if isinstance(j, dict) and 'chain' in j)
        self.chains = {}
        for family in FAMILIES:
            chains = {}
            for index, line in enumerate(ruleset.get(family) or []):
                rule = Rule(str(line).strip(), family, index, self.ipsets)
                chains.setdefault(rule.chain, []).append(rule)
            self.chains[family] = chains

    def rules(self, family=None):
        families = FAMILIES if family is None else (family,)
        return [r for f in families for chain in sorted(self.chains[f]) for r in self.chains[f][chain]]

    def evaluate(self, family, source, proto, port=None, destination=None, state='NEW', hook='INPUT',
                 icmp_type=None, payload=None, over_limit=False, local=None):
        packet = Packet(family, source, proto, port, destination, state, icmp_type, payload, over_limit, local)
        return self.evaluate_packet(packet, hook)

    def evaluate_packet(self, packet, hook='INPUT'):
        entry = self.entry.get(hook)
        if entry is None or entry not in self.chains[packet.family]:
            return Verdict(packet, None)
        budget = [MAX_BRANCHES]
        outcomes = self._walk(packet, [(entry, 0)], [], budget)
        if outcomes is None:
            uncertain = [r for r in self.rules(packet.family) if r.uncertain]
            return Verdict(packet, UNKNOWN, None, uncertain, [UNKNOWN])
        targets = set(o[0] for o in outcomes)
        if len(targets) == 1:
            # every way the uncertain rules can go ends the same: certain. Report the
            # outcome in which no uncertain rule matched (the last one explored).
            target, rule, uncertain = outcomes[-1]
            return Verdict(packet, target, rule, uncertain, targets)
        uncertain = []
        for _t, _r, seen in outcomes:
            uncertain += [r for r in seen if r not in uncertain]
        # the rule that decides when no uncertain rule matches
        return Verdict(packet, UNKNOWN, outcomes[-1][1], uncertain, targets)

    def _walk(self, packet, stack, uncertain, budget):
        """All (target, deciding rule, uncertain rules met) the packet can end in; None = too many."""
        chains = self.chains[packet.family]
        while stack:
            chain, position = stack[-1]
            rules = chains.get(chain, [])
            if position >= len(rules):
                stack.pop()           # end of chain: back to the caller
                continue
            rule = rules[position]
            stack[-1] = (chain, position + 1)
            matched = rule.match(packet)
            if matched is False:
                continue
            if matched is None:
                budget[0] -= 1
                if budget[0] < 0:
                    return None
                taken = self._take(packet, rule, list(stack), uncertain + [rule], budget)
                if taken is None:
                    return None
                skipped = self._walk(packet, list(stack), uncertain + [rule], budget)
                if skipped is None:
                    return None
                return taken + skipped
            return self._take(packet, rule, stack, uncertain, budget)
        return [(None, None, uncertain)]

    def _take(self, packet, rule, stack, uncertain, budget):
        """Apply a matched rule's target, then continue as netfilter would."""
        target = rule.target
        if target in FINAL:
            return [(target, rule, uncertain)]
        if target == 'RETURN':
            stack.pop()
            return self._walk(packet, stack, uncertain, budget)
        if target == '' or target in CONTINUE_TARGETS:
            return self._walk(packet, stack, uncertain, budget)
        if target in self.chains[packet.family] or target.startswith(CHAIN_PREFIX) or target == MAIN_CHAIN:
            if len(stack) >= MAX_DEPTH:
                return None
            if rule.goto:
                stack.pop()
            stack.append((target, 0))
            outcomes = self._walk(packet, stack, uncertain, budget)
            if outcomes is not None and is_log_chain(target):
                # a log chain logs and drops; the rule that jumped to it (whose comment names
                # the reason and the network) is the one that decides
                outcomes = [(t, rule if r is not None and r.chain == target else r, u) for t, r, u in outcomes]
            return outcomes
        # a target this evaluator does not know (a foreign chain, TARPIT ...): it may decide
        return [(UNKNOWN, rule, uncertain + [rule])]


def evaluate(ruleset, family, source, proto, port=None, destination=None, state='NEW', hook='INPUT'):
    """What a new packet of ``family`` from ``source`` to (``proto``, ``port``) gets: a Verdict."""
    return Evaluator(ruleset).evaluate(family, source, proto, port, destination, state, hook)
