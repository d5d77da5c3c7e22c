# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pbx_firewall_policy filter through Ansible's templar, called the way the role calls it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.errors import AnsibleError

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import role
from ansible_collections.pbxops.firewall.tests.unit.plugins.filter.test_filters import (
    NETWORKS, _ansible_doc, filter_error, render, trust_as_template)

CALL = ('{{ nets | pbxops.firewall.pbx_firewall_policy(ports=ports, trunks=trunks, sip_rate_limit=10, '
        'ipv6=ipv6, docker=true, docker_jails=jails, ignoreip_extra=extra, enabled=true) }}')


def test_templated_inputs_give_the_core_result_as_plain_data():
    variables = {'nets': NETWORKS, 'ports': {'rtp': trust_as_template('{{ rtp }}')}, 'rtp': '12000-12100',
                 'trunks': ['203.0.113.5'], 'ipv6': trust_as_template('{{ false }}'),
                 'jails': [trust_as_template('{{ jail }}'), 'sshd'], 'jail': 'asterisk', 'extra': ['198.51.100.7']}
    got = render(CALL, **variables)
    assert got == role.role_policy(NETWORKS, ports={'rtp': '12000-12100'}, trunks=['203.0.113.5'], sip_rate_limit=10,
                                   ipv6=False, docker=True, docker_jails=['asterisk', 'sshd'],
                                   ignoreip_extra=['198.51.100.7'])
    assert got['docker_jails'] == ['asterisk', 'sshd'] and got['ruleset']['ipv6'] == []
    assert json.dumps(got, sort_keys=True)


def test_a_feed_rewritten_during_the_run_is_read_again(tmp_path):
    """The run's compile cache keys on the blocklist file's contents, not only on its path:
    a play that refreshes the feed and applies again in the same run gets the new feed."""
    feed = tmp_path / 'drop.txt'
    call = '{{ nets | pbxops.firewall.pbx_firewall_policy(blocklist_files=[feed]) }}'

    def blocklist_set():
        got = render(call, nets=NETWORKS, feed=str(feed))
        return [s['entries'] for s in got['ruleset']['ipsets'] if s['name'] == 'pbxfw-blocklist4']

    feed.write_text('203.0.113.0/24 ; SBL1\n')
    assert blocklist_set() == ['203.0.113.0/24']
    feed.write_text('198.51.100.0/24 ; SBL2\n')
    assert blocklist_set() == ['198.51.100.0/24']


def test_errors_name_the_filter_and_the_role_variables():
    with pytest.raises(AnsibleError) as excinfo:
        render("{{ nets | pbxops.firewall.pbx_firewall_policy(ipv6='maybe', docker_jails=['a;b']) }}", nets=NETWORKS)
    message = filter_error(excinfo)
    assert message.startswith('pbxops.firewall.pbx_firewall_policy: invalid inventory:\n'
                              "pbx_firewall_ipv6: must be true or false, got string 'maybe'; valid: true or false "
                              "(from the command line also yes/no, on/off, 1/0)\n"
                              "pbx_firewall_fail2ban_docker_jails[0]: 'a;b' is not a fail2ban jail name"), message


def test_ansible_doc_renders(tmp_path):
    name = 'pbxops.firewall.pbx_firewall_policy'
    text = _ansible_doc(tmp_path, name)
    assert text.returncode == 0 and text.stderr == '', text.stderr
    assert 'WARNING' not in text.stdout
    # page header: '> FILTER name (path)' since ansible-core 2.17, '> NAME (path)' in 2.16
    assert '> FILTER %s ' % name in text.stdout or '> %s ' % name.upper() in text.stdout, text.stdout
    doc = json.loads(_ansible_doc(tmp_path, '--json', name).stdout)[name]
    assert doc['doc']['options']['_input']['required'] is True and doc['doc']['requirements']
    assert doc['examples'].strip() and set(doc['return']['_value']['contains']) == {
        'state', 'ruleset', 'ignoreip', 'localnet', 'docker_jails', 'files', 'warnings', 'notes'}
