# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The per-run cache: one compile per distinct input across forked workers, never shared
between different inputs, bounded, atomic entries."""

from __future__ import annotations

import os
import time

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _run_cache as rc


@pytest.mark.parametrize('a, b', [
    (1, '1'), (True, 1), (1, 1.0), (None, 'None'), ([1, 2], [2, 1]), ({'a': 1}, {'a': '1'}),
    ({1: 'x'}, {'1': 'x'}), (['a', ['b']], ['a', 'b']), ('', []), ({}, []),
    ({'networks': [{'name': 'A', 'subnet': '10.0.0.0/8'}]}, {'networks': [{'name': 'A', 'subnet': '10.0.0.0/9'}]}),
])
def test_different_inputs_never_share_a_key(a, b):
    assert rc.key(a) != rc.key(b)


def test_equal_inputs_share_a_key_whatever_the_order_of_a_mapping():
    assert rc.key({'a': 1, 'b': [1, {'c': None}]}) == rc.key({'b': [1, {'c': None}], 'a': 1})
    assert rc.key((1, 2)) == rc.key([1, 2])


def test_a_value_the_key_cannot_encode_is_computed_every_time(tmp_path):
    cache = rc.RunCache('policy', directory=str(tmp_path))
    calls = []
    for _attempt in range(2):
        assert cache.compute([object()], lambda: calls.append(1) or {'x': 1}) == {'x': 1}
    assert len(calls) == 2


# The children only read and write the cache's files (pytest's threads do not matter to them).
@pytest.mark.filterwarnings('ignore:This process .* is multi-threaded:DeprecationWarning')
def test_compute_runs_once_per_distinct_input_across_processes(tmp_path):
    cache = rc.RunCache('policy', directory=str(tmp_path))
    log = tmp_path / 'calls'

    def compile_for(inputs):
        def work():
            with open(str(log), 'a') as handle:
                handle.write('%s\n' % inputs)
            return {'ruleset': {'ipv4': ['-A PBX-FIREWALL -s %s -j ACCEPT' % inputs]}, 'n': (1, 2)}
        return work

    # forked workers, as Ansible runs tasks: the first one computes, the others read its entry
    for inputs in ('10.0.0.0/8', '10.0.0.0/8', '192.0.2.0/24', '10.0.0.0/8'):
        pid = os.fork()
        if pid == 0:
            try:
                cache.compute([inputs], compile_for(inputs))
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    assert log.read_text().split() == ['10.0.0.0/8', '192.0.2.0/24']
    # stored or not, the result is the same plain data (a tuple comes back as a list)
    assert cache.compute(['10.0.0.0/8'], compile_for('x')) == {
        'ruleset': {'ipv4': ['-A PBX-FIREWALL -s 10.0.0.0/8 -j ACCEPT']}, 'n': [1, 2]}
    assert rc.RunCache('policy', directory=str(tmp_path / 'other')).compute(['y'], compile_for('y'))['n'] == [1, 2]
    # no partly written entry is left behind: entries and their (empty) lock files only
    assert not [name for name in os.listdir(cache.directory) if not name.endswith(('.json', '.lock'))]


def test_the_cache_is_bounded(tmp_path):
    cache = rc.RunCache('policy', directory=str(tmp_path), max_entries=2, max_bytes=10 ** 6)
    calls = []
    for _attempt in range(2):
        for n in range(4):
            cache.compute([n], lambda n=n: calls.append(n) or {'n': n})
    assert calls == [0, 1, 2, 3, 2, 3]          # the first two are stored, the others computed again
    assert len([name for name in os.listdir(cache.directory) if name.endswith('.json')]) == 2
    small = rc.RunCache('small', directory=str(tmp_path), max_bytes=20)
    assert small.compute(['big'], lambda: {'text': 'x' * 100}) == {'text': 'x' * 100}
    assert not os.path.exists(small.directory) or not [n for n in os.listdir(small.directory) if n.endswith('.json')]


def test_the_resolver_asks_once_per_name_and_keeps_errors(tmp_path):
    asked = []

    def resolve(name):
        asked.append(name)
        if name == 'gone.example':
            raise OSError('[Errno -2] Name or service not known')
        return ['192.0.2.10', '2001:db8::10']

    cache = rc.RunCache('dns', directory=str(tmp_path))
    for _attempt in range(3):
        lookup = rc.cached_resolver(resolve, cache)     # a new worker, the same run
        assert lookup('sip.example') == ['192.0.2.10', '2001:db8::10']
        with pytest.raises(OSError, match=r'^\[Errno -2\] Name or service not known$'):
            lookup('gone.example')
    assert asked == ['sip.example', 'gone.example']


def test_the_run_directory_is_ansibles_own_per_run_directory():
    from ansible import constants as C
    assert rc.RunCache('policy').directory == os.path.join(C.DEFAULT_LOCAL_TMP, 'pbxops.firewall-cache', 'policy')
    assert os.path.basename(C.DEFAULT_LOCAL_TMP).startswith('ansible-local-%d' % os.getpid())


@pytest.mark.filterwarnings('ignore:This process .* is multi-threaded:DeprecationWarning')
def test_workers_started_together_compute_once(tmp_path):
    """Ansible starts a task on every host at once: the first worker computes, the others wait
    for its entry instead of computing it again."""
    cache = rc.RunCache('policy', directory=str(tmp_path))
    log = tmp_path / 'calls'
    go = tmp_path / 'go'

    def slow():
        with open(str(log), 'a') as handle:
            handle.write('computed\n')
        time.sleep(0.5)
        return {'ruleset': 'same'}

    children = []
    for _attempt in range(4):
        pid = os.fork()
        if pid == 0:
            try:
                while not go.exists():
                    time.sleep(0.01)
                value = cache.compute(['shared'], slow)
                os._exit(0 if value == {'ruleset': 'same'} else 3)
            finally:
                os._exit(2)
        children.append(pid)
    go.write_text('')
    assert [os.waitpid(pid, 0)[1] for pid in children] == [0, 0, 0, 0]
    assert log.read_text().split() == ['computed']


def test_write_atomically_on_a_failure_leaves_no_temporary_file(tmp_path):
    rc.write_atomically(str(tmp_path / 'entry.json'), b'{}')
    assert (tmp_path / 'entry.json').read_bytes() == b'{}'
    (tmp_path / 'a-directory' / 'inside').mkdir(parents=True)
    with pytest.raises(OSError):                 # a file cannot be renamed over a directory
        rc.write_atomically(str(tmp_path / 'a-directory'), b'{}')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a-directory', 'entry.json']
