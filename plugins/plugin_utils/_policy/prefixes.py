# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Address ranges and prefixes as integers: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns the
arithmetic of large address sets (a country's blocks, a blocklist feed): ranges are
``(first, last)`` integer pairs, prefixes ``(first, prefix length)`` pairs, both of one
address family (its ``width``, 32 or 128 bits). A *range list* is sorted, and its ranges
neither overlap nor touch (``merge``); the set operations take and give range lists, and
``to_prefixes`` turns one into the fewest CIDR prefixes (what netaddr's ``cidr_merge``
gives, at 50,000 prefixes per tenth of a second). ``entries`` prints prefixes the way
``ipset save`` does, and ``members`` a range list's prefixes. Pure Python, no Ansible
imports, no netaddr (plain integers are fast enough and need no parsing).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bisect
import itertools
import operator
import socket
import struct

WIDTH = {4: 32, 6: 128}


def merge(ranges):
    """The range list covering the same addresses as ``ranges`` (any order, overlaps allowed)."""
    result = []
    append = result.append
    items = iter(sorted(ranges))
    for low, high in items:     # the first range, if any
        break
    else:
        return result
    for first, last in items:   # the range being built is kept in locals: a country has 50,000
        if first > high + 1:
            append((low, high))
            low, high = first, last
        elif last > high:
            high = last
    append((low, high))
    return result


def from_prefixes(prefixes, width):
    """The range list of ``prefixes`` (any order)."""
    return merge((first, first + (1 << (width - length)) - 1) for first, length in prefixes)


def to_prefixes(ranges, width):
    """The fewest prefixes covering a range list exactly, sorted by address."""
    return list(zip(*_blocks(ranges, width)))


def _blocks(ranges, width):
    """to_prefixes's prefixes as two lists, their first addresses and their lengths: members
    formats them without a tuple per prefix (twice as fast for a country's 200,000)."""
    firsts, lengths = [], []
    add_first, add_length = firsts.append, lengths.append
    for first, last in ranges:
        while first <= last:
            # the largest block that starts at ``first`` (its alignment) and ends by ``last``
            size = (first & -first).bit_length() - 1 if first else width
            span = (last - first + 1).bit_length() - 1
            if span < size:
                size = span
            add_first(first)
            add_length(width - size)
            first += 1 << size
    return firsts, lengths


def intersect(ranges, others):
    """The range list of the addresses in both range lists."""
    result = []
    i = j = 0
    while i < len(ranges) and j < len(others):
        first = max(ranges[i][0], others[j][0])
        last = min(ranges[i][1], others[j][1])
        if first <= last:
            result.append((first, last))
        if ranges[i][1] < others[j][1]:
            i += 1
        else:
            j += 1
    return result


def subtract(ranges, others):
    """The range list of the addresses of ``ranges`` that are not in ``others``."""
    result = []
    j = 0
    for first, last in ranges:
        while j < len(others) and others[j][1] < first:
            j += 1
        k = j
        while first <= last and k < len(others) and others[k][0] <= last:
            if others[k][0] > first:
                result.append((first, others[k][0] - 1))
            first = max(first, others[k][1] + 1)
            k += 1
        if first <= last:
            result.append((first, last))
    return result


def overlapping(ranges, first, last):
    """The ranges of a range list that share an address with ``[first, last]``."""
    start = bisect.bisect_left(ranges, (first, first))
    if start and ranges[start - 1][1] >= first:
        start -= 1
    found = []
    for item in ranges[start:]:
        if item[0] > last:
            break
        found.append(item)
    return found


def covers(ranges, width):
    """Whether a range list holds every address of its family."""
    return bool(ranges) and ranges[0] == (0, (1 << width) - 1)


# What follows an address in an ``ipset save`` member, per prefix length: nothing for a host.
_SUFFIXES = dict((version, ['/%d' % length for length in range(width)] + [''])
                 for version, width in WIDTH.items())


def entries(version, prefixes):
    """``ipset save`` members of prefixes: a host without its prefix length, a network with it."""
    return _texts(version, *zip(*prefixes)) if prefixes else []


def members(version, ranges):
    """The ``ipset save`` members that cover a range list exactly: its prefixes (to_prefixes) as
    ``entries`` prints them."""
    return _texts(version, *_blocks(ranges, WIDTH[version]))


def _texts(version, firsts, lengths):
    """C loops (``map``) over the addresses and the lengths, no Python call per member: a
    country's sets have 200,000."""
    if version == 4:
        packed = map(struct.Struct('!I').pack, firsts)
        texts = map(socket.inet_ntoa, packed)
    else:
        packed = map(int.to_bytes, firsts, itertools.repeat(16), itertools.repeat('big'))
        texts = map(socket.inet_ntop, itertools.repeat(socket.AF_INET6), packed)
    return list(map(operator.add, texts, map(_SUFFIXES[version].__getitem__, lengths)))
