# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""KEY=value settings files (firewalld.conf, ufw.conf, /etc/default/ufw)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw.settings import parse_settings


@pytest.mark.parametrize('text, values', [
    ('# comment\nIPV6=yes\nDEFAULT_INPUT_POLICY="DROP"\nMANAGE_BUILTINS=no\n\nIPT_MODULES=""\n',
     {'IPV6': 'yes', 'DEFAULT_INPUT_POLICY': 'DROP', 'MANAGE_BUILTINS': 'no', 'IPT_MODULES': ''}),
    ('DefaultZone=public\n# FirewallBackend=iptables\nFirewallBackend=nftables\n',
     {'DefaultZone': 'public', 'FirewallBackend': 'nftables'}),
    ('', {}),
    (None, {}),
])
def test_settings(text, values):
    assert parse_settings(text) == values
