# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether the role's files task may take the firewall task's reading of its files: private.

This file is private to the pbxops.firewall collection (no stable API). The role's firewall
module runs on every host; given the options of the files task (``KEYS``) it also reads
whether the owned files already hold what that task would leave (``_owned_files.current``).
Its action plugin stamps that answer with ``digest`` of the options it read them for and of
the play; the files task's action plugin takes the answer, and runs no module, only when its
own options give the same digest: the same files, parts (after the run's tags), switch and
transports, in the same play.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.pbxops.firewall.plugins.plugin_utils._role_tags import selected_parts

# the options of owned_files that say what its files hold
KEYS = ('files', 'parts', 'enabled', 'asterisk')


def narrowed(options, run_tags, skip_tags):
    """OPTIONS (of owned_files) with ``parts`` narrowed to those the run's tags select: a part
    not selected gets ``manage: false``; every part of ``files`` is listed."""
    files = options.get('files') or []
    names = [entry.get('part') for entry in files if isinstance(entry, dict)]
    parts = dict((name, dict(spec)) for name, spec in (options.get('parts') or {}).items()
                 if isinstance(spec, dict))
    chosen = selected_parts(names + sorted(parts), run_tags, skip_tags)
    for name in set(names) | set(parts):
        parts.setdefault(name, {})
        if name not in chosen:
            parts[name]['manage'] = False
    return dict(options, parts=parts)


def managed(options):
    """Whether OPTIONS (narrowed) manage a part: otherwise neither task reads or writes a file."""
    return any(boolean(spec.get('manage', True), strict=False) for spec in options['parts'].values())


def play_id(task):
    """The id of TASK's play: a firewall task's answer from an earlier play is not taken."""
    try:
        return task.get_play()._uuid
    except AttributeError:
        return None


def digest(options, play):
    """Digest of the options of KEYS of OPTIONS, and of PLAY (the play's id)."""
    data = json.dumps([play] + [options.get(key) for key in KEYS], sort_keys=True, default=str)
    return hashlib.sha256(data.encode('utf-8')).hexdigest()
