# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The option `names` of the filters whose error messages name their inputs
    # (plugin_utils/_filter_support.py: filter_names; the role's names are ROLE_NAMES in
    # plugin_utils/_policy/model.py). Used as
    # `extends_documentation_fragment: pbxops.firewall.message_names`.
    DOCUMENTATION = r"""
options:
  names:
    description:
      - How error messages name the inputs. By default they name this filter's own arguments
        (the piped input as C(_input)), since the input may be any variable.
      - V(role) (what the role P(pbxops.firewall.pbx_firewall#role) passes) names them by the role's
        variables (C(pbx_firewall_networks), C(pbx_firewall_ports) ...); the addresses and subnets
        of P(pbxops.firewall.in_subnets#filter) are named C(addresses) and C(subnets).
      - A mapping of input to name names those inputs that way and the others by this filter's
        arguments; the piped input's key is C(networks) (C(addresses) for
        P(pbxops.firewall.in_subnets#filter)). For example C(networks) to C(site_networks) names the
        networks C(site_networks).
    type: raw
"""
