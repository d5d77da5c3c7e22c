# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: select_networks
short_description: Pick networks out of shared site data with a JMESPath expression
version_added: 0.1.0
author: pbxops.firewall contributors
description:
  - Runs a JMESPath expression over shared site data (for example one file that lists every
    subnet of a company with tags and sites) and returns the networks it selects, ready for
    C(pbx_firewall_networks).
  - The expression must produce a list of mappings (networks); C(null) gives an empty list.
seealso:
  - module: pbxops.firewall.iptables_ruleset
    description: Applies the compiled ruleset on the host.
  - plugin: pbxops.firewall.firewall_ruleset
    plugin_type: filter
    description: Compile networks into the ruleset.
  - plugin: pbxops.firewall.fail2ban_ignoreip
    plugin_type: filter
    description: The subnets fail2ban must never ban.
  - plugin: pbxops.firewall.asterisk_localnet
    plugin_type: filter
    description: Asterisk's local_net from the same networks.
requirements:
  - jmespath (on the controller)
options:
  _input:
    description: The site data (any mapping or list).
    type: raw
    required: true
  expression:
    description: A JMESPath expression that selects a list of networks.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Networks tagged voip become this host group's PBX networks
  ansible.builtin.set_fact:
    pbx_firewall_networks: "{{ site_data | pbxops.firewall.select_networks(voip_networks) }}"
  vars:
    voip_networks: "networks[?contains(tags, 'voip')]"
    site_data:
      networks:
        - {name: Office LAN, subnet: 192.168.10.0/24, services: [sip, web], tags: [voip, lan]}
        - {name: Printers, subnet: 192.168.20.0/24, services: [], tags: [lan]}
"""

RETURN = r"""
_value:
  description: The selected networks, unchanged.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.pbxops.firewall.plugins.plugin_utils._filter_support import (
    checked_arguments,
    to_plain,
)

try:
    import jmespath

    HAS_JMESPATH = True
except ImportError:
    HAS_JMESPATH = False


@checked_arguments('select_networks')
def select_networks(data, expression):
    if not HAS_JMESPATH:
        raise AnsibleFilterError('pbxops.firewall.select_networks: the Python library jmespath is '
                                 'required: install it on the controller (pip install jmespath)')
    if not isinstance(expression, str) or not expression.strip():
        raise AnsibleFilterError('pbxops.firewall.select_networks: expression must be a non-empty '
                                 'JMESPath string, got %r' % (expression,))
    expression = str(expression)
    try:
        selected = jmespath.search(expression, to_plain(data))
    except jmespath.exceptions.JMESPathError as exc:
        raise AnsibleFilterError('pbxops.firewall.select_networks: invalid JMESPath expression '
                                 '%r: %s' % (expression, exc))
    if selected is None:
        return []
    if not isinstance(selected, list) or not all(isinstance(n, dict) for n in selected):
        raise AnsibleFilterError('pbxops.firewall.select_networks: %r must select a list of '
                                 'networks (mappings), got %r' % (expression, selected))
    return selected


class FilterModule(object):
    def filters(self):
        return {'select_networks': select_networks}
