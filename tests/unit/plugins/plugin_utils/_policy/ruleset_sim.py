# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An interpreter for the compiled ruleset (docs/ruleset-format.md).

It reads the ``-A PBX-FIREWALL ...`` lines the compiler emits, in the form
iptables-save prints, and runs one new packet through them the way netfilter
would: the first rule whose matches all hold decides. ``-m set`` looks the source
up in the ruleset's ipsets with hash:net semantics (the longest prefix that
contains the address decides; a ``nomatch`` entry means "not in the set").

Only the subset of iptables the compiler emits is understood; anything else is
an error, so an unexpected rule shape fails the tests instead of being skipped.

A packet comes from a non-loopback interface (``-i lo`` never matches) and carries
what the stateful matches need: its conntrack state (``-m conntrack --ctstate``),
its payload (``-m string``: the pattern is searched in the payload, with
``--icase`` case-insensitively; a packet without payload, e.g. a TCP SYN, never
matches) and whether its source is over its SIP budget (``-m hashlimit
--hashlimit-above`` matches exactly then; the bucket bookkeeping itself is not
modelled). Jumps into the owned ``PBX-FW-*`` guard chains, ``RETURN`` and falling
off a guard chain's end work as in netfilter.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

MAIN = 'PBX-FIREWALL'
CHAINS = (MAIN, 'PBX-FW-SIP', 'PBX-FW-SIP-TLS')
TARGETS = ('ACCEPT', 'DROP', 'RETURN') + CHAINS[1:]
CT_STATES = ('NEW', 'ESTABLISHED', 'RELATED')
PROTOCOLS = {4: ('tcp', 'udp', 'icmp'), 6: ('tcp', 'udp', 'ipv6-icmp')}
ECHO_REQUEST = {4: 8, 6: 128}
MULTIPORT_MAX_SLOTS = 15
COMMENT_MAX_BYTES = 255


class RuleSyntaxError(ValueError):
    pass


def tokenize(line):
    """Split like iptables-restore: whitespace separates, "..." quotes, backslash escapes."""
    tokens = []
    current = None
    i = 0
    in_quotes = False
    while i < len(line):
        ch = line[i]
        if in_quotes:
            if ch == '\\' and i + 1 < len(line):
                current += line[i + 1]
                i += 2
                continue
            if ch == '"':
                in_quotes = False
            else:
                current += ch
        elif ch == '"':
            in_quotes = True
            current = current or ''
        elif ch == ' ':
            if current is not None:
                tokens.append(current)
            current = None
        else:
            current = (current or '') + ch
        i += 1
    if in_quotes:
        raise RuleSyntaxError('unterminated quote in %r' % line)
    if current is not None:
        tokens.append(current)
    return tokens


def parse_ports(text):
    """"22" -> [(22, 22)]; "5060,10000:10200" -> [(5060, 5060), (10000, 10200)]."""
    result = []
    for part in text.split(','):
        low, _sep, high = part.partition(':')
        low, high = int(low), int(high or low)
        if not 1 <= low <= high <= 65535:
            raise RuleSyntaxError('bad port %r' % part)
        result.append((low, high))
    return result


FLAG_OPTIONS = ('--icase',)


def parse_hex_string(text):
    """``|0a|User-Agent`` -> b'\\nUser-Agent': text between bars is hex, the rest literal."""
    result = bytearray()
    for index, part in enumerate(text.split('|')):
        if index % 2:
            compact = part.replace(' ', '')
            if len(compact) % 2:
                raise RuleSyntaxError('odd hex digits in %r' % text)
            result += bytearray.fromhex(compact)
        else:
            result += part.encode('utf-8')
    return bytes(result)


def multiport_slots(text):
    return sum(1 if low == high else 2 for low, high in parse_ports(text))


class IpSet(object):
    """A hash:net set: longest prefix containing the address decides; nomatch = not in set."""

    def __init__(self, spec):
        self.name = spec['name']
        if spec['family'] not in ('inet', 'inet6'):
            raise RuleSyntaxError('ipset %s: bad family %r' % (self.name, spec['family']))
        self.version = 4 if spec['family'] == 'inet' else 6
        self.entries = []
        for entry in spec['entries']:
            text, _sep, flag = entry.partition(' ')
            if flag not in ('', 'nomatch'):
                raise RuleSyntaxError('ipset %s: bad entry %r' % (self.name, entry))
            net = ipaddress.ip_network(text)   # strict: host bits are an error
            if net.version != self.version:
                raise RuleSyntaxError('ipset %s: %r is not %s' % (self.name, entry, spec['family']))
            if net.prefixlen == 0:
                raise RuleSyntaxError('ipset %s: hash:net cannot hold /0 (%r)' % (self.name, entry))
            if '/' not in text and net.prefixlen != net.max_prefixlen:
                raise RuleSyntaxError('ipset %s: %r' % (self.name, entry))
            if '/' in text and net.prefixlen == net.max_prefixlen:
                raise RuleSyntaxError('ipset save prints host entries without a prefix: %r' % entry)
            self.entries.append((net, flag == 'nomatch'))
        if len(self.entries) > spec['maxelem']:
            raise RuleSyntaxError('ipset %s: more entries than maxelem' % self.name)

    def contains(self, address):
        best = None
        for net, nomatch in self.entries:
            if address in net and (best is None or net.prefixlen > best[0].prefixlen):
                best = (net, nomatch)
        return best is not None and not best[1]


