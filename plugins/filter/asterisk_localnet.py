# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: asterisk_localnet
short_description: The subnets Asterisk treats as local (PJSIP local_net, chan_sip localnet)
version_added: 0.1.0
author: pbxops.firewall contributors
description:
  - Returns the subnets of every network with C(local_network=true) ("VPN or local network"),
    merged into the fewest CIDRs and sorted (IPv4 first). Asterisk presents its local address,
    not the external one, to these subnets.
  - Invalid networks fail with a message naming the network, the field, the value and what is valid.
extends_documentation_fragment:
  - pbxops.firewall.network_filters
  - pbxops.firewall.message_names
"""

EXAMPLES = r"""
- name: Write local_net lines for a PJSIP transport template
  ansible.builtin.debug:
    msg: "{{ pbx_firewall_networks | pbxops.firewall.asterisk_localnet | map('regex_replace', '^', 'local_net=') }}"
  # networks: [{name: VPN, subnet: [10.8.0.0/24, 10.8.1.0/24], local_network: true}]
  # -> ['local_net=10.8.0.0/23']
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


@checked_arguments('asterisk_localnet')
def asterisk_localnet(networks, names=None):
    return call_core('asterisk_localnet', _policy.asterisk_localnet, networks,
                     names=filter_names(names, 'networks'), inventory=names is not None)


class FilterModule(object):
    def filters(self):
        return {'asterisk_localnet': asterisk_localnet}
