# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # What the filters that turn the networks of the inventory model into one output
    # (firewall_ruleset, fail2ban_ignoreip, asterisk_localnet) have in common: the piped
    # input, netaddr, and the links to the module that applies the result and to
    # pbx_firewall_policy, which gives every output at once. Their option `names` is in
    # message_names.py. Used as `extends_documentation_fragment: pbxops.firewall.network_filters`.
    DOCUMENTATION = r"""
requirements:
  - netaddr (on the controller)
options:
  _input:
    description:
      - The networks, in the inventory model of the collection (C(pbx_firewall_networks)).
      - Each network has C(name) (unique), C(subnet) (a CIDR or a list of CIDRs, IPv4 or IPv6;
        a bare address means C(/32) or C(/128)), C(services) and C(block) (lists of service
        names), C(local_network) and C(never_block) (booleans), optional C(description) and C(tags).
      - A network may give C(countries) (ISO 3166-1 alpha-2 codes, any case) instead of C(subnet),
        or together with it (then it covers those countries within its subnets). It ranks below
        every subnet narrower than C(/0) and above the catch-all networks; it cannot be
        C(local_network) or C(never_block).
    type: list
    elements: dict
    required: true
seealso:
  - module: pbxops.firewall.iptables_ruleset
    description: Applies the compiled ruleset on the host.
  - plugin: pbxops.firewall.pbx_firewall_policy
    plugin_type: filter
    description: >-
      The ruleset, fail2ban's ignoreip and Asterisk's local_net from one validation of the same
      networks, as the role uses them.
"""
