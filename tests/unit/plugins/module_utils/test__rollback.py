# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rollback watcher and its markers: the real detached watcher, run on the step list the
executor gets, in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _rollback
from ansible_collections.pbxops.firewall.plugins.module_utils import _steps
from ansible_collections.pbxops.firewall.tests.unit.plugins.module_utils.test__steps import tree


def start(argv):
    """The module's run_command for the watcher: the first process exits once detached."""
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def revert_steps(root):
    """A revert as the module builds it: commands with stdin, files, a link, removals, a dir."""
    root = str(root)
    return [
        _steps.command(['sh', '-c', 'cat >> "$0"/log', root], 'restore input\n'),
        _steps.command(['sh', '-c', 'echo second >> "$0"/log; exit 4', root], check=False),
        _steps.write(os.path.join(root, 'etc', 'rules.v4'), '*filter\nCOMMIT\n', 0o644),
        _steps.symlink(os.path.join(root, 'wants', 'pbx-firewall.service'), '/etc/systemd/system/pbx-firewall.service'),
        _steps.remove(os.path.join(root, 'new-file')),
        _steps.rmdir(os.path.join(root, 'created')),
    ]


def prepare(root):
    os.makedirs(os.path.join(str(root), 'created'))
    with open(os.path.join(str(root), 'new-file'), 'w') as handle:
        handle.write('written by the apply')


def wait_for(path, timeout=20.0):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert time.time() < deadline, 'no %s after %.0f s' % (path, timeout)
        time.sleep(0.05)


def test_marker_names_are_defined_once():
    paths = _rollback.markers('abc', '/run/x')
    assert paths == {'pending': '/run/x/pending-abc', 'claimed': '/run/x/claimed-abc',
                     'done': '/run/x/rolled-back-abc', 'spec': '/run/x/rollback-abc.json'}
    assert _rollback.markers('abc')['pending'] == '/run/pbx-firewall/pending-abc'
    assert _rollback.TOKEN_ARG.startswith(_rollback.INTERNAL_PREFIX)


@pytest.mark.parametrize('token', ['', 'a b', 'x' * 65, '../etc', None])
def test_bad_tokens_are_refused(token, tmp_path):
    with pytest.raises(ValueError, match='rollback token must be 1-64 letters'):
        _rollback.Rollback(token, 5, str(tmp_path / 'lock'), start, run_dir=str(tmp_path))


def test_watcher_reverts_like_the_executor(tmp_path):
    """The detached watcher and the module's executor, given the same steps, leave the same tree."""
    by_executor, by_watcher, run_dir = tmp_path / 'executor', tmp_path / 'watcher', tmp_path / 'run'
    for root in (by_executor, by_watcher):
        prepare(root)
    expected = _steps.execute(revert_steps(by_executor), _steps.subprocess_run, keep_going=True)

    # 3 s: long enough that the watcher cannot claim the pending marker before the check
    # below, even on a loaded machine (with 0.5 s it sometimes had)
    rollback = _rollback.Rollback('tok-1', 3.0, str(tmp_path / 'lock'), start, run_dir=str(run_dir))
    rollback.arm(_steps.portable(revert_steps(by_watcher)))
    paths = _rollback.markers('tok-1', str(run_dir))
    assert os.path.exists(paths['pending'])
    wait_for(paths['done'])
    with open(paths['done']) as handle:
        report = json.load(handle)

    watched, executed = tree(by_watcher), tree(by_executor)
    # the shell's own file: the watcher runs with umask 077
    assert watched.pop('log')[:2] == executed.pop('log')[:2] == ('file', 'restore input\nsecond\n')
    assert watched == executed
    assert 'created' not in tree(by_watcher)
    # same results, paths aside; the failed unchecked command makes the report not ok
    strip = [dict(r, argv=None, path=None) for r in expected]
    assert [dict(r, argv=None, path=None) for r in report['results']] == strip
    assert report['token'] == 'tok-1' and report['ok'] is False
    assert [r['argv'][0] for r in report['results'] if r['kind'] == 'run'] == ['sh', 'sh']
    wait_for_gone(paths['claimed'])
    assert sorted(os.listdir(str(run_dir))) == ['rollback-tok-1.json', 'rolled-back-tok-1']
    assert oct(os.stat(paths['done']).st_mode & 0o777) == oct(0o600)


def wait_for_gone(path, timeout=10.0):
    deadline = time.time() + timeout
    while os.path.exists(path):
        assert time.time() < deadline
        time.sleep(0.05)


def test_confirmed_run_is_not_reverted(tmp_path):
    root, run_dir = tmp_path / 'root', tmp_path / 'run'
    prepare(root)
    before = tree(root)
    rollback = _rollback.Rollback('tok-2', 1.5, str(tmp_path / 'lock'), start, run_dir=str(run_dir))
    rollback.arm(_steps.portable(revert_steps(root)))
    paths = _rollback.markers('tok-2', str(run_dir))
    os.unlink(paths['pending'])            # what the action plugin's confirmation does
    time.sleep(2.5)
    assert tree(root) == before
    assert not os.path.exists(paths['done']) and not os.path.exists(paths['claimed'])


def test_disarm_and_restart_clock(tmp_path):
    rollback = _rollback.Rollback('tok-3', 30, str(tmp_path / 'lock'), start, run_dir=str(tmp_path / 'run'))
    rollback.arm([])
    paths = _rollback.markers('tok-3', str(tmp_path / 'run'))
    with open(paths['spec']) as handle:
        first = json.load(handle)['deadline']
    time.sleep(0.05)
    assert 29 < rollback.restart_clock() <= 30
    with open(paths['spec']) as handle:
        spec = json.load(handle)
    assert spec['deadline'] > first
    assert spec['lock'] == str(tmp_path / 'lock') and spec['steps'] == []
    assert rollback.disarm() is True
    assert not os.path.exists(paths['pending']) and not os.path.exists(paths['claimed'])
    assert rollback.disarm() is False      # the watcher, seeing no pending marker, exits


def test_a_watcher_that_cannot_start_leaves_no_pending_marker(tmp_path):
    rollback = _rollback.Rollback('tok-4', 30, str(tmp_path / 'lock'), lambda argv: (1, '', 'no python\n'),
                                  run_dir=str(tmp_path / 'run'))
    with pytest.raises(RuntimeError, match='could not start the rollback watcher: no python'):
        rollback.arm([])
    assert not os.path.exists(_rollback.markers('tok-4', str(tmp_path / 'run'))['pending'])


def test_watcher_script_is_self_contained(tmp_path):
    """The script imports nothing from the collection: it runs with an empty sys.path entry set."""
    script = _rollback.watcher_script()
    assert 'ansible_collections' not in script.split('exec(compile(', maxsplit=1)[0]
    env = dict(os.environ, PYTHONPATH='')
    spec = tmp_path / 'spec.json'     # no spec: the watcher exits at once after detaching
    proc = subprocess.run([sys.executable, '-I', '-c', script, str(spec)], env=env, timeout=30, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