class Rule(object):
    """One parsed rule: a list of predicates on the packet and a target."""

    def __init__(self, line, version, ipsets):
        self.line = line
        self.version = version
        self.tests = []
        self.target = None
        self.comment = None
        self.multiport_slots = []
        self.set_names = []
        tokens = tokenize(line)
        if tokens[:1] != ['-A'] or len(tokens) < 2 or tokens[1] not in CHAINS:
            raise RuleSyntaxError('not a rule of the owned chain: %r' % line)
        self.chain = tokens[1]
        self.protocol = None
        rest = tokens[2:]
        while rest:
            opt = rest.pop(0)
            if opt == '-s':
                net = ipaddress.ip_network(rest.pop(0))     # strict
                if net.version != version:
                    raise RuleSyntaxError('IPv%d source in an IPv%d rule: %r' % (net.version, version, line))
                self.tests.append(lambda p, net=net: p.address in net)
            elif opt == '-i':
                if rest.pop(0) != 'lo':
                    raise RuleSyntaxError('unexpected interface in %r' % line)
                self.tests.append(lambda p: False)        # packets come from outside
            elif opt == '-p':
                proto = rest.pop(0)
                if proto not in PROTOCOLS[version]:
                    raise RuleSyntaxError('protocol %r in IPv%d: %r' % (proto, version, line))
                self.protocol = proto
                self.tests.append(lambda p, proto=proto: p.wire_protocol == proto)
            elif opt == '-m' and rest[:2] == ['set', '--match-set']:
                name, direction = rest[2:4]
                del rest[:4]
                if direction != 'src':
                    raise RuleSyntaxError('set match on %r: %r' % (direction, line))
                ipset = ipsets.get(name)
                if ipset is None:
                    raise RuleSyntaxError('rule uses an undefined ipset %s: %r' % (name, line))
                if ipset.version != version:
                    raise RuleSyntaxError('IPv%d set %s in an IPv%d rule' % (ipset.version, name, version))
                self.set_names.append(name)
                self.tests.append(lambda p, s=ipset: s.contains(p.address))
            elif opt == '-m':
                module = rest.pop(0)
                options = []
                while rest and rest[0].startswith('--'):
                    key = rest.pop(0)
                    options.append((key, None if key in FLAG_OPTIONS else rest.pop(0)))
                self._module(module, options)
            elif opt == '-j':
                self.target = rest.pop(0)
                if self.target not in TARGETS or rest:
                    raise RuleSyntaxError('the target must end the rule: %r' % line)
            else:
                raise RuleSyntaxError('unknown option %r in %r' % (opt, line))
        if self.target is None:
            raise RuleSyntaxError('no target in %r' % line)

    def _module(self, module, options):
        opts = dict(options)
        keys = [key for key, _value in options]

        def expect(*allowed):
            if len(set(keys)) != len(keys) or not set(keys) <= set(allowed):
                raise RuleSyntaxError('-m %s %r in %r' % (module, options, self.line))

        if module in ('tcp', 'udp'):
            expect('--dport')
            if self.protocol != module:
                raise RuleSyntaxError('-m %s without -p %s: %r' % (module, module, self.line))
            (port,) = parse_ports(opts['--dport'])
            self.tests.append(lambda p, r=port: p.port is not None and r[0] <= p.port <= r[1])
        elif module == 'multiport':
            expect('--dports')
            if self.protocol not in ('tcp', 'udp'):
                raise RuleSyntaxError('multiport without tcp/udp: %r' % self.line)
            ports = parse_ports(opts['--dports'])
            if len(ports) < 2:
                raise RuleSyntaxError('multiport with one port (iptables-save keeps it, but '
                                      'the compiler uses -m tcp/udp): %r' % self.line)
            self.multiport_slots.append(multiport_slots(opts['--dports']))
            self.tests.append(lambda p, rs=ports: p.port is not None
                              and any(lo <= p.port <= hi for lo, hi in rs))
        elif module in ('icmp', 'icmp6'):
            key = '--icmp-type' if module == 'icmp' else '--icmpv6-type'
            expect(key)
            if (module, self.protocol) not in (('icmp', 'icmp'), ('icmp6', 'ipv6-icmp')):
                raise RuleSyntaxError('-m %s with -p %s: %r' % (module, self.protocol, self.line))
            icmp_type = int(opts[key])
            self.tests.append(lambda p, t=icmp_type: p.icmp_type == t)
        elif module == 'comment':
            expect('--comment')
            self.comment = opts['--comment']
        elif module == 'conntrack':
            expect('--ctstate')
            states = opts['--ctstate'].split(',')
            if not set(states) <= set(CT_STATES):
                raise RuleSyntaxError('conntrack state %r in %r' % (opts['--ctstate'], self.line))
            self.tests.append(lambda p, states=states: p.state in states)
        elif module == 'string':
            expect('--string', '--hex-string', '--algo', '--icase')
            if ('--string' in opts) == ('--hex-string' in opts) or opts['--algo'] not in ('bm', 'kmp'):
                raise RuleSyntaxError('-m string %r in %r' % (options, self.line))
            if '--string' in opts:
                pattern = opts['--string'].encode('utf-8')
            else:
                pattern = parse_hex_string(opts['--hex-string'])
            icase = '--icase' in opts
            self.tests.append(lambda p, pat=pattern, icase=icase: p.contains(pat, icase))
        elif module == 'hashlimit':
            expect('--hashlimit-above', '--hashlimit-burst', '--hashlimit-mode',
                   '--hashlimit-name', '--hashlimit-srcmask')
            if '--hashlimit-above' not in opts or opts['--hashlimit-mode'] != 'srcip':
                raise RuleSyntaxError('hashlimit must drop above a rate per source: %r' % self.line)
            self.tests.append(lambda p: p.over_limit)
        else:
            raise RuleSyntaxError('unknown match -m %s in %r' % (module, self.line))

    def matches(self, packet):
        return all(test(packet) for test in self.tests)


