# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lines the role pbx_firewall keeps in other files' text: private to this collection.

Private to this collection (no public API). Pure functions over a configuration file's text:
the ``#include`` line an owned file needs in another file (added at the top or after a
section header, removed when the file goes) and the ``local_net`` block the role keeps inside
a named section of ``pjsip.conf``, between its own marker lines. They give what Ansible's
``lineinfile`` and ``blockinfile`` gave with the same arguments (earlier releases of the role
used them), so a host they edited is already in the wanted state. Texts are ``str`` decoded
with ``surrogateescape`` (``decode``), so a file that is not UTF-8 goes back byte for byte.
Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

ENCODING = 'utf-8'
ERRORS = 'surrogateescape'
SECTION = re.compile(r'^\[([^\]]+)\]', re.M)
BLOCK_MARKER = '; %s pbxops.firewall local_net for %s'


def decode(data):
    return data.decode(ENCODING, ERRORS)


def encode(text):
    return text.encode(ENCODING, ERRORS)


def _lines(text):
    return text.splitlines(True)


def _bare(line):
    return line.rstrip('\r\n')


def has_line(text, line):
    return any(_bare(current) == line for current in _lines(text or ''))


def set_line(text, line, present, after=None):
    """TEXT with LINE present once (where missing: at the top, or after the last line that
    ``after`` matches, or at the end when none does) or with every copy of it removed.
    None stands for a missing file (it stays missing when the line is to be absent)."""
    if present:
        if has_line(text, line):
            return text
        lines = _lines(text or '')
        if after is None:
            index = 0
        else:
            matches = [i for i, current in enumerate(lines) if re.search(after, current)]
            index = matches[-1] + 1 if matches else len(lines)
        if index > 0 and not lines[index - 1].endswith('\n'):
            lines[index - 1] += '\n'
        lines.insert(index, line + '\n')
        return ''.join(lines)
    if text is None:
        return None
    return ''.join(current for current in _lines(text) if _bare(current) != line)


def sections(text):
    """The section names of an Asterisk configuration text, in order."""
    return SECTION.findall(text or '')


def set_block(text, section, lines, present):
    """TEXT with the role's block for SECTION: its marker lines around LINES, right after the
    section's header (the last one when it repeats; the end when there is none), replacing a
    block already there. Absent, or no lines: the block is removed."""
    begin, end = BLOCK_MARKER % ('BEGIN', section), BLOCK_MARKER % ('END', section)
    current = _lines(text or '')
    bare = [_bare(line) for line in current]
    first = bare.index(begin) if begin in bare else None
    last = bare.index(end) if end in bare else None
    block = [begin + '\n'] + [line + '\n' for line in lines] + [end + '\n'] if present and lines else []
    if first is None or last is None:
        if not block:
            return text
        header = re.compile(r'^\[%s\]' % re.escape(section))
        matches = [i for i, line in enumerate(current) if header.search(line)]
        index = matches[-1] + 1 if matches else len(current)
    else:
        index = min(first, last)
        del current[index:max(first, last) + 1]
    if index > 0 and not current[index - 1].endswith('\n'):
        current[index - 1] += '\n'
    current[index:index] = block
    return ''.join(current)
