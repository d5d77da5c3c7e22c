# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""outputs.py: fail2ban ignoreip and Asterisk local_net, (inventory, exact list)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import outputs
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy.support import (
    BAD_HOST,
    INTERNET,
    OFFICE,
)


# --------------------------------------------------------------------------- fail2ban / Asterisk


@pytest.mark.parametrize('networks, expected', [
    ([], ['127.0.0.0/8', '::1/128']),
    ([OFFICE, BAD_HOST, INTERNET], ['127.0.0.0/8', '192.168.10.0/24', '::1/128']),
    ([{'name': 'a', 'subnet': ['10.8.0.0/24', '10.8.1.0/24'], 'never_block': True}],
     ['10.8.0.0/23', '127.0.0.0/8', '::1/128']),                     # merged
    ([{'name': 'a', 'subnet': '10.0.0.0/8', 'never_block': True},
      {'name': 'b', 'subnet': ['10.1.0.0/16', '10.0.0.0/8'], 'never_block': True}],
     ['10.0.0.0/8', '127.0.0.0/8', '::1/128']),                      # contained + duplicate
    ([{'name': 'a', 'subnet': ['9.0.0.0/8', '100.64.0.0/10', '2001:db8::/32'], 'never_block': True},
      {'name': 'b', 'subnet': ['fd00::/8', '10.0.0.0/8', '203.0.113.5'], 'never_block': True}],
     ['9.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '203.0.113.5/32', '::1/128', '2001:db8::/32',
      'fd00::/8']),                                                  # numeric order, v4 first
    ([{'name': 'a', 'subnet': ['127.5.0.0/16', '::1'], 'never_block': True}],
     ['127.0.0.0/8', '::1/128']),                                    # loopback once
    ([{'name': 'all', 'subnet': ['0.0.0.0/0', '::/0'], 'never_block': True}],
     ['0.0.0.0/0', '::/0']),
    ([{'name': 'a', 'subnet': '10.0.0.0/8', 'never_block': False},
      {'name': 'b', 'subnet': '10.1.0.0/16', 'local_network': True}],
     ['127.0.0.0/8', '::1/128']),
    ([{'name': 'a', 'subnet': '2001:DB8:0:0::/64', 'never_block': True}],
     ['127.0.0.0/8', '::1/128', '2001:db8::/64']),
])
def test_fail2ban_ignoreip(networks, expected):
    assert outputs.fail2ban_ignoreip(networks) == expected


def test_fail2ban_ignoreip_extra():
    assert (outputs.fail2ban_ignoreip([OFFICE], extra=['198.51.100.7', '192.168.10.128/25'])
            == ['127.0.0.0/8', '192.168.10.0/24', '198.51.100.7/32', '::1/128'])


@pytest.mark.parametrize('networks, expected', [
    ([], []),
    ([OFFICE, BAD_HOST, INTERNET], ['192.168.10.0/24']),
    ([{'name': 'VPN', 'subnet': ['10.8.1.0/24', '10.8.0.0/24', 'fd00:8::/64'], 'local_network': True},
      {'name': 'LAN', 'subnet': ['192.168.0.0/16', '192.168.10.0/24', '172.16.0.0/12'],
       'local_network': True},
      {'name': 'not local', 'subnet': '198.51.100.0/24', 'local_network': False}],
     ['10.8.0.0/23', '172.16.0.0/12', '192.168.0.0/16', 'fd00:8::/64']),
    ([{'name': 'a', 'subnet': ['10.0.0.0/25', '10.0.0.128/25', '10.0.1.0/24', '10.0.2.0/23'],
       'local_network': True}],
     ['10.0.0.0/22']),
])
def test_asterisk_localnet(networks, expected):
    assert outputs.asterisk_localnet(networks) == expected
