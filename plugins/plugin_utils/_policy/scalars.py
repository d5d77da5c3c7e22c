# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Text, numbers and booleans from the inventory: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns what
a single inventory value may be before the rest of the controller core uses it:

* text that reaches a rule, a file or a comment must survive ``iptables-save`` and
  every reader of its output: no control characters, no line or paragraph
  separators (``str.splitlines`` ends a line at U+0085, U+2028 and U+2029), no
  invisible format characters, no lone surrogates (not encodable as UTF-8);
* numbers are written with the ASCII digits 0-9 only; other digits (Arabic-Indic,
  superscripts, full-width ...) are refused with the ASCII number they look like;
* numbers and booleans may also come as strings, the way ``-e name=value`` on the
  command line gives them ("20", "false", "yes"): every option takes them alike.

Pure Python, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import unicodedata

# Characters after which str.splitlines() starts a new line (and so would a reader
# of iptables-save output that splits lines the Python way).
LINE_BREAKS = frozenset('\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029')
REFUSED_CATEGORIES = {
    'Cc': 'a control character',
    'Cf': 'an invisible format character',
    'Cs': 'a lone surrogate (not valid Unicode text)',
    'Zl': 'a line separator',
    'Zp': 'a paragraph separator',
}
ASCII_DIGITS = frozenset('0123456789')
TRUE_STRINGS = ('true', 'yes', 'on', '1', 't', 'y')
FALSE_STRINGS = ('false', 'no', 'off', '0', 'f', 'n')
CONTROL_NAMES = {'\n': 'LINE FEED', '\r': 'CARRIAGE RETURN', '\t': 'TAB', '\x00': 'NUL',
                 '\x85': 'NEXT LINE'}
CATEGORY_NAMES = {'Cc': 'control character', 'Cs': 'surrogate'}
BOOL_VALID = 'valid: true or false (from the command line also yes/no, on/off, 1/0)'


def type_name(value):
    """The inventory type of ``value`` as messages name it (null, boolean, integer ...)."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, int):
        return 'integer'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, (list, tuple)):
        return 'list'
    if isinstance(value, dict):
        return 'mapping'
    return type(value).__name__


def char_label(char):
    """U+2028 LINE SEPARATOR: how an error message names one character."""
    try:
        name = unicodedata.name(char)
    except ValueError:
        name = CONTROL_NAMES.get(char) or CATEGORY_NAMES.get(unicodedata.category(char),
                                                             'unnamed character')
    return 'U+%04X %s' % (ord(char), name)


def text_problem(text):
    """Why ``text`` cannot reach a rule, a file or a comment as it is; None when it can."""
    if text.isascii() and text.isprintable():
        return None     # printable ASCII has no line break, control or format character
    for char in text:
        if char in LINE_BREAKS:
            return 'must be one line; %s ends a line' % char_label(char)
        category = unicodedata.category(char)
        if category in REFUSED_CATEGORIES:
            return 'contains %s, %s; write it without' % (REFUSED_CATEGORIES[category],
                                                          char_label(char))
    return None


def text_error(path, value):
    """One error line for a string that cannot go into a rule or file, or None."""
    problem = text_problem(value)
    if problem is None:
        return None
    return '%s: %s; got %r' % (path, problem, value)


def ascii_digits_hint(text):
    """'20' for '٢٠' or '²⁰': the ASCII number a string of other digits looks like, or None."""
    converted = []
    for char in text:
        if char in ASCII_DIGITS:
            converted.append(char)
            continue
        digit = unicodedata.digit(char, None)
        if digit is None:
            converted.append(char)
        else:
            converted.append(str(digit))
    hint = ''.join(converted)
    return hint if hint != text else None


def non_ascii_digit(text):
    """The first character of ``text`` that is a digit but not 0-9, or None."""
    for char in text:
        if char not in ASCII_DIGITS and unicodedata.digit(char, None) is not None:
            return char
    return None


def parse_int(value):
    """An int, or a string of ASCII digits with an optional leading '-'. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError('is a boolean, not a number')
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip(' ')
        digits = text[1:] if text.startswith('-') else text
        if digits and all(char in ASCII_DIGITS for char in digits):
            return int(text)
        odd = non_ascii_digit(text)
        if odd is not None:
            hint = ascii_digits_hint(text)
            raise ValueError('numbers are written with the ASCII digits 0-9 only, %r is %s%s'
                             % (odd, char_label(odd),
                                '; did you mean %s?' % hint if hint else ''))
    raise ValueError('is not a number')


def parse_bool(value):
    """True/False, also from the strings -e gives ("false", "yes", "1") and from 0/1."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        text = value.strip(' ').lower()
        if text in TRUE_STRINGS:
            return True
        if text in FALSE_STRINGS:
            return False
    raise ValueError(BOOL_VALID)
