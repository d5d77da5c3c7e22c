# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reading Asterisk's configuration files the way Asterisk does (private to pbxops.firewall).

Private to this collection (no public API). It owns one question of the
``asterisk_localnet_apply`` module: which sections does ``pjsip.conf`` define, with which
templates, once every file it includes is read? It follows Asterisk's own reader
(``main/config.c``):

* files are bytes: any encoding, and bytes that are not UTF-8 (``; Telefonanlage B\\xfc``)
  never stop the reading (names are compared as text; such bytes become U+FFFD);
* a ``;`` starts a comment to the end of the line, unless it is written ``\\;``;
  ``;--`` starts a block comment that ``--;`` ends, and block comments nest;
* ``#include`` and ``#tryinclude`` (directive names in any case, right after the ``#``)
  take a file name, optionally in ``"..."`` or ``<...>``; a relative name is relative
  to the configuration directory, not to the including file; the name is a glob pattern
  (``pjsip.d/*.conf``), whose matches are read in sorted order; an include that is a
  directory or missing is skipped (for ``#include`` Asterisk then refuses the whole
  file: the read-back shows that);
* includes nest at most ten deep (Asterisk's default ``maxincludelevel``), so a loop ends;
* ``#exec`` runs a program only when Asterisk is told to; its output is not read here.

Standard library only; reading never raises for what a file holds (an unreadable file is
skipped too).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

MAX_INCLUDE_LEVEL = 10
SECTION = re.compile(r'^\[([^\]]*)\](?:\(([^)]*)\))?')
DIRECTIVE = re.compile(r'^#(\S*)\s*(.*)$')


def _read(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _lines(raw):
    """The lines of a file with comments taken out, as Asterisk strips them."""
    depth = 0
    for line in raw.decode('utf-8', 'replace').splitlines():
        kept = []
        start = 0                                 # where the scan for the next ';' starts
        while True:
            index = line.find(';', start)
            if index < 0:
                if not depth:
                    kept.append(line[start:])
                break
            if not depth:
                kept.append(line[start:index])
            if index > start and line[index - 1] == '\\':
                if not depth:                     # an escaped semicolon is text
                    kept[-1] = kept[-1][:-1] + ';'
                start = index + 1
            elif line.startswith(';--', index) and not line.startswith(';---', index):
                depth += 1
                start = index + 3
            elif index >= start + 2 and line[index - 2:index] == '--' and depth:
                depth -= 1
                start = index + 1
            elif depth:
                start = index + 1
            else:
                break                             # a line comment: the rest goes
        yield ''.join(kept).strip()


def _include_target(argument):
    """The file name of an #include argument: one pair of "" or <> quotes removed."""
    argument = argument.strip()
    for opening, closing in (('"', '"'), ('<', '>')):
        if len(argument) >= 2 and argument[0] == opening and argument[-1] == closing:
            return argument[1:-1]
    return argument


def _paths(config_dir, name):
    """The files an include of NAME reads: its glob matches in sorted order."""
    path = name if os.path.isabs(name) else os.path.join(config_dir, name)
    if glob.has_magic(path):
        return sorted(glob.glob(path))
    return [path]


def config_sections(config_dir, filename='pjsip.conf'):
    """[(section, [templates])] of FILENAME and every file it includes, in Asterisk's order."""
    sections = []
    _read_file(config_dir, filename, sections, [])
    return sections


def _read_file(config_dir, name, sections, stack):
    for path in _paths(config_dir, name):
        if len(stack) >= MAX_INCLUDE_LEVEL or path in stack or not os.path.isfile(path):
            continue
        raw = _read(path)
        if raw is None:
            continue
        for line in _lines(raw):
            directive = DIRECTIVE.match(line)
            if directive:
                if directive.group(1).lower() in ('include', 'tryinclude') and directive.group(2):
                    _read_file(config_dir, _include_target(directive.group(2)), sections, stack + [path])
                continue
            section = SECTION.match(line)
            if section:
                templates = [t.strip() for t in (section.group(2) or '').split(',') if t.strip()]
                sections.append((section.group(1), templates))


def inheriting(config_dir, template, filename='pjsip.conf'):
    """Names of the sections of FILENAME (and its includes) that inherit TEMPLATE."""
    return set(name for name, templates in config_sections(config_dir, filename) if template in templates)
