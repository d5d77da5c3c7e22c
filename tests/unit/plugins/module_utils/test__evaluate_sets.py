# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_evaluate.IpSet: longest-member lookups in large sets, (set, address, exact answer)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.pbxops.firewall.plugins.module_utils import _evaluate

SET = {'name': 'pbxfw-x', 'family': 'inet',
       'entries': ['10.0.0.0/8', '10.1.0.0/16 nomatch', '10.1.2.0/24', '10.1.2.3', '192.0.2.0/25']}


@pytest.mark.parametrize('address, member, contained', [
    ('10.9.9.9', ('10.0.0.0/8', False), True),
    ('10.1.9.9', ('10.1.0.0/16', True), False),        # nomatch: the longest member excludes it
    ('10.1.2.9', ('10.1.2.0/24', False), True),
    ('10.1.2.3', ('10.1.2.3', False), True),
    ('192.0.2.127', ('192.0.2.0/25', False), True),
    ('192.0.2.128', None, False),
    ('2001:db8::1', None, False),                       # another family
])
def test_lookup(address, member, contained):
    ipset = _evaluate.IpSet(SET)
    assert ipset.lookup(ipaddress.ip_address(address)) == member
    assert ipset.contains(ipaddress.ip_address(address)) is contained


def test_members_as_one_string():
    ipset = _evaluate.IpSet({'name': 'pbxfw-z', 'family': 'inet', 'entries': '10.0.0.0/8\n10.1.0.0/16 nomatch\n'})
    assert ipset.lookup(ipaddress.ip_address('10.1.2.3')) == ('10.1.0.0/16', True)
    assert ipset.contains(ipaddress.ip_address('10.2.0.1'))


def test_ipv6_and_members_written_any_way():
    ipset = _evaluate.IpSet({'name': 'pbxfw-y', 'family': 'inet6',
                             'entries': ['2001:DB8::/32', '2001:db8:0:0:0:0:0:7', '2001:db8:1::/48 nomatch']})
    assert ipset.lookup(ipaddress.ip_address('2001:db8::7')) == ('2001:db8:0:0:0:0:0:7', False)
    assert ipset.contains(ipaddress.ip_address('2001:db8:5::1'))
    assert not ipset.contains(ipaddress.ip_address('2001:db8:1::1'))


def test_a_large_set_is_indexed_once_and_answers_exactly():
    entries = ['%s/24' % ipaddress.IPv4Address(0x05000000 + 512 * i) for i in range(60000)]
    ipset = _evaluate.IpSet({'name': 'pbxfw-cc4-1', 'family': 'inet', 'entries': entries, 'source': 'countries X'})
    assert ipset.source == 'countries X'
    for i in (0, 1, 29999, 59999):
        inside = ipaddress.IPv4Address(0x05000000 + 512 * i + 77)
        assert ipset.lookup(inside) == (entries[i], False)
        assert not ipset.contains(inside + 256)                  # the gap after each member


@pytest.mark.parametrize('entries, message', [
    (['10.0.0.0/33'], "ipset pbxfw-x: '10.0.0.0/33' is not an IPv4 address or CIDR"),
    (['2001:db8::/32'], "ipset pbxfw-x: '2001:db8::/32' is not an IPv4 address or CIDR"),
    (['10.0.0.0/8 timeout'], "ipset pbxfw-x: bad entry '10.0.0.0/8 timeout'"),
])
def test_bad_members_are_refused_when_the_set_is_first_used(entries, message):
    ipset = _evaluate.IpSet({'name': 'pbxfw-x', 'family': 'inet', 'entries': entries})
    with pytest.raises(ValueError) as excinfo:
        ipset.contains(ipaddress.ip_address('10.0.0.1'))
    assert str(excinfo.value) == message


# members written any way the evaluator accepts, and ones it refuses
ANY_MEMBER = st.one_of(
    st.builds(lambda v, n: '%s/%d' % (ipaddress.IPv4Address(v), n), st.integers(0, 2 ** 32 - 1), st.integers(0, 32)),
    st.builds(lambda v: str(ipaddress.IPv4Address(v)), st.integers(0, 2 ** 32 - 1)),
    st.builds(lambda v, n: '%s/%d' % (ipaddress.IPv6Address(v), n), st.integers(0, 2 ** 128 - 1),
              st.integers(0, 128)),
    st.sampled_from(['10.0.0.0/8 nomatch', '10.0.0.0/08', '10.0.0.0/+8', '10.0.0.0/', '10.0.0.0/33', ' 10.0.0.0/8',
                     '10.0.0.0/8 timeout', '010.0.0.0/8', '::/0', '', '10.0.0.0/-1']),
    st.sampled_from([None, 7]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(ANY_MEMBER, max_size=6), st.sampled_from(['inet', 'inet6']))
def test_the_one_pass_index_is_the_member_by_member_index(entries, family):
    """A set of plain members is indexed in C loops; whatever it gives (or refuses), the member
    by member index gives (or refuses) too."""
    ipset = _evaluate.IpSet({'name': 'pbxfw-p', 'family': family, 'entries': entries})
    fast = ipset._plain_index(entries)
    try:
        slow = ipset._index_each(entries)
    except ValueError:
        assert fast is None
    else:
        assert fast == slow or (fast is None and not all(isinstance(e, str) and e.split() == [e] for e in entries))
