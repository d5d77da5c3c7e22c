# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one executor: step records run against tmp_path and a fake command runner."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _steps


class FakeRun:
    """Records commands; answers (rc, stdout, stderr) from a table keyed by argv[0]."""

    def __init__(self, answers=None):
        self.answers = answers or {}
        self.calls = []

    def __call__(self, argv, stdin=None):
        self.calls.append((list(argv), stdin))
        return self.answers.get(argv[0], (0, '', ''))


def tree(root):
    """{relative path: ('file', text, mode) | ('link', target) | ('dir',)} below root."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, str(root))
            if os.path.islink(path):
                found[rel] = ('link', os.readlink(path))
            elif os.path.isdir(path):
                found[rel] = ('dir',)
            else:
                with open(path) as handle:
                    found[rel] = ('file', handle.read(), stat.S_IMODE(os.stat(path).st_mode))
    return found


def test_records_are_named_and_json_ready():
    steps = [_steps.command(['/sbin/ipset', 'restore'], 'create x\n', explain={'tool': 'ipset'}),
             _steps.write('/a/b', 'text\n', 0o644, before={'content': None}),
             _steps.symlink('/a/l', '/a/b'), _steps.remove('/a/c'), _steps.rmdir('/a')]
    assert [s['kind'] for s in steps] == ['run', 'write', 'symlink', 'remove', 'rmdir']
    assert steps[0] == {'kind': 'run', 'argv': ['/sbin/ipset', 'restore'], 'stdin': 'create x\n', 'check': True,
                        'explain': {'tool': 'ipset'}}
    portable = _steps.portable(steps)
    assert 'explain' not in portable[0] and 'before' not in portable[1]
    assert json.loads(json.dumps(portable)) == portable


def test_file_steps(tmp_path):
    target = tmp_path / 'etc' / 'deep' / 'file'
    link = tmp_path / 'wants' / 'unit'
    steps = [_steps.write(str(target), 'é\n', 0o755), _steps.symlink(str(link), str(target)),
             _steps.symlink(str(link), '/elsewhere'), _steps.write(str(tmp_path / 'gone'), 'x', 0o600),
             _steps.remove(str(tmp_path / 'gone')), _steps.remove(str(tmp_path / 'never')),
             _steps.rmdir(str(tmp_path / 'etc')), _steps.write(str(tmp_path / 'empty' / 'f'), '', 0o644),
             _steps.remove(str(tmp_path / 'empty' / 'f')), _steps.rmdir(str(tmp_path / 'empty'))]
    results = _steps.execute(steps, FakeRun())
    assert [r['rc'] for r in results] == [0] * len(steps)
    assert tree(tmp_path) == {
        'etc': ('dir',), 'etc/deep': ('dir',), 'etc/deep/file': ('file', 'é\n', 0o755),
        'wants': ('dir',), 'wants/unit': ('link', '/elsewhere'),
    }


def test_write_replaces_a_symlink_and_leaves_no_temporary_file(tmp_path):
    (tmp_path / 'real').write_text('real')
    os.symlink(str(tmp_path / 'real'), str(tmp_path / 'path'))
    _steps.execute([_steps.write(str(tmp_path / 'path'), 'new', 0o644)], FakeRun())
    assert tree(tmp_path) == {'real': ('file', 'real', 0o644), 'path': ('file', 'new', 0o644)}


def test_commands_get_their_stdin_and_a_checked_failure_stops(tmp_path):
    run = FakeRun({'/bin/fails': (2, '', 'bad line 3\n')})
    steps = [_steps.command(['/bin/ok', 'a'], 'input\n'), _steps.command(['/bin/fails'], None),
             _steps.write(str(tmp_path / 'never'), 'x', 0o644)]
    results = _steps.execute(steps, run)
    assert run.calls == [(['/bin/ok', 'a'], 'input\n'), (['/bin/fails'], None)]
    assert results == [{'kind': 'run', 'argv': ['/bin/ok', 'a'], 'rc': 0, 'stderr': ''},
                       {'kind': 'run', 'argv': ['/bin/fails'], 'rc': 2, 'stderr': 'bad line 3\n'}]
    assert _steps.failed(results, steps) == (steps[1], results[1])
    assert not (tmp_path / 'never').exists()


def test_unchecked_failures_and_keep_going(tmp_path):
    run = FakeRun({'/bin/fails': (1, '', 'no')})
    steps = [_steps.command(['/bin/fails'], check=False), _steps.command(['/bin/fails']),
             _steps.write(str(tmp_path / 'after'), 'x', 0o644)]
    assert len(_steps.execute(steps, run)) == 2
    results = _steps.execute(steps, run, keep_going=True)
    assert [r['rc'] for r in results] == [1, 1, 0]
    assert (tmp_path / 'after').read_text() == 'x'
    assert _steps.failed(results[:1], steps[:1]) == (None, None)


def test_a_file_step_that_fails_is_a_result_not_an_exception(tmp_path):
    (tmp_path / 'plain').write_text('a file, not a directory')
    steps = [_steps.write(str(tmp_path / 'plain' / 'x'), 'x', 0o644), {'kind': 'bogus', 'path': 'x'}]
    results = _steps.execute(steps, FakeRun(), keep_going=True)
    assert [r['rc'] for r in results] == [1, 1]
    assert 'unknown step kind' in results[1]['stderr']


def test_subprocess_run():
    rc, out, err = _steps.subprocess_run(['sh', '-c', 'cat; echo oops >&2; exit 3'], 'héllo\n')
    assert (rc, out, err) == (3, 'héllo\n', 'oops\n')
    assert _steps.subprocess_run(['true'])[0] == 0


@pytest.mark.parametrize('kind', ['write', 'symlink', 'remove'])
def test_extra_keys_are_kept_on_the_record(kind):
    make = {'write': lambda: _steps.write('/p', 'c', 0o644, before=1),
            'symlink': lambda: _steps.symlink('/p', '/t', before=1),
            'remove': lambda: _steps.remove('/p', before=1)}[kind]
    assert make()['before'] == 1


def test_write_atomically_sets_the_mode_and_on_a_failure_leaves_the_target_and_no_temporary(tmp_path):
    target = tmp_path / 'state.json'
    _steps.write_atomically(str(target), '{"a": 1}', 0o640)
    assert target.read_text() == '{"a": 1}' and stat.S_IMODE(target.stat().st_mode) == 0o640
    _steps.write_atomically(str(target), b'\xff raw')
    assert target.read_bytes() == b'\xff raw' and stat.S_IMODE(target.stat().st_mode) == 0o600
    occupied = tmp_path / 'a-directory'
    (occupied / 'inside').mkdir(parents=True)
    with pytest.raises(OSError):                 # a file cannot be renamed over a directory
        _steps.write_atomically(str(occupied), 'text')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a-directory', 'state.json']
