# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ruleset evaluator: hand-written rules (as iptables-save prints them) and packets -> verdict + rule.

The compiler's own output is checked against the written policy semantics by the
property tests (test__policy_properties.py), which use this evaluator.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _evaluate
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy

EST = ('-A PBX-FIREWALL -m conntrack --ctstate RELATED,ESTABLISHED '
       '-m comment --comment "pbx-firewall: established, related" -j ACCEPT')
LO = '-A PBX-FIREWALL -i lo -m comment --comment "pbx-firewall: loopback" -j ACCEPT'
OFFICE_SSH = ('-A PBX-FIREWALL -s 192.168.10.0/24 -p tcp -m tcp --dport 22 '
              '-m comment --comment "Office LAN: allow ssh" -j ACCEPT')
FINAL = '-A PBX-FIREWALL -m comment --comment "pbxfw:default everything else" -j DROP'
ADMINS = {'name': 'pbxfw-admins', 'family': 'inet', 'maxelem': 65536,
          'entries': ['10.0.0.0/8', '10.66.0.0/16 nomatch', '10.66.1.7']}
HOSTS6 = {'name': 'pbxfw-hosts6', 'family': 'inet6', 'type': 'hash:ip', 'maxelem': 16,
          'entries': ['2001:db8::7']}


def rs(ipv4=(), ipv6=(), ipsets=(), jumps=None):
    ruleset = {'ipv4': list(ipv4), 'ipv6': list(ipv6), 'ipsets': list(ipsets)}
    if jumps is not None:
        ruleset['jumps'] = jumps
    return ruleset


