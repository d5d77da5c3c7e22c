# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lockout check with a blocklist and blocked countries: the refusal names the set member."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.tests.unit.plugins.module_utils.test__lockout import ssh  # noqa: F401 pylint: disable=unused-import

ADMINS = {'name': 'Admins', 'subnet': '10.213.0.0/16', 'services': ['ssh']}
SSH = ('a new tcp packet from the controller 10.213.7.1 (its SSH connection as this host sees it) to port 22 '
       'gets DROP from rule "pbxfw:blocklist source in pbxfw-blocklist4" (ruleset.ipv4[1]: -A PBX-FIREWALL -m set '
       '--match-set pbxfw-blocklist4 src -m comment --comment "pbxfw:blocklist source in pbxfw-blocklist4" '
       '-j DROP)')


def test_a_blocklist_that_covers_the_controller_is_refused_naming_the_entry(ssh):  # noqa: F811
    ruleset = _policy.firewall_ruleset([ADMINS], blocklist=['203.0.113.9', '10.213.4.0/22'], sip_scanner_agents=[])
    result = ssh(ruleset)
    assert result.refusal == (
        'Refusing to apply: the new ruleset would lock the controller out: ' + SSH + ': its address is in the '
        'entry 10.213.4.0/22 of the ipset pbxfw-blocklist4 (blocklist: pbx_firewall_blocklist (2 entries)). '
        'Nothing was changed on the host. Fix: take 10.213.4.0/22 out of where the set\'s members come from, or '
        'put 10.213.7.1 in a never_block network (trunks and never_block networks are exempt from the blocklist '
        'and from blocked countries), e.g. {name: Controller, subnet: 10.213.7.1, services: [ssh], never_block: '
        'true}.')
    assert result.report['verdict']['target'] == 'DROP'


def test_a_never_block_controller_is_exempt(ssh):  # noqa: F811
    controller = {'name': 'Controller', 'subnet': '10.213.7.1', 'services': ['ssh'], 'never_block': True}
    ruleset = _policy.firewall_ruleset([ADMINS, controller], blocklist=['10.213.4.0/22'], sip_scanner_agents=[])
    result = ssh(ruleset)
    assert result.refusal is None
    assert result.report['verdict']['target'] == 'ACCEPT'


def test_a_blocklist_elsewhere_passes(ssh):  # noqa: F811
    ruleset = _policy.firewall_ruleset([ADMINS], blocklist=['203.0.113.0/24'], sip_scanner_agents=[])
    assert ssh(ruleset).refusal is None
