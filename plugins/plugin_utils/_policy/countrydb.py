# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The country database on the controller: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns the
database *files*: their identity (path, size, modification time, inode), reading them
(``geoip.py`` parses the bytes) and a cache of what reading gave.

Parsing a 400,000-line file costs about a second of CPU, and the policy of every host is
compiled in a worker process of its own (Ansible forks per host and task): without a cache
each host of a fleet would parse the database again. The cache keeps, per file identity,
the merged address ranges of each country read so far (one small binary file per country:
a third of the bytes of JSON, and faster to write) and the file's format and date. A
changed file has another identity, so a cached answer is never stale; a cache entry is
written to a temporary file and renamed into place, and misses are computed under one
``flock`` so that hosts compiled at the same moment parse the file once. At most ``KEEP``
file identities are kept (the oldest used are removed). Any problem with the cache (not
writable, a damaged entry) only costs a parse.

What the country networks' and the blocklist's sets came to is kept next to it, in the
same cache directory, by ``results_cache.py``.

Where: ``$PBX_FIREWALL_CACHE_DIR``, else ``$XDG_CACHE_HOME/pbxops.firewall``, else
``~/.cache/pbxops.firewall``; an empty ``PBX_FIREWALL_CACHE_DIR`` turns the cache off.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import array
import datetime
import errno
import hashlib
import itertools
import json
import os
import shutil
import sys

from ansible_collections.pbxops.firewall.plugins.plugin_utils._run_cache import write_atomically
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import geoip

try:
    import fcntl
except ImportError:   # pragma: no cover - not on POSIX: no lock, at worst a file is parsed twice
    fcntl = None

# Debian's tor-geoipdb package (IPFire location data, CC BY-SA 4.0).
DEFAULT_PATHS = ('/usr/share/tor/geoip', '/usr/share/tor/geoip6')
CACHE_FORMAT = 2          # bump when what a cache entry holds changes
KEEP = 8


def identity(path):
    """What tells one version of a file from another, as plain data (``missing`` when absent)."""
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
    except OSError as exc:
        return {'path': real, 'missing': os.strerror(exc.errno or errno.ENOENT)}
    return {'path': real, 'size': info.st_size, 'mtime_ns': info.st_mtime_ns,
            'inode': info.st_ino, 'device': info.st_dev}


def fingerprint(paths):
    """The identities of ``paths``: what a cache of compile results must key on besides the
    inventory, since the compile reads these files."""
    return [identity(path) for path in paths]


def default_cache_dir(environ=None):
    environ = os.environ if environ is None else environ
    if 'PBX_FIREWALL_CACHE_DIR' in environ:
        return environ['PBX_FIREWALL_CACHE_DIR'] or None
    base = environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'pbxops.firewall')


class FileData(object):
    """One database file: where it is, its format and date, and per country asked for its
    merged ranges ``{4: [(first, last)], 6: [...]}``."""

    def __init__(self, path, fmt, date, families, ranges):
        self.path = path
        self.format = fmt
        self.date = date              # datetime.date
        self.families = families
        self.ranges = ranges

    def describe(self):
        return '%s (%s)' % (self.path, self.date.isoformat())


def write_json(path, value):
    """Write ``value`` to ``path`` in one rename (a reader sees a whole entry or none).
    json.dumps, not json.dump: dump streams through the pure-Python encoder (1.3 s for ten
    countries' ranges), dumps uses the C one (0.1 s)."""
    write_atomically(path, json.dumps(value, separators=(',', ':')).encode('ascii'))


# A country's ranges file: the number of IPv4 ranges (COUNT_BYTES), then every range's first and
# last address, big-endian, the IPv4 ones (4 bytes each) before the IPv6 ones (16 bytes each).
COUNT_BYTES = 8
NUMBER_BYTES = {4: 4, 6: 16}


def _ipv4_array(numbers=()):
    """An array of 32-bit unsigned integers ('I' is 4 bytes on the platforms Ansible runs on)."""
    found = array.array('I', numbers)
    if found.itemsize != NUMBER_BYTES[4]:
        raise ValueError('no 32-bit array type')
    return found


def pack_ranges(ranges):
    """One country's ``{4: range list, 6: range list}`` as the bytes of its cache file."""
    ipv4 = _ipv4_array(itertools.chain.from_iterable(ranges[4]))
    if sys.byteorder == 'little':
        ipv4.byteswap()
    numbers = itertools.chain.from_iterable(ranges[6])
    ipv6 = map(int.to_bytes, numbers, itertools.repeat(NUMBER_BYTES[6]), itertools.repeat('big'))
    return len(ranges[4]).to_bytes(COUNT_BYTES, 'big') + ipv4.tobytes() + b''.join(ipv6)


