# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which parts of the role a run's --tags and --skip-tags select (the files task runs with
the tag always and manages the selected parts in one module run)."""

from __future__ import annotations

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils._role_tags import selected_parts

PARTS = ['fail2ban', 'asterisk', 'fail2ban']


@pytest.mark.parametrize('run_tags, skip_tags, expected', [
    (None, None, ['fail2ban', 'asterisk']),
    (['all'], [], ['fail2ban', 'asterisk']),
    (['pbx_firewall_fail2ban'], [], ['fail2ban']),
    (['pbx_firewall_asterisk', 'pbx_firewall_firewall'], [], ['asterisk']),
    (['pbx_firewall_firewall'], [], []),
    (['pbx_firewall_sets'], [], []),
    (['all'], ['pbx_firewall_asterisk'], ['fail2ban']),
    (['tagged'], [], ['fail2ban', 'asterisk']),
    (['all'], ['tagged'], []),
    (['untagged'], [], []),
])
def test_selected_parts_follow_the_tags_of_the_run(run_tags, skip_tags, expected):
    assert selected_parts(PARTS, run_tags, skip_tags) == expected
