# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host lock of pbxops.firewall (private to this collection).

One ``flock`` on ``LOCK_PATH`` serializes the runs of the ``iptables_ruleset`` module on a
host (read, plan and apply) and the rollback watcher's revert. A run that only reads (check
mode) never creates the lock file: it takes the lock when the file already exists and
reads without it otherwise (then no run has ever written on this host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import time

LOCK_PATH = '/run/pbx-firewall.lock'
LOCK_WAIT = 120


class LockTimeout(Exception):
    """Another run held the lock for longer than the wait."""


class Lock:
    """``with Lock(): ...`` holds the host lock; raises LockTimeout after ``wait`` seconds."""

    def __init__(self, path=LOCK_PATH, wait=LOCK_WAIT, create=True):
        self.path = path
        self.wait = wait
        self.create = create
        self.handle = None

    def __enter__(self):
        if self.create:
            directory = os.path.dirname(self.path)
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
            self.handle = open(self.path, 'a')
        else:
            try:
                self.handle = open(self.path, 'r')
            except (IOError, OSError) as exc:
                if exc.errno != errno.ENOENT:
                    raise
                return self
        deadline = time.time() + self.wait
        while True:
            try:
                fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.time() > deadline:
                self.handle.close()
                self.handle = None
                raise LockTimeout('another pbx-firewall run has held %s for %d s; giving up' % (self.path, self.wait))
            time.sleep(0.1)

    @property
    def held(self):
        return self.handle is not None

    def __exit__(self, *exc):
        if self.handle is not None:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None
