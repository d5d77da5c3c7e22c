# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugin_utils/_owned_files.py: which owned files the role writes or removes.

``found`` entries are built from real files in ``tmp_path`` (checksum, mode, owner and
group as ``ansible.builtin.find`` reports them), not typed in by hand.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import hashlib
import os
import pwd
import stat

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils._owned_files import owned_file_changes

JAIL = '[DEFAULT]\nignoreip = 127.0.0.0/8 ::1/128\n'
PJSIP = '[pbx-firewall-localnet](!)\nlocal_net=10.8.0.0/24\n'


def find_entry(path):
    """What ansible.builtin.find (get_checksum: true) reports for one file."""
    info = os.stat(str(path))
    with open(str(path), 'rb') as handle:
        checksum = hashlib.sha1(handle.read()).hexdigest()
    return {'path': str(path), 'checksum': checksum, 'mode': '%04o' % stat.S_IMODE(info.st_mode),
            'pw_name': pwd.getpwuid(info.st_uid).pw_name, 'gr_name': grp.getgrgid(info.st_gid).gr_name}


@pytest.fixture
def host(tmp_path):
    """Two owned files written as the role writes them, with the current user as owner."""
    jail = tmp_path / 'jail.d' / 'pbx-firewall.local'
    pjsip = tmp_path / 'asterisk' / 'pjsip_pbx_firewall.conf'
    for path, text in ((jail, JAIL), (pjsip, PJSIP)):
        path.parent.mkdir()
        path.write_text(text)
        path.chmod(0o644)
    entry = find_entry(jail)
    return jail, pjsip, {'owner': entry['pw_name'], 'group': entry['gr_name'], 'mode': '0644'}


def wanted(jail, pjsip, jail_text=JAIL, pjsip_text=PJSIP, jail_present=True, pjsip_present=True, sip=None):
    result = [{'path': str(jail), 'part': 'fail2ban', 'present': jail_present, 'content': jail_text},
              {'path': str(pjsip), 'part': 'asterisk', 'present': pjsip_present, 'content': pjsip_text}]
    if sip is not None:
        result.append({'path': str(sip), 'part': 'asterisk', 'present': False})
    return result


def test_files_that_match_are_left_alone(host):
    jail, pjsip, owner = host
    found = [find_entry(jail), find_entry(pjsip)]
    assert owned_file_changes(found, wanted(jail, pjsip), **owner) == {
        'write': {}, 'remove': {'fail2ban': [], 'asterisk': []}, 'found': sorted([str(jail), str(pjsip)])}


@pytest.mark.parametrize('change', ['content', 'mode', 'owner', 'group', 'missing'])
def test_a_file_that_differs_in_anything_is_written(host, change):
    jail, pjsip, owner = host
    jail_text = JAIL
    if change == 'content':
        jail_text = JAIL + 'ignoreip_extra = 1\n'
    elif change == 'mode':
        jail.chmod(0o600)
    elif change == 'owner':
        owner = dict(owner, owner='pbx-nobody-here')
    elif change == 'group':
        owner = dict(owner, group='pbx-nobody-here')
    found = [find_entry(pjsip)] + ([] if change == 'missing' else [find_entry(jail)])
    result = owned_file_changes(found, wanted(jail, pjsip, jail_text=jail_text), **owner)
    expected = {str(jail): jail_text}
    if change in ('owner', 'group'):        # the same owner/group is wanted for every file
        expected[str(pjsip)] = PJSIP
    assert result['write'] == expected
    assert result['remove'] == {'fail2ban': [], 'asterisk': []}


def test_unicode_content_is_compared_as_utf8(host):
    jail, pjsip, owner = host
    text = '; Büro LAN\n'
    pjsip.write_text(text, encoding='utf-8')
    assert owned_file_changes([find_entry(pjsip)], wanted(jail, pjsip, pjsip_text=text), **owner)['write'] == {
        str(jail): JAIL}


