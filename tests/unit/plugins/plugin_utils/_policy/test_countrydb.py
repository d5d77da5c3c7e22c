# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""countrydb.py: the database files, their identity and the parse cache (real files in tmp_path)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import countrydb, geoip

DB = b'# Generated: Thu, 25 Jun 2026 04:33:59 GMT\n16777216,16777471,AU\n16777472,16778239,CN\n'
OTHER = b'# Generated: Fri, 04 Dec 2026 04:33:59 GMT\n16777216,16777471,CN\n'


@pytest.fixture
def parses(monkeypatch):
    """The countries each real parse was asked for, in order."""
    calls = []
    real = geoip.parse

    def counting(data, countries):
        calls.append(sorted(countries))
        return real(data, countries)
    monkeypatch.setattr(geoip, 'parse', counting)
    return calls


def write(path, data, mtime=None):
    path.write_bytes(data)
    if mtime is not None:
        os.utime(str(path), (mtime, mtime))
    return str(path)


def test_a_second_read_comes_from_the_cache(tmp_path, parses):
    path = write(tmp_path / 'geoip', DB)
    cache = str(tmp_path / 'cache')
    first = countrydb.read_file(path, ['CN', 'AU'], cache)
    second = countrydb.read_file(path, ['AU', 'CN'], cache)
    assert parses == [['AU', 'CN']]
    assert first.ranges == second.ranges == {'AU': {4: [(16777216, 16777471)], 6: []},
                                             'CN': {4: [(16777472, 16778239)], 6: []}}
    assert (second.format, second.date, second.families) == (geoip.INTEGERS, datetime.date(2026, 6, 25), [4])
    # a country not read so far: only that one is parsed
    assert countrydb.read_file(path, ['CN', 'DE'], cache).ranges['DE'] == {4: [], 6: []}
    assert parses == [['AU', 'CN'], ['DE']]


def test_a_changed_file_is_read_again_and_its_old_entry_goes(tmp_path, parses):
    path = write(tmp_path / 'geoip', DB, mtime=1700000000)
    cache = str(tmp_path / 'cache')
    assert countrydb.read_file(path, ['CN'], cache).ranges['CN'][4] == [(16777472, 16778239)]
    write(tmp_path / 'geoip', OTHER, mtime=1700000100)
    changed = countrydb.read_file(path, ['CN'], cache)
    assert changed.ranges['CN'][4] == [(16777216, 16777471)]
    assert changed.date == datetime.date(2026, 12, 4)
    assert parses == [['CN'], ['CN']]
    assert len([d for d in os.listdir(os.path.join(cache, 'geoip')) if not d.startswith('.')]) == 1


def test_a_damaged_entry_costs_a_parse_only(tmp_path, parses):
    path = write(tmp_path / 'geoip', DB)
    cache = str(tmp_path / 'cache')
    countrydb.read_file(path, ['CN'], cache)
    (entry,) = [d for d in os.listdir(os.path.join(cache, 'geoip')) if not d.startswith('.')]
    with open(os.path.join(cache, 'geoip', entry, 'CN.ranges'), 'rb+') as handle:
        handle.truncate(13)
    assert countrydb.read_file(path, ['CN'], cache).ranges['CN'][4] == [(16777472, 16778239)]
    assert parses == [['CN'], ['CN']]


def test_without_a_cache_every_read_parses(tmp_path, parses):
    path = write(tmp_path / 'geoip', DB)
    countrydb.read_file(path, ['CN'], None)
    countrydb.read_file(path, ['CN'], None)
    assert parses == [['CN'], ['CN']]


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path, parses):
    path = write(tmp_path / 'geoip', DB)
    blocker = write(tmp_path / 'not-a-directory', b'')
    assert countrydb.read_file(path, ['CN'], blocker).ranges['CN'][4] == [(16777472, 16778239)]
    assert countrydb.read_file(path, ['CN'], blocker).ranges['CN'][4] == [(16777472, 16778239)]
    assert parses == [['CN'], ['CN']]


def test_the_cache_keeps_a_bounded_number_of_files(tmp_path):
    cache = str(tmp_path / 'cache')
    for index in range(countrydb.KEEP + 4):
        countrydb.read_file(write(tmp_path / ('db%d' % index), DB), ['CN'], cache)
    assert len([d for d in os.listdir(os.path.join(cache, 'geoip')) if not d.startswith('.')]) == countrydb.KEEP


def test_the_date_without_a_header_is_the_modification_time(tmp_path):
    stamp = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc).timestamp()
    path = write(tmp_path / 'dbip.csv', b'1.0.0.0,1.0.0.255,AU\n', mtime=stamp)
    assert countrydb.read_file(path, ['AU'], str(tmp_path / 'cache')).date == datetime.date(2026, 3, 1)


def test_a_missing_file(tmp_path):
    with pytest.raises(OSError) as excinfo:
        countrydb.read_file(str(tmp_path / 'absent'), ['CN'], None)
    assert excinfo.value.strerror == 'No such file or directory'


def test_fingerprint_follows_the_file(tmp_path):
    path = write(tmp_path / 'geoip', DB, mtime=1700000000)
    first = countrydb.fingerprint([path, str(tmp_path / 'absent')])
    assert first[0]['path'] == path and first[0]['size'] == len(DB)
    assert first[1] == {'path': str(tmp_path / 'absent'), 'missing': 'No such file or directory'}
    write(tmp_path / 'geoip', DB, mtime=1700000001)
    assert countrydb.fingerprint([path])[0] != first[0]


@pytest.mark.parametrize('environ, expected', [
    ({'PBX_FIREWALL_CACHE_DIR': '/srv/cache', 'XDG_CACHE_HOME': '/x'}, '/srv/cache'),
    ({'PBX_FIREWALL_CACHE_DIR': ''}, None),
    ({'XDG_CACHE_HOME': '/x'}, '/x/pbxops.firewall'),
])
def test_default_cache_dir(environ, expected):
    assert countrydb.default_cache_dir(environ) == expected


def test_default_cache_dir_in_home(monkeypatch):
    monkeypatch.setenv('HOME', '/home/ops')
    assert countrydb.default_cache_dir({}) == '/home/ops/.cache/pbxops.firewall'


@pytest.mark.parametrize('ranges', [
    {4: [], 6: []},
    {4: [(0, 0), (16777472, 16778239), (4294967295, 4294967295)], 6: []},
    {4: [], 6: [(0, 1), ((1 << 128) - 2, (1 << 128) - 1)]},
    {4: [(1, 2)], 6: [(0x20010db8 << 96, (0x20010db8 << 96) + (1 << 96) - 1)]},
])
def test_a_countrys_ranges_file_gives_back_its_ranges(ranges):
    assert countrydb.unpack_ranges(countrydb.pack_ranges(ranges)) == ranges


@pytest.mark.parametrize('cut', [0, 5, 8 + 4, 8 + 8 + 31])
def test_a_cut_ranges_file_is_refused(cut):
    data = countrydb.pack_ranges({4: [(1, 2)], 6: [(3, 4)]})
    with pytest.raises(ValueError):
        countrydb.unpack_ranges(data[:cut])


def test_parsing_a_file_keeps_the_finished_sets_cache_beside_it(tmp_path):
    """The finished sets (results_cache.py) live in the same directory; pruning old file
    identities must not take them for a damaged entry."""
    from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import results_cache
    cache = str(tmp_path / 'cache')
    results_cache.write_result(cache, ['a key'], {'sets': 1})
    countrydb.read_file(write(tmp_path / 'geoip', DB), ['CN'], cache)
    assert results_cache.read_result(cache, ['a key']) == {'sets': 1}
