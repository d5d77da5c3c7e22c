# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading pjsip.conf the way Asterisk does, on files under a temporary directory.

What a real Asterisk 22 makes of the same files is tested in
tests/integration/asterisk/test_asterisk_config_files.py."""

from __future__ import annotations

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _asterisk_config as config

TEMPLATE = 'pbx-firewall-localnet'


def write(root, name, data):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode('utf-8'))


def test_includes_and_template_lists(tmp_path):
    write(tmp_path, 'pjsip.conf',
          '#include pjsip_pbx_firewall.conf\n#include "more.conf"\n'
          '[transport-udp](pbx-firewall-localnet)\ntype=transport\n'
          '[transport-tcp](base, pbx-firewall-localnet) ; comment\n'
          '[transport-plain]\ntype=transport\n'
          '; [transport-commented](pbx-firewall-localnet)\n')
    write(tmp_path, 'pjsip_pbx_firewall.conf', '[pbx-firewall-localnet](!)\nlocal_net=10.0.0.0/8\n')
    write(tmp_path, 'more.conf', '[transport-more](pbx-firewall-localnet)\n')
    assert config.inheriting(str(tmp_path), TEMPLATE) == {'transport-udp', 'transport-tcp', 'transport-more'}


def test_bytes_that_are_not_utf8_are_read(tmp_path):
    write(tmp_path, 'pjsip.conf', b'; Telefonanlage B\xfcro M\xfcnchen\n[transport-udp](pbx-firewall-localnet)\n'
                                  b'[B\xfcro](pbx-firewall-localnet)\n')
    assert config.inheriting(str(tmp_path), TEMPLATE) == {'transport-udp', 'B\ufffdro'}


def test_globs_tryinclude_quotes_and_the_configuration_directory(tmp_path):
    write(tmp_path, 'pjsip.conf', '#include pjsip.d/*.conf\n#tryinclude <missing.conf>\n#TRYINCLUDE "nothing/*.conf"\n'
                                  '#include %s\n' % (tmp_path / 'abs' / 'absolute.conf'))
    # read in sorted order; a nested include is relative to the configuration directory
    write(tmp_path, 'pjsip.d/20-tcp.conf', '[transport-tcp](pbx-firewall-localnet)\n#include nested.inc\n')
    write(tmp_path, 'pjsip.d/10-udp.conf', '[transport-udp](pbx-firewall-localnet)\n')
    write(tmp_path, 'pjsip.d/notes.txt', '[not-read](pbx-firewall-localnet)\n')
    write(tmp_path, 'nested.inc', '[transport-nested](pbx-firewall-localnet)\n')
    write(tmp_path, 'pjsip.d/nested.inc', '[wrong-directory](pbx-firewall-localnet)\n')
    write(tmp_path, 'abs/absolute.conf', '[transport-abs](pbx-firewall-localnet)\n')
    assert [name for name, _t in config.config_sections(str(tmp_path))] == [
        'transport-udp', 'transport-tcp', 'transport-nested', 'transport-abs']


def test_comments_as_asterisk_strips_them(tmp_path):
    write(tmp_path, 'pjsip.conf',
          '[a](pbx-firewall-localnet) ; [b](pbx-firewall-localnet)\n'
          ';-- a block\n[hidden](pbx-firewall-localnet)\n;-- nested --;\n[still-hidden](x)\n--;\n'
          '[c](pbx-firewall-localnet) ;-- inline --; ; more\n'
          ';--;\n[in-block]\n--;\n'
          ';--- a line comment, not a block\n[d](pbx-firewall-localnet)\n'
          'user_agent=semi\\;colon\n'
          '# include not-a-directive.conf\n')
    write(tmp_path, 'not-a-directive.conf', '[e](pbx-firewall-localnet)\n')
    assert config.config_sections(str(tmp_path)) == [
        ('a', [TEMPLATE]), ('c', [TEMPLATE]), ('d', [TEMPLATE])]


def test_a_loop_of_includes_ends(tmp_path):
    write(tmp_path, 'pjsip.conf', '[first](pbx-firewall-localnet)\n#include loop.conf\n')
    write(tmp_path, 'loop.conf', '[looped](pbx-firewall-localnet)\n#include pjsip.conf\n#include loop.conf\n')
    assert config.config_sections(str(tmp_path)) == [('first', [TEMPLATE]), ('looped', [TEMPLATE])]


@pytest.mark.parametrize('setup', ['missing', 'directory', 'unreadable-include'])
def test_what_cannot_be_read_is_skipped(tmp_path, setup):
    if setup == 'directory':
        (tmp_path / 'pjsip.conf').mkdir()
    elif setup == 'unreadable-include':
        write(tmp_path, 'pjsip.conf', '[a](pbx-firewall-localnet)\n#include sub\n')
        (tmp_path / 'sub').mkdir()
    expected = [('a', [TEMPLATE])] if setup == 'unreadable-include' else []
    assert config.config_sections(str(tmp_path)) == expected
