# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_canonical.py: (members, exact numbers and host masks) and (members, None).

Its two users hold it to their member-by-member paths with property tests
(test__netfilter_sets.py, test_blocklists.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _canonical

NETS4 = _canonical.hostmasks('inet', range(8, 33))


def test_hostmasks():
    assert _canonical.hostmasks('inet', [24, 32]) == {'': 0, '/24': 255, '/32': 0}
    assert _canonical.hostmasks('inet6', [127])['/127'] == 1


@pytest.mark.parametrize('entries, family, expected', [
    (['10.0.0.0/8', '192.0.2.7', '192.0.2.8/32'], 'inet', ([10 << 24, 0xc0000207, 0xc0000208], [(1 << 24) - 1, 0, 0])),
    (['2001:db8::/32', '::1'], 'inet6', ([0x20010db8 << 96, 1], [(1 << 96) - 1, 0])),
])
def test_blocks_of_canonical_members(entries, family, expected):
    suffixes = NETS4 if family == 'inet' else _canonical.hostmasks('inet6', range(1, 129))
    assert _canonical.blocks(entries, family, suffixes) == expected


@pytest.mark.parametrize('entries', [
    [], ['010.0.0.0/8'], ['10.1'], ['10.0.0.1/24'], ['10.0.0.0/7'], ['10.0.0.0/08'], ['10.0.0.0/'],
    [' 10.0.0.1'], ['10.0.0.1\r'], ['2001:db8::1'], [7], ['10.0.0.1', 'x'],
])
def test_anything_else_is_none(entries):
    assert _canonical.blocks(entries, 'inet', NETS4) is None
