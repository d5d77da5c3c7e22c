# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_conntrack.py: which flows lost access (on iptables-save text) and the order of
ending them (with stand-ins for ss and the conntrack table; the real ones: the reliability suite)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _conntrack as ct
from ansible_collections.pbxops.firewall.plugins.module_utils import _ctnetlink as ctn
from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf
from ansible_collections.pbxops.firewall.plugins.module_utils._evaluate import Evaluator

ADDRS = '''\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 10.213.8.2/24 brd 10.213.8.255 scope global eth0\\       valid_lft forever
2: eth0    inet6 fd15::1/64 scope global \\       valid_lft forever preferred_lft forever
'''
HOST = '10.213.8.2'
SIP_FROM_BOTH = ['-s 203.0.113.0/24 -p udp -m udp --dport 5060 -j ACCEPT',
                 '-s 198.51.100.0/24 -p udp -m udp --dport 5060 -j ACCEPT', '-j DROP']
SIP_FROM_198 = ['-s 198.51.100.0/24 -p udp -m udp --dport 5060 -j ACCEPT', '-j DROP']


def save(owned, input_rules=(), policy='ACCEPT', chains=None):
    """iptables-save text of a filter table: INPUT (its rules, then the jump), the owned chain, other chains."""
    chains = chains or {}
    lines = ['*filter', ':INPUT %s [0:0]' % policy, ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]',
             ':PBX-FIREWALL - [0:0]'] + [':%s - [0:0]' % c for c in chains]
    lines += ['-A INPUT ' + r for r in input_rules] + ['-A INPUT -j PBX-FIREWALL']
    lines += ['-A PBX-FIREWALL ' + r for r in owned]
    lines += ['-A %s %s' % (c, r) for c, rules in chains.items() for r in rules]
    return '\n'.join(lines + ['COMMIT', ''])


def view(owned, input_rules=(), policy='ACCEPT', chains=None, sets=''):
    return ct.View({'ipv4': nf.filter_table(save(owned, input_rules, policy, chains))}, nf.parse_ipset_save(sets))


def flow(source, dport=5060, proto='udp', sport=40000):
    return ctn.Flow('ipv4', proto, source, HOST, sport, dport)


F2B_SET = 'create f2b-sip hash:ip family inet hashsize 1024 maxelem 65536 timeout 600\nadd f2b-sip 203.0.113.66 timeout 590\n'


@pytest.mark.parametrize('owned_after, input_rules, policy, chains, sets, source, outcome', [
    # the new rules drop 203.0.113.0/24 and keep 198.51.100.0/24
    (SIP_FROM_198, (), 'ACCEPT', None, '', '203.0.113.9', ct.LOST),
    (SIP_FROM_198, (), 'ACCEPT', None, '', '198.51.100.7', ct.KEPT),
    # REJECT counts as a denial too
    (['-s 203.0.113.0/24 -j REJECT --reject-with icmp-port-unreachable', '-j ACCEPT'], (), 'ACCEPT', None, '',
     '203.0.113.9', ct.LOST),
    # never accepted by the old rules: nothing of ours changed for it
    (['-j DROP'], (), 'ACCEPT', None, '', '192.0.2.1', ct.KEPT),
    # the new owned chains give no verdict: INPUT's policy decides
    (['-s 198.51.100.0/24 -j ACCEPT'], (), 'ACCEPT', None, '', '203.0.113.9', ct.KEPT),
    (['-s 198.51.100.0/24 -j ACCEPT'], (), 'DROP', None, '', '203.0.113.9', ct.LOST),
    # the administrator's rule before the jump still accepts it
    (SIP_FROM_198, ['-s 203.0.113.9/32 -p udp -m udp --dport 5060 -j ACCEPT'], 'ACCEPT', None, '', '203.0.113.9',
     ct.KEPT),
    (SIP_FROM_198, ['-s 203.0.113.9/32 -p udp -m udp --dport 5060 -j ACCEPT'], 'ACCEPT', None, '', '203.0.113.10',
     ct.LOST),
    # a fail2ban chain for another port, and an empty chain of the administrator: they return
    (SIP_FROM_198, ['-p tcp -m multiport --dports 22 -j f2b-sshd', '-j ADMIN'], 'ACCEPT',
     {'f2b-sshd': ['-s 203.0.113.9/32 -j REJECT --reject-with icmp-port-unreachable', '-j RETURN'], 'ADMIN': []},
     '', '203.0.113.9', ct.LOST),
    # fail2ban's ipset (members with timeouts) is read: a banned address was not accepted before
    (SIP_FROM_198, ['-p udp -m multiport --dports 5060 -m set --match-set f2b-sip src -j REJECT'], 'ACCEPT', None,
     F2B_SET, '203.0.113.66', ct.KEPT),
    (SIP_FROM_198, ['-p udp -m multiport --dports 5060 -m set --match-set f2b-sip src -j REJECT'], 'ACCEPT', None,
     F2B_SET, '203.0.113.9', ct.LOST),
    # rules the evaluator cannot decide: an interface, -m recent, a set it does not know
    (SIP_FROM_198, ['-i eth1 -j ACCEPT'], 'ACCEPT', None, '', '203.0.113.9', ct.UNDECIDED),
    (['-m recent --rcheck -j ACCEPT', '-j DROP'], (), 'ACCEPT', None, '', '203.0.113.9', ct.UNDECIDED),
    (SIP_FROM_198, ['-m set --match-set admins src -j ACCEPT'], 'ACCEPT', None, '', '203.0.113.9', ct.UNDECIDED),
    # an interface rule that cannot change the outcome: the flow kept access either way
    (SIP_FROM_BOTH, ['-i eth1 -j ACCEPT'], 'ACCEPT', None, '', '203.0.113.9', ct.KEPT),
])
def test_judge(owned_after, input_rules, policy, chains, sets, source, outcome):
    before = view(SIP_FROM_BOTH, input_rules, policy, chains, sets)
    after = view(owned_after, input_rules, policy, chains, sets)
    assert ct.Judge(before, after).judge(flow(source)).outcome == outcome


