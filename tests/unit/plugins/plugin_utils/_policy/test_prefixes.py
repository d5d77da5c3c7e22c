# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""prefixes.py: tables of (ranges, exact result), and the same answers as ipaddress on random sets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import prefixes


def v4(text):
    return int(ipaddress.IPv4Address(text))


@pytest.mark.parametrize('ranges, merged', [
    ([], []),
    ([(5, 9)], [(5, 9)]),
    ([(10, 20), (0, 4)], [(0, 4), (10, 20)]),
    ([(0, 4), (5, 9)], [(0, 9)]),                 # touching
    ([(0, 10), (3, 4), (8, 12)], [(0, 12)]),      # overlapping and nested
    ([(7, 7), (7, 7)], [(7, 7)]),
])
def test_merge(ranges, merged):
    assert prefixes.merge(ranges) == merged


@pytest.mark.parametrize('first, last, expected', [
    ('10.0.0.0', '10.0.0.255', ['10.0.0.0/24']),
    ('10.0.0.1', '10.0.0.1', ['10.0.0.1']),
    ('10.0.0.1', '10.0.0.6', ['10.0.0.1', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6']),
    ('0.0.0.0', '255.255.255.255', ['0.0.0.0/0']),
    ('1.0.0.0', '1.0.3.255', ['1.0.0.0/22']),
    ('1.0.1.0', '1.0.4.255', ['1.0.1.0/24', '1.0.2.0/23', '1.0.4.0/24']),
])
def test_to_prefixes_and_entries(first, last, expected):
    found = prefixes.to_prefixes([(v4(first), v4(last))], 32)
    assert prefixes.entries(4, found) == expected
    assert prefixes.members(4, [(v4(first), v4(last))]) == expected


def test_ipv6_entries_as_ipset_prints_them():
    found = prefixes.to_prefixes([(int(ipaddress.IPv6Address('2001:db8::')),
                                   int(ipaddress.IPv6Address('2001:db8:1:ffff:ffff:ffff:ffff:ffff')))], 128)
    assert prefixes.entries(6, found) == ['2001:db8::/47']
    assert prefixes.members(6, [(0, 0), (1 << 64, (1 << 65) - 1)]) == ['::', '0:0:0:1::/64']
    assert prefixes.entries(6, [(1, 128), (0, 0)]) == ['::1', '::/0']


def _network(version, first, length):
    network = (ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network)((first, length), strict=False)
    return network.network_address, network.prefixlen


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([4, 6]).flatmap(lambda version: st.tuples(st.just(version), st.lists(
    st.builds(_network, st.just(version), st.integers(0, 2 ** prefixes.WIDTH[version] - 1),
              st.integers(0, prefixes.WIDTH[version])), max_size=8))))
def test_entries_print_what_ipset_save_prints(members):
    """A host without its length, a network with it, the address as inet_ntop writes it (ipset does
    too; for IPv6 that is RFC 5952, except the IPv4-compatible ::a.b.c.d, which ipaddress writes
    otherwise)."""
    version, networks = members
    width = prefixes.WIDTH[version]
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    texts = [socket.inet_ntop(family, address.packed) for address, _length in networks]
    expected = [text if length == width else '%s/%d' % (text, length)
                for text, (_address, length) in zip(texts, networks)]
    assert prefixes.entries(version, [(int(address), length) for address, length in networks]) == expected


@pytest.mark.parametrize('ranges, others, both, only_first', [
    ([(0, 10)], [(5, 20)], [(5, 10)], [(0, 4)]),
    ([(0, 10), (20, 30)], [(5, 25)], [(5, 10), (20, 25)], [(0, 4), (26, 30)]),
    ([(0, 10)], [(2, 3), (5, 6)], [(2, 3), (5, 6)], [(0, 1), (4, 4), (7, 10)]),
    ([(0, 10)], [], [], [(0, 10)]),
    ([], [(0, 10)], [], []),
    ([(0, 10)], [(0, 10)], [(0, 10)], []),
    ([(5, 5), (9, 9)], [(0, 100)], [(5, 5), (9, 9)], []),
])
def test_intersect_and_subtract(ranges, others, both, only_first):
    assert prefixes.intersect(ranges, others) == both
    assert prefixes.subtract(ranges, others) == only_first


@pytest.mark.parametrize('first, last, found', [
    (0, 0, []), (4, 12, [(1, 5), (10, 20)]), (21, 29, []), (40, 50, [(30, 40)]), (6, 9, []),
    (0, 100, [(1, 5), (10, 20), (30, 40)]),
])
def test_overlapping(first, last, found):
    assert prefixes.overlapping([(1, 5), (10, 20), (30, 40)], first, last) == found


def test_covers():
    assert prefixes.covers([(0, (1 << 32) - 1)], 32)
    assert not prefixes.covers([(0, (1 << 32) - 2)], 32)
    assert not prefixes.covers([], 32)


RANGE_LISTS = st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 60)), max_size=8).map(
    lambda items: prefixes.merge((first, min(first + span, 4095)) for first, span in items))


def _addresses(ranges):
    return {value for first, last in ranges for value in range(first, last + 1)}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 30)), max_size=10))
def test_merge_gives_the_range_list_of_the_same_addresses(items):
    """Sorted, neither overlapping nor touching, and covering exactly the addresses given."""
    ranges = [(first, first + span) for first, span in items]
    merged = prefixes.merge(ranges)
    assert _addresses(merged) == _addresses(ranges)
    assert all(last + 1 < following for (_f, last), (following, _l) in zip(merged, merged[1:]))
    assert all(first <= last for first, last in merged)


@settings(max_examples=300, deadline=None)
@given(RANGE_LISTS, RANGE_LISTS)
def test_set_operations_on_random_ranges(first, second):
    assert _addresses(prefixes.intersect(first, second)) == _addresses(first) & _addresses(second)
    assert _addresses(prefixes.subtract(first, second)) == _addresses(first) - _addresses(second)
    # the fewest prefixes: what ipaddress.collapse_addresses gives (12-bit space inside a /20)
    found = prefixes.to_prefixes(first, 12)
    expected = ipaddress.collapse_addresses(
        ipaddress.IPv4Network((value << 20, 12)) for value in _addresses(first))
    assert [(f << 20, length) for f, length in found] == \
        [(int(n.network_address), n.prefixlen) for n in expected]
    assert prefixes.from_prefixes(found, 12) == first
