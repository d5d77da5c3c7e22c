# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure parts of module_utils/_conntrack.py, on real conntrack and ip output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _conntrack as ct
from ansible_collections.pbxops.firewall.plugins.module_utils._evaluate import Evaluator

LISTING = '''\
ipv4     2 tcp      6 431599 ESTABLISHED src=10.213.8.1 dst=10.213.8.2 sport=38778 dport=22 src=10.213.8.2 dst=10.213.8.1 sport=22 dport=38778 [ASSURED] use=1
ipv4     2 udp      17 29 src=203.0.113.9 dst=10.213.8.2 sport=5071 dport=5060 src=10.213.8.2 dst=203.0.113.9 sport=5060 dport=5071 [ASSURED] mark=0 use=1
ipv4     2 udp      17 29 src=10.213.8.2 dst=198.51.100.7 sport=5060 dport=5060 src=198.51.100.7 dst=10.213.8.2 sport=5060 dport=5060 mark=0 use=1
ipv4     2 icmp     1 29 src=203.0.113.9 dst=10.213.8.2 type=8 code=0 id=7 src=10.213.8.2 dst=203.0.113.9 type=0 code=0 id=7 mark=0 use=1
ipv4     2 tcp      6 431999 ESTABLISHED src=203.0.113.9 dst=10.213.8.2 sport=40100 dport=8080 src=172.17.0.2 dst=203.0.113.9 sport=80 dport=40100
ipv6     10 udp      17 29 src=2001:db8::9 dst=fd15::1 sport=5071 dport=5060 src=fd15::1 dst=2001:db8::9 sport=5060 dport=5071 mark=0 use=1
conntrack v1.4.7 (conntrack-tools): 6 flow entries have been shown.
'''
ADDRS = '''\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 10.213.8.2/24 brd 10.213.8.255 scope global eth0\\       valid_lft forever
2: eth0    inet6 fd15::1/64 scope global \\       valid_lft forever preferred_lft forever
'''


def test_parse_entries_keeps_the_original_tuple_of_tcp_and_udp_and_skips_forwarded_flows():
    flows = ct.parse_entries(LISTING)
    assert [f.describe() for f in flows] == [
        'tcp 10.213.8.1:38778 -> 10.213.8.2:22',
        'udp 203.0.113.9:5071 -> 10.213.8.2:5060',
        'udp 10.213.8.2:5060 -> 198.51.100.7:5060',
        'udp 2001:db8::9:5071 -> fd15::1:5060']
    assert flows[3].family == 'ipv6'


def test_local_addresses():
    assert ct.parse_local_addresses(ADDRS) == {'127.0.0.1', '10.213.8.2', 'fd15::1'}


def test_only_inbound_flows_that_lost_access_go():
    flows = ct.parse_entries(LISTING)
    local = ct.parse_local_addresses(ADDRS)
    lost_keys = {('203.0.113.9', 5060), ('10.213.8.1', 22)}
    keep = (ct.Flow('ipv4', 'tcp', '10.213.8.1', '10.213.8.2', 38778, 22),)

    lost = ct.lost_access(flows, local, lambda flow: (flow.source, flow.dport) in lost_keys, keep)
    # kept: the ssh flow (the controller's own connection), the host's own outbound trunk
    # flow (not inbound), the IPv6 flow (did not lose access)
    assert [f.describe() for f in lost] == ['udp 203.0.113.9:5071 -> 10.213.8.2:5060']
    assert ct.delete_argv(lost[0]) == ['-D', '-f', 'ipv4', '-p', 'udp', '-s', '203.0.113.9',
                                       '-d', '10.213.8.2', '--sport', '5071', '--dport', '5060']


def ruleset(*rules):
    return {'ipv4': ['-A PBX-FIREWALL ' + r for r in rules], 'ipv6': []}


OLD = ruleset('-s 203.0.113.0/24 -p udp -m udp --dport 5060 -j ACCEPT',
              '-s 198.51.100.0/24 -p udp -m udp --dport 5060 -j ACCEPT', '-j DROP')


def flow(source, dport=5060, proto='udp'):
    return ct.Flow('ipv4', proto, source, '10.213.8.2', 40000, dport)