# (ruleset, (family, source, proto, port), expected target, expected deciding rule (line) or None)
CASES = [
    # the documented example: office allowed, everything else dropped
    (rs([EST, LO, OFFICE_SSH, FINAL]), ('ipv4', '192.168.10.5', 'tcp', 22), 'ACCEPT', OFFICE_SSH),
    (rs([EST, LO, OFFICE_SSH, FINAL]), ('ipv4', '192.168.11.5', 'tcp', 22), 'DROP', FINAL),
    (rs([EST, LO, OFFICE_SSH, FINAL]), ('ipv4', '192.168.10.5', 'tcp', 2222), 'DROP', FINAL),
    (rs([EST, LO, OFFICE_SSH, FINAL]), ('ipv4', '192.168.10.5', 'udp', 22), 'DROP', FINAL),
    # no IPv6 rules: the owned chains do not decide
    (rs([EST, LO, OFFICE_SSH, FINAL]), ('ipv6', '2001:db8::1', 'tcp', 22), None, None),
    # no INPUT jump: the owned chains never see INPUT traffic
    (rs([OFFICE_SSH, FINAL], jumps=[{'chain': 'DOCKER-USER', 'target': 'PBX-FIREWALL'}]),
     ('ipv4', '192.168.10.5', 'tcp', 22), None, None),
    # falling off the end of the chain: back to INPUT
    (rs([OFFICE_SSH]), ('ipv4', '10.0.0.1', 'tcp', 22), None, None),
    # multiport lists and ranges
    (rs(['-A PBX-FIREWALL -p udp -m multiport --dports 5060,10000:10200 -j ACCEPT', FINAL]),
     ('ipv4', '10.0.0.1', 'udp', 10100), 'ACCEPT', '-A PBX-FIREWALL -p udp -m multiport --dports 5060,10000:10200 -j ACCEPT'),
    (rs(['-A PBX-FIREWALL -p udp -m multiport --dports 5060,10000:10200 -j ACCEPT', FINAL]),
     ('ipv4', '10.0.0.1', 'udp', 10201), 'DROP', FINAL),
    # hash:net ipset: longest prefix decides, nomatch excludes, host entries
    (rs(['-A PBX-FIREWALL -p tcp -m tcp --dport 22 -m set --match-set pbxfw-admins src -j ACCEPT', FINAL], ipsets=[ADMINS]),
     ('ipv4', '10.1.2.3', 'tcp', 22), 'ACCEPT', '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -m set --match-set pbxfw-admins src -j ACCEPT'),
    (rs(['-A PBX-FIREWALL -p tcp -m tcp --dport 22 -m set --match-set pbxfw-admins src -j ACCEPT', FINAL], ipsets=[ADMINS]),
     ('ipv4', '10.66.9.9', 'tcp', 22), 'DROP', FINAL),
    (rs(['-A PBX-FIREWALL -p tcp -m tcp --dport 22 -m set --match-set pbxfw-admins src -j ACCEPT', FINAL], ipsets=[ADMINS]),
     ('ipv4', '10.66.1.7', 'tcp', 22), 'ACCEPT', '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -m set --match-set pbxfw-admins src -j ACCEPT'),
    # negated set match, hash:ip in IPv6
    (rs(ipv6=['-A PBX-FIREWALL -m set ! --match-set pbxfw-hosts6 src -j DROP',
              '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -j ACCEPT'], ipsets=[HOSTS6]),
     ('ipv6', '2001:db8::8', 'tcp', 22), 'DROP', '-A PBX-FIREWALL -m set ! --match-set pbxfw-hosts6 src -j DROP'),
    (rs(ipv6=['-A PBX-FIREWALL -m set ! --match-set pbxfw-hosts6 src -j DROP',
              '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -j ACCEPT'], ipsets=[HOSTS6]),
     ('ipv6', '2001:db8::7', 'tcp', 22), 'ACCEPT', '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -j ACCEPT'),
    # negated source, REJECT with options, LOG goes on
    (rs(['-A PBX-FIREWALL -p tcp -m tcp --dport 22 -j LOG --log-prefix "ssh: "',
         '-A PBX-FIREWALL ! -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset',
         '-A PBX-FIREWALL -p tcp -j ACCEPT']),
     ('ipv4', '192.0.2.1', 'tcp', 22), 'REJECT',
     '-A PBX-FIREWALL ! -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset'),
    (rs(['-A PBX-FIREWALL ! -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset',
         '-A PBX-FIREWALL -p tcp -j ACCEPT']),
     ('ipv4', '10.9.9.9', 'tcp', 22), 'ACCEPT', '-A PBX-FIREWALL -p tcp -j ACCEPT'),
    # a jump into an owned chain, RETURN from it, goto
    (rs(['-A PBX-FIREWALL -p tcp -m tcp --dport 22 -j PBX-FW-SSH', '-A PBX-FIREWALL -j DROP',
         '-A PBX-FW-SSH -s 10.0.0.0/8 -j RETURN', '-A PBX-FW-SSH -j ACCEPT']),
     ('ipv4', '10.0.0.1', 'tcp', 22), 'DROP', '-A PBX-FIREWALL -j DROP'),
    (rs(['-A PBX-FIREWALL -p tcp -m tcp --dport 22 -j PBX-FW-SSH', '-A PBX-FIREWALL -j DROP',
         '-A PBX-FW-SSH -s 10.0.0.0/8 -j RETURN', '-A PBX-FW-SSH -j ACCEPT']),
     ('ipv4', '192.0.2.9', 'tcp', 22), 'ACCEPT', '-A PBX-FW-SSH -j ACCEPT'),
    (rs(['-A PBX-FIREWALL -p tcp -g PBX-FW-TCP', '-A PBX-FIREWALL -j DROP', '-A PBX-FW-TCP -s 10.0.0.0/8 -j ACCEPT']),
     ('ipv4', '192.0.2.9', 'tcp', 22), None, None),
    # conntrack: a NEW packet; --syn; icmp types
    (rs(['-A PBX-FIREWALL -p tcp -m conntrack --ctstate NEW -m tcp --dport 22 -j DROP', '-A PBX-FIREWALL -j ACCEPT']),
     ('ipv4', '10.0.0.1', 'tcp', 22), 'DROP', '-A PBX-FIREWALL -p tcp -m conntrack --ctstate NEW -m tcp --dport 22 -j DROP'),
    (rs(['-A PBX-FIREWALL -p tcp -m tcp ! --syn -j DROP', '-A PBX-FIREWALL -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j ACCEPT']),
     ('ipv4', '10.0.0.1', 'tcp', 22), 'ACCEPT', '-A PBX-FIREWALL -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j ACCEPT'),
    (rs(ipv6=['-A PBX-FIREWALL -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT',
              '-A PBX-FIREWALL -p ipv6-icmp -m icmp6 --icmpv6-type 128 -m comment --comment "Ops: allow icmp" -j ACCEPT',
              '-A PBX-FIREWALL -j DROP']),
     ('ipv6', 'fd00::1', 'icmp', None), 'ACCEPT',
     '-A PBX-FIREWALL -p ipv6-icmp -m icmp6 --icmpv6-type 128 -m comment --comment "Ops: allow icmp" -j ACCEPT'),
    # the compiler's SIP guards never match an ordinary packet
    (rs(['-A PBX-FIREWALL -p udp -m udp --dport 5060 -m string --string "friendly-scanner" --algo bm --to 65535 -j DROP',
         '-A PBX-FIREWALL -p udp -m udp --dport 5060 -m hashlimit --hashlimit-above 10/sec --hashlimit-burst 20 '
         '--hashlimit-mode srcip --hashlimit-name pbxfw-sip -j DROP',
         '-A PBX-FIREWALL -p udp -m udp --dport 5060 -j ACCEPT']),
     ('ipv4', '10.0.0.1', 'udp', 5060), 'ACCEPT', '-A PBX-FIREWALL -p udp -m udp --dport 5060 -j ACCEPT'),
    # a comment that looks like an option is a value
    (rs(['-A PBX-FIREWALL -s 10.0.0.1/32 -m comment --comment "-j ACCEPT \\"x\\"" -j DROP']),
     ('ipv4', '10.0.0.1', 'tcp', 22), 'DROP', '-A PBX-FIREWALL -s 10.0.0.1/32 -m comment --comment "-j ACCEPT \\"x\\"" -j DROP'),
    # an IPv4-mapped source is the IPv4 address
    (rs([OFFICE_SSH, FINAL]), ('ipv4', '::ffff:192.168.10.5', 'tcp', 22), 'ACCEPT', OFFICE_SSH),
]


