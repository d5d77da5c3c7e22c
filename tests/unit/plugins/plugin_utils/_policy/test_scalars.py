# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""scalars.py: one text, number or boolean of the inventory, (input, exact result or error)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import scalars


@pytest.mark.parametrize('text, problem', [
    ('Office LAN', None),
    ('Zürich – Офис 😀', None),
    ('a\u3000b', None),                          # an ideographic space is a space: fine
    ('\U000e0000', None),                        # unassigned: its bytes round-trip
    ('a\u2028b', 'must be one line; U+2028 LINE SEPARATOR ends a line'),
    ('a\u2029b', 'must be one line; U+2029 PARAGRAPH SEPARATOR ends a line'),
    ('a\x85b', 'must be one line; U+0085 NEXT LINE ends a line'),
    ('a\x1cb', 'must be one line; U+001C control character ends a line'),
    ('a\x0cb', 'must be one line; U+000C control character ends a line'),
    ('a\rb', 'must be one line; U+000D CARRIAGE RETURN ends a line'),
    ('a\x00b', 'contains a control character, U+0000 NUL; write it without'),
    ('a\x7fb', 'contains a control character, U+007F control character; write it without'),
    ('a\ud800b', 'contains a lone surrogate (not valid Unicode text), U+D800 surrogate; write it '
                 'without'),
    ('a\u200bb', 'contains an invisible format character, U+200B ZERO WIDTH SPACE; write it without'),
])
def test_text_problem(text, problem):
    assert scalars.text_problem(text) == problem


@pytest.mark.parametrize('value, expected', [
    (20, 20), ('20', 20), (' 20 ', 20), ('-3', -3), ('0', 0), ('007', 7),
])
def test_parse_int(value, expected):
    assert scalars.parse_int(value) == expected


@pytest.mark.parametrize('value, message', [
    (True, 'is a boolean, not a number'),
    (2.5, 'is not a number'),
    ('', 'is not a number'),
    ('2 0', 'is not a number'),
    ('٢٠', "numbers are written with the ASCII digits 0-9 only, '٢' is U+0662 ARABIC-INDIC DIGIT "
           "TWO; did you mean 20?"),
    ('2²', "numbers are written with the ASCII digits 0-9 only, '²' is U+00B2 SUPERSCRIPT TWO; "
           "did you mean 22?"),
    ('๒x', "numbers are written with the ASCII digits 0-9 only, '๒' is U+0E52 THAI DIGIT TWO; "
           "did you mean 2x?"),
])
def test_parse_int_errors(value, message):
    with pytest.raises(ValueError) as excinfo:
        scalars.parse_int(value)
    assert str(excinfo.value) == message


@pytest.mark.parametrize('value, expected', [
    (True, True), (False, False), (1, True), (0, False), ('true', True), ('False', False),
    ('YES', True), ('no', False), ('on', True), ('off', False), ('1', True), ('0', False),
    ('y', True), ('n', False), ('t', True), ('f', False),
])
def test_parse_bool(value, expected):
    assert scalars.parse_bool(value) is expected


@pytest.mark.parametrize('value', ['maybe', '', 2, -1, 1.0, None, [], 'truee', '١'])
def test_parse_bool_errors(value):
    with pytest.raises(ValueError) as excinfo:
        scalars.parse_bool(value)
    assert str(excinfo.value) == scalars.BOOL_VALID
