# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A blocklist that covers the controller is refused before any change, over a real SSH path.

sshd runs in a network namespace reached over a veth pair (tests/integration/conftest.py,
``ssh_host``). A blocklist entry that holds the controller's address is refused by the
lockout check, naming the entry and where it came from, and the netfilter state stays
byte for byte what it was; with the controller in a never_block network the same
blocklist applies (exempt), the set does not hold the controller, and SSH still works.
Both also for a members-only refresh (sets_only), which judges the rules the host has.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy

MODULE = 'pbxops.firewall.iptables_ruleset'
ADMINS = {'name': 'Admins', 'subnet': '10.213.0.0/16', 'services': ['ssh']}


def _apply(ruleset, **extra):
    return {MODULE: dict({'ruleset': ruleset, 'backend': 'nft', 'persist': False, 'rollback_timeout': 10}, **extra),
            'ignore_errors': True}


def test_a_blocklist_covering_the_controller_is_refused_naming_the_entry(ssh_host, ansible):
    entry = str(ipaddress.ip_network(ssh_host.controller + '/30', strict=False))
    listed = _policy.firewall_ruleset([ADMINS], blocklist=['203.0.113.0/24', entry], sip_scanner_agents=[])
    before, refused, after = ansible.run([ansible.snapshot_task(), _apply(listed), ansible.snapshot_task()],
                                         ssh_host.inventory)
    assert refused['_status'] == 'failed', refused
    assert refused['changed'] is False
    assert ('from the controller %s (its SSH connection as this host sees it) to port 22 gets DROP from rule '
            '"pbxfw:blocklist source in pbxfw-blocklist4"' % ssh_host.controller) in refused['msg']
    assert ('its address is in the entry %s of the ipset pbxfw-blocklist4 (blocklist: pbx_firewall_blocklist '
            '(2 entries))' % entry) in refused['msg']
    assert 'put %s in a never_block network' % ssh_host.controller in refused['msg']
    assert ansible.state(after) == ansible.state(before)
    assert 'pbxfw-' not in ansible.state(after)['ipset']


def test_a_never_block_controller_is_exempt_and_a_refresh_that_lists_it_is_refused(ssh_host, ansible):
    entry = str(ipaddress.ip_network(ssh_host.controller + '/30', strict=False))
    controller = {'name': 'Controller', 'subnet': ssh_host.controller, 'services': ['ssh'], 'never_block': True}
    exempt = _policy.firewall_ruleset([ADMINS, controller], blocklist=[entry], sip_scanner_agents=[])
    plain = _policy.firewall_ruleset([ADMINS], blocklist=['203.0.113.0/24'], sip_scanner_agents=[])
    listed = _policy.firewall_ruleset([ADMINS], blocklist=['203.0.113.0/24', entry], sip_scanner_agents=[])
    applied, snap, base, refresh, snap2 = ansible.run(
        [_apply(exempt), ansible.snapshot_task(), _apply(plain), _apply(listed, sets_only=True),
         ansible.snapshot_task()], ssh_host.inventory)
    assert applied['_status'] == 'ok' and applied['changed'] is True, applied
    members = [line for line in ansible.state(snap)['ipset'].splitlines() if line.startswith('add pbxfw-blocklist4 ')]
    assert members and not [m for m in members if ipaddress.ip_address(ssh_host.controller)
                            in ipaddress.ip_network(m.split()[2])]
    assert ssh_host.reachable()
    assert base['_status'] == 'ok', base
    # the refresh would put the controller in the set the host's rules drop: refused, nothing changes
    assert refresh['_status'] == 'failed', refresh
    assert 'its address is in the entry %s of the ipset pbxfw-blocklist4' % entry in refresh['msg']
    assert 'pbxfw-blocklist4 %s' % entry not in ansible.state(snap2)['ipset']
    assert ssh_host.reachable()