def test_undecided_says_which_rule():
    before, after = view(SIP_FROM_BOTH, ['-i eth1 -j ACCEPT']), view(SIP_FROM_198, ['-i eth1 -j ACCEPT'])
    judgement = ct.Judge(before, after).judge(flow('203.0.113.9'))
    assert judgement.outcome == ct.UNDECIDED
    assert judgement.why == ('-A INPUT -i eth1 -j ACCEPT [cannot evaluate: -i eth1 (the interface the packet '
                             'arrives on is not known)]',)


def test_an_input_chain_the_evaluator_cannot_read_leaves_flows_undecided():
    rules = ['-m conntrack --ctstate NEWISH -j ACCEPT']
    judgement = ct.Judge(view(SIP_FROM_BOTH, rules), view(SIP_FROM_198, rules)).judge(flow('203.0.113.9'))
    assert judgement.outcome == ct.UNDECIDED
    assert judgement.why[0].startswith('the before INPUT chain could not be read: ') and 'NEWISH' in judgement.why[0]
    odd = ['-m conntrack --ctstate NEWISH -j ACCEPT'] + SIP_FROM_BOTH
    judgement = ct.Judge(view(odd), view(SIP_FROM_198)).judge(flow('203.0.113.9'))
    assert judgement.outcome == ct.UNDECIDED
    assert judgement.why[0].startswith('the before owned chains could not be read: '), judgement.why


def test_each_ruleset_is_parsed_when_needed_and_each_destination_judged_once(monkeypatch):
    parsed, asked = [], []

    class Counting(Evaluator):
        def __init__(self, ruleset):
            parsed.append(sorted(ruleset['jumps'][0].items()))
            Evaluator.__init__(self, ruleset)

        def evaluate(self, *args, **kwargs):
            asked.append(args)
            return Evaluator.evaluate(self, *args, **kwargs)

    monkeypatch.setattr(ct._evaluate, 'Evaluator', Counting)
    after = view(SIP_FROM_198)
    judge = ct.Judge(view(SIP_FROM_BOTH), after, Evaluator(after.owned()))
    assert parsed == []
    assert judge.judge(flow('198.51.100.7')).outcome == ct.KEPT     # the owned chains still accept: done
    assert len(parsed) == 1
    assert judge.judge(flow('203.0.113.9')).outcome == ct.LOST
    assert judge.judge(flow('203.0.113.9', sport=40001)).outcome == ct.LOST
    # parsed: before (owned), before and after (whole INPUT); after (owned) came parsed and is not
    # counted. Asked: 198.51.100.7 before (owned); 203.0.113.9 before (owned, whole), after (whole), once
    assert len(parsed) == 3 and len(asked) == 4


