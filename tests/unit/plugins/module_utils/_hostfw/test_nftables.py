# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Native nftables tables and their input chains (``nft -j list ruleset`` of nftables 1.0.6,
captured on Debian 12 with /etc/nftables.conf loaded, a table of our own and iptables-nft's)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import nftables as nft

CAPTURED = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'captured')
KEY = ('inet', 'pbxtest', 'input')


@pytest.fixture(scope='module')
def ruleset():
    with open(os.path.join(CAPTURED, 'nft-native.json')) as handle:
        return nft.Ruleset(handle.read())


def test_tables_and_input_chains(ruleset):
    assert ('ip', 'filter') in ruleset.tables                       # iptables-nft's, not native
    assert ruleset.native_tables() == [('inet', 'filter'), ('inet', 'pbxtest')]
    assert ruleset.input_chains() == [('inet', 'filter', 'input'), KEY]
    assert ruleset.policy(('inet', 'filter', 'input')) == 'accept' and not ruleset.has_drop(('inet', 'filter', 'input'))
    assert ruleset.policy(KEY) == 'drop' and ruleset.has_drop(KEY)


# inet pbxtest input: policy drop; ct state established,related accept; iif lo accept;
# tcp dport { 22, 5060-5061 } accept; ip saddr 10.0.0.0/8 udp dport 5060 accept;
# icmp type echo-request accept; udp dport 10000-10200 counter accept
@pytest.mark.parametrize('packet, verdict', [
    (nft.Packet('ipv4', 'tcp', 22), 'accept'),
    (nft.Packet('ipv4', 'tcp', 5061), 'accept'),
    (nft.Packet('ipv6', 'tcp', 5060), 'accept'),
    (nft.Packet('ipv4', 'tcp', 80), 'drop'),
    (nft.Packet('ipv4', 'udp', 5060), nft.UNCERTAIN),        # accepted from 10.0.0.0/8 only
    (nft.Packet('ipv4', 'udp', 10100), 'accept'),
    (nft.Packet('ipv4', 'udp', 10300), 'drop'),
    (nft.Packet('ipv4', 'icmp', icmp_type=8), 'accept'),
    (nft.Packet('ipv4', 'icmp', icmp_type=13), 'drop'),
    (nft.Packet('ipv6', 'ipv6-icmp', icmp_type=128), 'drop'),
])
def test_verdicts(ruleset, packet, verdict):
    assert ruleset.verdict(KEY, packet) == verdict


def chain(policy, *rules):
    items = [{'table': {'family': 'inet', 'name': 't'}},
             {'chain': {'family': 'inet', 'table': 't', 'name': 'in', 'type': 'filter', 'hook': 'input',
                        'prio': 0, 'policy': policy}},
             {'chain': {'family': 'inet', 'table': 't', 'name': 'sub'}}]
    for target, expr in rules:
        items.append({'rule': {'family': 'inet', 'table': 't', 'chain': target, 'expr': expr}})
    return nft.Ruleset(json.dumps({'nftables': items}))


DPORT_5060 = {'match': {'op': '==', 'left': {'payload': {'protocol': 'udp', 'field': 'dport'}}, 'right': 5060}}
TH_RANGE = {'match': {'op': '==', 'left': {'payload': {'protocol': 'th', 'field': 'dport'}},
                      'right': {'range': [5000, 5100]}}}
MARK = {'match': {'op': '==', 'left': {'meta': {'key': 'mark'}}, 'right': 1}}
UDP = nft.Packet('ipv4', 'udp', 5060)


@pytest.mark.parametrize('ruleset, verdict', [
    (chain('accept'), 'accept'),
    (chain('drop', ('in', [DPORT_5060, {'accept': None}])), 'accept'),
    (chain('accept', ('in', [DPORT_5060, {'drop': None}])), 'drop'),
    (chain('accept', ('in', [DPORT_5060, {'reject': None}])), 'drop'),
    (chain('drop', ('in', [TH_RANGE, {'accept': None}])), 'accept'),
    # an uncertain match before a certain accept: still uncertain (it may have dropped)
    (chain('accept', ('in', [MARK, {'drop': None}]), ('in', [DPORT_5060, {'accept': None}])), nft.UNCERTAIN),
    (chain('drop', ('in', [MARK, {'accept': None}])), nft.UNCERTAIN),
    # jump: the sub chain decides, or returns
    (chain('drop', ('in', [{'jump': {'target': 'sub'}}]), ('sub', [DPORT_5060, {'accept': None}])), 'accept'),
    (chain('drop', ('in', [{'jump': {'target': 'sub'}}]), ('sub', [{'return': None}]),
           ('in', [DPORT_5060, {'accept': None}])), 'accept'),
    (chain('accept', ('in', [{'goto': {'target': 'sub'}}]), ('in', [DPORT_5060, {'drop': None}])), 'accept'),
    (chain('drop', ('in', [{'match': {'op': '==', 'left': {'ct': {'key': 'state'}}, 'right': ['established', 'related']}},
                           {'accept': None}])), 'drop'),
    (chain('drop', ('in', [{'match': {'op': '==', 'left': {'meta': {'key': 'l4proto'}}, 'right': 'udp'}},
                           {'accept': None}])), 'accept'),
    (chain('drop', ('in', [{'match': {'op': '!=', 'left': {'meta': {'key': 'l4proto'}}, 'right': 'udp'}},
                           {'accept': None}])), 'drop'),
])
def test_verdict_walk(ruleset, verdict):
    assert ruleset.verdict(('inet', 't', 'in'), UDP) == verdict


@pytest.mark.parametrize('conf, found', [
    ('#!/usr/sbin/nft -f\n\nflush ruleset\n\ntable inet filter {\n}\n', ['flush ruleset']),
    ('table inet filter\nflush table inet filter\ntable inet filter { }\n', []),
    ('flush table ip filter\n', ['flush table ip filter']),
    ('', []),
])
def test_flushing_statements(conf, found):
    assert nft.flush_statements(conf) == found


def test_no_json():
    with pytest.raises(ValueError, match='nft -j list ruleset printed no JSON'):
        nft.Ruleset('table inet filter {')
    assert nft.Ruleset('').tables == []
