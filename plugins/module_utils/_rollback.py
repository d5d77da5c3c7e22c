# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rollback watcher of pbxops.firewall and its marker protocol (private to this collection).

Before an apply that the controller must confirm, the module writes the revert steps to
``RUN_DIR/rollback-<token>.json``, creates the marker ``pending-<token>`` and starts a
detached watcher. The action plugin confirms over a new connection by removing the
pending marker. At the deadline the watcher claims the marker by renaming it to
``claimed-<token>`` (exactly one of the two wins), runs the revert steps under the host
lock and writes its report to ``rolled-back-<token>``. The marker names are defined here
once; the action plugin imports them. The watcher runs this file's source together with
``_steps.py`` (the one executor), so this file stays standard-library only and imports
nothing from the collection at load time.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import json
import os
import re
import sys
import tempfile
import time

RUN_DIR = '/run/pbx-firewall'
PENDING = 'pending-'
CLAIMED = 'claimed-'
ROLLED_BACK = 'rolled-back-'
SPEC = 'rollback-'          # + token + SPEC_SUFFIX
SPEC_SUFFIX = '.json'
MARKER_PREFIXES = (PENDING, CLAIMED, SPEC, ROLLED_BACK)
TOKEN_RE = re.compile(r'^[A-Za-z0-9_-]{1,64}$')
# Module arguments whose names start with this prefix are internal: the action plugin sets
# them and the module takes them out before the documented options are validated.
INTERNAL_PREFIX = '_pbxfw_'
TOKEN_ARG = INTERNAL_PREFIX + 'rollback_token'
# The key of the module result that tells the action plugin to confirm.
RESULT_KEY = '_pbxfw_rollback'


def markers(token, run_dir=RUN_DIR):
    """The marker paths of one run: pending, claimed, done (the report) and spec."""
    return {
        'pending': os.path.join(run_dir, PENDING + token),
        'claimed': os.path.join(run_dir, CLAIMED + token),
        'done': os.path.join(run_dir, ROLLED_BACK + token),
        'spec': os.path.join(run_dir, SPEC + token + SPEC_SUFFIX),
    }


def watcher_script():
    """Python source of the detached watcher: ``detach``, then the executor's file, this file, ``main``.

    Both files are run from their text (the module's payload is deleted when it returns).
    The watcher detaches before it compiles them, so the module waits only for a bare
    interpreter start and a fork (``Rollback.arm``), not for the watcher's imports.
    """
    import inspect
    from ansible_collections.pbxops.firewall.plugins.module_utils import _steps
    this = sys.modules[__name__]
    return '\n'.join([
        'import os',
        'import sys',
        inspect.getsource(detach),
        'detach()',
        'steps = {"__name__": "pbxfw_steps"}',
        'exec(compile(%r, "pbxfw_steps", "exec"), steps)' % inspect.getsource(_steps),
        'rollback = {"__name__": "pbxfw_rollback"}',
        'exec(compile(%r, "pbxfw_rollback", "exec"), rollback)' % inspect.getsource(this),
        'rollback["main"](sys.argv[1], steps["execute"], steps["subprocess_run"])',
        '',
    ])


class Rollback:
    """Arms, updates and disarms the detached rollback watcher of one run.

    ``start(argv) -> (rc, stdout, stderr)`` starts the watcher (the module's run_command).
    """

    def __init__(self, token, timeout, lock_path, start, python=None, run_dir=RUN_DIR):
        if not TOKEN_RE.match(token or ''):
            raise ValueError('rollback token must be 1-64 letters, digits, _ or -, got %r' % (token,))
        self.token = token
        self.timeout = timeout
        self.lock_path = lock_path
        self.start = start
        self.python = python or sys.executable or 'python3'
        self.run_dir = run_dir
        self.paths = markers(token, run_dir)
        self.spec = None

    def _write_spec(self):
        fd, tmp = tempfile.mkstemp(dir=self.run_dir, prefix='.rollback-')
        with os.fdopen(fd, 'w') as handle:
            handle.write(json.dumps(self.spec, sort_keys=True))
        os.rename(tmp, self.paths['spec'])

    def arm(self, steps):
        """Write the spec and the pending marker, start the watcher. Raises OSError or RuntimeError."""
        if not os.path.isdir(self.run_dir):
            os.makedirs(self.run_dir, 0o700)
        self.spec = dict(self.paths, token=self.token, deadline=time.time() + self.timeout, steps=steps,
                         lock=self.lock_path)
        self._write_spec()
        with open(self.paths['pending'], 'w') as handle:
            handle.write('%s\n' % self.token)
        # The watcher must survive the module: it forks twice into a new session and points
        # its standard descriptors at /dev/null, so start() only waits for the first process.
        rc, _out, err = self.start([self.python, '-c', watcher_script(), self.paths['spec']])
        if rc != 0:
            os.unlink(self.paths['pending'])
            raise RuntimeError('could not start the rollback watcher: %s' % err.strip())

    def restart_clock(self):
        """Give the controller the full timeout counted from now (the end of the apply)."""
        self.spec['deadline'] = time.time() + self.timeout
        self._write_spec()
        return self.spec['deadline'] - time.time()

    def disarm(self):
        """Stop the watcher (the module reverts by itself). True if it was still pending."""
        try:
            os.rename(self.paths['pending'], self.paths['claimed'])
        except OSError:
            return False
        os.unlink(self.paths['claimed'])
        return True


# ------------------------------------------------------------------------------------------
# the watcher (runs detached, from this file's text)
# ------------------------------------------------------------------------------------------

def detach():
    """Leave the starting process's session and pipes at once (two forks, /dev/null)."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, 65536)
    os.chdir('/')
    os.umask(0o077)


def _load(path):
    with open(path) as handle:
        return json.load(handle)


def wait_and_revert(spec_path, execute, run, poll=0.25):
    """Wait for the deadline; unless confirmed, claim the marker, revert, write the report.

    Returns the report, or None when the run was confirmed (or the spec vanished).
    """
    while True:
        try:
            spec = _load(spec_path)
        except (OSError, IOError, ValueError):
            return None
        if not os.path.exists(spec['pending']):
            return None
        left = spec['deadline'] - time.time()
        if left <= 0:
            break
        time.sleep(min(left, poll))
    try:
        os.rename(spec['pending'], spec['claimed'])
    except OSError:
        return None
    lock = open(spec['lock'], 'a')
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            results = execute(spec['steps'], run, keep_going=True)
        except Exception as exc:  # the report must be written whatever happens
            results = [{'kind': 'error', 'rc': 1, 'stderr': str(exc)}]
        report = {'token': spec['token'], 'time': time.time(), 'ok': all(r.get('rc') == 0 for r in results),
                  'results': results}
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(spec['done']), prefix='.rollback-')
        with os.fdopen(fd, 'w') as handle:
            handle.write(json.dumps(report, indent=1, sort_keys=True) + '\n')
        os.rename(tmp, spec['done'])
    finally:
        lock.close()
    try:
        os.unlink(spec['claimed'])
    except OSError:
        pass
    return report


def main(spec_path, execute, run):
    """The watcher, once detached (``watcher_script`` calls ``detach`` first)."""
    wait_and_revert(spec_path, execute, run)
