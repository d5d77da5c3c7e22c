# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drop counters against the real kernel: what firewall_report counts, and that re-applies keep it.

The PBX is a network namespace with a compiled policy applied by iptables_ruleset; a client
namespace, linked by a veth pair, sends known UDP datagrams: N from a network whose block
list has the service (reason ``block``), M to a port no network allows (reason ``default``).
A dropped datagram never confirms its conntrack entry, so every one of them meets the
dropping rule: the report's counts are exact, in packets and in bytes (IP and UDP headers,
28 bytes, plus the payload). A re-apply with an unrelated network added then leaves every
unchanged rule's counters exactly as they were; node_exporter (the real binary) serves the
metrics file the report writes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy, _refresher
from ansible_collections.pbxops.firewall.tests.integration.plugins.modules._traffic import BAD, PAYLOAD, STRANGER, send

NETWORKS = [
    {'name': 'Office', 'subnet': '10.223.0.16/28', 'services': ['sip', 'iax']},
    {'name': 'Bad', 'subnet': '10.223.0.8/29', 'block': ['iax']},
]
EXTRA = {'name': 'Extra', 'subnet': '10.223.9.0/24', 'services': ['ssh', 'iax']}
BLOCKED = 5
FINAL = 7
SIZE = 28 + len(PAYLOAD)               # IP and UDP headers, and the payload


def apply(ansible, netns, backend, networks, **extra):
    ruleset = _policy.firewall_ruleset(networks, ipv6=False)
    return ansible.local(netns, [{'pbxops.firewall.iptables_ruleset': dict(
        ruleset=ruleset, backend=backend, persist=False, rollback_timeout=0), 'ignore_errors': True}], **extra)[0]


def report(ansible, netns, backend, metrics_dir='', **extra):
    return ansible.local(netns, [{'pbxops.firewall.firewall_report': dict(
        backend=backend, metrics_dir=metrics_dir), 'ignore_errors': True}], **extra)[0]


def counted_rules(netns, backend):
    """{rule: (packets, bytes)} of the owned chains, from iptables-save -c."""
    counted = {}
    for line in netns.sh('iptables-%s-save -c -t filter' % backend).splitlines():
        if line.startswith('[') and ' -A PBX-' in line:
            head, _sep, rule = line.partition(' ')
            packets, octets = head.strip('[]').split(':')
            counted[rule] = (int(packets), int(octets))
    return counted


def drops(result):
    """{(reason, network): (packets, bytes)} of the rows that counted something."""
    return {(d['reason'], d['network']): (d['packets'], d['bytes']) for d in result['drops'] if d['packets']}


@pytest.mark.parametrize('backend', ['nft', 'legacy'])
def test_counts_are_exact_and_a_reapply_keeps_every_unchanged_rules_counters(
        netns, client, ansible, backend, counters_state, tmp_path):
    started = time.time()
    first = apply(ansible, netns, backend, NETWORKS)
    assert first['_status'] == 'ok' and first['changed'], first
    send(client, BAD, 4569, BLOCKED)
    send(client, STRANGER, 9, FINAL)

    result = report(ansible, netns, backend, metrics_dir=str(tmp_path))
    assert result['_status'] == 'ok' and result['changed'] is False, result
    assert drops(result) == {('block', 'Bad'): (BLOCKED, BLOCKED * SIZE), ('default', None): (FINAL, FINAL * SIZE)}
    # the SIP guard's scanner rules (the default User-Agent list; TCP and UDP) counted nothing
    assert {d['reason']: d['rules'] for d in result['drops']} == {'scanner': 18, 'block': 1, 'default': 1}
    applied = result['last_apply']
    assert started <= applied <= time.time()
    assert all(d['since'] == applied for d in result['drops'])
    with open(result['metrics_file']) as handle:
        metrics = handle.read()
    assert 'pbx_firewall_drops_total{family="ipv4",network="Bad",reason="block"} %d\n' % BLOCKED in metrics
    assert 'pbx_firewall_drops_total{family="ipv4",network="",reason="default"} %d\n' % FINAL in metrics

    before = counted_rules(netns, backend)
    assert sum(p for p, _b in before.values()) >= BLOCKED + FINAL
    time.sleep(1.1)                     # a later apply time, told apart from the first
    second = apply(ansible, netns, backend, NETWORKS + [EXTRA])
    assert second['_status'] == 'ok' and second['changed'], second
    after = counted_rules(netns, backend)
    kept = set(before) & set(after)
    added = set(after) - set(before)
    assert len(added) == 2 and all('10.223.9.0/24' in rule for rule in added), added
    assert set(before) <= set(after)
    assert {rule: after[rule] for rule in kept} == before        # every unchanged rule, exactly
    assert all(after[rule] == (0, 0) for rule in added)

    again = report(ansible, netns, backend)
    assert drops(again) == drops(result)
    assert again['last_apply'] > applied
    assert all(d['since'] == applied for d in again['drops'])      # they still count since the first apply
    with open(counters_state) as handle:
        assert json.load(handle)['applied'] == again['last_apply']

    rerun = apply(ansible, netns, backend, NETWORKS + [EXTRA])
    assert rerun['_status'] == 'ok' and rerun['changed'] is False
    assert counted_rules(netns, backend) == after
    assert report(ansible, netns, backend)['last_apply'] == again['last_apply']   # nothing written


