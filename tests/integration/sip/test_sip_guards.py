# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real tools against the SIP guards, in network namespaces (DESIGN.md step 2).

Each test runs the attack twice against the PBX stand-in (sip_pbx.py, which counts what
it receives): first without any firewall — the baseline must show the attack working,
otherwise the harness is broken and the test fails — then with the rules the collection
compiles for the lab's inventory (sip_lab.NETWORKS, POLICY: rate limit 20/s, the
scanner list, a trunk, a never_block office). Tools: sipvicious (svmap, svwar), sipp,
sipsak. Every run is bounded in count and time; only the lab's private addresses.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess
import time

import pytest

import sip_lab  # the harness next to this file (conftest.py puts it on the path)

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy

RATE = sip_lab.POLICY['sip_rate_limit']
FLOOD_RATE, FLOOD_SECONDS = 200, 5


@pytest.fixture(params=['baseline', 'collection'])
def lab(request):
    """The lab, without firewall (``baseline``) or with the collection's rules."""
    lab = sip_lab.Lab()
    try:
        lab.up()
        lab.start_pbx()
        lab.firewall = request.param
        if request.param == 'collection':
            lab.apply(_policy.firewall_ruleset(sip_lab.NETWORKS, **sip_lab.POLICY))
        yield lab
    finally:
        lab.down()


def _svmap(lab, local_port):
    argv = [sip_lab.SVMAP, sip_lab.PBX4, '-p5060', '-P', str(local_port), '-t', '0.5']
    out = sip_lab.run(lab.exec_argv('atk') + argv, timeout=60, check=False).stdout
    return '%s:5060' % sip_lab.PBX4 in out


def _benign_options(lab, local_port):
    """One harmless OPTIONS from the scanner's port (opens a conntrack flow): delivered."""
    assert len(sip_lab.benign_options(lab, local_port)) == 1


def test_svmap_after_a_benign_options_from_the_same_port(lab):
    _benign_options(lab, 5098)
    found = _svmap(lab, 5098)
    assert found == (lab.firewall == 'baseline')


def test_svwar_after_a_benign_options_from_the_same_port(lab):
    _benign_options(lab, 5097)
    argv = [sip_lab.SVWAR, '-e100-119', '-P', '5097', '-t', '0.3', sip_lab.PBX4]
    out = sip_lab.run(lab.exec_argv('atk') + argv, timeout=90, check=False).stdout
    found = sorted(n for n in range(100, 120) if '| %d ' % n in out)
    if lab.firewall == 'baseline':
        assert found == list(range(100, 110)), out
    else:
        assert found == [], out
        assert not lab.received(ua='friendly-scanner')


def test_scanner_on_an_established_tcp_connection(lab):
    """One benign OPTIONS, then three scanner requests, on one TCP connection (sipp t1)."""
    scenario = sip_lab.send() + sip_lab.RECV_200 + ''.join(
        sip_lab.send(agent='friendly-scanner', pause_ms=100) for _request in range(3))
    lab.sipp('atk', scenario, rate=1, count=1, transport='t1', seconds=8)
    lab.settle()
    benign = lab.received(src='10.215.0.10', proto='tcp', ua='Yealink SIP-T46S')
    scanner = lab.received(src='10.215.0.10', proto='tcp', ua='friendly-scanner')
    assert len(benign) == 1
    assert len(scanner) == (3 if lab.firewall == 'baseline' else 0)


def test_scanner_agent_in_another_case(lab):
    lab.sipp('atk', sip_lab.send(agent='Friendly-Scanner'), rate=10, count=3, seconds=8)
    lab.settle()
    got = len(lab.received(src='10.215.0.10', ua='Friendly-Scanner'))
    assert got == (3 if lab.firewall == 'baseline' else 0)


def test_phone_whose_from_user_names_a_scanner_is_delivered(lab):
    lab.sipp('phone', sip_lab.send(user='sipcliente'), rate=10, count=3, seconds=8)
    lab.settle()
    assert len(lab.received(src='10.215.0.40', method='OPTIONS')) == 3


@pytest.mark.parametrize('transport', ['u1', 'un'], ids=['single-socket', 'socket-per-call'])
def test_flood_is_limited(lab, transport):
    count = FLOOD_RATE * FLOOD_SECONDS
    started = time.time()
    lab.sipp('atk', sip_lab.send(), rate=FLOOD_RATE, count=count, transport=transport,
             seconds=FLOOD_SECONDS + 10)
    elapsed = time.time() - started
    lab.settle()
    got = len(lab.received(src='10.215.0.10', method='OPTIONS'))
    if lab.firewall == 'baseline':
        assert got >= count * 0.95
    else:
        # the budget over the time sipp ran (its start-up included, so slightly generous)
        assert 0 < got <= int((RATE * elapsed + 2 * RATE) * 1.1), (got, elapsed)


@pytest.mark.parametrize('where, source', [('trunk', '10.215.0.30'), ('office', '10.215.0.20')])
def test_trunk_and_never_block_network_are_not_limited(lab, where, source):
    lab.sipp(where, sip_lab.send(), rate=50, count=150, seconds=15)
    lab.settle()
    assert len(lab.received(src=source, method='OPTIONS')) == 150


def test_responses_to_pbx_requests_are_not_limited(lab):
    """The PBX checks a phone 50 times a second; the phone's 200 OKs all arrive."""
    lab.stop(lab.procs[0])          # the stand-in that only answers: the port is needed
    lab.start_pbx('phone')
    log = lab.start_pbx(originate=('10.215.0.40', 5060, 150, 50))
    deadline = time.time() + 10
    while time.time() < deadline and len(lab.received(log, src='10.215.0.40', kind='resp')) < 150:
        time.sleep(0.2)
    assert len(lab.received(log, src='10.215.0.40', kind='resp')) == 150


def test_two_addresses_of_one_ipv6_prefix_share_one_budget(lab):
    count = 100 * FLOOD_SECONDS
    procs = []
    for source in ('fd15::10', 'fd15::11'):
        procs.append(subprocess.Popen(
            lab.exec_argv('atk') + ['sipp', '[%s]:5060' % sip_lab.PBX6, '-sf',
                                    lab.scenario_file(sip_lab.send()), '-r', '100', '-m', str(count),
                                    '-l', str(count), '-t', 'u1', '-i', source, '-nostdin',
                                    '-timeout', '%ds' % (FLOOD_SECONDS + 10)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    started = time.time()
    for proc in procs:
        proc.wait(FLOOD_SECONDS + 20)
    elapsed = time.time() - started
    lab.settle()
    got = len(lab.received(src='fd15::10')) + len(lab.received(src='fd15::11'))
    if lab.firewall == 'baseline':
        assert got >= 2 * count * 0.95
    else:
        # one budget for both: a budget each would let through about twice as much
        assert 0 < got <= int((RATE * elapsed + 2 * RATE) * 1.1), (got, elapsed)