def test_the_planned_view_keeps_foreign_sets_and_takes_the_plans_owned_ones():
    tables = {'ipv4': nf.filter_table(save(SIP_FROM_BOTH))}
    sets = nf.parse_ipset_save(F2B_SET + 'create pbxfw-old hash:net family inet maxelem 65536\n')
    desired = nf.validate_ruleset({'ipv4': ['-A PBX-FIREWALL -j DROP'], 'ipv6': [], 'ipsets': [
        {'name': 'pbxfw-new', 'family': 'inet', 'maxelem': 1024, 'entries': ['10.0.0.0/8']}]})
    planned = ct.View.planned(tables, sets, nf.compute_plan(tables, sets, desired))
    assert sorted(planned.sets) == ['f2b-sip', 'pbxfw-new']
    assert planned.tables['ipv4'].rules['PBX-FIREWALL'] == ['-A PBX-FIREWALL -j DROP']
    assert planned.owned()['ipv4'] == ['-A PBX-FIREWALL -j DROP']
    whole = planned.whole_input()
    assert whole['jumps'] == [{'chain': 'INPUT', 'target': 'INPUT'}]
    assert '-A FORWARD -j RETURN' in whole['ipv4'] and whole['ipv6'] == []
    assert [s['entries'] for s in whole['ipsets']] == [['203.0.113.66'], ['10.0.0.0/8']]


def test_local_addresses():
    assert ct.parse_local_addresses(ADDRS) == {'127.0.0.1', HOST, 'fd15::1'}


class Judged:
    """judge(flow) from a table: source -> outcome (default KEPT)."""

    def __init__(self, outcomes):
        self.outcomes = outcomes

    def __call__(self, flow):
        return ct.Judgement(self.outcomes.get(flow.source, ct.KEPT), ['why %s' % flow.source])


LOCAL = ct.parse_local_addresses(ADDRS)


def test_classify_only_inbound_flows_and_not_the_kept_ones():
    controller = flow('10.213.8.1', 22, 'tcp', 38778)
    flows = [flow('203.0.113.9'), flow('203.0.113.9', sport=40001), controller,
             ctn.Flow('ipv4', 'udp', HOST, '198.51.100.7', 5060, 5060),      # the host's own, outbound
             flow('198.51.100.8'), flow('192.0.2.1')]
    found = ct.classify(flows, LOCAL, Judged({'203.0.113.9': ct.LOST, '10.213.8.1': ct.LOST, HOST: ct.LOST,
                                              '198.51.100.8': ct.UNDECIDED}), keep=(controller,))
    assert found.lost == [flow('203.0.113.9'), flow('203.0.113.9', sport=40001)]
    assert found.undecided == [flow('198.51.100.8')] and found.why == {'why 198.51.100.8'}
    assert found.unjudged == []


def test_close_filter_has_no_family_option_and_one_term_per_connection():
    flows = [flow('203.0.113.9', 5038, 'tcp'), flow('203.0.113.9', 5038, 'tcp', 40001),
             ctn.Flow('ipv6', 'tcp', '2001:db8::9', 'fd15::1', 40000, 5038)]
    assert ct.close_filter(sorted(set(ct._connection(f) for f in flows))) == (
        '( src 10.213.8.2 and sport = :5038 and dst 203.0.113.9 and dport = :40000 ) or '
        '( src 10.213.8.2 and sport = :5038 and dst 203.0.113.9 and dport = :40001 ) or '
        '( src [fd15::1] and sport = :5038 and dst [2001:db8::9] and dport = :40000 )')


class FakeTable:
    """The conntrack table: what a dump returns, what was deleted (and in which call)."""

    def __init__(self, flows, answered=(), complete=True, refuse=None):
        self.flows = list(flows)
        self.answered = set(answered)
        self.complete = complete
        self.refuse = refuse or {}
        self.log = []

    def dump(self, family, stop=None):
        self.log.append(('dump', family))
        found = ctn.Dump()
        found.flows = [f for f in self.flows if f.family == family]
        found.answered = set(f for f in self.answered if f.family == family)
        found.complete = self.complete
        return found

    def delete(self, flows, stop=None):
        done = 0
        for flow in flows:
            if stop is not None and stop():
                break
            done += 1
        self.log.append(('delete', list(flows[:done])))
        failed = {}
        for flow in flows[:done]:
            if flow in self.refuse:
                failed.setdefault(self.refuse[flow], []).append(flow)
        return done, failed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


