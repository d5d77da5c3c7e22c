# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``pbxops.firewall.verify`` with probe hosts in countries and in the blocklist.

The namespaces of geo_world.py are the inventory: the PBX (its policy compiled on the
controller by the role's validate.yml, as verify does) and one probe host per client,
reached with a local connection whose probe program runs inside the client's namespace
(``pbx_firewall_probe_python: ip netns exec NS python3``). After the module applied the
policy, verify must pass with every probe of every client matched, and its matrix must
name the country network and the blocklist where they decide.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

from ansible_collections.pbxops.firewall.tests.integration.conftest import Netns

MODULE = 'pbxops.firewall.iptables_ruleset'
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
import geo_lab  # noqa: E402  the harness next to this file (conftest.py puts it on the path)


def inventory(world):
    local = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}
    pbx = dict(local, pbx_firewall_networks=world.networks, pbx_firewall_trunks=world.trunks,
               pbx_firewall_blocklist_files=[world.feed], pbx_firewall_geoip_max_age_days=0,
               pbx_firewall_verify_addresses=[geo_lab.PBX4, geo_lab.PBX6])
    probes = dict((name, dict(local, pbx_firewall_probe_python='ip netns exec %s %s'
                              % (world.lab.ns[name], sys.executable)))
                  for name in world.address)
    return {'all': {'hosts': {'pbx': pbx}, 'children': {'pbx_firewall_probes': {'hosts': probes}}}}


def test_verify_passes_with_probes_in_countries_and_the_blocklist(world, ansible, tmp_path):
    result = ansible.local(Netns(world.lab.ns['pbx']), [{MODULE: {
        'ruleset': world.ruleset(), 'backend': 'nft', 'persist': False, 'rollback_timeout': 0}}])[-1]
    assert result['_status'] == 'ok', result
    (tmp_path / 'inventory.json').write_text(json.dumps(inventory(world)))
    report_path = tmp_path / 'verify.json'
    proc = subprocess.run([ANSIBLE_PLAYBOOK, '-i', str(tmp_path / 'inventory.json'), 'pbxops.firewall.verify',
                           '-e', 'pbx_firewall_verify_report=%s' % report_path, '-e', 'pbx_firewall_verify_timeout=1'],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ansible.env(),
                          cwd=str(tmp_path), timeout=600, check=False)
    report = json.loads(report_path.read_text())
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert report['counts']['mismatch'] == report['counts']['error'] == 0, report['counts']
    rows = report['rows']
    assert {r['probe'] for r in rows} == set(world.address)
    # a probe host without an IPv6 address has no IPv6 source: those rows are skipped, not guessed
    assert {r['source'] for r in rows} - {None} == {a for addresses in world.address.values() for a in addresses}
    assert {r['probe'] for r in rows if r['source'] is None} == {'branch', 'trunk', 'office'}

    def row(probe, source, service, proto, port):
        (found,) = [r for r in rows if (r['probe'], r['source'], r['service'], r['proto'], r['port'])
                    == (probe, source, service, proto, port)]
        return found['expected'], found['observed'], found['decided_by']

    cn4, cn6 = world.address['cn']
    assert row('cn', cn4, 'sip', 'udp', 5060) == ('closed', 'closed', 'pbxfw:country CN,RU sip network=Scanners')
    assert row('cn', cn6, 'sip', 'tcp', 5060) == ('closed', 'closed', 'pbxfw:country CN,RU sip network=Scanners')
    assert row('de', world.address['de'][0], 'web', 'tcp', 80) == ('open', 'open', 'Germany (DE): allow web')
    listed4 = world.address['listed'][0]
    assert row('listed', listed4, 'sip', 'udp', 5060) == ('closed', 'closed', 'pbxfw:blocklist source in pbxfw-blocklist4')
    assert row('branch', world.address['branch'][0], 'sip', 'udp', 5060)[:2] == ('open', 'open')
    assert row('office', world.address['office'][0], 'ssh', 'tcp', 22)[:2] == ('open', 'open')
    assert 'verify passed' in proc.stdout
