# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pbxops.firewall.report on the Docker lab fleet: its counts are what was sent.

From client-inet (in the demo policy's Internet network: sip allowed, web blocked, the rate
limit 20/s) to pbx1, with the real tools of lab/traffic.py:

* N connection attempts to web (tcp/80): reason ``block``, network ``Internet``;
* N to ssh (tcp/22), which no network allows from there: reason ``default``;
* an svmap scan: reason ``scanner``, as many packets as client-inet sent to udp/5060;
* a sipp flood over the rate limit: reason ``flood``, sent minus delivered, where pbx1's
  stand-in echoes every datagram it gets, so delivered = the echoes client-inet received.

Client-inet counts what it sends and receives with rules of its own (OUTPUT, INPUT); the
report's counts are compared as the difference of two reports, exactly, and nothing else
on pbx1 may count. During the flood the report names client-inet as the SIP rate limit's
busiest source, over the limit. Last, the report with a host that does not exist fails that
host only: the others are reported, the JSON is written.
"""

from __future__ import annotations

import json
import sys
import time

from ansible_collections.pbxops.firewall.tests.integration.lab._support import (
    LAB,
    PBXS,
    docker_exec,
    playbook,
    run,
)

sys.path.insert(0, LAB)      # lab/traffic.py

import traffic  # noqa: E402  pylint: disable=wrong-import-position

CLIENT, CLIENT_ADDRESS = 'client-inet', '10.201.30.101'
PBX1 = '10.201.30.11'
PROBES = 6
FLOOD_RATE, FLOOD_SECONDS = 100, 10     # the report during the flood starts within it
SENT = 'pbxfw-lab-test-sent'
ECHOED = 'pbxfw-lab-test-echoed'


def report(workdir, name, *extra, check=True):
    path = str(workdir / ('%s.json' % name))
    proc = playbook('report', '-e', 'pbx_firewall_report_file=%s' % path, *extra, check=check)
    with open(path, encoding='utf-8') as handle:
        return proc, json.load(handle)


def counts(entry):
    return {(row['family'], row['reason'], row['network']): row['packets'] for row in entry['drops']}


def delta(before, after, host):
    old, new = counts(before['hosts'][host]), counts(after['hosts'][host])
    return {key: new[key] - old.get(key, 0) for key in new if new[key] != old.get(key, 0)}


def client_counter(comment):
    """Packets counted by client-inet's rule with ``comment``, read and zeroed."""
    for line in run(['docker', 'exec', CLIENT, 'iptables-save', '-c']).stdout.splitlines():
        if comment in line:
            return int(line.split(':', 1)[0].lstrip('['))
    raise AssertionError('no counting rule %s on %s' % (comment, CLIENT))


def test_the_report_counts_what_was_sent(lab):
    sent = ['-d', PBX1, '-p', 'udp', '--dport', '5060', '-m', 'comment', '--comment', SENT]
    echoed = ['-s', PBX1, '-p', 'udp', '--sport', '5060', '-m', 'comment', '--comment', ECHOED]
    docker_exec(CLIENT, 'iptables', '-I', 'OUTPUT', '1', *sent)
    docker_exec(CLIENT, 'iptables', '-I', 'INPUT', '1', *echoed)
    try:
        _proc, before = report(lab, 'before')
        assert [traffic.probe(CLIENT, PBX1, port, PROBES) for port in (80, 22)] == [0, 0]

        docker_exec(CLIENT, 'iptables', '-Z', 'OUTPUT')
        traffic.scan(CLIENT, PBX1)
        scanned = client_counter(SENT)
        assert scanned > 0

        docker_exec(CLIENT, 'iptables', '-Z', 'OUTPUT')
        docker_exec(CLIENT, 'iptables', '-Z', 'INPUT')
        flood = traffic.flood(CLIENT, PBX1, rate=FLOOD_RATE, seconds=FLOOD_SECONDS, background=True)
        time.sleep(1)
        _proc, during = report(lab, 'during', '-e', 'pbx_firewall_hosts=pbx1')
        assert flood.wait(40) is not None
        time.sleep(0.5)              # the last echoes
        flooded, delivered = client_counter(SENT), client_counter(ECHOED)
        _proc, after = report(lab, 'after')
    finally:
        docker_exec(CLIENT, 'iptables', '-D', 'OUTPUT', *sent)
        docker_exec(CLIENT, 'iptables', '-D', 'INPUT', *echoed)

    assert flooded == FLOOD_RATE * FLOOD_SECONDS and 0 < delivered < flooded / 2, (flooded, delivered)
    assert delta(before, after, 'pbx1') == {
        ('ipv4', 'block', 'Internet'): PROBES,
        ('ipv4', 'default', None): PROBES,
        ('ipv4', 'scanner', None): scanned,
        ('ipv4', 'flood', None): flooded - delivered,
    }
    top = during['hosts']['pbx1']['sip_sources'][0]
    assert (top['source'], top['table'], top['over_limit']) == (CLIENT_ADDRESS, 'pbxfw-sip', True), during
    assert top['burst'] == 40 and top['used'] > 39          # its whole burst (2 x 20/s), less a refill
    for host in ('pbx2', 'pbx3'):
        assert after['hosts'][host]['status'] == 'ok'
    assert after['totals']['unreachable'] == [] and after['totals']['errors'] == []
    lines = '\n'.join(after['lines'])
    assert 'pbx1 (nft; rules ipv4 ' in lines and '\nFleet: 3 host(s), 3 reported, 0 unreachable' in lines


def test_an_unreachable_host_fails_alone(lab, tmp_path):
    extra = tmp_path / 'ghost.yml'
    extra.write_text('pbx:\n  hosts:\n    pbx9:\n      ansible_host: 10.201.0.99\n')
    proc = playbook('report', '-e', 'pbx_firewall_report_file=%s' % (tmp_path / 'with-ghost.json'),
                    '-e', 'ansible_ssh_timeout=3', inventories=[str(extra)], check=False)
    with open(str(tmp_path / 'with-ghost.json')) as handle:
        result = json.load(handle)
    assert proc.returncode == 4, proc.stdout[-3000:]         # ansible-playbook: a host was unreachable
    assert {name: entry['status'] for name, entry in result['hosts'].items()} == dict(
        {pbx: 'ok' for pbx in PBXS}, pbx9='unreachable')
    assert result['totals']['unreachable'] == ['pbx9'] and result['totals']['reported'] == 3
    assert 'pbx9: unreachable: ' in '\n'.join(result['lines'])
