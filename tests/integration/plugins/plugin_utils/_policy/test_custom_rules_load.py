# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real kernel: any custom rule the controller accepts loads on the host, in both families, on both backends.

Hypothesis builds candidate rules out of the pieces people write: rules of one family written
the way people write them, sometimes with one mistake, and wild mixtures of options, matches
and targets with values that are right, of the other family, out of range, of another table
or hook, in the wrong order, twice. Each candidate goes through the controller's grammar alone
(``custom_rules.problem``: the weakest controller, one that cannot run ``iptables-restore
--test``), per family. Whatever it accepts is committed (not only ``--test``-ed) in a network
namespace, behind the jump from INPUT, with iptables-nft-restore and iptables-legacy-restore
(ip6tables for IPv6), and must load; the module's evaluator must read it too. A guard at the end
makes sure the generator produced accepted and refused rules of every kind.
"""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.pbxops.firewall.plugins.module_utils import _evaluate
from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import MAIN_CHAIN, split_rule
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import custom_rules

TOOLS = {4: 'iptables', 6: 'ip6tables'}
BACKENDS = ('nft', 'legacy')
SETS = {4: 'admins', 6: 'admins6'}       # the host's own sets (the test namespace has them)

ADDRESSES = ['198.51.100.7', '198.51.100.0/24', '10.0.0.1/24', '10.0.0.0/255.0.0.0', '2001:db8::7',
             '2001:db8::/32', 'fd00::1/64', '10.0.0.1,10.0.0.2', 'pbx.example', '0.0.0.0/0', '::/0']
PROTOCOLS = ['tcp', 'udp', 'icmp', 'ipv6-icmp', 'icmpv6', 'sctp', 'all', '6', 'gre', 'foo']
PORTS = ['22', '5060:5061', '10000:10200', '70000', '20:10', 'ssh', '0']
GENERIC = st.one_of(
    st.tuples(st.sampled_from(['-s', '-d']), st.sampled_from(ADDRESSES)).map(list),
    st.tuples(st.sampled_from(['-s', '-d']), st.sampled_from(ADDRESSES)).map(lambda t: ['!'] + list(t)),
    st.sampled_from(PROTOCOLS).map(lambda p: ['-p', p]),
    st.sampled_from(PROTOCOLS).map(lambda p: ['!', '-p', p]),
    st.sampled_from(['eth0', 'eth+', 'veth-pbx.1', 'a' * 16]).map(lambda i: ['-i', i]),
    st.just(['-o', 'eth0']), st.just(['-f']), st.just(['--dport', '22']),
)
MATCH_OPTIONS = {
    'tcp': [['--dport', p] for p in PORTS] + [['!', '--dport', '22'], ['--sport', '1024:65535'], ['--syn'],
                                              ['--tcp-flags', 'SYN,ACK', 'SYN'], ['--icmp-type', '8']],
    'udp': [['--dport', p] for p in PORTS] + [['--sport', '53']],
    'multiport': [['--dports', '22,80,443'], ['--dports', '5060,10000:10200'],
                  ['--dports', ','.join(str(p) for p in range(1, 17))], ['--ports', '1:2,3:4,5']],
    'icmp': [['--icmp-type', t] for t in ('8', 'echo-request', '3/4', 'any', '300', 'neighbour-solicitation')],
    'icmp6': [['--icmpv6-type', t] for t in ('128', 'echo-request', 'neighbour-solicitation', '1/3', 'redirect',
                                             'source-quench')],
    'conntrack': [['--ctstate', s] for s in ('NEW', 'ESTABLISHED,RELATED', 'DNAT', 'NEW,NEW', 'BOGUS')],
    'state': [['--state', s] for s in ('NEW', 'INVALID', 'SNAT')],
    'comment': [['--comment', '"hello world"'], ['--comment', 'x' * 300], ['--comment', '"Офис"']],
    'limit': [['--limit', r] for r in ('3/min', '10/second', '20000/sec', '5/fortnight')] + [['--limit-burst', '5']],
    'hashlimit': [['--hashlimit-upto', '3/min'], ['--hashlimit-above', '10/sec'], ['--hashlimit-name', 'ssh'],
                  ['--hashlimit-name', 'pbxfw-sip'], ['--hashlimit-name', 'a-very-long-table-name'],
                  ['--hashlimit-mode', 'srcip'], ['--hashlimit-mode', 'srcip,dstport'], ['--hashlimit-burst', '3'],
                  ['--hashlimit-srcmask', '24'], ['--hashlimit-srcmask', '64'], ['--hashlimit-htable-expire', '60000']],
    'recent': [['--name', 'ssh'], ['--set'], ['--rcheck'], ['--update'], ['--remove'], ['--seconds', '60'],
               ['--hitcount', '4'], ['--hitcount', '300'], ['--reap'], ['--rsource'], ['--rdest'], ['--rttl'],
               ['--mask', '255.255.255.0'], ['--mask', 'ffff::']],
    'set': [['--match-set', 'SET', 'src'], ['--match-set', 'SET', 'src,dst'], ['!', '--match-set', 'SET', 'src'],
            ['--match-set', 'pbxfw-sip4-1234abcd', 'src'], ['--match-set', 'SET', 'both']],
    'iprange': [['--src-range', '10.0.0.1-10.0.0.9'], ['--src-range', '10.0.0.9-10.0.0.1'],
                ['--dst-range', '2001:db8::1-2001:db8::9'], ['!', '--src-range', '192.0.2.1-192.0.2.2']],
    'addrtype': [['--dst-type', 'LOCAL'], ['--src-type', 'UNICAST,BROADCAST'], ['--limit-iface-in'],
                 ['--limit-iface-out'], ['--dst-type', 'OWN']],
    'length': [['--length', '0:1500'], ['--length', '64'], ['--length', '9:1']],
    'pkttype': [['--pkt-type', t] for t in ('unicast', 'broadcast', 'host')],
    'mac': [['--mac-source', '00:11:22:33:44:55'], ['--mac-source', '0011.2233.4455']],
    'connlimit': [['--connlimit-above', '4'], ['--connlimit-upto', '2'], ['--connlimit-mask', '24'],
                  ['--connlimit-mask', '64'], ['--connlimit-saddr'], ['--connlimit-daddr']],
    'string': [['--string', '"friendly-scanner"'], ['--hex-string', '"|0d0a|INVITE"'], ['--hex-string', '"|zz|"'],
               ['--algo', 'bm'], ['--algo', 'kmp'], ['--algo', 'fast'], ['--icase'], ['--from', '20'],
               ['--from', '900'], ['--to', '600']],
    'ttl': [['--ttl-eq', '64'], ['--ttl-gt', '300'], ['--ttl-lt', '5']],
    'hl': [['--hl-eq', '64'], ['--hl-lt', '2'], ['--hl-gt', '9']],
    'owner': [['--uid-owner', '0']],
    'rpfilter': [['--invert']],
    'frag': [['--fragid', '5']],
    'socket': [['--transparent']],
}
TARGETS = [['-j', t] for t in ('ACCEPT', 'DROP', 'RETURN', 'INPUT', 'OUTPUT', 'PBX-FW-SIP', 'f2b-sshd', 'DNAT',
                               'TRACE', 'CT', 'TCPMSS', 'MARK')] + [
    ['-j', 'REJECT'], ['-j', 'REJECT', '--reject-with', 'tcp-reset'],
    ['-j', 'REJECT', '--reject-with', 'icmp-port-unreachable'],
    ['-j', 'REJECT', '--reject-with', 'icmp6-adm-prohibited'], ['-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'],
    ['-j', 'LOG', '--log-prefix', '"pbx: "'], ['-j', 'LOG', '--log-prefix', 'p' * 40], ['-j', 'LOG', '--log-level', '4'],
    ['-j', 'LOG', '--log-level', '9'], ['-j', 'NFLOG', '--nflog-group', '5'], ['-j', 'NFLOG', '--nflog-group', '70000'],
    ['-j', 'ACCEPT', '-j', 'DROP'], ['-g', 'f2b-sshd'], ['-j', 'DNAT', '--to-destination', '10.0.0.1'],
]


@st.composite
def matches(draw):
    name = draw(st.sampled_from(sorted(MATCH_OPTIONS)))
    options = draw(st.lists(st.sampled_from(MATCH_OPTIONS[name]), min_size=0, max_size=3))
    return ['-m', name] + [part for option in options for part in option]


@st.composite
def candidate(draw):
    """One candidate rule: tokens of pieces in a mostly sensible, sometimes wrong order."""
    pieces = draw(st.lists(GENERIC, max_size=3)) + draw(st.lists(matches(), max_size=3))
    if draw(st.integers(0, 9)):
        pieces.append(draw(st.sampled_from(TARGETS)))
    if pieces and not draw(st.integers(0, 5)):
        pieces = draw(st.permutations(pieces))
    tokens = [part for piece in pieces for part in piece]
    return ' '.join(tokens) or '-j ACCEPT'


SENSIBLE_MATCHES = {
    4: [['-m', 'icmp', '--icmp-type', t] for t in ('8', 'echo-request', '3/4', 'any')],
    6: [['-m', 'icmp6', '--icmpv6-type', t] for t in ('128', 'echo-request', 'neighbour-solicitation', '1/3')],
}
PORT_MATCHES = [['--dport', '22'], ['--dport', '5060:5061'], ['!', '--dport', '80'], ['--sport', '1024:65535']]
EXTRAS = {
    'any': [['-m', 'conntrack', '--ctstate', 'NEW'], ['-m', 'conntrack', '!', '--ctstate', 'ESTABLISHED,RELATED'],
            ['-m', 'state', '--state', 'INVALID'], ['-m', 'comment', '--comment', '"admins: ssh"'],
            ['-m', 'comment', '--comment', '"Офис"'],
            ['-m', 'limit', '--limit', '3/min', '--limit-burst', '5'], ['-m', 'limit', '--limit', '10000/sec'],
            ['-m', 'hashlimit', '--hashlimit-upto', '3/min', '--hashlimit-mode', 'srcip', '--hashlimit-name', 'ssh'],
            ['-m', 'hashlimit', '--hashlimit-above', '20/sec', '--hashlimit-burst', '40', '--hashlimit-mode',
             'srcip,dstport', '--hashlimit-name', 'flood'],
            ['-m', 'recent', '--name', 'ssh', '--set'], ['-m', 'recent', '--name', 'ssh', '--rcheck', '--seconds', '60',
                                                         '--hitcount', '4'],
            ['-m', 'recent', '--name', 'ssh', '--update', '--seconds', '60', '--reap', '--rsource'],
            ['-m', 'set', '--match-set', 'SET', 'src'], ['-m', 'set', '!', '--match-set', 'SET', 'src,dst'],
            ['-m', 'addrtype', '--dst-type', 'LOCAL', '--limit-iface-in'], ['-m', 'length', '--length', '0:1500'],
            ['-m', 'pkttype', '--pkt-type', 'unicast'], ['-m', 'mac', '--mac-source', '00:11:22:33:44:55'],
            ['-m', 'connlimit', '--connlimit-above', '4'],
            ['-m', 'string', '--string', '"friendly-scanner"', '--algo', 'bm', '--icase'],
            ['-m', 'string', '--hex-string', '"|0d0a|INVITE"', '--algo', 'kmp', '--from', '20', '--to', '600']],
    4: [['-m', 'iprange', '--src-range', '192.0.2.1-192.0.2.9'], ['-m', 'ttl', '--ttl-gt', '5'],
        ['-m', 'connlimit', '--connlimit-upto', '2', '--connlimit-mask', '24'], ['-f']],
    6: [['-m', 'iprange', '!', '--dst-range', '2001:db8::1-2001:db8::9'], ['-m', 'hl', '--hl-eq', '255'],
        ['-m', 'hashlimit', '--hashlimit-upto', '5/sec', '--hashlimit-mode', 'srcip', '--hashlimit-srcmask', '64',
         '--hashlimit-name', 'six']],
}
SOURCES = {4: ['198.51.100.7', '198.51.100.0/24', '0.0.0.0/0'], 6: ['2001:db8::7', '2001:db8::/32', '::/0']}
NEGATIONS = [[], [], ['!']]
SENSIBLE_TARGETS = {
    'any': [['-j', 'ACCEPT'], ['-j', 'DROP'], ['-j', 'RETURN'], ['-j', 'LOG', '--log-prefix', '"pbx: "',
                                                                 '--log-level', '4'],
            ['-j', 'NFLOG', '--nflog-group', '5', '--nflog-prefix', '"pbx"'], ['-j', 'REJECT']],
    4: [['-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited']],
    6: [['-j', 'REJECT', '--reject-with', 'icmp6-adm-prohibited']],
}
# targets and matches of other tables, hooks or chains: the commit refuses them, --test does not
FOREIGN_TARGETS = [['-j', 'INPUT'], ['-j', 'TRACE'], ['-j', 'DNAT', '--to-destination', '10.0.0.1'],
                   ['-j', 'CT', '--notrack'], ['-j', 'TCPMSS', '--clamp-mss-to-pmtu'], ['-j', 'f2b-sshd'],
                   ['-j', 'CLASSIFY', '--set-class', '1:1'], ['-j', 'MARK', '--set-mark', '1']]
FOREIGN_MATCHES = [['-m', 'owner', '--uid-owner', '0'], ['-m', 'rpfilter'], ['-m', 'cgroup', '--path', 'x'],
                   ['-m', 'addrtype', '--dst-type', 'LOCAL', '--limit-iface-out'],
                   ['-m', 'policy', '--dir', 'out', '--pol', 'none']]
MUTATIONS = [['-j', 'INPUT'], ['-j', 'ACCEPT'], ['-p', 'icmp'], ['-m', 'icmp', '--icmp-type', '8'], ['-o', 'eth0'],
             ['-s', '10.0.0.1'], ['-s', '2001:db8::1'], ['-m', 'owner', '--uid-owner', '0'], ['-j', 'TRACE'],
             ['-m', 'set', '--match-set', 'pbxfw-trunk4-0a1b2c3d', 'src'], ['--dport', '22']]


@st.composite
def sensible(draw):
    """A rule of one family written the way people write them, sometimes with one mistake."""
    version = draw(st.sampled_from((4, 6)))
    pieces = []
    if draw(st.booleans()):
        pieces.append(draw(st.sampled_from(NEGATIONS)) + [draw(st.sampled_from(['-s', '-d'])),
                                                          draw(st.sampled_from(SOURCES[version]))])
    if not draw(st.integers(0, 4)):
        pieces.append(['-i', draw(st.sampled_from(['eth0', 'wg+']))])
    proto = draw(st.sampled_from(['tcp', 'udp', 'icmp', None]))
    if proto in ('tcp', 'udp'):
        pieces.append(['-p', proto])
        if draw(st.booleans()):
            pieces.append(['-m', proto] + draw(st.sampled_from(PORT_MATCHES)))
        else:
            pieces.append(['-m', 'multiport', '--dports', draw(st.sampled_from(['22,80,443', '5060,10000:10200']))])
        if proto == 'tcp' and not draw(st.integers(0, 3)):
            pieces.append(['-m', 'tcp', '--syn'] if draw(st.booleans()) else ['-m', 'tcp', '--tcp-flags', 'SYN,ACK',
                                                                              'SYN'])
    elif proto == 'icmp':
        pieces.append(['-p', 'icmp' if version == 4 else 'ipv6-icmp'])
        pieces.append(draw(st.sampled_from(SENSIBLE_MATCHES[version])))
    pieces += draw(st.lists(st.sampled_from(EXTRAS['any'] + EXTRAS[version]), max_size=2, unique_by=str))
    target = draw(st.sampled_from(SENSIBLE_TARGETS['any'] + SENSIBLE_TARGETS[version]
                                  + ([['-j', 'REJECT', '--reject-with', 'tcp-reset']] if proto == 'tcp' else [])))
    pieces.append(target)
    mistake = draw(st.sampled_from(['none'] * 4 + ['insert', 'no -p', '-p later', 'target', 'match']))
    protocol = [piece for piece in pieces if piece[0] == '-p']
    if mistake == 'insert':
        pieces.insert(draw(st.integers(0, len(pieces))), draw(st.sampled_from(MUTATIONS)))
    elif mistake == 'target':
        pieces[-1] = draw(st.sampled_from(FOREIGN_TARGETS))
    elif mistake == 'match':
        pieces.insert(len(pieces) - 1, draw(st.sampled_from(FOREIGN_MATCHES)))
    elif mistake != 'none' and protocol:    # the protocol left out, or given after its match
        pieces.remove(protocol[0])
        if mistake == '-p later':
            pieces.insert(len(pieces) - 1, protocol[0])
    return ' '.join(part for piece in pieces for part in piece)


def _restore(argv, rules):
    text = ''.join(['*filter\n', ':%s - [0:0]\n' % MAIN_CHAIN, '-A INPUT -j %s\n' % MAIN_CHAIN]
                   + ['-A %s %s\n' % (MAIN_CHAIN, rule) for rule in rules] + ['COMMIT\n'])
    return subprocess.run(argv, input=text, capture_output=True, text=True, check=False)


def test_whatever_the_grammar_accepts_loads_on_both_backends(netns):
    for version, name in SETS.items():
        netns.sh('ipset create %s hash:net family %s' % (name, 'inet' if version == 4 else 'inet6'))
    seen = {'accepted': {4: 0, 6: 0}, 'refused': {4: 0, 6: 0}, 'matches': set(), 'targets': set()}

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
    @given(st.lists(st.one_of(sensible(), sensible(), candidate()), min_size=1, max_size=6))
    def check(candidates):
        for version in (4, 6):
            accepted = []
            for rule in candidates:
                rule = rule.replace('SET', SETS[version])
                if custom_rules.problem(split_rule(rule), version) is None:
                    accepted.append(rule)
                    tokens = rule.split()
                    seen['matches'].update(tokens[i + 1] for i, t in enumerate(tokens) if t == '-m')
                    seen['targets'].update(tokens[i + 1] for i, t in enumerate(tokens) if t == '-j')
                else:
                    seen['refused'][version] += 1
            seen['accepted'][version] += len(accepted)
            if not accepted:
                continue
            family = 'ipv4' if version == 4 else 'ipv6'
            _evaluate.Evaluator({family: ['-A %s %s' % (MAIN_CHAIN, rule) for rule in accepted]})
            for backend in BACKENDS:
                argv = netns.argv('%s-%s-restore' % (TOOLS[version], backend))
                done = _restore(argv, accepted)
                if done.returncode != 0:
                    culprits = [rule for rule in accepted if _restore(argv, [rule]).returncode != 0]
                    pytest.fail('the grammar accepted, %s-%s refuses: %s\n%s'
                                % (TOOLS[version], backend, culprits or accepted, done.stderr))

    check()
    # the generator really reaches both sides of the grammar, in both families, and the
    # accepted rules use most of what the grammar allows
    assert min(seen['accepted'].values()) >= 100 and min(seen['refused'].values()) >= 100, seen
    assert len(seen['matches']) >= 12 and {'ACCEPT', 'DROP', 'REJECT', 'LOG', 'NFLOG'} <= seen['targets'], seen
