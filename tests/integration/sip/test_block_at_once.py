# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A block takes effect at once (DESIGN.md, Policy semantics), with real flows.

The attacker (10.215.0.10, fd15::10) and an Internet phone (10.215.0.40) keep steady
SIP flows to the PBX stand-in: sipp sends 10 OPTIONS a second from one UDP socket, and
the attacker also over one TCP connection and from one UDP socket over IPv6. While they run, an apply adds a network that
blocks the attacker's address. The baseline loads the same rules with a bare
``iptables-restore`` (as a firewall reload does): the established flows keep passing,
which shows the hole. With ``pbxops.firewall.iptables_ruleset`` the attacker's flows
stop within 2 s of the apply, the phone's flow is not disturbed, and check mode deletes
no conntrack entry (the entry's conntrack id stays the same).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import threading
import time

import pytest

import sip_lab  # the harness next to this file (conftest.py puts it on the path)

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.tests.integration.conftest import Netns

ATTACKER, ATTACKER6, PHONE = '10.215.0.10', 'fd15::10', '10.215.0.40'
BLOCKED = [{'name': 'Blocked', 'subnet': [ATTACKER + '/32', ATTACKER6 + '/128'], 'block': ['sip']}]
RATE, SECONDS = 10, 14
MODULE = 'pbxops.firewall.iptables_ruleset'


@pytest.fixture
def lab():
    lab = sip_lab.Lab()
    try:
        lab.up()
        lab.start_pbx()
        yield lab
    finally:
        lab.down()


def ruleset(extra=()):
    return _policy.firewall_ruleset(list(extra) + sip_lab.NETWORKS, **sip_lab.POLICY)


def module_apply(ansible, lab, rules, check=False):
    """The module, run in the PBX namespace; returns its result."""
    args = {'ruleset': rules, 'backend': 'nft', 'persist': False, 'rollback_timeout': 0}
    result = ansible.local(Netns(lab.ns['pbx']), [{MODULE: args}], check=check)[-1]
    assert result['_status'] == 'ok', result
    return result


def streams(lab):
    """Start the steady flows (threads running sipp); returns them for ``join``."""
    flows = [('atk', 'u1', sip_lab.PBX4), ('atk', 't1', sip_lab.PBX4), ('atk', 'u1', sip_lab.PBX6),
             ('phone', 'u1', sip_lab.PBX4)]
    threads = [threading.Thread(target=lab.sipp, args=(where, sip_lab.send()),
                                kwargs=dict(rate=RATE, count=RATE * SECONDS, transport=transport, target=target,
                                            seconds=SECONDS + 10))
               for where, transport, target in flows]
    for thread in threads:
        thread.start()
    time.sleep(3)
    return threads


def times(lab, source, proto):
    return [entry['t'] for entry in lab.received(src=source, proto=proto, method='OPTIONS')]


def attacker_times(lab):
    """{flow: [arrival times]} of the attacker's three flows."""
    return {'udp': times(lab, ATTACKER, 'udp'), 'tcp': times(lab, ATTACKER, 'tcp'),
            'udp6': times(lab, ATTACKER6, 'udp')}


def conntrack_ids(lab, source):
    """{(proto, sport): conntrack id} of the flows from ``source`` to the PBX's SIP port."""
    family = 'ipv6' if ':' in source else 'ipv4'
    out = sip_lab.run(lab.exec_argv('pbx') + ['conntrack', '-L', '-f', family, '-s', source, '-o', 'id'],
                      check=False).stdout
    found = {}
    for line in out.splitlines():
        fields = {}
        for key, value in re.findall(r'(\w+)=(\S+)', line):
            fields.setdefault(key, value)         # the first of each: the original direction
        proto = line.split()[0]
        if fields.get('dport') == '5060':
            found[(proto, fields['sport'])] = fields['id']
    return found


@pytest.mark.parametrize('how', ['baseline', 'collection'])
def test_an_apply_that_blocks_a_source_ends_its_established_flows(lab, ansible, how):
    if how == 'baseline':
        lab.apply(ruleset())
    else:
        module_apply(ansible, lab, ruleset())
    threads = streams(lab)
    assert all(attacker_times(lab).values()) and times(lab, PHONE, 'udp'), attacker_times(lab)
    started = time.time()
    if how == 'baseline':
        lab.apply(ruleset(BLOCKED))          # what a bare reload does: no flow ends
        result = None
    else:
        result = module_apply(ansible, lab, ruleset(BLOCKED))
    applied = time.time()
    for thread in threads:
        thread.join()
    lab.settle()

    late = dict((flow, [t for t in got if t > applied + 2]) for flow, got in attacker_times(lab).items())
    print('%s: attacker requests delivered later than 2 s after the apply: %s'
          % (how, dict((flow, len(got)) for flow, got in late.items())))
    if how == 'baseline':
        # the hole: the attacker's established flows keep passing after the block
        assert all(late.values()), late
        return
    assert not any(late.values()), 'the attacker still got through %.1f s after the apply' % (
        max(sum(late.values(), [])) - applied)
    ended = result['flows_ended']
    assert ended['count'] == len(ended['flows']) == 3, ended
    assert sorted(f.split()[0] + f.split()[1].rpartition(':')[0] for f in ended['flows']) == [
        'tcp' + ATTACKER, 'udp' + ATTACKER, 'udp[%s]' % ATTACKER6], ended
    # the phone's flow went on through the apply, without a gap
    phone = times(lab, PHONE, 'udp')
    assert [t for t in phone if t > applied + 2], 'the phone stopped too'
    gaps = [b - a for a, b in zip(phone, phone[1:]) if started - 1 < a < applied + 1]
    assert max(gaps) < 0.5, 'the phone was disturbed: a gap of %.2f s during the apply' % max(gaps)
    assert len(phone) >= RATE * SECONDS * 0.95


def test_check_mode_lists_the_flows_and_deletes_none(lab, ansible):
    module_apply(ansible, lab, ruleset())
    threads = streams(lab)
    before = conntrack_ids(lab, ATTACKER), conntrack_ids(lab, ATTACKER6)
    assert [len(ids) for ids in before] == [2, 1], before
    result = module_apply(ansible, lab, ruleset(BLOCKED), check=True)
    assert result['changed'] is True
    assert result['flows_ended']['count'] == 3, result['flows_ended']
    # the same entries, not new ones made by the next packet
    assert (conntrack_ids(lab, ATTACKER), conntrack_ids(lab, ATTACKER6)) == before
    for thread in threads:
        thread.join()
    assert len(times(lab, ATTACKER, 'udp')) >= RATE * SECONDS * 0.95
