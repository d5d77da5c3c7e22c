# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host lock, on a lock file in tmp_path."""

from __future__ import annotations

import fcntl
import os

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils._lock import Lock, LockTimeout


def test_lock_creates_its_file_and_directory(tmp_path):
    path = tmp_path / 'run' / 'pbx-firewall.lock'
    with Lock(str(path)) as lock:
        assert lock.held
        with open(str(path)) as other, pytest.raises(BlockingIOError):
            fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert path.exists() and not lock.held
    with open(str(path)) as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)   # released


def test_read_only_lock_creates_nothing(tmp_path):
    path = tmp_path / 'run' / 'pbx-firewall.lock'
    with Lock(str(path), create=False) as lock:
        assert not lock.held
    assert os.listdir(str(tmp_path)) == []
    path.parent.mkdir()
    path.write_text('')
    with Lock(str(path), create=False) as lock:
        assert lock.held                       # an existing lock file is used
    assert os.listdir(str(path.parent)) == ['pbx-firewall.lock']


def test_lock_gives_up_after_the_wait(tmp_path):
    path = tmp_path / 'pbx-firewall.lock'
    path.write_text('')
    with open(str(path)) as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        for create in (True, False):
            with pytest.raises(LockTimeout, match=r'another pbx-firewall run has held .*pbx-firewall.lock for 0 s'):
                with Lock(str(path), wait=0, create=create):
                    pass
