# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Countries and blocklists on the real kernel, with real traffic from addresses of real countries.

Clients get addresses taken at test time from tor-geoipdb (geo_lab.py): one in Germany
(allowed web), one in China (SIP blocked by country), a branch office subnet in China (an
explicit network: allowed), a trunk in Russia inside a blocklist entry (exempt), a
blocklisted client in the US, a never_block office in France inside a blocklist entry
(exempt), and one in Japan (the catch-all network only). Every probe (TCP connect, SIP
OPTIONS over UDP, IPv4 and IPv6) from every client must see what the written semantics
say (the reference evaluator) and what the compiled rules say (the evaluator verify and
the lockout check use), on both iptables backends. Then: a refresh of the sets under
traffic drops no allowed probe, a newly blocklisted source loses its flow at once, and a
members-only refresh leaves every rule as it is, with --diff per set.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import time

import pytest

import geo_lab  # the harness next to this file (conftest.py puts it on the path)

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _verify
from ansible_collections.pbxops.firewall.tests.integration.conftest import Netns

MODULE = 'pbxops.firewall.iptables_ruleset'
TRAFFIC = os.path.join(geo_lab.REPO, 'bench', 'traffic_client.py')
PORTS = (('tcp', 5060), ('udp', 5060), ('tcp', 80), ('tcp', 22))


def apply(ansible, world, ruleset, backend='nft', check=False, diff=False, **options):
    args = dict({'ruleset': ruleset, 'backend': backend, 'persist': False, 'rollback_timeout': 0}, **options)
    result = ansible.local(Netns(world.lab.ns['pbx']), [{MODULE: args}], check=check, diff=diff)[-1]
    assert result['_status'] == 'ok', result.get('msg', result)
    return result


def remove(ansible, world, backend):
    apply(ansible, world, None, backend, state='absent')


def save(world, backend, family='ipv4'):
    tool = '%s-%s-save' % ('iptables' if family == 'ipv4' else 'ip6tables', backend)
    return [line for line in geo_lab.run(world.lab.argv('pbx', tool)).stdout.splitlines()
            if line.startswith(('-A PBX-', '-A INPUT'))]


def members(world, name):
    text = geo_lab.run(world.lab.argv('pbx', 'ipset', 'save', name)).stdout
    return sorted(line.split(' ', 2)[2] for line in text.splitlines() if line.startswith('add '))


@pytest.mark.parametrize('backend', ('nft', 'legacy'))
def test_probes_from_countries_agree_with_the_oracle(world, ansible, backend):
    ruleset = world.ruleset()
    result = apply(ansible, world, ruleset, backend)
    assert result['changed'] is True
    try:
        expectations = _verify.Expectations(ruleset)
        table = []
        for name, addresses in sorted(world.address.items()):
            probes = [(geo_lab.PBX6 if ':' in a else geo_lab.PBX4, proto, port) for a in addresses for proto, port in PORTS]
            observed = world.lab.probe(name, probes)
            sources = [a for a in addresses for _p in PORTS]
            for source, (_address, proto, port), seen in zip(sources, probes, observed):
                oracle = world.expected(source, proto, port)
                compiled = expectations.expect(source, proto, port)['expected']
                table.append((name, source, '%s/%d' % (proto, port), oracle, compiled, seen))
        print('\n'.join('%-7s %-28s %-9s oracle %-6s rules %-6s observed %s' % row for row in table))
        assert [row for row in table if not row[3] == row[4] == row[5]] == []
        # the cases the suite is about, by name (the oracle could be wrong in the same way)
        verdicts = dict(((row[0], row[1], row[2]), row[5]) for row in table)
        de4, de6 = world.address['de']
        cn4, cn6 = world.address['cn']
        assert [verdicts[('de', de4, 'tcp/80')], verdicts[('de', de6, 'tcp/80')], verdicts[('de', de4, 'udp/5060')]] \
            == ['open'] * 3
        assert [verdicts[('cn', cn4, 'udp/5060')], verdicts[('cn', cn6, 'tcp/5060')], verdicts[('cn', cn4, 'tcp/80')]] \
            == ['closed'] * 3
        branch, trunk, office = world.address['branch'][0], world.address['trunk'][0], world.address['office'][0]
        assert verdicts[('branch', branch, 'udp/5060')] == verdicts[('branch', branch, 'tcp/80')] == 'open'
        assert verdicts[('trunk', trunk, 'udp/5060')] == 'open'
        assert verdicts[('office', office, 'tcp/22')] == 'open'
        assert set(v for (name, _s, _p), v in verdicts.items() if name == 'listed') == {'closed'}
        assert verdicts[('other', world.address['other'][0], 'udp/5060')] == 'open'
    finally:
        remove(ansible, world, backend)


