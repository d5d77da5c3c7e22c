# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading the other firewall managers: which commands run, what is read (a fake host)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import firewalld as fwd
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import probe

CAPTURED = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'captured')
ABSENT = {'content': None, 'mode': None, 'target': None}


def captured(name):
    with open(os.path.join(CAPTURED, name)) as handle:
        return handle.read()


class FakeHost(object):
    def __init__(self, binaries, outputs, files=None, enabled=()):
        self.binaries = binaries
        self.outputs = outputs
        self.files = files or {}
        self.units = enabled
        self.ran = []

    def run(self, argv):
        self.ran.append(argv)
        return self.outputs.get(tuple(argv), (1, '', 'not found'))

    def which(self, name):
        return '/usr/bin/' + name if name in self.binaries else None

    def probe(self):
        return probe.Probe(self.run, self.which, read=self.files.get, enabled=lambda unit: unit in self.units,
                           exists=lambda path: path in self.files,
                           stat=lambda path: dict(ABSENT, content=self.files.get(path), mode=0o644 if path in self.files
                                                  else None))


def test_a_host_without_other_managers():
    host = FakeHost([], {})
    facts = host.probe().gather()
    assert (facts.firewalld, facts.ufw, facts.nft, facts.nftables_service, facts.persistent) == (None,) * 5
    assert host.ran == []


def test_a_running_firewalld():
    cmd = '/usr/bin/firewall-cmd'
    host = FakeHost(['firewall-cmd', 'firewall-offline-cmd'], {
        (cmd, '--state'): (0, 'running\n', ''),
        (cmd, '--version'): (0, '1.3.3\n', ''),
        (cmd, '--list-all-zones'): (0, captured('firewalld-list-all-zones.txt'), ''),
        (cmd, '--get-default-zone'): (0, 'public\n', ''),
        (cmd, '--list-all-policies'): (0, captured('firewalld-list-all-policies.txt'), ''),
    }, files={fwd.CONF_PATH: 'FirewallBackend=nftables\n',
              '/usr/lib/firewalld/services/ssh.xml': '<service><port protocol="tcp" port="22"/></service>'},
        enabled=['firewalld.service'])
    found = host.probe().gather().firewalld
    assert (found['running'], found['enabled'], found['version']) == (True, True, (1, 3, 3))
    assert found['zones']['public']['flags'] == {'default'}
    assert 'allow-host-ipv6' in found['policies']
    assert found['services'] == {'ssh': ([('tcp', 22, 22)], []), 'dhcpv6-client': ([], [])}
    assert found['conf'] == {'FirewallBackend': 'nftables'} and found['record'] is None


def test_a_stopped_firewalld_gives_its_version_offline_and_nothing_else():
    host = FakeHost(['firewall-cmd', 'firewall-offline-cmd'], {
        ('/usr/bin/firewall-cmd', '--state'): (252, 'not running\n', ''),
        ('/usr/bin/firewall-offline-cmd', '--version'): (0, '1.3.3\n', ''),
    })
    found = host.probe().gather().firewalld
    assert (found['running'], found['version'], found['zones']) == (False, (1, 3, 3), {})
    assert [argv[1] for argv in host.ran] == ['--state', '--version']


def test_ufw_nftables_and_netfilter_persistent():
    ruleset = captured('nft-native.json')
    host = FakeHost(['ufw', 'nft', 'netfilter-persistent'], {('/usr/bin/nft', '-j', 'list', 'ruleset'): (0, ruleset, '')},
                    files={'/etc/ufw/ufw.conf': 'ENABLED=yes\n', '/etc/default/ufw': 'IPV6=yes\n',
                           '/etc/ufw/user.rules': captured('ufw-user.rules'), '/etc/nftables.conf': 'flush ruleset\n',
                           '/etc/iptables/rules.v4': '*filter\nCOMMIT\n'},
                    enabled=['nftables.service'])
    facts = host.probe().gather()
    assert facts.ufw['conf'] == {'ENABLED': 'yes'} and facts.ufw['rules']['ipv6'] is None
    assert facts.nft.native_tables() == [('inet', 'filter'), ('inet', 'pbxtest')]
    assert facts.nftables_service == {'enabled': True, 'conf': 'flush ruleset\n'}
    assert facts.persistent == {'enabled': False, 'files': {'/etc/iptables/rules.v4': '*filter\nCOMMIT\n'}}


def test_nft_failing_is_reported_not_fatal():
    host = FakeHost(['nft'], {('/usr/bin/nft', '-j', 'list', 'ruleset'): (1, '', 'Operation not permitted')})
    facts = host.probe().gather()
    assert facts.nft is None and facts.nft_error == 'nft -j list ruleset failed (rc=1): Operation not permitted'
