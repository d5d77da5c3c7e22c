# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pbxops.firewall.report_summary through Ansible's templar, the way playbooks/report.yml calls it."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleError

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _report_summary
from ansible_collections.pbxops.firewall.tests.unit.plugins.filter.test_filters import filter_error, render
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils.test__report_summary import PBX1


def test_the_filter_is_the_core_on_plain_data():
    got = render("{{ names | pbxops.firewall.report_summary(names | map('extract', hv, 'r') | map('default', none)"
                 " | list) }}", names=['pbx1', 'gone'], hv={'pbx1': {'r': PBX1}, 'gone': {}})
    assert got == _report_summary.summary([{'name': 'pbx1', 'result': PBX1}, {'name': 'gone', 'result': None}])


def test_lists_of_different_lengths_are_refused():
    with pytest.raises(AnsibleError) as info:
        render('{{ ["a", "b"] | pbxops.firewall.report_summary([none]) }}')
    assert filter_error(info).startswith('pbxops.firewall.report_summary: needs the list of host names and the list '
                                         'of their results, of the same length')
