# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""When the role's files task may take the firewall task's reading of its files: the same
options after the run's tags, in the same play (the live role: test_role_noop_rerun.py)."""

from __future__ import annotations

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _files_current as fc

OPTIONS = {'files': [{'path': '/etc/fail2ban/jail.d/pbx-firewall.local', 'part': 'fail2ban', 'content': 'x'},
                     {'path': '/etc/asterisk/pjsip_pbx_firewall.conf', 'part': 'asterisk', 'content': 'y'}],
           'parts': {'fail2ban': {'manage': True, 'required': False}, 'metrics': {'manage': True}},
           'enabled': True, 'asterisk': {'config_dir': '/etc/asterisk', 'transports': [], 'local_net': []},
           'warnings': ['not part of the digest']}


def test_narrowed_turns_off_the_parts_the_tags_leave_out_and_lists_every_part():
    narrowed = fc.narrowed(OPTIONS, ['pbx_firewall_fail2ban'], [])
    assert narrowed['parts'] == {'fail2ban': {'manage': True, 'required': False}, 'asterisk': {'manage': False},
                                 'metrics': {'manage': False}}
    assert fc.managed(narrowed) and OPTIONS['parts']['metrics'] == {'manage': True}
    assert not fc.managed(fc.narrowed(OPTIONS, ['pbx_firewall_firewall'], []))
    assert not fc.managed(fc.narrowed(dict(OPTIONS, parts={'fail2ban': {'manage': 'no'}}), ['pbx_firewall_fail2ban'], []))


def test_digest_covers_the_options_that_say_what_the_files_hold_and_the_play():
    base = fc.digest(fc.narrowed(OPTIONS, None, None), 'play-1')
    assert base == fc.digest(fc.narrowed(dict(OPTIONS, warnings=[], notes=['n']), None, None), 'play-1')
    assert base != fc.digest(fc.narrowed(OPTIONS, None, None), 'play-2')
    assert base != fc.digest(fc.narrowed(OPTIONS, None, ['pbx_firewall_asterisk']), 'play-1')
    for key, value in (('enabled', False), ('asterisk', dict(OPTIONS['asterisk'], local_net=['10.0.0.0/8'])),
                       ('files', OPTIONS['files'][:1])):
        assert base != fc.digest(fc.narrowed(dict(OPTIONS, **{key: value}), None, None), 'play-1'), key


def test_play_id_is_the_play_of_the_task_or_none():
    class Play:
        _uuid = 'abc'

    class Task:
        def get_play(self):
            return Play()

    assert fc.play_id(Task()) == 'abc' and fc.play_id(object()) is None
