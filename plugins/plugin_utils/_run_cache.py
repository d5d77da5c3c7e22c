# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A cache that lives as long as one Ansible run, on the controller: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It lets hosts with
the same inputs share one policy compile, and one answer per trunk name, per run.

Ansible runs every task of every host in a worker process forked for it, so a dict in
memory dies with the worker. The cache keeps each entry as a file in the run's own
temporary directory on the controller (``DEFAULT_LOCAL_TMP``: each ``ansible-playbook`` or
``ansible`` run makes its own, every worker inherits its path, and the run removes it when it
ends), so an entry never outlives the run and never reaches another run. An entry's name is
the SHA-256 of a canonical encoding of every input of the computation, in which every value
keeps its type (``1`` and ``"1"``, ``true`` and ``1`` differ), so different inputs never
share an entry. An entry is written to a temporary file and renamed into place, so a worker
reads a whole entry or none. Ansible starts the same task for every host at once (one worker
per fork): the first worker to miss an entry computes it under a lock on that entry, and the
others wait for it and read its result instead of computing it again (an empty ``.lock`` file
per entry, next to it).
The cache is bounded (``MAX_ENTRIES`` entries, ``MAX_BYTES`` bytes); beyond that, results are
computed and not stored. Results are returned as decoded from their stored JSON whether they
were stored, found or not stored, so a cached run and an uncached one give the same data.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import hashlib
import json
import os
import tempfile

MAX_ENTRIES = 4096
MAX_BYTES = 256 * 1024 * 1024
FORMAT = 1          # part of every key: a change of the stored format never reads old entries


def canonical(value):
    """An encoding of plain data (dict, list, tuple, str, int, float, bool, None) that is the
    same for equal values and different for values of different types or contents."""
    if value is None:
        return ['n']
    if isinstance(value, bool):
        return ['b', value]
    if isinstance(value, int):
        return ['i', value]
    if isinstance(value, float):
        return ['f', repr(value)]
    if isinstance(value, str):
        return ['s', value]
    if isinstance(value, (list, tuple)):
        return ['l'] + [canonical(item) for item in value]
    if isinstance(value, dict):
        items = [(json.dumps(canonical(k), separators=(',', ':')), canonical(v)) for k, v in value.items()]
        return ['d'] + [[key, item] for key, item in sorted(items, key=lambda pair: pair[0])]
    raise TypeError('cannot key the cache on a %s' % type(value).__name__)


def key(*inputs):
    text = json.dumps(canonical([FORMAT, list(inputs)]), separators=(',', ':'), ensure_ascii=True)
    return hashlib.sha256(text.encode('ascii')).hexdigest()


def run_directory():
    """The run's own temporary directory on the controller."""
    from ansible import constants as C
    return C.DEFAULT_LOCAL_TMP


def write_atomically(path, data):
    """Put ``data`` (bytes) at ``path`` through a temporary file in the same directory renamed
    over it, so a reader sees a whole file or none; on a failure the temporary file is removed
    and the error raised. The controller's one such writer (this cache, the country database's);
    the host's is ``module_utils/_steps.write_atomically``."""
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.part-')
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
        os.rename(temp, path)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise


class RunCache(object):
    """One kind of entry (``policy``, ``dns``) in the run's directory (or ``directory``)."""

    def __init__(self, kind, directory=None, max_entries=MAX_ENTRIES, max_bytes=MAX_BYTES):
        self.directory = os.path.join(directory or run_directory(), 'pbxops.firewall-cache', kind)
        self.max_entries, self.max_bytes = max_entries, max_bytes

    def _path(self, name):
        return os.path.join(self.directory, name + '.json')

    def get(self, name):
        """(True, value) of a stored entry, (False, None) when there is none."""
        try:
            with open(self._path(name), 'rb') as handle:
                return True, json.loads(handle.read().decode('utf-8'))
        except (OSError, IOError, ValueError):
            return False, None

    def _room_for(self, size):
        try:
            entries = [e for e in os.scandir(self.directory) if e.name.endswith('.json')]
            used = sum(e.stat().st_size for e in entries)
        except OSError:
            entries, used = [], 0
        return len(entries) < self.max_entries and used + size <= self.max_bytes

    def put(self, name, data):
        """Store DATA (the JSON bytes of an entry) unless the cache is full; False then."""
        if not self._room_for(len(data)):
            return False
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            write_atomically(self._path(name), data)
        except (OSError, IOError):
            return False
        return True

    def compute(self, inputs, function):
        """The result of ``function()`` for these INPUTS: computed once per run, by the first
        worker that needs it while the others wait. Inputs of a type the key cannot encode are
        computed every time (the function reports what is wrong with them)."""
        try:
            name = key(*inputs)
        except TypeError:
            name = None
        if name is None:
            return self._plain(function())
        found, value = self.get(name)
        if found:
            return value
        if not self._room_for(0):
            return self._plain(function())      # full: nothing would be stored, so nothing to wait for
        with self._lock(name):
            found, value = self.get(name)        # computed by the worker we waited for
            if found:
                return value
            data = self._encode(function())
            self.put(name, data)
        return json.loads(data.decode('utf-8'))

    def _lock(self, name):
        return _EntryLock(self.directory, name)

    @staticmethod
    def _encode(value):
        return json.dumps(value, sort_keys=True, separators=(',', ':')).encode('utf-8')

    def _plain(self, value):
        return json.loads(self._encode(value).decode('utf-8'))


class _EntryLock(object):
    """An exclusive lock on one entry, held while it is computed; no lock when the directory
    cannot be made (then every worker computes, as without a cache)."""

    def __init__(self, directory, name):
        self.path = os.path.join(directory, '.%s.lock' % name)
        self.directory = directory
        self.fd = None

    def __enter__(self):
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:
            self.__exit__()
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)       # releases the lock
            self.fd = None


def cached_resolver(resolve, cache=None):
    """RESOLVE (a host name -> [addresses] function that raises OSError) with one lookup per
    name per run: every host of the run gets the same answer, an error included."""
    cache = cache or RunCache('dns')

    def lookup(name):
        def answer():
            try:
                return {'addresses': list(resolve(name))}
            except (OSError, UnicodeError) as exc:
                return {'error': str(exc)}
        found = cache.compute(['dns', name], answer)
        if 'error' in found:
            raise OSError(found['error'])
        return found['addresses']
    return lookup
