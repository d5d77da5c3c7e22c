# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Step records and the one executor of pbxops.firewall (private to this collection).

Everything the ``iptables_ruleset`` module changes on a host is a list of *steps*: named
records (plain dicts with a ``kind``) that run a command with optional standard input,
write a file, make a symlink, remove a file or remove a directory once it is empty.
``execute`` runs such a list; it serves the apply, the immediate recovery after a failed
apply, and the detached rollback watcher, which runs this very file's source (so it must
stay standard-library only, import nothing from the collection and keep every step
JSON-serializable).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import tempfile

# The keys the executor reads; anything else in a step (an error explanation, the file's
# previous state) is for the caller and is left out when steps are handed to the watcher.
EXEC_KEYS = ('kind', 'argv', 'stdin', 'check', 'path', 'content', 'mode', 'target')


def command(argv, stdin=None, check=True, **extra):
    """Run ``argv`` with ``stdin`` (text or None). ``check``: a failure stops the list."""
    step = {'kind': 'run', 'argv': list(argv), 'stdin': stdin, 'check': check}
    step.update(extra)
    return step


def write(path, content, mode, **extra):
    """Replace ``path`` atomically (temporary file in the same directory, then rename)."""
    step = {'kind': 'write', 'path': path, 'content': content, 'mode': mode}
    step.update(extra)
    return step


def symlink(path, target, **extra):
    step = {'kind': 'symlink', 'path': path, 'target': target}
    step.update(extra)
    return step


def remove(path, **extra):
    """Remove a file or symlink; an absent one is fine."""
    step = {'kind': 'remove', 'path': path}
    step.update(extra)
    return step


def rmdir(path):
    """Remove a directory if it is empty; a missing or non-empty one is left as it is."""
    return {'kind': 'rmdir', 'path': path, 'check': False}


def portable(steps):
    """The steps reduced to what the executor reads (for the watcher's JSON spec)."""
    return [dict((k, v) for k, v in step.items() if k in EXEC_KEYS) for step in steps]


def _makedirs(directory):
    if directory and not os.path.isdir(directory):
        os.makedirs(directory, 0o755)


def write_atomically(path, content, mode=None, prefix='.pbxfw-'):
    """Put ``content`` (text, written as UTF-8, or bytes) at ``path`` through a temporary file in
    the same directory renamed over it, so a reader sees the old file or the new one. ``mode``:
    the file's permissions (mkstemp's 0o600 when None). On a failure the temporary file is
    removed and the error raised. The one such writer of the host's files (the metrics file, the
    counter state); ``_rollback`` keeps its own, as the watcher runs that file's text alone, and
    the controller's is ``plugin_utils/_run_cache.write_atomically``."""
    if not isinstance(content, bytes):
        content = content.encode('utf-8', 'surrogateescape')
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or '.', prefix=prefix)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(content)
        if mode is not None:
            os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _write(path, content, mode):
    _makedirs(os.path.dirname(path))
    write_atomically(path, content, mode)


def _file_step(step):
    kind, path = step['kind'], step['path']
    if kind == 'write':
        _write(path, step['content'], step['mode'])
    elif kind == 'symlink':
        if os.path.lexists(path):
            os.unlink(path)
        _makedirs(os.path.dirname(path))
        os.symlink(step['target'], path)
    elif kind == 'remove':
        if os.path.lexists(path):
            os.unlink(path)
    elif kind == 'rmdir':
        try:
            os.rmdir(path)
        except OSError:
            pass
    else:
        raise ValueError('unknown step kind %r' % kind)


def run_step(step, run):
    """Carry out one step; ``run(argv, stdin) -> (rc, stdout, stderr)`` runs commands.

    Returns the step's result: its kind, argv or path, ``rc`` and ``stderr``.
    """
    if step.get('kind') == 'run':
        rc, _out, err = run(step['argv'], step.get('stdin'))
        return {'kind': 'run', 'argv': step['argv'], 'rc': rc, 'stderr': err}
    try:
        _file_step(step)
    except (OSError, IOError, ValueError, KeyError) as exc:
        return {'kind': step.get('kind'), 'path': step.get('path'), 'rc': 1, 'stderr': str(exc)}
    return {'kind': step['kind'], 'path': step['path'], 'rc': 0, 'stderr': ''}


def execute(steps, run, keep_going=False):
    """Run ``steps`` in order and return their results.

    A failed step whose ``check`` is true (the default for every kind but rmdir) stops the
    list, unless ``keep_going`` (the watcher restores as much as it can).
    """
    results = []
    for step in steps:
        result = run_step(step, run)
        results.append(result)
        if result['rc'] != 0 and step.get('check', True) and not keep_going:
            break
    return results


def failed(results, steps):
    """The first (step, result) whose step is checked and failed, or (None, None)."""
    for step, result in zip(steps, results):
        if result['rc'] != 0 and step.get('check', True):
            return step, result
    return None, None


def subprocess_run(argv, stdin=None):
    """A ``run`` for ``execute`` outside Ansible (the detached watcher).

    The watcher outlives the module, so AnsibleModule.run_command is not there to use.
    """
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,  # pylint: disable=ansible-bad-function
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(stdin.encode('utf-8', 'surrogateescape') if stdin is not None else None)
    return proc.returncode, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace')
