# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: in_subnets
short_description: The addresses that fall in any of the given subnets
version_added: 0.1.0
author: pbxops.firewall contributors
description:
  - Returns the addresses of the input that lie in one of O(subnets), deduplicated and sorted
    (IPv4 first). The role uses it to lift fail2ban bans of addresses that became C(never_block).
seealso:
  - module: pbxops.firewall.iptables_ruleset
    description: Applies the compiled ruleset on the host.
  - plugin: pbxops.firewall.fail2ban_ignoreip
    plugin_type: filter
    description: The subnets fail2ban must never ban.
extends_documentation_fragment:
  - pbxops.firewall.message_names
requirements:
  - netaddr (on the controller)
options:
  _input:
    description: IPv4 or IPv6 addresses.
    type: list
    elements: str
    required: true
  subnets:
    description: CIDRs, for example the output of P(pbxops.firewall.fail2ban_ignoreip#filter).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Banned addresses that are in never_block networks
  ansible.builtin.debug:
    msg: "{{ ['192.168.10.7', '203.0.113.5'] | pbxops.firewall.in_subnets(['192.168.10.0/24']) }}"
  # -> ['192.168.10.7']
"""

RETURN = r"""
_value:
  description: The covered addresses, sorted.
  type: list
  elements: str
"""

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.plugins.plugin_utils._filter_support import (
    call_core,
    checked_arguments,
    filter_names,
)


@checked_arguments('in_subnets')
def in_subnets(addresses, subnets, names=None):
    return call_core('in_subnets', _policy.addresses_in, addresses, subnets,
                     names=filter_names(names, 'addresses'), inventory=names is not None)


class FilterModule(object):
    def filters(self):
        return {'in_subnets': in_subnets}