class Packet(object):
    """A packet from ``source`` to (``proto`` tcp/udp/icmp, ``port``).

    ``state``: its conntrack state (NEW, ESTABLISHED, RELATED); ``payload``: the bytes
    after the TCP/UDP header, or None; ``over_limit``: its source is over its SIP budget.
    """

    def __init__(self, source, proto, port=None, state='NEW', payload=None, over_limit=False):
        if state not in CT_STATES:
            raise ValueError('state %r' % state)
        self.state = state
        self.payload = payload
        self.over_limit = over_limit
        self.address = ipaddress.ip_address(source)
        self.version = self.address.version
        self.proto = proto
        self.port = None if proto == 'icmp' else port
        if proto == 'icmp':
            self.wire_protocol = 'icmp' if self.version == 4 else 'ipv6-icmp'
            self.icmp_type = ECHO_REQUEST[self.version]
        else:
            self.wire_protocol = proto
            self.icmp_type = None

    def contains(self, pattern, icase):
        if not self.payload:
            return False
        if icase:
            return pattern.lower() in self.payload.lower()
        return pattern in self.payload

    def __repr__(self):
        return 'Packet(%r, %r, %r, state=%r, payload=%r, over_limit=%r)' % (
            str(self.address), self.proto, self.port, self.state, self.payload, self.over_limit)


class Ruleset(object):
    """A whole compiled ruleset: the two chains and their ipsets."""

    def __init__(self, ruleset):
        self.ipsets = {}
        for spec in ruleset['ipsets']:
            if spec['name'] in self.ipsets:
                raise RuleSyntaxError('duplicate ipset %s' % spec['name'])
            self.ipsets[spec['name']] = IpSet(spec)
        self.chains = {4: [], 6: []}
        for version, key in ((4, 'ipv4'), (6, 'ipv6')):
            for line in ruleset[key]:
                self.chains[version].append(self._parse(line, version))

    def _parse(self, line, version):
        return Rule(line, version, self.ipsets)

    def verdict(self, packet):
        """The verdict of the main chain, or None when it ends without one."""
        result = self._run(MAIN, packet, 0)
        return None if result == 'RETURN' else result

    def _run(self, chain, packet, depth):
        if depth > len(CHAINS):
            raise RuleSyntaxError('jump loop through %s' % chain)
        for rule in self.chains[packet.version]:
            if rule.chain != chain or not rule.matches(packet):
                continue
            if rule.target in ('ACCEPT', 'DROP', 'RETURN'):
                return rule.target
            result = self._run(rule.target, packet, depth + 1)
            if result != 'RETURN':
                return result
        return 'RETURN'

    def rules(self):
        return self.chains[4] + self.chains[6]