@pytest.mark.parametrize('after, source, lost', [
    # the new rules drop 203.0.113.0/24 and keep 198.51.100.0/24
    (ruleset('-s 198.51.100.0/24 -p udp -m udp --dport 5060 -j ACCEPT', '-j DROP'), '203.0.113.9', True),
    (ruleset('-s 198.51.100.0/24 -p udp -m udp --dport 5060 -j ACCEPT', '-j DROP'), '198.51.100.7', False),
    # REJECT counts as a denial too
    (ruleset('-s 203.0.113.0/24 -j REJECT', '-j ACCEPT'), '203.0.113.9', True),
    # never accepted by the old rules: not ours to judge
    (ruleset('-j DROP'), '192.0.2.1', False),
    # the new owned chains give no verdict (the INPUT chain decides): kept
    (ruleset('-s 198.51.100.0/24 -j ACCEPT'), '203.0.113.9', False),
    # a rule the evaluator cannot decide may accept: kept
    (ruleset('-m recent --rcheck -j ACCEPT', '-j DROP'), '203.0.113.9', False),
])
def test_judge_ends_a_flow_only_when_the_new_rules_certainly_refuse_it(after, source, lost):
    judge = ct.Judge(OLD, after)
    assert judge.lost(flow(source)) is lost


def test_judge_parses_a_ruleset_only_when_a_flow_needs_it_and_asks_each_destination_once(monkeypatch):
    parsed, asked = [], []

    class Counting(Evaluator):
        def __init__(self, ruleset):
            parsed.append(ruleset)
            Evaluator.__init__(self, ruleset)

        def evaluate(self, *args, **kwargs):
            asked.append(args)
            return Evaluator.evaluate(self, *args, **kwargs)

    monkeypatch.setattr(ct._evaluate, 'Evaluator', Counting)
    judge = ct.Judge(OLD, ruleset('-j DROP'))
    assert parsed == []
    assert judge.lost(flow('203.0.113.9'))
    assert judge.lost(ct.Flow('ipv4', 'udp', '203.0.113.9', '10.213.8.2', 40001, 5060))
    assert len(parsed) == 2 and len(asked) == 2


def test_judge_takes_the_new_ruleset_already_parsed(monkeypatch):
    """The module passes the lockout check's evaluator of the new ruleset: it is not parsed again."""
    after = ruleset('-j DROP')
    parsed_once = Evaluator(after)
    parsed = []

    class Counting(Evaluator):
        def __init__(self, ruleset):
            parsed.append(ruleset)
            Evaluator.__init__(self, ruleset)

    monkeypatch.setattr(ct._evaluate, 'Evaluator', Counting)
    judge = ct.Judge(OLD, after, parsed_once)
    assert judge.lost(flow('203.0.113.9'))
    assert parsed == [OLD]


def listing(family, text=LISTING):
    return ''.join(line for line in text.splitlines(True) if line.startswith(family + ' '))


TOOLS = {'conntrack': '/usr/sbin/conntrack', 'ss': '/usr/bin/ss'}
NO_WAIT = {'wait': lambda seconds: None}


def test_runner_check_mode_changes_nothing_and_no_tool_warns():
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, listing(argv[3]), ''

    local = ct.parse_local_addresses(ADDRS)
    lost, warnings = ct.end_lost_flows(run, TOOLS, local, lambda f: f.dport == 5060, check_mode=True, **NO_WAIT)
    assert [f.describe() for f in lost] == ['udp 203.0.113.9:5071 -> 10.213.8.2:5060',
                                            'udp 2001:db8::9:5071 -> fd15::1:5060'] and warnings == []
    assert [argv[1:4] for argv in calls] == [['-L', '-f', 'ipv4'], ['-L', '-f', 'ipv6']]
    lost, warnings = ct.end_lost_flows(run, {'conntrack': None}, local, None)
    assert lost == [] and warnings == [ct.NO_TOOL]


