# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Any Unicode in any text field: a validation error with a path, or rules that read back.

The real-kernel half (iptables-restore loads the rules, iptables-save prints them back
byte for byte) is tests/integration/plugins/plugin_utils/_policy/test_chains_roundtrip.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from hypothesis import HealthCheck, given, settings

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import chains, outputs
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import PolicyError
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy import hostile

SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(hostile.hostile_inventories())
def test_hostile_text_is_refused_with_a_path_or_compiles_to_readable_rules(inventory):
    try:
        ruleset = chains.firewall_ruleset(resolver=hostile.fake_resolver, **inventory)
    except PolicyError as exc:
        hostile.check_messages(exc.errors)
        return
    hostile.check_rules(ruleset)


@SETTINGS
@given(hostile.hostile_inventories())
def test_the_list_filters_refuse_or_return_cidrs(inventory):
    for function in (outputs.fail2ban_ignoreip, outputs.asterisk_localnet):
        try:
            result = function(inventory['networks'])
        except PolicyError as exc:
            hostile.check_messages(exc.errors)
            continue
        assert all(text.isascii() and text.count('/') == 1 for text in result)
