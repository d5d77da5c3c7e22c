# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rollback watcher of pbxops.firewall, its confirmation and its markers (private to this collection).

Before an apply that the controller must confirm, the module writes the run's spec to
``RUN_DIR/rollback-<token>.json`` (the revert steps of the rules, the boot-file steps), its
window ``rollback-<token>.window`` (the deadline), the script ``rollback-<token>.py`` that
the watcher and the confirmation run, creates the marker ``pending-<token>`` and starts the
detached watcher (in a transient systemd scope where systemd runs, so that the end of the
SSH session cannot kill it). While the module still works after the commit (ending flows)
it *holds* the watcher; its window starts when the module is done (``restart_clock``). Only
the small window file is rewritten then: the spec holds the boot files (megabytes with
countries) and is written once.

The action plugin confirms over a new connection by running the script's ``confirm``: it
renames ``pending`` to ``confirming`` (exactly one of it and the watcher's claim wins),
writes the boot files (so boot files only ever hold confirmed rules), and leaves
``confirmed-<token>``. At the deadline the watcher claims the marker by renaming it to
``claimed-<token>``, and under the host lock reverts the rules, unless another apply has
changed the owned state of this network namespace since (``current-<netns>`` names the
token of the last apply): then it leaves that state alone and reports ``superseded``. The
boot files need no revert: an unconfirmed run never wrote them. A run that finds another
run's window open in its network namespace waits for it to close (``open_windows``).

The marker names are defined here once; the action plugin imports them. The watcher runs
this file's source together with ``_steps.py`` (the one executor), so this file stays
standard-library only and imports nothing from the collection at load time.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import contextlib
import fcntl
import json
import os
import re
import signal
import sys
import tempfile
import time

RUN_DIR = '/run/pbx-firewall'
PENDING = 'pending-'
CLAIMED = 'claimed-'
CONFIRMING = 'confirming-'
CONFIRMED = 'confirmed-'
ROLLED_BACK = 'rolled-back-'
SUPERSEDED = 'superseded-'
SPEC = 'rollback-'          # + token + SPEC_SUFFIX (and SCRIPT_SUFFIX)
SPEC_SUFFIX = '.json'
SCRIPT_SUFFIX = '.py'
WINDOW_SUFFIX = '.window'
CURRENT = 'current-'        # + network namespace id: the token of the last apply there
TOKEN_RE = re.compile(r'^[A-Za-z0-9_-]{1,64}$')
# Module arguments whose names start with this prefix are internal: the action plugin sets
# them and the module takes them out before the documented options are validated.
INTERNAL_PREFIX = '_pbxfw_'
TOKEN_ARG = INTERNAL_PREFIX + 'rollback_token'
# The key of the module result that tells the action plugin to confirm.
RESULT_KEY = '_pbxfw_rollback'
# How long after its deadline a watcher may take to claim and revert; a pending marker older
# than that has no watcher any more (another run stops waiting for it)
GRACE = 15.0
# what the confirmation and the status query print (the action plugin reads them)
WORDS = ('PBXFW-CONFIRMED', 'PBXFW-ROLLED-BACK', 'PBXFW-SUPERSEDED', 'PBXFW-ROLLING-BACK', 'PBXFW-CONFIRMING',
         'PBXFW-PENDING', 'PBXFW-UNKNOWN')
SCOPE_PREFIX = 'pbx-firewall-rollback-'


def markers(token, run_dir=RUN_DIR):
    """The paths of one run: its markers, report (done), spec, window and script."""
    return {
        'pending': os.path.join(run_dir, PENDING + token),
        'claimed': os.path.join(run_dir, CLAIMED + token),
        'confirming': os.path.join(run_dir, CONFIRMING + token),
        'confirmed': os.path.join(run_dir, CONFIRMED + token),
        'done': os.path.join(run_dir, ROLLED_BACK + token),
        'superseded': os.path.join(run_dir, SUPERSEDED + token),
        'spec': os.path.join(run_dir, SPEC + token + SPEC_SUFFIX),
        'script': os.path.join(run_dir, SPEC + token + SCRIPT_SUFFIX),
        'window': os.path.join(run_dir, SPEC + token + WINDOW_SUFFIX),
    }


# the marker that tells each state, in the order they are looked at (the first one present wins)
STATES = (('confirmed', 'PBXFW-CONFIRMED'), ('done', 'PBXFW-ROLLED-BACK'), ('superseded', 'PBXFW-SUPERSEDED'),
          ('claimed', 'PBXFW-ROLLING-BACK'), ('confirming', 'PBXFW-CONFIRMING'), ('pending', 'PBXFW-PENDING'))


def status(paths):
    """The word for the state of a run (see STATES)."""
    for name, word in STATES:
        if os.path.exists(paths[name]):
            return word
    return 'PBXFW-UNKNOWN'


def netns_id():
    """The network namespace this process runs in: its owned state is the one a watcher guards."""
    try:
        return 'net%d' % os.stat('/proc/self/ns/net').st_ino
    except OSError:
        return 'net'


def current_path(run_dir=RUN_DIR, netns=None):
    return os.path.join(run_dir, CURRENT + (netns or netns_id()))


def _write_atomically(path, text, mode=0o600):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.rollback-')
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def mark_current(token, run_dir=RUN_DIR, netns=None):
    """Record ``token`` as the last apply to the owned state of this network namespace."""
    _write_atomically(current_path(run_dir, netns), token + '\n')


def new_token():
    """A token for an apply without rollback (it still becomes the current one)."""
    return binascii.hexlify(os.urandom(12)).decode('ascii')


def read_token(path):
    """The token a ``current-`` file names (None when there is none)."""
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (OSError, IOError):
        return None


def launcher(token, systemd_run=None, systemd_running=False):
    """The argv prefix that starts the watcher outside the SSH session where systemd runs.

    ``systemd-run --scope`` moves the watcher into a transient scope of its own, so that
    logind's ``KillUserProcesses=yes`` (which ends the session's scope when a non-root
    ``ansible_user`` logs out, also its processes that became root) does not kill it.
    Without systemd, the double fork into a new session is all it takes.
    """
    if not (systemd_run and systemd_running):
        return []
    return [systemd_run, '--scope', '--quiet', '--unit', SCOPE_PREFIX + token,
            '--description', 'pbxops.firewall rollback watcher %s' % token, '--']


def script_source():
    """Python source of the watcher and the confirmation: ``detach``, the executor's file, this file, ``main``.

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
        'if sys.argv[1] == "watch":',
        '    detach()',
        'steps = {"__name__": "pbxfw_steps"}',
        'exec(compile(%r, "pbxfw_steps", "exec"), steps)' % inspect.getsource(_steps),
        'rollback = {"__name__": "pbxfw_rollback"}',
        'exec(compile(%r, "pbxfw_rollback", "exec"), rollback)' % inspect.getsource(this),
        'rollback["main"](sys.argv[1], sys.argv[2], steps)',
        '',
    ])


class Rollback:
    """Arms, holds, updates and disarms the detached rollback watcher of one run.

    ``start(argv) -> (rc, stdout, stderr)`` starts the watcher (the module's run_command);
    ``launch`` is the argv prefix ``launcher`` chose.
    """

    def __init__(self, token, timeout, lock_path, start, python=None, run_dir=RUN_DIR, launch=()):
        if not TOKEN_RE.match(token or ''):
            raise ValueError('rollback token must be 1-64 letters, digits, _ or -, got %r' % (token,))
        self.token = token
        self.timeout = timeout
        self.lock_path = lock_path
        self.start = start
        self.python = python or sys.executable or 'python3'
        self.run_dir = run_dir
        self.launch = list(launch)
        self.paths = markers(token, run_dir)
        self.netns = None
        self.warnings = []

    def _write_window(self, deadline):
        """The run's deadline and network namespace (open_windows, the watcher)."""
        _write_atomically(self.paths['window'], json.dumps({'deadline': deadline, 'netns': self.netns}))
        return deadline

    def arm(self, steps, persist=(), persist_revert=()):
        """Write the spec, the script and the pending marker, start the watcher. Raises OSError or RuntimeError.

        ``steps`` revert the rules; ``persist`` writes the boot files at the confirmation and
        ``persist_revert`` puts them back when that fails half-way.
        """
        if not os.path.isdir(self.run_dir):
            os.makedirs(self.run_dir, 0o700)
        self.netns = netns_id()
        # the spec's deadline is the watcher's until it reads the window (which may move it)
        deadline = self._write_window(time.time() + self.timeout)
        spec = dict(self.paths, token=self.token, deadline=deadline, steps=steps, persist=list(persist),
                    persist_revert=list(persist_revert), lock=self.lock_path, netns=self.netns,
                    current=current_path(self.run_dir))
        _write_atomically(self.paths['spec'], json.dumps(spec, sort_keys=True))
        _write_atomically(self.paths['script'], script_source())
        with open(self.paths['pending'], 'w') as handle:
            handle.write('%s\n' % self.token)
        # The watcher must survive the module: it forks twice into a new session and points
        # its standard descriptors at /dev/null, so start() only waits for the first process.
        argv = [self.python, self.paths['script'], 'watch', self.paths['spec']]
        rc = None
        if self.launch:
            rc, _out, err = self.start(self.launch + argv)
            if rc != 0:
                self.warnings.append('could not start the rollback watcher in a systemd scope (%s); started it '
                                     'in the SSH session instead, where logind may end it with the session'
                                     % (err.strip() or 'rc=%s' % rc))
        if rc != 0:
            rc, _out, err = self.start(argv)
        if rc != 0:
            os.unlink(self.paths['pending'])
            raise RuntimeError('could not start the rollback watcher: %s' % err.strip())

    def _deadline(self, seconds):
        return self._write_window(time.time() + seconds) - time.time()

    def hold(self, seconds):
        """Keep the watcher from acting for ``seconds`` more than the timeout (the module's
        own work after the commit); a module that dies meanwhile is still rolled back."""
        return self._deadline(seconds + self.timeout)

    def restart_clock(self):
        """Give the controller the full timeout counted from now (the end of the module)."""
        return self._deadline(self.timeout)

    def confirmation(self):
        """What the action plugin needs to confirm (the module's result under RESULT_KEY)."""
        return dict(token=self.token, timeout=self.timeout, remaining=self.restart_clock(), run_dir=self.run_dir,
                    python=self.python, script=self.paths['script'], spec=self.paths['spec'])

    def disarm(self):
        """Stop the watcher (the module reverts by itself). True if it was still pending."""
        try:
            os.rename(self.paths['pending'], self.paths['claimed'])
        except OSError:
            return False
        os.unlink(self.paths['claimed'])
        return True


def _load(path):
    with open(path) as handle:
        return json.load(handle)


def _window(paths):
    """A run's window ({deadline, netns}); a run of an older version of this file had it in its spec."""
    try:
        return _load(paths['window'])
    except (OSError, IOError, ValueError):
        return _load(paths['spec'])


def open_windows(token, run_dir=RUN_DIR, netns=None, now=None):
    """Other runs of this network namespace whose confirmation window is open: (open, stale).

    ``open``: {token: time until which to wait for it}: its deadline and the GRACE of its
    watcher (a rollback or confirmation in progress gets longer). ``stale``: tokens whose
    marker is still there after that (their watcher is gone: nothing will revert them).
    """
    netns = netns or netns_id()
    now = time.time() if now is None else now
    found, stale = {}, []
    try:
        names = os.listdir(run_dir)
    except OSError:
        return found, stale
    for name in names:
        for prefix in (PENDING, CLAIMED, CONFIRMING):
            other = name[len(prefix):] if name.startswith(prefix) else None
            if not other or other == token or not TOKEN_RE.match(other):
                continue
            try:
                window = _window(markers(other, run_dir))
            except (OSError, IOError, ValueError):
                continue
            if window.get('netns') != netns:
                continue
            until = window['deadline'] + (GRACE if prefix == PENDING else 4 * GRACE)
            if until < now:
                stale.append(other)
            else:
                found[other] = until
    return found, sorted(stale)


class Quiet(object):
    """What ``quiet_lock`` did: seconds ``waited`` for other runs' windows, ``stale`` tokens dropped."""

    def __init__(self):
        self.waited = 0.0
        self.stale = []

    def warnings(self):
        found = []
        if self.waited >= 1:
            found.append('waited %.0f s for the rollback window of another run on this host to close' % self.waited)
        for token in self.stale:
            found.append('the apply of run %s was neither confirmed nor rolled back (its rollback watcher is gone); '
                         'its rules were the state this run started from' % token)
        return found


@contextlib.contextmanager
def quiet_lock(lock, token, run_dir=RUN_DIR, wait=True, sleep=time.sleep):
    """The host lock (``lock()`` makes a ``_lock.Lock``), taken once no other run of this network
    namespace has its confirmation window open: a watcher must only ever revert the state it armed,
    so a second apply waits until the first is confirmed or rolled back. A stale window (its
    watcher is gone) is dropped. Without ``wait`` (check mode reads only) it is the lock alone.
    Yields a ``Quiet``."""
    quiet = Quiet()
    started = time.time()
    while True:
        with lock():
            windows, stale = open_windows(token, run_dir) if wait else ({}, [])
            if not windows:
                for other in stale:
                    try:
                        os.unlink(markers(other, run_dir)['pending'])
                    except OSError:
                        pass
                quiet.stale = stale
                quiet.waited = time.time() - started
                yield quiet
                return
        until = max(windows.values())
        while time.time() < until and open_windows(token, run_dir)[0]:
            sleep(0.2)


# ------------------------------------------------------------------------------------------
# the watcher and the confirmation (run from the script, this file's text)
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


def _report(path, report):
    _write_atomically(path, json.dumps(report, indent=1, sort_keys=True) + '\n')


def _read_deadline(path, known):
    """The deadline in a run's window file, or ``known`` when it cannot be read (being replaced)."""
    try:
        return float(_load(path)['deadline'])
    except (OSError, IOError, ValueError, KeyError, TypeError):
        return known


def wait_and_revert(spec_path, execute, run, poll=0.25):
    """Wait for the deadline; unless confirmed, claim the marker and revert, then write the report.

    The spec is read once; the deadline is read from the run's window file at every poll (the
    module holds or restarts the clock by rewriting that file). Returns the report, or None
    when the run was confirmed (or the spec vanished).
    """
    try:
        spec = _load(spec_path)
    except (OSError, IOError, ValueError):
        return None
    deadline = spec['deadline']
    while True:
        if not os.path.exists(spec['pending']):
            return None
        deadline = _read_deadline(spec['window'], deadline)
        left = deadline - time.time()
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
        current = read_token(spec['current'])
        if current != spec['token']:
            # another apply changed the owned state since this one: it is not ours to revert
            report = {'token': spec['token'], 'time': time.time(), 'ok': True, 'superseded_by': current,
                      'results': []}
            _report(spec['superseded'], report)
        else:
            try:
                results = execute(spec['steps'], run, keep_going=True)
            except Exception as exc:  # the report must be written whatever happens
                results = [{'kind': 'error', 'rc': 1, 'stderr': str(exc)}]
            report = {'token': spec['token'], 'time': time.time(),
                      'ok': all(r.get('rc') == 0 for r in results), 'results': results}
            _report(spec['done'], report)
    finally:
        lock.close()
    for path in (spec['claimed'], spec['script']):
        try:
            os.unlink(path)
        except OSError:
            pass
    return report


def confirm(spec_path, execute, run, failed):
    """The controller's confirmation: claim the pending marker, write the boot files.

    Prints ``PBXFW-CONFIRMED`` and a JSON line ``{ok, error}`` (error: a boot file could not
    be written; they were put back as they were), or the run's state word when the watcher
    was first.
    """
    signal.signal(signal.SIGHUP, signal.SIG_IGN)     # a dropped connection must not stop it half-way
    spec = _load(spec_path)
    try:
        os.rename(spec['pending'], spec['confirming'])
    except OSError:
        sys.stdout.write(status(spec) + '\n')
        return
    steps = spec.get('persist') or []
    try:
        step, result = failed(execute(steps, run), steps)
        error = None if step is None else '%s %s: %s' % (
            step['kind'], step.get('path') or ' '.join(step.get('argv') or ()),
            (result.get('stderr') or '').strip() or 'rc=%s' % result.get('rc'))
    except Exception as exc:  # the outcome must be written whatever happens
        error = str(exc)
    outcome = {'ok': error is None, 'error': error}
    if error is not None:
        execute(spec.get('persist_revert') or [], run, keep_going=True)
    _write_atomically(spec['confirmed'], json.dumps(outcome, sort_keys=True) + '\n')
    for path in (spec['confirming'], spec['window'], spec_path, spec['script']):
        try:
            os.unlink(path)
        except OSError:
            pass
    sys.stdout.write('PBXFW-CONFIRMED\n%s\n' % json.dumps(outcome, sort_keys=True))


def main(mode, spec_path, steps):
    """The script's entry: ``watch`` (detached already) or ``confirm``; ``steps`` is the executor's namespace."""
    if mode == 'watch':
        wait_and_revert(spec_path, steps['execute'], steps['subprocess_run'])
    elif mode == 'confirm':
        confirm(spec_path, steps['execute'], steps['subprocess_run'], steps['failed'])
