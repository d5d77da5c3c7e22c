# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fail2ban_ignoreip
short_description: The subnets fail2ban must never ban
version_added: 0.1.0
author: pbxops.firewall contributors
description:
  - Returns loopback (C(127.0.0.0/8) and C(::1/128)) plus the subnets of every network with
    C(never_block=true), deduplicated, merged into the fewest CIDRs and sorted (IPv4 first).
  - Used for the C(ignoreip) setting of fail2ban's C([DEFAULT]) section.
  - Invalid networks fail with a message naming the network, the field, the value and what is valid.
extends_documentation_fragment:
  - pbxops.firewall.network_filters
  - pbxops.firewall.message_names
seealso:
  - plugin: pbxops.firewall.in_subnets
    plugin_type: filter
    description: The addresses that fall in given subnets.
options:
  extra:
    description:
      - More addresses or subnets to add (C(pbx_firewall_fail2ban_ignoreip_extra)), validated like
        network subnets.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Build fail2ban's ignoreip line
  ansible.builtin.debug:
    msg: "ignoreip = {{ pbx_firewall_networks | pbxops.firewall.fail2ban_ignoreip | join(' ') }}"
  # networks: [{name: Office, subnet: 192.168.10.0/24, never_block: true}]
  # -> ignoreip = 127.0.0.0/8 192.168.10.0/24 ::1/128
"""

RETURN = r"""
_value:
  description: CIDR strings, merged and sorted, IPv4 before IPv6.
  type: list
  elements: str
"""

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.plugins.plugin_utils._filter_support import (
    call_core,
    checked_arguments,
    filter_names,
)


@checked_arguments('fail2ban_ignoreip')
def fail2ban_ignoreip(networks, extra=None, names=None):
    return call_core('fail2ban_ignoreip', _policy.fail2ban_ignoreip, networks, extra=extra,
                     names=filter_names(names, 'networks'), inventory=names is not None)


class FilterModule(object):
    def filters(self):
        return {'fail2ban_ignoreip': fail2ban_ignoreip}