def unpack_ranges(data):
    """What pack_ranges packed; ValueError for bytes it cannot have written."""
    ipv4_end = COUNT_BYTES + int.from_bytes(data[:COUNT_BYTES], 'big') * 2 * NUMBER_BYTES[4]
    if len(data) < max(ipv4_end, COUNT_BYTES) or (len(data) - ipv4_end) % (2 * NUMBER_BYTES[6]):
        raise ValueError('not a ranges file of %d bytes' % len(data))
    ipv4 = _ipv4_array()
    ipv4.frombytes(data[COUNT_BYTES:ipv4_end])
    if sys.byteorder == 'little':
        ipv4.byteswap()
    size = NUMBER_BYTES[6]
    pieces = map(data.__getitem__, map(slice, range(ipv4_end, len(data), size), range(ipv4_end + size, len(data) + size, size)))
    ipv6 = map(int.from_bytes, pieces, itertools.repeat('big'))
    ipv4 = iter(ipv4)
    return {4: list(zip(ipv4, ipv4)), 6: list(zip(ipv6, ipv6))}     # the same iterator twice: in pairs


def _mtime_date(info):
    return datetime.datetime.fromtimestamp(info['mtime_ns'] / 1e9, datetime.timezone.utc).date()


def _parse(path, info, countries):
    with open(info['path'], 'rb') as handle:
        data = handle.read()
    parsed = geoip.parse(data, countries)
    date = parsed.date or _mtime_date(info)
    return {'format': parsed.format, 'date': date.isoformat(), 'families': parsed.families}, parsed.ranges


class _Cache(object):
    """The per-identity directory of one file's cached parse (see the file's docstring)."""

    def __init__(self, root, info):
        self.base = os.path.join(root, 'geoip')
        key = json.dumps([CACHE_FORMAT, info], sort_keys=True).encode('utf-8')
        self.dir = os.path.join(self.base, hashlib.sha256(key).hexdigest()[:32])
        self.info = info

    def read(self, countries):
        """(meta, {country: ranges}) for the countries found; (None, {}) without meta."""
        try:
            with open(os.path.join(self.dir, 'meta.json')) as handle:
                meta = json.load(handle)
        except (OSError, ValueError):
            return None, {}
        found = {}
        for country in countries:
            try:
                with open(os.path.join(self.dir, '%s.ranges' % country), 'rb') as handle:
                    found[country] = unpack_ranges(handle.read())
            except (OSError, ValueError):
                continue
        try:
            os.utime(self.dir)        # used: kept longer than the others
        except OSError:
            pass
        return meta, found

    def write(self, meta, ranges):
        os.makedirs(self.dir, exist_ok=True)
        for country, per in ranges.items():
            write_atomically(os.path.join(self.dir, '%s.ranges' % country), pack_ranges(per))
        write_json(os.path.join(self.dir, 'meta.json'), meta)
        self._prune()

    def _prune(self):
        """Keep this file's newest identity only, and at most KEEP identities in all."""
        entries = []
        for name in os.listdir(self.base):
            path = os.path.join(self.base, name)
            if path == self.dir or not os.path.isdir(path):
                continue
            try:
                with open(os.path.join(path, 'meta.json')) as handle:
                    same_file = json.load(handle).get('path') == self.info['path']
                entries.append((os.stat(path).st_mtime, path, same_file))
            except (OSError, ValueError, AttributeError):
                entries.append((0, path, True))       # damaged: remove
        entries.sort(reverse=True)
        for position, (_mtime, path, same_file) in enumerate(entries):
            if same_file or position + 1 >= KEEP:
                shutil.rmtree(path, ignore_errors=True)


class _Lock(object):
    def __init__(self, root):
        self.path = os.path.join(root, 'geoip', '.lock')
        self.handle = None

    def __enter__(self):
        if fcntl is not None:
            try:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                self.handle = open(self.path, 'a')
                fcntl.flock(self.handle, fcntl.LOCK_EX)
            except OSError:
                self.handle = None
        return self

    def __exit__(self, *exc):
        if self.handle is not None:
            self.handle.close()


def read_file(path, countries, cache_dir=None):
    """FileData of one database file for ``countries`` (upper-case ISO codes).

    Raises geoip.DatabaseError (the bad line) or OSError (the file cannot be read).
    """
    info = identity(path)
    if 'missing' in info:
        raise OSError(errno.ENOENT, info['missing'], path)
    countries = sorted(set(countries))
    cache = _Cache(cache_dir, info) if cache_dir else None
    meta, ranges = cache.read(countries) if cache else (None, {})
    missing = [c for c in countries if c not in ranges]
    if meta is None or missing:
        with _Lock(cache_dir) if cache else _NoLock():
            if cache:
                meta, ranges = cache.read(countries)
                missing = [c for c in countries if c not in ranges]
            if meta is None or missing:
                meta, parsed = _parse(path, info, missing)
                ranges.update(parsed)
                meta['path'] = info['path']
                if cache and identity(path) == info:     # unchanged while it was read
                    try:
                        cache.write(meta, parsed)
                    except OSError:
                        pass
    date = datetime.date.fromisoformat(meta['date'])
    return FileData(path, meta['format'], date, meta['families'], ranges)


class _NoLock(object):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
