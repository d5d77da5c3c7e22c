# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the sets came to, kept on the controller across runs: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). Turning ten
countries' ranges into 360,000 set members costs more than reading the ranges, and parsing a
50,000-line blocklist feed would be most of a compile with a warm country cache; the same
inputs give the same members on every run and host. ``sets.py`` keeps both here
(``read_result``/``write_result``). An entry's name is the SHA-256 of everything the sets
depend on (the database files' identities, the feeds' contents, the networks, the exempt
subnets), so a changed input never reads an old entry; it is written in one rename, and at
most ``KEEP_RESULTS`` are kept (the least recently used are removed). It lives in the
country database's cache directory (``countrydb.default_cache_dir``), in ``results/`` beside
the database's entries; a cache that cannot be read or written only costs the computation.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import countrydb

KEEP_RESULTS = 16


def _result_path(cache_dir, key):
    name = hashlib.sha256(json.dumps([countrydb.CACHE_FORMAT, key], sort_keys=True).encode('utf-8')).hexdigest()[:32]
    # beside the database's own entries (``geoip/``), not among them: pruning those removes any
    # directory it does not recognise
    return os.path.join(cache_dir, 'results', name + '.json')


def read_result(cache_dir, key):
    """What write_result stored under ``key`` (plain data), or None."""
    if not cache_dir:
        return None
    path = _result_path(cache_dir, key)
    try:
        with open(path) as handle:
            value = json.load(handle)
        os.utime(path)            # used: kept longer than the others
    except (OSError, ValueError):
        return None
    return value


def write_result(cache_dir, key, value):
    """Keep ``value`` (plain data) under ``key``; a cache that cannot be written is skipped."""
    if not cache_dir:
        return
    path = _result_path(cache_dir, key)
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        countrydb.write_json(path, value)
        entries = sorted((os.stat(os.path.join(folder, n)).st_mtime, n) for n in os.listdir(folder) if n.endswith('.json'))
        for _mtime, name in entries[:-KEEP_RESULTS]:
            os.unlink(os.path.join(folder, name))
    except OSError:
        pass