def test_tcp_sockets_are_closed_then_entries_deleted_then_the_hosts_own_answers():
    """The host's answer to the last accepted request opened the UDP flow again from its
    side: the next listing shows it, and it goes too; then nothing is left."""
    answer = ('ipv4     2 udp      17 29 src=10.213.8.2 dst=203.0.113.9 sport=5060 dport=5071 '
              'src=203.0.113.9 dst=10.213.8.2 sport=5071 dport=5060 mark=0 use=1\n')
    listings = [LISTING, answer, '']
    calls = []

    def run(argv):
        calls.append(argv)
        if argv[1] == '-L':
            return 0, listing(argv[3], listings.pop(0) if argv[3] == 'ipv4' else LISTING), ''
        return 0, '', ''

    local = ct.parse_local_addresses(ADDRS)
    lost, warnings = ct.end_lost_flows(run, TOOLS, local, lambda f: f.source == '203.0.113.9' or f.dport == 22,
                                       keep=(), **NO_WAIT)
    assert warnings == [] and [f.describe() for f in lost] == ['tcp 10.213.8.1:38778 -> 10.213.8.2:22',
                                                               'udp 203.0.113.9:5071 -> 10.213.8.2:5060']
    ss, conntrack = '/usr/bin/ss', '/usr/sbin/conntrack'
    assert [argv[:2] for argv in calls[2:]] == [[ss, '-K'], [conntrack, '-D'], [conntrack, '-D'], [conntrack, '-L'],
                                                [conntrack, '-D'], [conntrack, '-L']]
    assert calls[2][2:] == ['-n', '-t', '-4', 'src', '10.213.8.2', 'sport', '=', ':22',
                            'dst', '10.213.8.1', 'dport', '=', ':38778']
    assert calls[6][1:] == ['-D', '-f', 'ipv4', '-p', 'udp', '-s', '10.213.8.2', '-d', '203.0.113.9',
                            '--sport', '5060', '--dport', '5071']


def test_close_argv_brackets_ipv6_addresses():
    flow = ct.Flow('ipv6', 'tcp', '2001:db8::9', 'fd15::1', 40000, 5060)
    assert ct.close_argv(flow)[3:] == ['-6', 'src', '[fd15::1]', 'sport', '=', ':5060',
                                       'dst', '[2001:db8::9]', 'dport', '=', ':40000']


def test_without_ss_tcp_flows_are_only_deleted_with_a_warning():
    def run(argv):
        return 0, listing(argv[3]) if argv[1] == '-L' else '', ''

    lost, warnings = ct.end_lost_flows(run, {'conntrack': 'conntrack', 'ss': None}, ct.parse_local_addresses(ADDRS),
                                       lambda f: f.dport == 22, **NO_WAIT)
    assert len(lost) == 1 and warnings == [ct.NO_SS]


def test_a_flow_gone_meanwhile_is_no_warning_but_another_failure_is():
    def run(argv, err='conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n'):
        if argv[1] == '-L':
            return 0, listing(argv[3]), ''
        return 1, '', err

    local = ct.parse_local_addresses(ADDRS)
    assert ct.end_lost_flows(run, TOOLS, local, lambda f: f.dport == 5060, **NO_WAIT)[1] == []
    warnings = ct.end_lost_flows(lambda argv: run(argv, 'Operation not permitted'), TOOLS, local,
                                 lambda f: f.source == '203.0.113.9', **NO_WAIT)[1]
    assert warnings == ['conntrack could not delete udp 203.0.113.9:5071 -> 10.213.8.2:5060: '
                        'Operation not permitted']


class FakeHost(object):
    def __init__(self, conntrack='/usr/sbin/conntrack'):
        self.tools = {'conntrack': conntrack, 'ss': '/usr/bin/ss', 'ip': '/usr/sbin/ip'}
        self.calls = []

    def run(self, argv):
        self.calls.append(argv)
        if argv[0] == '/usr/sbin/ip':
            return 0, ADDRS, ''
        return 0, listing(argv[3]) if argv[1] == '-L' else '', ''


NO_CONTROLLER = (None, 'no SSH connection found')


def test_after_a_first_apply_nothing_runs_and_nothing_warns():
    host = FakeHost(conntrack=None)
    assert ct.after_apply(host, {'ipv4': [], 'ipv6': []}, OLD, False, controller=NO_CONTROLLER) == (
        {'count': 0, 'flows': []}, [])
    assert host.calls == []


def test_only_families_with_owned_rules_before_and_after_are_listed():
    host = FakeHost()
    entry, warnings = ct.after_apply(host, OLD, ruleset('-j DROP'), True, controller=NO_CONTROLLER)
    assert warnings == [] and entry == {'count': 1, 'flows': ['udp 203.0.113.9:5071 -> 10.213.8.2:5060']}
    assert [argv[1:4] for argv in host.calls] == [['-o', 'addr', 'show'], ['-L', '-f', 'ipv4']]
    assert ct.after_apply(FakeHost(conntrack=None), OLD, OLD, False, controller=NO_CONTROLLER) == (None, [ct.NO_TOOL])
