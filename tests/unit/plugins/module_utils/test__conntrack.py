# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure parts of module_utils/_conntrack.py, on real conntrack and ip output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pbxops.firewall.plugins.module_utils import _conntrack as ct

LISTING = '''\
ipv4     2 tcp      6 431599 ESTABLISHED src=10.213.8.1 dst=10.213.8.2 sport=38778 dport=22 src=10.213.8.2 dst=10.213.8.1 sport=22 dport=38778 [ASSURED] use=1
ipv4     2 udp      17 29 src=203.0.113.9 dst=10.213.8.2 sport=5071 dport=5060 src=10.213.8.2 dst=203.0.113.9 sport=5060 dport=5071 [ASSURED] mark=0 use=1
ipv4     2 udp      17 29 src=10.213.8.2 dst=198.51.100.7 sport=5060 dport=5060 src=198.51.100.7 dst=10.213.8.2 sport=5060 dport=5060 mark=0 use=1
ipv4     2 icmp     1 29 src=203.0.113.9 dst=10.213.8.2 type=8 code=0 id=7 src=10.213.8.2 dst=203.0.113.9 type=0 code=0 id=7 mark=0 use=1
ipv6     10 udp      17 29 src=2001:db8::9 dst=fd15::1 sport=5071 dport=5060 src=fd15::1 dst=2001:db8::9 sport=5060 dport=5071 mark=0 use=1
conntrack v1.4.7 (conntrack-tools): 5 flow entries have been shown.
'''
ADDRS = '''\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 10.213.8.2/24 brd 10.213.8.255 scope global eth0\\       valid_lft forever
2: eth0    inet6 fd15::1/64 scope global \\       valid_lft forever preferred_lft forever
'''


def test_parse_entries_keeps_the_original_tuple_of_tcp_and_udp():
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
    before = {('10.213.8.1', 22): True, ('203.0.113.9', 5060): True, ('2001:db8::9', 5060): False}
    after = {('10.213.8.1', 22): True, ('203.0.113.9', 5060): False, ('2001:db8::9', 5060): False}

    def ask(table):
        return lambda flow: table.get((flow.source, flow.dport), False)

    lost = ct.lost_access(flows, local, ask(before), ask(after))
    # kept: the ssh flow (still allowed), the host's own outbound trunk flow (not inbound),
    # the IPv6 flow the old rules never accepted (not ours to judge)
    assert [f.describe() for f in lost] == ['udp 203.0.113.9:5071 -> 10.213.8.2:5060']
    assert ct.delete_argv(lost[0]) == ['-D', '-f', 'ipv4', '-p', 'udp', '-s', '203.0.113.9',
                                       '-d', '10.213.8.2', '--sport', '5071', '--dport', '5060']


def test_runner_check_mode_deletes_nothing_and_no_tool_warns():
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, LISTING if argv[3] == 'ipv4' else '', ''

    local = ct.parse_local_addresses(ADDRS)
    lost, warnings = ct.drop_lost_flows(run, '/usr/sbin/conntrack', local,
                                        lambda f: True, lambda f: f.dport != 5060, True)
    assert [f.dport for f in lost] == [5060, 5060] and warnings == []
    assert all(argv[1] == '-L' for argv in calls)
    calls[:] = []
    ct.drop_lost_flows(run, '/usr/sbin/conntrack', local, lambda f: True,
                       lambda f: f.dport != 5060, False)
    assert [argv[1] for argv in calls] == ['-L', '-L', '-D', '-D']
    lost, warnings = ct.drop_lost_flows(run, None, local, None, None, False)
    assert lost == [] and 'conntrack' in warnings[0]
