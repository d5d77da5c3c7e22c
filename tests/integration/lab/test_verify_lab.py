# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pbxops.firewall.verify on the Docker lab fleet, with real traffic.

The lab (conftest.py): pbx1..pbx3 and the clients
client-office, client-vpn, client-inet, client-inet2 as probe hosts
(lab/.cache/probes.yml). After a rollout of the demo policy:

1. verify passes: every probe of every client to every PBX matches;
2. a foreign ``ACCEPT`` for web (tcp/80) at the top of pbx2's INPUT, a rule the
   collection does not own: verify fails and names pbx2, the internet clients, web
   tcp/80 and the expectation (closed, decided by "pbxfw:block web network=Internet");
3. an upstream block, client-office dropping its outgoing SIP (udp/5060): verify fails
   and names every PBX seen from client-office, sip udp/5060, expected open;
4. a verification that verifies nothing fails: client-vpn keeps its address but loses its
   route to pbx2 (its VPN is down: every probe of that pair has no source), and a
   ``pbx_firewall_probe_reach`` that holds no PBX address (every probe host plans nothing):
   verify fails and names the pair or the PBX and why.
"""

from __future__ import annotations

import json

from ansible_collections.pbxops.firewall.tests.integration.lab._support import CLIENTS, PBXS, docker_exec, playbook


def verify(workdir, name, *extra):
    report = str(workdir / ('%s.json' % name))
    proc = playbook('verify', '-e', 'pbx_firewall_verify_report=%s' % report, *extra, check=False)
    with open(report, encoding='utf-8') as handle:
        return proc, json.load(handle)


def verify_with_foreign_rule(workdir, name, container, add, rule):
    """verify while RULE, one the collection does not own, sits in CONTAINER's chain (ADD: where,
    e.g. ['-I', 'INPUT', '1'] or ['-A', 'OUTPUT']); the rule is removed again either way.
    Returns the playbook run, the report and its mismatches as sorted tuples
    (pbx, probe, service, proto, port, expected, observed, decided_by)."""
    chain = add[1]
    docker_exec(container, 'iptables', *add, *rule)
    try:
        proc, report = verify(workdir, name)
    finally:
        docker_exec(container, 'iptables', '-D', chain, *rule)
    bad = sorted((r['pbx'], r['probe'], r['service'], r['proto'], r['port'], r['expected'], r['observed'],
                  r['decided_by']) for r in report['mismatches'])
    return proc, report, bad


def test_verify_passes_after_rollout(lab):
    proc, report = verify(lab, 'clean')
    assert proc.returncode == 0, proc.stdout[-6000:]
    rows = report['rows']
    # every client probes every PBX on its own network: 16 probes (sampled RTP) per pair
    assert {(r['probe'], r['pbx']) for r in rows} == {(c, p) for c in CLIENTS for p in PBXS}
    assert report['counts'] == {'match': len(rows), 'mismatch': 0, 'unknown': 0, 'error': 0, 'skipped': 0}
    assert report['problems'] == []
    web = {(r['probe'], r['pbx'], r['port']): r for r in rows if r['service'] == 'web'}
    assert web[('client-inet', 'pbx1', 80)]['expected'] == 'closed'
    assert web[('client-inet', 'pbx1', 80)]['decided_by'] == 'pbxfw:block web network=Internet'
    assert web[('client-office', 'pbx1', 443)]['observed'] == 'open'
    assert 'verify passed: %d probes on 3 PBXs from 4 probe hosts' % len(rows) in proc.stdout


def test_foreign_accept_for_web_is_a_named_mismatch(lab):
    proc, report, bad = verify_with_foreign_rule(lab, 'foreign-accept', 'pbx2', ['-I', 'INPUT', '1'],
                                                 ['-p', 'tcp', '--dport', '80', '-j', 'ACCEPT'])
    assert proc.returncode != 0
    assert bad == [
        ('pbx2', 'client-inet', 'web', 'tcp', 80, 'closed', 'open', 'pbxfw:block web network=Internet'),
        ('pbx2', 'client-inet2', 'web', 'tcp', 80, 'closed', 'open', 'pbxfw:block web network=Internet'),
    ]
    assert ('pbx2 10.201.30.12 <- probe client-inet (10.201.30.101): web tcp/80 expected closed '
            '(pbxfw:block web network=Internet), observed open') in report['message']


def test_upstream_block_of_sip_is_a_named_mismatch(lab):
    proc, report, bad = verify_with_foreign_rule(lab, 'upstream-block', 'client-office', ['-A', 'OUTPUT'],
                                                 ['-p', 'udp', '--dport', '5060', '-j', 'DROP'])
    assert proc.returncode != 0
    assert bad == [(pbx, 'client-office', 'sip', 'udp', 5060, 'open', 'closed',
                    'Office LAN: allow ami,icmp,sip,ssh,web') for pbx in PBXS]
    assert 'pbx1 10.201.10.11 <- probe client-office (10.201.10.101): sip udp/5060 expected open' in report['message']


def test_a_probe_host_without_a_route_to_a_pbx_fails(lab):
    """client-vpn keeps its IPv4 address, but the route to pbx2's VPN address is gone."""
    route = ['ip', 'route', '%s', 'unreachable', '10.201.20.12/32']
    docker_exec('client-vpn', *[part % 'add' if part == '%s' else part for part in route])
    try:
        proc, report = verify(lab, 'no-route')
    finally:
        docker_exec('client-vpn', *[part % 'del' if part == '%s' else part for part in route])
    assert proc.returncode != 0, proc.stdout[-3000:]
    skipped = {(r['probe'], r['pbx']) for r in report['rows'] if r['match'] == 'skipped'}
    assert skipped == {('client-vpn', 'pbx2')}
    message = ('probe client-vpn has an IPv4 address but no route to pbx2 (10.201.20.12): nothing was verified '
               'from client-vpn to pbx2 over IPv4')
    assert any(p['fatal'] and p['message'].startswith(message) for p in report['problems']), report['problems']
    assert message in report['message'] and report['summary'].startswith('verify FAILED')


def test_a_reach_that_holds_no_pbx_fails(lab):
    proc, report = verify(lab, 'no-reach', '-e', '{"pbx_firewall_probe_reach": ["192.0.2.0/24"]}')
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert report['rows'] == [] and report['summary'].startswith('verify FAILED: 0 probes on 0 PBXs')
    for pbx in PBXS:
        [problem] = [p for p in report['problems'] if p['pbx'] == pbx]
        assert problem['fatal'] and ' has a policy and nothing verified it: ' in problem['message'], problem
        for client in CLIENTS:          # each probe host, and why it did not probe this PBX
            assert ('the pbx_firewall_probe_reach of %s (192.0.2.0/24) holds none of its addresses' % client
                    in problem['message']), problem