class Clock:
    """A deadline that expires after ``checks`` questions."""

    def __init__(self, checks):
        self.checks = checks
        self.seconds = 60

    def expired(self):
        self.checks -= 1
        return self.checks < 0


NEVER = Clock(10 ** 9)


def runner(calls, rc=0):
    def run(argv):
        calls.append(argv)
        return rc, '', '' if rc == 0 else 'Operation not supported'
    return run


def test_sockets_are_closed_then_entries_deleted_then_answers_chased():
    tcp = flow('203.0.113.9', 5038, 'tcp')
    udp, answered_udp = flow('203.0.113.9'), flow('203.0.113.10')
    table = FakeTable([tcp, udp, answered_udp, flow('198.51.100.7')], answered=[tcp, answered_udp])
    calls, waits = [], []
    found, left, warnings = ct.end_lost_flows(
        table, runner(calls), '/usr/bin/ss', LOCAL, Judged({'203.0.113.9': ct.LOST, '203.0.113.10': ct.LOST}),
        ['ipv4'], deadline=NEVER, wait=waits.append)
    assert (left, warnings) == ([], []) and found.lost == sorted([tcp, udp, answered_udp])
    assert calls == [['/usr/bin/ss', '-K', '-n', '-t',
                      '( src 10.213.8.2 and sport = :5038 and dst 203.0.113.9 and dport = :40000 )']]
    # the answered UDP flow's answers, twice; a closed TCP socket sends nothing more
    assert table.log == [('dump', 'ipv4'), ('delete', sorted([tcp, udp, answered_udp])),
                         ('delete', [answered_udp.reverse()]), ('delete', [answered_udp.reverse()])]
    assert waits == [ct.REPLY_WAIT] * ct.REPLY_PASSES


def test_check_mode_reads_and_judges_and_changes_nothing():
    table = FakeTable([flow('203.0.113.9', 5038, 'tcp')])
    calls = []
    found, left, warnings = ct.end_lost_flows(table, runner(calls), '/usr/bin/ss', LOCAL,
                                              Judged({'203.0.113.9': ct.LOST}), ['ipv4', 'ipv6'], check_mode=True,
                                              deadline=NEVER)
    assert len(found.lost) == 1 and (left, warnings, calls) == ([], [], [])
    assert table.log == [('dump', 'ipv4'), ('dump', 'ipv6')]


def test_what_the_deadline_leaves_is_returned():
    flows = [flow('203.0.113.%d' % n) for n in range(1, 5)]
    table = FakeTable(flows)
    found, left, _warnings = ct.end_lost_flows(table, runner([]), '/usr/bin/ss', LOCAL,
                                               Judged(dict((f.source, ct.LOST) for f in flows)), ['ipv4'],
                                               deadline=Clock(3))
    assert len(found.lost) == 4
    # the judging checked once; the deletion was told to stop after two flows
    assert left == sorted(flows)[2:]


def test_a_table_not_read_to_its_end_warns():
    table = FakeTable([flow('203.0.113.9')], complete=False)
    _found, _left, warnings = ct.end_lost_flows(table, runner([]), None, LOCAL, Judged({}), ['ipv4'],
                                                deadline=NEVER)
    assert warnings == ['the ipv4 conntrack table was not read to its end within 60 s (1 entries read): flows of '
                        'addresses that lost access may be left']


def test_failures_are_warnings_naming_the_addresses():
    tcp, udp = flow('203.0.113.9', 5038, 'tcp'), flow('203.0.113.10')
    table = FakeTable([tcp, udp], refuse={udp: errno.EPERM})
    _found, _left, warnings = ct.end_lost_flows(table, runner([], rc=1), '/usr/bin/ss', LOCAL,
                                                Judged({'203.0.113.9': ct.LOST, '203.0.113.10': ct.LOST}), ['ipv4'],
                                                deadline=NEVER, wait=lambda s: None)
    assert warnings == ['ss -K could not close the TCP connections from 203.0.113.9: Operation not supported',
                        'could not delete the conntrack entries of 1 flows (Operation not permitted): '
                        '203.0.113.10 (udp/5060: 1)']
    _found, _left, warnings = ct.end_lost_flows(FakeTable([tcp]), runner([]), None, LOCAL,
                                                Judged({'203.0.113.9': ct.LOST}), ['ipv4'], deadline=NEVER)
    assert warnings == [ct.NO_SS]


