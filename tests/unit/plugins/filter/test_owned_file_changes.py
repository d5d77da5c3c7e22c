# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The owned_file_changes filter through Ansible's templar: plain data out, errors naming the filter."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

import pytest

from ansible.errors import AnsibleError

from ansible_collections.pbxops.firewall.tests.unit.plugins.filter.test_filters import (
    _ansible_doc, filter_error, render, trust_as_template)

TEXT = '[DEFAULT]\nignoreip = 127.0.0.0/8\n'
FOUND = [{'path': '/etc/fail2ban/jail.d/pbx-firewall.local', 'checksum': hashlib.sha1(TEXT.encode()).hexdigest(),
          'mode': '0644', 'pw_name': 'root', 'gr_name': 'root'},
         {'path': '/etc/asterisk/sip_pbx_firewall.conf', 'checksum': '0' * 40, 'mode': '0644',
          'pw_name': 'root', 'gr_name': 'root'}]


def test_templated_inputs_give_plain_data():
    wanted = [{'path': trust_as_template('{{ jail }}'), 'part': 'fail2ban', 'present': trust_as_template('{{ on }}'),
               'content': trust_as_template('{{ text }}')},
              {'path': '/etc/asterisk/pjsip_pbx_firewall.conf', 'part': 'asterisk', 'present': True,
               'content': '[pbx-firewall-localnet](!)\n'},
              {'path': '/etc/asterisk/sip_pbx_firewall.conf', 'part': 'asterisk', 'present': False}]
    got = render('{{ found | pbxops.firewall.owned_file_changes(wanted) }}', found=FOUND, wanted=wanted,
                 jail='/etc/fail2ban/jail.d/pbx-firewall.local', on=True, text=TEXT)
    assert got == {'write': {'/etc/asterisk/pjsip_pbx_firewall.conf': '[pbx-firewall-localnet](!)\n'},
                   'remove': {'fail2ban': [], 'asterisk': ['/etc/asterisk/sip_pbx_firewall.conf']},
                   'found': ['/etc/asterisk/sip_pbx_firewall.conf', '/etc/fail2ban/jail.d/pbx-firewall.local']}
    assert json.dumps(got)


def test_bad_arguments_are_filter_errors():
    with pytest.raises(AnsibleError) as excinfo:
        render("{{ [] | pbxops.firewall.owned_file_changes([], mode='u=rw') }}")
    assert filter_error(excinfo) == ('pbxops.firewall.owned_file_changes: mode: must be an octal mode such as '
                                     '"0644", got \'u=rw\'')


def test_ansible_doc_renders(tmp_path):
    text = _ansible_doc(tmp_path, 'pbxops.firewall.owned_file_changes')
    assert text.returncode == 0 and text.stderr == '', text.stderr
    # page header: '> FILTER name (path)' since ansible-core 2.17, '> NAME (path)' in 2.16
    assert ('> FILTER pbxops.firewall.owned_file_changes ' in text.stdout
            or '> PBXOPS.FIREWALL.OWNED_FILE_CHANGES ' in text.stdout), text.stdout
    doc = json.loads(_ansible_doc(tmp_path, '--json', 'pbxops.firewall.owned_file_changes').stdout)
    doc = doc['pbxops.firewall.owned_file_changes']
    assert doc['doc']['options']['_input']['required'] is True and doc['examples'].strip() and '_value' in doc['return']
