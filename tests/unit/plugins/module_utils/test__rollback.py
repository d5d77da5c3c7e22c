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

from ansible_collections.pbxops.firewall.plugins.action.iptables_ruleset import ActionModule
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
                     'confirming': '/run/x/confirming-abc', 'confirmed': '/run/x/confirmed-abc',
                     'done': '/run/x/rolled-back-abc', 'superseded': '/run/x/superseded-abc',
                     'spec': '/run/x/rollback-abc.json', 'script': '/run/x/rollback-abc.py',
                     'window': '/run/x/rollback-abc.window'}
    assert _rollback.markers('abc')['pending'] == '/run/pbx-firewall/pending-abc'
    assert _rollback.TOKEN_ARG.startswith(_rollback.INTERNAL_PREFIX)
    assert [word for _name, word in _rollback.STATES] + ['PBXFW-UNKNOWN'] == list(_rollback.WORDS)


@pytest.mark.parametrize('token', ['', 'a b', 'x' * 65, '../etc', None])
def test_bad_tokens_are_refused(token, tmp_path):
    with pytest.raises(ValueError, match='rollback token must be 1-64 letters'):
        _rollback.Rollback(token, 5, str(tmp_path / 'lock'), start, run_dir=str(tmp_path))


def arm(token, timeout, tmp_path, steps=(), persist=(), persist_revert=(), current=True):
    """A Rollback armed in tmp_path/run, recorded as the current apply of this namespace (as the module does)."""
    run_dir = str(tmp_path / 'run')
    rollback = _rollback.Rollback(token, timeout, str(tmp_path / 'lock'), start, run_dir=run_dir)
    rollback.arm(list(steps), list(persist), list(persist_revert))
    if current:
        _rollback.mark_current(token, run_dir)
    return rollback, _rollback.markers(token, run_dir)


def test_watcher_reverts_like_the_executor(tmp_path):
    """The detached watcher and the module's executor, given the same steps, leave the same tree."""
    by_executor, by_watcher = tmp_path / 'executor', tmp_path / 'watcher'
    for root in (by_executor, by_watcher):
        prepare(root)
    expected = _steps.execute(revert_steps(by_executor), _steps.subprocess_run, keep_going=True)

    # 3 s: long enough that the watcher cannot claim the pending marker before the check
    # below, even on a loaded machine (with 0.5 s it sometimes had)
    _rollback_, paths = arm('tok-1', 3.0, tmp_path, _steps.portable(revert_steps(by_watcher)))
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
    assert sorted(os.listdir(str(tmp_path / 'run'))) == [
        'current-' + _rollback.netns_id(), 'rollback-tok-1.json', 'rollback-tok-1.window', 'rolled-back-tok-1']
    assert oct(os.stat(paths['done']).st_mode & 0o777) == oct(0o600)


def wait_for_gone(path, timeout=10.0):
    deadline = time.time() + timeout
    while os.path.exists(path):
        assert time.time() < deadline
        time.sleep(0.05)