def test_absent_files_are_removed_only_when_found_and_grouped_by_part(host, tmp_path):
    jail, pjsip, owner = host
    sip = tmp_path / 'asterisk' / 'sip_pbx_firewall.conf'
    sip.write_text('localnet=10.8.0.0/24\n')
    found = [find_entry(jail), find_entry(pjsip), find_entry(sip)]
    result = owned_file_changes(found, wanted(jail, pjsip, jail_present=False, pjsip_present=False, sip=sip),
                                **owner)
    assert result == {'write': {}, 'remove': {'fail2ban': [str(jail)], 'asterisk': sorted([str(pjsip), str(sip)])},
                      'found': sorted([str(jail), str(pjsip), str(sip)])}
    # not on the host: nothing to remove
    result = owned_file_changes([], wanted(jail, pjsip, jail_present=False, pjsip_present=False, sip=sip), **owner)
    assert result == {'write': {}, 'remove': {'fail2ban': [], 'asterisk': []}, 'found': []}


def test_found_files_that_are_not_owned_do_not_count(host, tmp_path):
    jail, pjsip, owner = host
    other = tmp_path / 'asterisk' / 'pbx-firewall.local'      # the find patterns match in every probed dir
    other.write_text('not ours\n')
    result = owned_file_changes([find_entry(other), find_entry(jail), find_entry(pjsip)], wanted(jail, pjsip), **owner)
    assert result['write'] == {} and str(other) not in result['found']


@pytest.mark.parametrize('mode', ['0644', '644', 0o644, ' 0644 '])
def test_mode_forms(host, mode):
    jail, pjsip, owner = host
    found = [find_entry(jail), find_entry(pjsip)]
    assert owned_file_changes(found, wanted(jail, pjsip), **dict(owner, mode=mode))['write'] == {}


@pytest.mark.parametrize('found, wanted_files, kwargs, message', [
    ([], 'x', {}, "wanted: must be a list of {path, part, present, content}, got 'x'"),
    ([], ['x'], {}, "wanted[0]: must be a mapping with path, part, present and content, got 'x'"),
    ([], [{'path': 'etc/x', 'part': 'a', 'present': True, 'content': ''}], {},
     "wanted[0].path: must be an absolute path, got 'etc/x'"),
    ([], [{'path': '/etc/x', 'part': '', 'present': True, 'content': ''}], {}, "wanted[0].part: must be a non-empty"),
    ([], [{'path': '/etc/x', 'part': 'a', 'present': 'yes', 'content': ''}], {},
     "wanted[0].present: must be true or false, got 'yes'"),
    ([], [{'path': '/etc/x', 'part': 'a', 'present': True}], {},
     'wanted[0].content: must be the text of the file when present is true, got None'),
    ([], [{'path': '/etc/x', 'part': 'a', 'present': False}, {'path': '/etc/x', 'part': 'b', 'present': False}], {},
     "wanted[1].path: '/etc/x' is also wanted[0]; each owned file is listed once"),
    (['/etc/x'], [], {}, "found[0]: must be a file entry of ansible.builtin.find (a mapping with path), got '/etc/x'"),
    ([], [], {'mode': 'rw-r--r--'}, "mode: must be an octal mode such as \"0644\", got 'rw-r--r--'"),
    ([], [], {'mode': '0999'}, "mode: must be an octal mode such as \"0644\", got '0999'"),
    ([], [], {'mode': 0o17777}, 'mode: must be an octal mode between 0000 and 7777, got 8191'),
    ([], [], {'mode': True}, 'mode: must be an octal mode such as "0644", got True'),
    ([], [], {'owner': ''}, "owner: must be a user or group name, got ''"),
    ([], [], {'group': None}, 'group: must be a user or group name, got None'),
])
def test_bad_arguments_name_the_argument_and_value(found, wanted_files, kwargs, message):
    with pytest.raises(ValueError) as caught:
        owned_file_changes(found, wanted_files, **kwargs)
    assert message in str(caught.value)
