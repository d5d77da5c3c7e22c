# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Include lines and local_net blocks as text edits: the same result as the lineinfile and
blockinfile tasks of earlier releases of the role, and a second pass changes nothing."""

from __future__ import annotations

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _text_edits as edits

LINE = '#include pjsip_pbx_firewall.conf'


@pytest.mark.parametrize('text, present, after, expected', [
    ('[t]\ntype=transport\n', True, None, LINE + '\n[t]\ntype=transport\n'),
    (LINE + '\n[t]\n', True, None, LINE + '\n[t]\n'),
    ('[t]\n' + LINE + '\n', True, None, '[t]\n' + LINE + '\n'),            # anywhere counts, as lineinfile
    (None, True, None, LINE + '\n'),
    ('', True, None, LINE + '\n'),
    ('[a]\n[general]\nx=1\n', True, r'^\[general\]', '[a]\n[general]\n' + LINE + '\nx=1\n'),
    ('[general]\n[general]\n', True, r'^\[general\]', '[general]\n[general]\n' + LINE + '\n'),
    ('[a]\nx=1', True, r'^\[general\]', '[a]\nx=1\n' + LINE + '\n'),        # no match: the end
    (LINE + '\n[t]\n' + LINE + '\r\n', False, None, '[t]\n'),
    ('[t]\n', False, None, '[t]\n'),
    (None, False, None, None),
    ('; B\xfcro \udcfc\n[t]\n', True, None, LINE + '\n; B\xfcro \udcfc\n[t]\n'),
])
def test_set_line(text, present, after, expected):
    assert edits.set_line(text, LINE, present, after) == expected


BEGIN = '; BEGIN pbxops.firewall local_net for transport-udp'
END = '; END pbxops.firewall local_net for transport-udp'
NETS = ['local_net=10.0.0.0/8', 'local_net=fd00::/64']


@pytest.mark.parametrize('text, lines, present, expected', [
    ('[transport-udp]\ntype=transport\n', NETS, True,
     '[transport-udp]\n%s\n%s\n%s\n%s\ntype=transport\n' % (BEGIN, NETS[0], NETS[1], END)),
    ('[transport-udp]\n%s\nlocal_net=1.2.3.0/24\n%s\ntype=transport\n' % (BEGIN, END), NETS, True,
     '[transport-udp]\n%s\n%s\n%s\n%s\ntype=transport\n' % (BEGIN, NETS[0], NETS[1], END)),
    ('[transport-udp]\n%s\n%s\n%s\ntype=transport\n' % (BEGIN, NETS[0], END), NETS, False,
     '[transport-udp]\ntype=transport\n'),
    ('[transport-udp]\n%s\n%s\n%s\n' % (BEGIN, NETS[0], END), [], True, '[transport-udp]\n'),
    ('[other]\nx=1', NETS, True, '[other]\nx=1\n%s\n%s\n%s\n%s\n' % (BEGIN, NETS[0], NETS[1], END)),
    ('[transport-udp]\ntype=transport\n', NETS, False, '[transport-udp]\ntype=transport\n'),
])
def test_set_block(text, lines, present, expected):
    assert edits.set_block(text, 'transport-udp', lines, present) == expected
    assert edits.set_block(expected, 'transport-udp', lines, present) == expected      # a rerun changes nothing


def test_sections():
    assert edits.sections('[a]\nx=1\n[b](!)\n ;[c]\n[transport-udp](pbx-firewall-localnet)\n') == [
        'a', 'b', 'transport-udp']
