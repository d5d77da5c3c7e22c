# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: report_summary
short_description: The report playbook's per-host tables and fleet totals
version_added: 0.2.0
author: pbxops.firewall contributors
description:
  - Used by the C(pbxops.firewall.report) playbook; you rarely call it yourself.
  - Takes each PBX's name and P(pbxops.firewall.firewall_report#module) result and builds the whole
    report, per host (its drops per address family, reason and network, the SIP rate limit's
    busiest sources, fail2ban's bans) and for the fleet (drops per reason, bans per jail,
    the hosts that could not be reached or answered with an error), with the text table.
  - A host without a result, or whose result says C(unreachable), is reported unreachable; a
    failed result is reported as an error with its message.
options:
  _input:
    description: The PBXs' inventory names.
    type: list
    elements: str
    required: true
  results:
    description:
      - For each name of O(_input), in the same order, the registered result of
        P(pbxops.firewall.firewall_report#module), or null when there is none.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Build the fleet report
  ansible.builtin.set_fact:
    report: "{{ names | pbxops.firewall.report_summary(names | map('extract', hostvars, 'result') | list) }}"
"""

RETURN = r"""
_value:
  description: The report.
  type: dict
  contains:
    hosts:
      description:
        - Per inventory name, C(status) (C(ok), C(unreachable), C(error)), C(error), and for C(ok)
          the module's C(backend), C(drops) (each row also with C(since_utc)), C(rule_count),
          C(sip_sources), C(bans), C(last_apply), C(boot), C(notes), C(metrics_file).
      type: dict
    totals:
      description:
        - C(drops) (per reason, C(packets), C(bytes), C(hosts) with drops), C(bans) (addresses per jail),
          C(hosts), C(reported), C(unreachable) and C(errors) (host names).
      type: dict
    lines:
      description: The table per host and the fleet totals, as text lines.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.pbxops.firewall.plugins.plugin_utils._filter_support import (
    checked_arguments,
    to_plain,
)


@checked_arguments('report_summary')
def report_summary(names, results):
    # imported on use: Ansible loads every filter file of the collection to find any one filter
    from ansible_collections.pbxops.firewall.plugins.plugin_utils import _report_summary

    names, results = to_plain(names), to_plain(results)
    if not isinstance(names, list) or not isinstance(results, list) or len(names) != len(results):
        raise AnsibleFilterError('pbxops.firewall.report_summary: needs the list of host names and the list of '
                                 'their results, of the same length; got %r and %r' % (names, results))
    return _report_summary.summary([{'name': n, 'result': r} for n, r in zip(names, results)])


class FilterModule(object):
    def filters(self):
        return {'report_summary': report_summary}
