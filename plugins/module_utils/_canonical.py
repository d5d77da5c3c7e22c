# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Addresses and CIDRs in ``ipset save``'s form, checked a whole list at a time (private).

Private to the pbxops.firewall collection. A country's set has 200,000 members and a
blocklist feed 50,000 lines: ``blocks`` checks all of them in C loops (``map``), with no
Python call per member. The host checks set members with it (``_netfilter``), the
controller a blocklist feed (``_policy/blocklists.py``); each keeps a member-by-member path
that decides the rest and words the refusals. Standard library only, so the controller's
filters load no Ansible core through it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
import operator
import socket

FAMILIES = {'inet': (socket.AF_INET, 32), 'inet6': (socket.AF_INET6, 128)}


def hostmasks(family, lengths):
    """``{suffix: host bits}`` for a host ("", no host bits) and for each "/N" of ``lengths``."""
    width = FAMILIES[family][1]
    return dict([('', 0)] + [('/%d' % n, (1 << (width - n)) - 1) for n in lengths])


def blocks(entries, family, suffixes):
    """``(numbers, host masks)`` of ``entries`` (strings) when each is an address of ``family``
    as ``inet_ntop`` writes it, followed by one of ``suffixes`` (hostmasks) with no host bit
    set; else None (an empty list too)."""
    af = FAMILIES[family][0]
    try:
        addresses, slashes, lengths = zip(*map(str.partition, entries, itertools.repeat('/')))
        packed = list(map(socket.inet_pton, itertools.repeat(af), addresses))
    except (TypeError, ValueError, OSError):
        return None
    if not all(map(operator.eq, map(socket.inet_ntop, itertools.repeat(af), packed), addresses)):
        return None
    ends = list(map(operator.add, slashes, lengths))
    if not suffixes.keys() >= set(ends):
        return None
    numbers = list(map(int.from_bytes, packed, itertools.repeat('big')))
    masks = list(map(suffixes.__getitem__, ends))
    if any(map(operator.and_, numbers, masks)):
        return None
    return numbers, masks
