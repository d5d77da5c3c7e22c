# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A scratch copy of a configuration directory (private to pbxops.firewall).

Private to this collection (no public API). It owns one promise: a program that reads
the scratch copy reads what it would read in the live directory, with some files replaced
(or taken out), and building the copy writes nothing outside the scratch directory,
whatever symbolic links the live directory holds: links to directories or to files,
chains of links, relative or absolute, dangling, or pointing back into the directory.
The ``fail2ban_config_check`` module tests fail2ban's configuration this way, also in
check mode.

How: real files and directories are copied; every other link becomes an absolute link to
where the live link leads (into the copy when it leads inside the live directory), so it
resolves as it does live, and a write can only ever go to a replaced file. Those files'
directories are real directories of the copy, even where live they are links (their
entries are copied the same way), and each file is created only where nothing is, never
following a link. Sockets, pipes and devices are left out. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import stat


def _inside(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _fill(live_dir, copy_dir, live_root, copy_root, paths):
    """Copy the entries of LIVE_DIR into the existing directory COPY_DIR. PATHS: for each
    replaced file, the components of its directory still below this one (lists)."""
    for name in sorted(os.listdir(live_dir)):
        source, target = os.path.join(live_dir, name), os.path.join(copy_dir, name)
        below = [path[1:] for path in paths if path and path[0] == name]
        on_path = bool(below)
        mode = os.lstat(source).st_mode
        if stat.S_ISLNK(mode):
            leads_to = os.path.realpath(source)
            if on_path:
                # the file's directory: a real directory here, holding what the link leads to
                os.mkdir(target)
                if os.path.isdir(leads_to):
                    _fill(leads_to, target, live_root, copy_root, below)
                continue
            if _inside(leads_to, live_root):
                leads_to = os.path.join(copy_root, os.path.relpath(leads_to, live_root))
            os.symlink(leads_to, target)
        elif stat.S_ISDIR(mode):
            os.mkdir(target)
            _fill(source, target, live_root, copy_root, below)
        elif stat.S_ISREG(mode):
            shutil.copy2(source, target)


def scratch_copy(live, copy, relative, content, also=()):
    """Copy the directory LIVE to COPY (which must not exist yet) with the file RELATIVE
    (a path inside it) holding CONTENT (text), or absent when CONTENT is None; ALSO: more
    (relative, content) pairs of the same kind. Returns the path of RELATIVE in the copy."""
    files = [(relative, content)] + list(also)
    split = []
    for name, _content in files:
        parts = os.path.normpath(name).split(os.sep)
        if os.path.isabs(name) or not parts or parts[0] in (os.pardir, os.curdir, ''):
            raise ValueError('%r is not a file inside %s' % (name, live))
        split.append(parts)
    live_root = os.path.realpath(live)
    os.mkdir(copy)
    copy_root = os.path.realpath(copy)
    _fill(live_root, copy_root, live_root, copy_root, [parts[:-1] for parts in split])
    targets = [_replace(copy_root, live, name, parts, text) for (name, text), parts in zip(files, split)]
    return targets[0]


def _replace(copy_root, live, relative, parts, content):
    """Put CONTENT at RELATIVE (its components PARTS) in the copy, or take it out."""
    folder = copy_root
    for part in parts[:-1]:
        folder = os.path.join(folder, part)
        if not os.path.lexists(folder):        # a directory the live one does not have yet
            os.mkdir(folder)
    # what _fill promises, checked once more before the one write
    if os.path.realpath(folder) != folder or not os.path.isdir(folder) or not _inside(folder, copy_root):
        raise ValueError('%s: the directory of %s in the scratch copy is not a directory of its own'
                         % (live, relative))
    target = os.path.join(folder, parts[-1])
    if os.path.lexists(target):
        if os.path.isdir(target) and not os.path.islink(target):
            raise ValueError('%s is a directory in %s, not a file' % (relative, live))
        os.unlink(target)
    if content is not None:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o644)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(content.encode('utf-8'))
    return target