def confirm(paths):
    """What the action plugin runs over its new connection (the script's confirm, or the state)."""
    command = ActionModule._confirm_command(paths, {'python': sys.executable, 'script': paths['script'],
                                                    'spec': paths['spec']})
    proc = subprocess.run(['sh', '-c', command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_the_confirmation_writes_the_boot_files_and_nothing_is_reverted(tmp_path):
    root = tmp_path / 'root'
    prepare(root)
    before = tree(root)
    boot = str(tmp_path / 'etc' / 'rules.v4')
    _r, paths = arm('tok-2', 1.5, tmp_path, _steps.portable(revert_steps(root)),
                    persist=[_steps.write(boot, 'confirmed rules\n', 0o644)])
    assert not os.path.exists(boot)                 # not before the confirmation
    assert confirm(paths) == ['PBXFW-CONFIRMED', '{"error": null, "ok": true}']
    with open(boot) as handle:
        assert handle.read() == 'confirmed rules\n'
    time.sleep(2.5)
    assert tree(root) == before
    for name in ('pending', 'claimed', 'confirming', 'done', 'spec', 'script'):
        assert not os.path.exists(paths[name]), name
    assert _rollback.status(paths) == 'PBXFW-CONFIRMED'


def test_a_boot_file_that_cannot_be_written_puts_the_others_back(tmp_path):
    etc = tmp_path / 'etc'
    etc.mkdir()
    (etc / 'rules.v4').write_text('old rules\n')
    blocked = tmp_path / 'not-a-dir'
    blocked.write_text('a file where a directory should be')
    persist = [_steps.write(str(etc / 'rules.v4'), 'new rules\n', 0o644),
               _steps.write(str(blocked / 'rules.v6'), 'new rules\n', 0o644)]
    revert = [_steps.write(str(etc / 'rules.v4'), 'old rules\n', 0o644)]
    _r, paths = arm('tok-3', 30, tmp_path, persist=persist, persist_revert=revert)
    word, detail = confirm(paths)
    assert word == 'PBXFW-CONFIRMED'
    outcome = json.loads(detail)
    assert outcome['ok'] is False and outcome['error'].startswith('write %s: ' % (blocked / 'rules.v6')), outcome
    assert (etc / 'rules.v4').read_text() == 'old rules\n'


def test_a_late_confirmation_reports_the_rollback(tmp_path):
    _r, paths = arm('tok-4', 0.2, tmp_path)
    wait_for(paths['done'])
    assert confirm(paths) == ['PBXFW-ROLLED-BACK']
    assert not os.path.exists(paths['script'])


def test_a_watcher_leaves_a_state_another_apply_made_alone(tmp_path):
    root = tmp_path / 'root'
    prepare(root)
    before = tree(root)
    _r, paths = arm('tok-5', 0.5, tmp_path, _steps.portable(revert_steps(root)))
    _rollback.mark_current('a-later-apply', str(tmp_path / 'run'))
    wait_for(paths['superseded'])
    with open(paths['superseded']) as handle:
        report = json.load(handle)
    assert report['superseded_by'] == 'a-later-apply' and report['results'] == []
    assert tree(root) == before and not os.path.exists(paths['done'])
    assert _rollback.status(paths) == 'PBXFW-SUPERSEDED'


def test_hold_keeps_the_watcher_waiting_and_restart_clock_gives_the_full_timeout(tmp_path):
    rollback, paths = arm('tok-6', 0.5, tmp_path)
    first = _load(paths['window'])['deadline']
    spec = os.stat(paths['spec'])
    assert 2.4 < rollback.hold(2) <= 2.5
    time.sleep(1.2)                      # past the first deadline: the watcher read the new one
    assert os.path.exists(paths['pending']) and not os.path.exists(paths['done'])
    assert _load(paths['window'])['deadline'] > first + 1.9
    assert 0.4 < rollback.restart_clock() <= 0.5
    # only the window moved: the spec (megabytes of boot files with countries) is written once
    assert (os.stat(paths['spec']).st_ino, os.stat(paths['spec']).st_mtime_ns) == (spec.st_ino, spec.st_mtime_ns)
    wait_for(paths['done'])


def _load(path):
    with open(path) as handle:
        return json.load(handle)


def test_disarm(tmp_path):
    rollback, paths = arm('tok-7', 30, tmp_path)
    spec = _load(paths['spec'])
    assert spec['lock'] == str(tmp_path / 'lock') and spec['steps'] == [] and spec['netns'] == _rollback.netns_id()
    assert rollback.disarm() is True
    assert not os.path.exists(paths['pending']) and not os.path.exists(paths['claimed'])
    assert rollback.disarm() is False      # the watcher, seeing no pending marker, exits


def test_a_watcher_that_cannot_start_leaves_no_pending_marker(tmp_path):
    rollback = _rollback.Rollback('tok-8', 30, str(tmp_path / 'lock'), lambda argv: (1, '', 'no python\n'),
                                  run_dir=str(tmp_path / 'run'))
    with pytest.raises(RuntimeError, match='could not start the rollback watcher: no python'):
        rollback.arm([])
    assert not os.path.exists(_rollback.markers('tok-8', str(tmp_path / 'run'))['pending'])


@pytest.mark.parametrize('systemd_run, running, expected', [
    ('/usr/bin/systemd-run', True, ['/usr/bin/systemd-run', '--scope', '--quiet', '--unit',
                                    'pbx-firewall-rollback-tok', '--description',
                                    'pbxops.firewall rollback watcher tok', '--']),
    ('/usr/bin/systemd-run', False, []),     # installed, but systemd is not PID 1 (a container)
    (None, True, []),
])
def test_the_watcher_leaves_the_session_through_systemd_where_it_runs(systemd_run, running, expected):
    assert _rollback.launcher('tok', systemd_run, running) == expected


def test_a_failing_systemd_run_falls_back_to_a_plain_start(tmp_path):
    started = []

    def starter(argv):
        started.append(argv)
        return (1, '', 'Failed to connect to bus\n') if argv[0] == 'systemd-run' else start(argv)

    rollback = _rollback.Rollback('tok-9', 30, str(tmp_path / 'lock'), starter, run_dir=str(tmp_path / 'run'),
                                  launch=_rollback.launcher('tok-9', 'systemd-run', True))
    rollback.arm([])
    assert [argv[0] for argv in started] == ['systemd-run', rollback.python]
    assert rollback.warnings == ['could not start the rollback watcher in a systemd scope (Failed to connect to '
                                 'bus); started it in the SSH session instead, where logind may end it with the '
                                 'session']
    rollback.disarm()


def spec_of(run_dir, token, deadline, netns=None, marker='pending', where='window'):
    """A run's marker and its window (``where='spec'``: as a run of the version before the window
    file kept it, in its spec)."""
    paths = _rollback.markers(token, run_dir)
    os.makedirs(run_dir, exist_ok=True)
    with open(paths[where], 'w') as handle:
        json.dump({'deadline': deadline, 'netns': netns or _rollback.netns_id()}, handle)
    open(paths[marker], 'w').close()
    return paths


def test_open_windows_of_this_namespace(tmp_path):
    run_dir, now = str(tmp_path), 1000.0
    spec_of(run_dir, 'mine', now + 5)
    spec_of(run_dir, 'open', now + 5)
    spec_of(run_dir, 'other-netns', now + 5, netns='net1')
    spec_of(run_dir, 'rolling', now - 20, marker='claimed')
    spec_of(run_dir, 'stale', now - _rollback.GRACE - 1)
    spec_of(run_dir, 'older', now + 7, where='spec')
    assert _rollback.open_windows('mine', run_dir, now=now) == (
        {'open': now + 5 + _rollback.GRACE, 'rolling': now - 20 + 4 * _rollback.GRACE,
         'older': now + 7 + _rollback.GRACE}, ['stale'])


class FakeLock:
    def __init__(self, log):
        self.log = log

    def __enter__(self):
        self.log.append('lock')
        return self

    def __exit__(self, *exc):
        self.log.append('unlock')


def test_a_second_apply_waits_outside_the_lock_until_the_first_window_closes(tmp_path):
    run_dir, log = str(tmp_path), []
    first = spec_of(run_dir, 'first', time.time() + 30)
    spec_of(run_dir, 'stale', time.time() - 100)

    def sleep(seconds):
        log.append('sleep')
        if log.count('sleep') == 3:
            os.unlink(first['pending'])      # the first run was confirmed

    with _rollback.quiet_lock(lambda: FakeLock(log), 'second', run_dir, sleep=sleep) as quiet:
        log.append('work')
    assert log == ['lock', 'unlock', 'sleep', 'sleep', 'sleep', 'lock', 'work', 'unlock']
    assert quiet.stale == ['stale'] and not os.path.exists(_rollback.markers('stale', run_dir)['pending'])
    assert quiet.warnings()[-1].startswith('the apply of run stale was neither confirmed nor rolled back')
    log[:] = []
    with _rollback.quiet_lock(lambda: FakeLock(log), 'check', run_dir, wait=False, sleep=sleep):
        spec_of(run_dir, 'third', time.time() + 30)
    assert log == ['lock', 'unlock']


def test_the_script_is_self_contained(tmp_path):
    """The script imports nothing from the collection: it runs with an empty sys.path entry set."""
    source = _rollback.script_source()
    assert 'ansible_collections' not in source.split('exec(compile(', maxsplit=1)[0]
    script = tmp_path / 'script.py'
    script.write_text(source)
    env = dict(os.environ, PYTHONPATH='')
    spec = tmp_path / 'spec.json'     # no spec: the watcher exits at once after detaching
    proc = subprocess.run([sys.executable, '-I', str(script), 'watch', str(spec)], env=env, timeout=30, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