def test_check_mode_writes_no_metrics_the_refresher_writes_the_same_and_node_exporter_serves_them(
        netns, client, ansible, counters_state, tmp_path, needs):
    exporter = shutil.which('prometheus-node-exporter')
    needs(exporter, 'prometheus-node-exporter is not installed (hack/install-debs.sh)')
    assert apply(ansible, netns, 'nft', NETWORKS)['changed']
    send(client, BAD, 4569, BLOCKED)
    textfiles = tmp_path / 'textfile'
    textfiles.mkdir()
    checked = report(ansible, netns, 'nft', metrics_dir=str(textfiles), check=True)
    assert checked['_status'] == 'ok' and checked['metrics_file'] is None
    assert drops(checked)[('block', 'Bad')] == (BLOCKED, BLOCKED * SIZE)
    assert os.listdir(str(textfiles)) == []

    written = report(ansible, netns, 'nft', metrics_dir=str(tmp_path))['metrics_file']
    assert written == str(tmp_path / 'pbx_firewall.prom')
    # the role's refresher (cron, no controller) writes the same file from the same code
    refresher = tmp_path / 'pbx-firewall-metrics'
    refresher.write_text(_refresher.script())
    netns.sh('python3 %s --backend nft --metrics-dir %s' % (refresher, textfiles))
    assert os.listdir(str(textfiles)) == ['pbx_firewall.prom']
    assert (textfiles / 'pbx_firewall.prom').read_text() == (tmp_path / 'pbx_firewall.prom').read_text()
    log = open(str(tmp_path / 'exporter.log'), 'w')
    proc = subprocess.Popen(netns.argv(exporter, '--collector.disable-defaults', '--collector.textfile',
                                       '--collector.textfile.directory=%s' % textfiles,
                                       '--web.listen-address=127.0.0.1:9100'), stdout=log, stderr=log)
    try:
        scrape = ("import time, urllib.request\n"
                  "for _ in range(50):\n"
                  "    try:\n"
                  "        print(urllib.request.urlopen('http://127.0.0.1:9100/metrics', timeout=2).read().decode())\n"
                  "        break\n"
                  "    except OSError:\n"
                  "        time.sleep(0.1)\n")
        metrics = netns.sh("python3 -c '%s'" % scrape.replace("'", '"'))
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    assert 'pbx_firewall_drops_total{family="ipv4",network="Bad",reason="block"} %d' % BLOCKED in metrics
    assert 'pbx_firewall_rules{family="ipv4"} ' in metrics
    assert 'pbx_firewall_last_apply_timestamp_seconds ' in metrics
    # node_exporter read the file without an error
    assert 'node_textfile_scrape_error 0' in metrics
