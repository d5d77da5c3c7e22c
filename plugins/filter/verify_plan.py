# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: verify_plan
short_description: What one probe host of the verify playbook sends to the PBXs
version_added: 0.1.0
author: pbxops.firewall contributors
description:
  - Used by the C(pbxops.firewall.verify) playbook; you rarely call it yourself.
  - For one probe host, lists every probe it sends, one per port of every service in each PBX's
    policy (a port range is sampled), to each PBX address from the inventory that the probe host
    can reach, and encodes them as the argument of the probe program the playbook runs there.
  - Probes go only to the PBX addresses given; their number is bounded by O(max_probes).
requirements:
  - netaddr (on the controller)
options:
  _input:
    description:
      - The PBXs, one dict each with C(name), C(addresses) (IP addresses or names resolved on the
        controller), C(networks) (how many networks the policy has), C(ports), C(custom_services),
        C(ruleset) and C(error) (the compile error, or null).
    type: list
    elements: dict
    required: true
  reach:
    description:
      - CIDRs of the PBX addresses this probe host can reach (C(pbx_firewall_probe_reach)); null means all.
    type: list
    elements: str
  timeout:
    description: Seconds to wait for an answer, per probe.
    type: float
    default: 2.0
  parallel:
    description: Probes in flight at once on the probe host.
    type: int
    default: 32
  deadline:
    description: Seconds after which the probe program starts no more probes.
    type: float
    default: 120
  max_probes:
    description: The most probes one probe host may send; more is an error naming this limit.
    type: int
    default: 5000
  range_samples:
    description: Ports probed in a port range (both ends and evenly spaced ones between).
    type: int
    default: 3
"""

EXAMPLES = r"""
- name: Plan this probe host's probes
  ansible.builtin.set_fact:
    plan: "{{ pbxs | pbxops.firewall.verify_plan(reach=['10.201.10.0/24'], timeout=2) }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    probes:
      description: One C([pbx, address, service, proto, port, kind]) list per probe.
      type: list
      elements: list
    count:
      description: How many probes.
      type: int
    spec:
      description: The probe program's argument (base64 of compressed JSON).
      type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.pbxops.firewall.plugins.plugin_utils._filter_support import (
    checked_arguments,
    to_plain,
)


@checked_arguments('verify_plan')
def verify_plan(pbxs, reach=None, timeout=None, parallel=None, deadline=None, max_probes=None,
                range_samples=None):
    given = dict(timeout=timeout, parallel=parallel, deadline=deadline, max_probes=max_probes,
                 range_samples=range_samples)
    options = dict((k, to_plain(v)) for k, v in given.items() if v is not None)
    # imported on use: Ansible loads every filter file of the collection to find any one filter
    from ansible_collections.pbxops.firewall.plugins.plugin_utils import _verify_report

    try:
        return _verify_report.plan(to_plain(pbxs), reach=to_plain(reach), **options)
    except ValueError as exc:
        raise AnsibleFilterError('pbxops.firewall.verify_plan: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'verify_plan': verify_plan}