@pytest.mark.parametrize('ruleset, packet, target, line', CASES)
def test_verdict_and_deciding_rule(ruleset, packet, target, line):
    verdict = _evaluate.evaluate(ruleset, *packet)
    assert verdict.target == target, verdict.as_dict()
    assert (verdict.rule.line if verdict.rule else None) == line
    assert verdict.uncertain == []


def test_the_deciding_rule_names_the_network():
    verdict = _evaluate.evaluate(rs([EST, LO, OFFICE_SSH, FINAL]), 'ipv4', '192.168.10.5', 'tcp', 22)
    assert verdict.comment == 'Office LAN: allow ssh'
    assert verdict.as_dict() == {'target': 'ACCEPT', 'rule': OFFICE_SSH, 'rule_index': 'ruleset.ipv4[2]',
                                 'comment': 'Office LAN: allow ssh', 'uncertain': [], 'possible': ['ACCEPT']}


def test_compiled_policy_office_with_sip_only_drops_ssh_from_elsewhere():
    ruleset = _policy.firewall_ruleset([{'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['sip']},
                                        {'name': 'Admins', 'subnet': '2001:db8:1::/48', 'block': ['ssh']}])
    v4 = _evaluate.evaluate(ruleset, 'ipv4', '192.168.10.5', 'tcp', 22)
    assert (v4.target, v4.comment) == ('DROP', 'pbxfw:default everything else')
    v6 = _evaluate.evaluate(ruleset, 'ipv6', '2001:db8:1::5', 'tcp', 22)
    assert (v6.target, v6.comment) == ('DROP', 'pbxfw:block ssh network=Admins')
    sip = _evaluate.evaluate(ruleset, 'ipv4', '192.168.10.5', 'udp', 5060)
    assert (sip.target, sip.comment) == ('ACCEPT', 'Office LAN: allow sip')


RECENT = '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -m recent --name ssh --rcheck --seconds 60 -j DROP'


@pytest.mark.parametrize('ipv4, packet, possible, uncertain', [
    # an undecidable custom match between the packet and its verdict: UNKNOWN, never a guess
    ([RECENT, '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -j ACCEPT'], ('10.0.0.1', 'tcp', 22),
     ['ACCEPT', 'DROP'], [RECENT]),
    (['-A PBX-FIREWALL -i eth0 -j ACCEPT', FINAL], ('10.0.0.1', 'tcp', 22), ['ACCEPT', 'DROP'],
     ['-A PBX-FIREWALL -i eth0 -j ACCEPT']),
    (['-A PBX-FIREWALL -p tcp -j f2b-sshd', '-A PBX-FIREWALL -j ACCEPT'], ('10.0.0.1', 'tcp', 22),
     ['UNKNOWN'], ['-A PBX-FIREWALL -p tcp -j f2b-sshd']),
    (['-A PBX-FIREWALL -m set --match-set pbxfw-missing src -j ACCEPT', FINAL], ('10.0.0.1', 'tcp', 22),
     ['ACCEPT', 'DROP'], ['-A PBX-FIREWALL -m set --match-set pbxfw-missing src -j ACCEPT']),
])
def test_undecidable_rules_give_unknown_naming_them(ipv4, packet, possible, uncertain):
    verdict = _evaluate.evaluate(rs(ipv4), 'ipv4', *packet)
    assert verdict.target == 'UNKNOWN'
    assert verdict.possible == possible
    assert [r.line for r in verdict.uncertain] == uncertain


@pytest.mark.parametrize('ipv4, packet, target', [
    # the uncertain rule does not concern the packet (another port) ...
    ([RECENT, '-A PBX-FIREWALL -j ACCEPT'], ('10.0.0.1', 'tcp', 2222), 'ACCEPT'),
    # ... or comes after the decision ...
    ([OFFICE_SSH, RECENT, FINAL], ('192.168.10.1', 'tcp', 22), 'ACCEPT'),
    # ... or every way it goes ends the same
    ([RECENT, FINAL], ('10.0.0.1', 'tcp', 22), 'DROP'),
])
def test_uncertain_rules_that_cannot_change_the_verdict(ipv4, packet, target):
    verdict = _evaluate.evaluate(rs(ipv4), 'ipv4', *packet)
    assert verdict.target == target, verdict.as_dict()


def test_destination_is_used_when_known():
    ruleset = rs(['-A PBX-FIREWALL -d 10.0.0.2/32 -p tcp -m tcp --dport 22 -j ACCEPT', FINAL])
    assert _evaluate.evaluate(ruleset, 'ipv4', '10.0.0.1', 'tcp', 22, destination='10.0.0.2').target == 'ACCEPT'
    assert _evaluate.evaluate(ruleset, 'ipv4', '10.0.0.1', 'tcp', 22, destination='10.0.0.3').target == 'DROP'
    assert _evaluate.evaluate(ruleset, 'ipv4', '10.0.0.1', 'tcp', 22).target == 'UNKNOWN'


def test_established_packets():
    ruleset = rs([EST, FINAL])
    assert _evaluate.evaluate(ruleset, 'ipv4', '10.0.0.1', 'tcp', 22, state='ESTABLISHED').target == 'ACCEPT'
    assert _evaluate.evaluate(ruleset, 'ipv4', '10.0.0.1', 'tcp', 22).target == 'DROP'


@pytest.mark.parametrize('args, message', [
    (('ipv5', '10.0.0.1', 'tcp', 22), "family must be one of ipv4, ipv6, got 'ipv5'"),
    (('ipv4', '2001:db8::1', 'tcp', 22), 'source 2001:db8::1 is not an ipv4 address'),
    (('ipv4', 'ten', 'tcp', 22), "source must be an IP address, got 'ten'"),
    (('ipv4', '10.0.0.1', 'sctp', 22), "proto must be tcp, udp or icmp, got 'sctp'"),
    (('ipv4', '10.0.0.1', 'tcp', 0), 'port must be an integer 1-65535 for tcp, got 0'),
    (('ipv4', '10.0.0.1', 'tcp', None), 'port must be an integer 1-65535 for tcp, got None'),
])
def test_bad_packets_are_errors(args, message):
    with pytest.raises(ValueError) as exc:
        _evaluate.evaluate(rs([FINAL]), *args)
    assert str(exc.value) == message


def test_bad_rule_is_an_error_naming_it():
    with pytest.raises(ValueError) as exc:
        _evaluate.evaluate(rs([FINAL, '-A PBX-FIREWALL -s ten -j DROP']), 'ipv4', '10.0.0.1', 'tcp', 22)
    assert "ruleset.ipv4[1]: -s 'ten' is not an address or CIDR" in str(exc.value)


def test_a_port_iptables_would_reject_leaves_the_outcome_unknown():
    """iptables-restore --test owns the error for such a rule; the evaluator only cannot decide."""
    ruleset = {'ipv4': ['-A PBX-FIREWALL -p tcp -m tcp --dport 99999 -j ACCEPT',
                        '-A PBX-FIREWALL -j DROP']}
    verdict = _evaluate.Evaluator(ruleset).evaluate('ipv4', '192.0.2.1', 'tcp', 22)
    assert verdict.target == 'UNKNOWN'
    assert verdict.as_dict()['uncertain'] == [ruleset['ipv4'][0]]
    assert verdict.as_dict()['possible'] == ['ACCEPT', 'DROP']


SSH_UPTO = ('-A PBX-FIREWALL -p tcp -m tcp --dport 22 -m hashlimit --hashlimit-upto 3/min --hashlimit-burst 3 '
            '--hashlimit-mode srcip --hashlimit-name ssh -j ACCEPT')
SSH_ABOVE = ('-A PBX-FIREWALL -p tcp -m tcp --dport 22 -m hashlimit --hashlimit-above 3/min --hashlimit-burst 3 '
             '--hashlimit-mode srcip --hashlimit-name ssh -j DROP')
GUARD = ('-A PBX-FW-SIP -m hashlimit --hashlimit-above 10/sec --hashlimit-burst 20 --hashlimit-mode srcip '
         '--hashlimit-name pbxfw-sip -j DROP')


@pytest.mark.parametrize('ipv4, possible', [
    # a custom rule's own rate limit: whether the controller is over it is not known
    ([SSH_UPTO, FINAL], ['ACCEPT', 'DROP']),
    ([SSH_ABOVE, '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -j ACCEPT'], ['ACCEPT', 'DROP']),
    # as with -m limit
    (['-A PBX-FIREWALL -p tcp -m tcp --dport 22 -m limit --limit 3/min -j ACCEPT', FINAL], ['ACCEPT', 'DROP']),
])
def test_a_rate_limit_of_a_custom_rule_is_uncertain(ipv4, possible):
    verdict = _evaluate.evaluate(rs(ipv4), 'ipv4', '10.0.0.1', 'tcp', 22)
    assert verdict.target == 'UNKNOWN', verdict.as_dict()
    assert verdict.possible == possible
    assert [r.line for r in verdict.uncertain] == [ipv4[0]]


def test_the_sip_guards_rate_limit_is_modelled():
    """The compiler's own budgets (pbxfw-sip, pbxfw-sip-tls): over_limit says which side the packet is on."""
    ruleset = rs(['-A PBX-FIREWALL -p udp -m udp --dport 5060 -j PBX-FW-SIP',
                  '-A PBX-FIREWALL -p udp -m udp --dport 5060 -j ACCEPT', GUARD])
    evaluator = _evaluate.Evaluator(ruleset)
    assert evaluator.evaluate('ipv4', '10.0.0.1', 'udp', 5060).target == 'ACCEPT'
    assert evaluator.evaluate('ipv4', '10.0.0.1', 'udp', 5060, over_limit=True).target == 'DROP'


@pytest.mark.parametrize('source, destination', [
    ('127.0.0.1', '127.0.0.1'), ('127.0.0.5', None), ('::1', '::1'),
    # a packet from the host's own address to itself is routed over lo
    ('10.0.0.2', '10.0.0.2'), ('2001:db8::2', '2001:db8::2'),
])
def test_a_packet_from_a_local_address_arrives_on_lo(source, destination):
    family = 'ipv6' if ':' in source else 'ipv4'
    lines = ['-A PBX-FIREWALL -i eth0 -j DROP', LO.replace('-j ACCEPT', '-j ACCEPT'), FINAL]
    ruleset = rs(lines) if family == 'ipv4' else rs(ipv6=lines)
    verdict = _evaluate.evaluate(ruleset, family, source, 'tcp', 22, destination=destination)
    assert (verdict.target, verdict.rule.line, verdict.uncertain) == ('ACCEPT', LO, []), verdict.as_dict()


def test_a_packet_the_caller_knows_is_local_arrives_on_lo():
    evaluator = _evaluate.Evaluator(rs([LO, FINAL]))
    assert evaluator.evaluate('ipv4', '10.0.0.7', 'tcp', 22, destination='10.0.0.2', local=True).target == 'ACCEPT'
    assert evaluator.evaluate('ipv4', '10.0.0.7', 'tcp', 22, destination='10.0.0.2').target == 'DROP'
    # and ! -i lo does not match it
    negated = _evaluate.Evaluator(rs(['-A PBX-FIREWALL ! -i lo -j DROP', '-A PBX-FIREWALL -j ACCEPT']))
    assert negated.evaluate('ipv4', '127.0.0.1', 'tcp', 22).target == 'ACCEPT'
    assert negated.evaluate('ipv4', '10.0.0.7', 'tcp', 22).target == 'DROP'