def test_sources_names_the_busiest_first():
    flows = ([flow('203.0.113.9', sport=n) for n in range(3)] + [flow('203.0.113.9', 5038, 'tcp')]
             + [flow('198.51.100.%d' % n) for n in range(1, 8)])
    assert ct._sources(flows) == ('203.0.113.9 (tcp/5038: 1, udp/5060: 3), 198.51.100.1 (udp/5060: 1), '
                                  '198.51.100.2 (udp/5060: 1), 198.51.100.3 (udp/5060: 1), 198.51.100.4 '
                                  '(udp/5060: 1) and 3 more addresses')


class FakeHost:
    def __init__(self, ip='/usr/sbin/ip'):
        self.tools = {'ss': '/usr/bin/ss', 'ip': ip}
        self.calls = []

    def run(self, argv):
        self.calls.append(argv)
        return 0, ADDRS if argv[0] == '/usr/sbin/ip' else '', ''


NO_CONTROLLER = (None, 'no SSH connection found')
EMPTY = ct.View({'ipv4': nf.filter_table('*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n')}, {})


def test_after_a_first_apply_nothing_runs():
    host = FakeHost()
    assert ct.after_apply(host, EMPTY, view(SIP_FROM_198), False, controller=NO_CONTROLLER,
                          table_factory=lambda: pytest.fail('no table needed')) == (
        {'count': 0, 'flows': [], 'undecided': 0, 'left': 0}, [])
    assert host.calls == []


def test_after_apply_reports_and_warns():
    lost, undecided = flow('203.0.113.9'), flow('203.0.113.7')
    rules = ['-s 203.0.113.7/32 -i eth1 -j ACCEPT']
    table = FakeTable([lost, undecided, flow('198.51.100.7')])
    host = FakeHost()
    entry, warnings = ct.after_apply(host, view(SIP_FROM_BOTH, rules), view(SIP_FROM_198, rules), False,
                                     controller=NO_CONTROLLER, table_factory=lambda: table)
    assert entry == {'count': 1, 'flows': ['udp 203.0.113.9:40000 -> 10.213.8.2:5060'], 'undecided': 1, 'left': 0}
    assert warnings == [
        '1 flows that may have lost access were left alone, because whether INPUT still accepts them depends on '
        'rules the module cannot evaluate: -A INPUT -s 203.0.113.7/32 -i eth1 -j ACCEPT [cannot evaluate: -i eth1 '
        '(the interface the packet arrives on is not known)]. Flows: 203.0.113.7 (udp/5060: 1)']
    assert host.calls == [['/usr/sbin/ip', '-o', 'addr', 'show']]


def test_after_apply_names_what_the_deadline_left():
    flows = [flow('203.0.113.%d' % n) for n in range(1, 4)]
    entry, warnings = ct.after_apply(FakeHost(), view(SIP_FROM_BOTH), view(SIP_FROM_198), False,
                                     controller=NO_CONTROLLER, table_factory=lambda: FakeTable(flows),
                                     deadline=Clock(2))
    assert entry['count'] == 3 and entry['left'] == 2
    assert warnings == ['ending the flows of addresses that lost access stopped at its deadline (60 s): 2 flows were '
                        'left as they are: 203.0.113.2 (udp/5060: 1), 203.0.113.3 (udp/5060: 1). They end when idle; '
                        'to end them now: conntrack -D -s ADDRESS']


def test_after_apply_without_a_readable_table_or_ip_warns():
    def broken():
        raise OSError(errno.EPROTONOSUPPORT, 'Protocol not supported')
    entry, warnings = ct.after_apply(FakeHost(), view(SIP_FROM_BOTH), view(SIP_FROM_198), False,
                                     controller=NO_CONTROLLER, table_factory=broken)
    assert entry is None and warnings == [
        'the conntrack table could not be read or changed ([Errno 93] Protocol not supported): flows of addresses '
        'that lost access keep passing until they end']
    entry, warnings = ct.after_apply(FakeHost(ip=None), view(SIP_FROM_BOTH), view(SIP_FROM_198), False,
                                     controller=NO_CONTROLLER)
    assert entry is None and 'ip (iproute2) is not installed' in warnings[0]