def _traffic(world, name, stop_file, seconds):
    """bench/traffic_client.py in a client namespace: NEW TCP and UDP probes every 20 ms."""
    services = json.dumps({'allowed': {'tcp': 5060, 'udp': 5060}, 'blocked': {'tcp': 22, 'udp': 4569}})
    return subprocess.Popen(world.lab.argv(name, sys.executable, TRAFFIC, geo_lab.PBX4, services, '--interval',
                                           '0.02', '--stop-file', stop_file, '--max-seconds', str(seconds),
                                           '--udp-base', '20000'),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_refresh_under_traffic_drops_no_allowed_probe(world, ansible, tmp_path):
    """Ten members-only refreshes (the blocklist and a country set change each time) while a
    German client opens new TCP and UDP connections: every allowed one passes at once, no
    blocked one passes, and the rules stay byte for byte what they were."""
    first = world.ruleset()
    world.write_feed(world.blocklist + ['192.0.2.0/24', '2001:db8:5::/48'])
    second = world.ruleset()
    world.write_feed(world.blocklist)
    assert (first['ipv4'], first['ipv6']) == (second['ipv4'], second['ipv6'])
    apply(ansible, world, first)
    rules_before = save(world, 'nft') + save(world, 'nft', 'ipv6')
    stop = str(tmp_path / 'stop')
    traffic = _traffic(world, 'de', stop, 120)
    try:
        time.sleep(1.0)
        tasks = [{MODULE: {'ruleset': '{{ rulesets[item % 2] }}', 'backend': 'nft', 'persist': False,
                           'rollback_timeout': 0, 'sets_only': True},
                  'loop': list(range(1, 11)), 'vars': {'rulesets': [first, second]}}]
        results = ansible.local(Netns(world.lab.ns['pbx']), tasks)
        time.sleep(1.0)
    finally:
        open(stop, 'w').close()
        out, err = traffic.communicate(timeout=60)
    loop = results[-1]
    assert loop['_status'] == 'ok', loop
    assert [r['changed'] for r in loop['results']] == [True] * 10
    counts = json.loads(out)['stats']
    print(json.dumps(counts, indent=1))
    for proto in ('tcp', 'udp'):
        allowed, blocked = counts['allowed_%s' % proto], counts['blocked_%s' % proto]
        assert allowed['sent'] > 100 and allowed['first'] == allowed['sent'], (proto, counts, err)
        assert blocked['sent'] > 100 and blocked['answered'] == 0, (proto, counts)
    assert save(world, 'nft') + save(world, 'nft', 'ipv6') == rules_before
    assert '192.0.2.0/24' not in members(world, 'pbxfw-blocklist4')           # the last refresh: 10, first
    remove(ansible, world, 'nft')


class UdpFlow(object):
    """One UDP socket in namespace ``name`` that sends a datagram to ``target``:``port`` on request
    and says whether the echo came back: one flow (one conntrack entry) for its whole life."""

    SCRIPT = ('import socket,sys\n'
              's=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(1.0)\n'
              's.connect((sys.argv[1],int(sys.argv[2])))\n'
              'for line in sys.stdin:\n'
              '    s.send(b"OPTIONS sip:x SIP/2.0\\r\\n\\r\\n")\n'
              '    try:\n'
              '        s.recv(2048); print("echo", flush=True)\n'
              '    except OSError:\n'
              '        print("none", flush=True)\n')

    def __init__(self, world, name, target=geo_lab.PBX4, port=5060):
        self.proc = subprocess.Popen(world.lab.argv(name, sys.executable, '-c', self.SCRIPT, target, str(port)),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def send(self):
        self.proc.stdin.write('send\n')
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


def test_a_newly_listed_source_loses_its_flows_at_once(world, ansible):
    """Two flows of the Japanese client: one it opened to the PBX (the module ends such flows
    after an apply) and one the PBX opened to it (as Asterisk does when it qualifies a peer:
    the client's answers are ESTABLISHED packets, and no flow of the PBX's own is ended).
    Both stop with the refresh that lists the client: the blocklist drops every packet."""
    apply(ansible, world, world.ruleset())
    echo = subprocess.Popen(world.lab.argv('other', sys.executable, geo_lab.LISTENER),
                            env=dict(os.environ, LAB_TCP_PORTS='', LAB_UDP_PORTS='6000'),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    echo.stdout.readline()          # listening
    inbound = UdpFlow(world, 'other')
    outbound = UdpFlow(world, 'pbx', world.address['other'][0], 6000)
    try:
        assert [inbound.send(), outbound.send(), inbound.send(), outbound.send()] == ['echo'] * 4
        world.write_feed(world.blocklist + [str(world.blocks['other'][0])])
        result = apply(ansible, world, world.ruleset(), sets_only=True)
        assert result['changed'] is True
        # the same sockets, the same flows
        assert [inbound.send(), outbound.send(), inbound.send(), outbound.send()] == ['none'] * 4
    finally:
        inbound.close()
        outbound.close()
        echo.terminate()
        echo.wait(10)
        world.write_feed(world.blocklist)
        remove(ansible, world, 'nft')


def test_a_members_only_refresh_shows_members_in_the_diff_and_leaves_the_rules(world, ansible):
    apply(ansible, world, world.ruleset())
    rules = save(world, 'nft') + save(world, 'nft', 'ipv6')
    before = members(world, 'pbxfw-blocklist4')
    try:
        added = ['192.0.2.0/24', '198.51.100.0/24']
        world.write_feed(world.blocklist + added)
        refreshed = world.ruleset()
        check = apply(ansible, world, refreshed, check=True, diff=True, sets_only=True)
        assert check['changed'] is True
        assert members(world, 'pbxfw-blocklist4') == before                  # check mode changed nothing
        after = check['diff']['after'].split('\n')
        header = next(line for line in after if line.startswith('create pbxfw-blocklist4 '))
        assert header.endswith('  # %d members, 2 added' % (len(before) + 2)), header
        assert 'add pbxfw-blocklist4 192.0.2.0/24' in after and 'add pbxfw-blocklist4 198.51.100.0/24' in after
        assert any(line.startswith('# from blocklist: pbx_firewall_blocklist_files[0]') for line in after)
        assert not [line for line in after if line.startswith('add pbxfw-cc')]     # unchanged sets: one line
        assert len(after) < 100
        result = apply(ansible, world, refreshed, sets_only=True)
        assert result['changed'] is True
        assert members(world, 'pbxfw-blocklist4') == sorted(before + added)
        assert save(world, 'nft') + save(world, 'nft', 'ipv6') == rules
        assert apply(ansible, world, refreshed, sets_only=True)['changed'] is False
    finally:
        world.write_feed(world.blocklist)
        remove(ansible, world, 'nft')
