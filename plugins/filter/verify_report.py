# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: verify_report
short_description: The verify playbook's matrix, tables and verdict
version_added: 0.1.0
author: pbxops.firewall contributors
description:
  - Used by the C(pbxops.firewall.verify) playbook; you rarely call it yourself.
  - Joins what the probe hosts observed with what each PBX's compiled ruleset expects for the
    source address the PBX sees (the probe's address on its route to the PBX, or
    C(pbx_firewall_probe_source) behind NAT). The expectation comes from evaluating the compiled
    rules themselves; a rule that cannot be evaluated (a custom rule) makes it C(unknown).
  - A probe matches when expected and observed agree; an answer where the policy expects a drop,
    or silence where it expects an answer, is a mismatch; a reset, an ICMP unreachable, or a UDP
    port that need not answer is C(unknown), never a pass.
requirements:
  - netaddr (on the controller)
options:
  _input:
    description: The PBXs, as for P(pbxops.firewall.verify_plan#filter).
    type: list
    elements: dict
    required: true
  probes:
    description:
      - One dict per probe host with C(name), C(plan) (from P(pbxops.firewall.verify_plan#filter)),
        C(result) (the registered result of the probe program) and C(source)
        (C(pbx_firewall_probe_source) or null).
    type: list
    elements: dict
    required: true
  probe_names:
    description: Every probe host meant to run; one without an entry in O(probes) is reported as not run.
    type: list
    elements: str
  fail_on_unknown:
    description: Also fail when a probe is C(unknown).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Build the report
  ansible.builtin.set_fact:
    report: "{{ pbxs | pbxops.firewall.verify_report(probes) }}"
"""

RETURN = r"""
_value:
  description: The report.
  type: dict
  contains:
    rows:
      description: The whole matrix, one dict per probe (pbx, address, probe, source, service, proto, port,
        expected, observed, detail, match, decided_by, rule, reason).
      type: list
      elements: dict
    mismatches:
      description: The rows whose match is C(mismatch).
      type: list
      elements: dict
    problems:
      description: Probe hosts that did not answer, PBXs without a policy, probes without an address in a family.
      type: list
      elements: dict
    counts:
      description: Rows per match value (match, mismatch, unknown, error, skipped).
      type: dict
    lines:
      description: The per-PBX tables, the mismatches, the problems and the summary, as text lines.
      type: list
      elements: str
    summary:
      description: One line.
      type: str
    message:
      description: The summary, every mismatch and every problem that fails the run, in one string.
      type: str
    failed:
      description: True when a probe mismatches, a probe errs or a probe host or PBX could not be verified.
      type: bool
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.pbxops.firewall.plugins.plugin_utils._filter_support import (
    checked_arguments,
    to_plain,
)


@checked_arguments('verify_report')
def verify_report(pbxs, probes, probe_names=None, fail_on_unknown=False):
    # imported on use: Ansible loads every filter file of the collection to find any one filter
    from ansible_collections.pbxops.firewall.plugins.plugin_utils import _verify_report

    try:
        return _verify_report.report(to_plain(pbxs), to_plain(probes), probe_names=to_plain(probe_names),
                                     fail_on_unknown=bool(fail_on_unknown))
    except ValueError as exc:
        raise AnsibleFilterError('pbxops.firewall.verify_report: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'verify_report': verify_report}
