# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which of the role's owned files must be written or removed: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns one
decision of the role ``pbx_firewall``: given what one ``ansible.builtin.find`` saw on the
host (checksum, mode, owner and group of each owned file it found) and the files the role
wants (path, rendered content, present or not), it returns the files to write (their
content) and the files to remove. A file whose checksum, mode, owner and group already
match is left alone, so a rerun with nothing to change runs no module for it. Pure
Python, no Ansible imports; errors are ``ValueError`` naming the argument and the value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib


def _mode(value, where):
    """'0644', '644', 0o644 or 420 -> 0o644; anything else is an error."""
    if isinstance(value, bool):
        raise ValueError('%s: must be an octal mode such as "0644", got %r' % (where, value))
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip() and set(value.strip()) <= set('01234567'):
        number = int(value.strip(), 8)
    else:
        raise ValueError('%s: must be an octal mode such as "0644", got %r' % (where, value))
    if not 0 <= number <= 0o7777:
        raise ValueError('%s: must be an octal mode between 0000 and 7777, got %r' % (where, value))
    return number


def _checksum(content):
    """The SHA-1 ``find``/``stat`` report for a file holding ``content`` (UTF-8)."""
    return hashlib.sha1(content.encode('utf-8')).hexdigest()


def _wanted_entry(pos, entry):
    where = 'wanted[%d]' % pos
    if not isinstance(entry, dict):
        raise ValueError('%s: must be a mapping with path, part, present and content, got %r' % (where, entry))
    path, part, present = entry.get('path'), entry.get('part'), entry.get('present')
    if not isinstance(path, str) or not path.startswith('/'):
        raise ValueError('%s.path: must be an absolute path, got %r' % (where, path))
    if not isinstance(part, str) or not part:
        raise ValueError('%s.part: must be a non-empty string (the part of the role the file '
                         'belongs to), got %r' % (where, part))
    if not isinstance(present, bool):
        raise ValueError('%s.present: must be true or false, got %r' % (where, present))
    content = entry.get('content')
    if present and not isinstance(content, str):
        raise ValueError('%s.content: must be the text of the file when present is true, got %r'
                         % (where, content))
    return path, part, present, content


def owned_file_changes(found, wanted, owner='root', group='root', mode='0644'):
    """What to do with each owned file.

    ``found``: the ``files`` list of an ``ansible.builtin.find`` run with
    ``get_checksum: true`` (dicts with ``path``, ``checksum``, ``mode``, ``pw_name``,
    ``gr_name``); only the entries whose path is wanted count.
    ``wanted``: a list of ``{path, part, present, content}``; ``content`` is the text the
    file must hold when ``present`` is true.

    Returns ``{'write': {path: content}, 'remove': {part: [path, ...]}, 'found': [path, ...]}``:
    ``write`` holds every present file that is missing or differs in content, mode, owner
    or group; ``remove`` every absent file that exists, grouped by part (every part of
    ``wanted`` has a key, sorted paths); ``found`` the wanted paths that exist, sorted.
    """
    want_mode = _mode(mode, 'mode')
    for name, value in (('owner', owner), ('group', group)):
        if not isinstance(value, str) or not value:
            raise ValueError('%s: must be a user or group name, got %r' % (name, value))
    if not isinstance(wanted, (list, tuple)):
        raise ValueError('wanted: must be a list of {path, part, present, content}, got %r' % (wanted,))
    entries = []
    seen = {}
    for pos, entry in enumerate(wanted):
        path, part, present, content = _wanted_entry(pos, entry)
        if path in seen:
            raise ValueError('wanted[%d].path: %r is also wanted[%d]; each owned file is listed once'
                             % (pos, path, seen[path]))
        seen[path] = pos
        entries.append((path, part, present, content))

    on_host = {}
    for pos, item in enumerate(found or []):
        if not isinstance(item, dict) or not isinstance(item.get('path'), str):
            raise ValueError('found[%d]: must be a file entry of ansible.builtin.find (a mapping with '
                             'path), got %r' % (pos, item))
        if item['path'] in seen:
            on_host[item['path']] = item

    write, remove = {}, {}
    for path, part, present, content in entries:
        remove.setdefault(part, [])
        existing = on_host.get(path)
        if not present:
            if existing is not None:
                remove[part].append(path)
            continue
        if existing is None or not _matches(existing, _checksum(content), want_mode, owner, group):
            write[path] = content
    return {'write': write, 'remove': {part: sorted(paths) for part, paths in remove.items()},
            'found': sorted(on_host)}


def _matches(existing, checksum, mode, owner, group):
    try:
        existing_mode = _mode(existing.get('mode'), 'found mode')
    except ValueError:
        return False
    return (existing.get('checksum') == checksum and existing_mode == mode
            and existing.get('pw_name') == owner and existing.get('gr_name') == group)
