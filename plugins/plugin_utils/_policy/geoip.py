# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Country database formats: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns reading
one country database file (its bytes) into the address ranges of the countries asked for.
Three formats, one per file, recognised by the first data line:

* ``start,end,CC`` with integers: Debian's ``tor-geoipdb`` ``/usr/share/tor/geoip`` (IPv4);
* ``first,last,CC`` with addresses, IPv4 or IPv6: ``/usr/share/tor/geoip6``, the DB-IP lite
  country CSV;
* ``CIDR,CC``.

Lines starting with ``#`` and empty lines are skipped; any other line that is not of the
file's format is refused, naming the file and the line. A file has 400,000 lines: every
line is checked by one regular expression scan, and only the lines of the countries
asked for become Python objects. The database's date is its header's ``Generated:`` line
(tor-geoipdb copies IPFire's), or else the file's modification time. Pure Python, no
Ansible imports; errors raise ``DatabaseError``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import datetime
import email.utils
import itertools
import operator
import re
import socket

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import prefixes

INTEGERS = 'start,end,CC with integers (tor-geoipdb geoip)'
ADDRESSES = 'first,last,CC with addresses (tor-geoipdb geoip6, DB-IP lite country CSV)'
CIDRS = 'CIDR,CC'
FORMATS = (INTEGERS, ADDRESSES, CIDRS)
# One data line of each format, without its country column; the country is two upper-case
# letters, or "??" (tor's "unknown").
_FIELDS = {
    INTEGERS: rb'([0-9]{1,10}),([0-9]{1,10})',
    ADDRESSES: rb'([0-9A-Fa-f:.]{2,45}),([0-9A-Fa-f:.]{2,45})',
    CIDRS: rb'([0-9A-Fa-f:.]{2,45})/([0-9]{1,3})',
}
_COUNTRY = rb'([A-Z]{2}|\?\?)'
_LINE = dict((fmt, re.compile(fields + b',' + _COUNTRY + rb'\r?')) for fmt, fields in _FIELDS.items())
# The scans below find each line by the newline in front of it (the first line is looked at on
# its own): a search for a literal newline is the engine's fast scan (a ``^`` in multi-line
# mode is tried at every byte), half the time on a 16 MB file.
_END = rb'\r?(?=\n|\Z)'
# The first line of a file that is neither a comment, empty, nor a line of the format. A data line
# followed by a newline, the common case, is tried first, and its end found by a plain "\n" (a
# quarter faster than the lookahead, which is left for the last line).
_BAD = dict((fmt, re.compile(rb'\n(?!' + fields + b',' + _COUNTRY + rb'\r?\n|#|' + _END + b'|' + fields + b','
                             + _COUNTRY + _END + rb')[^\n]*'))
            for fmt, fields in _FIELDS.items())
_DATA_LINE = re.compile(rb'^(?!#|\r?$).*$', re.M)
_GENERATED = re.compile(rb'^#\s*Generated:\s*(.+?)\s*$', re.M)
# Codes the databases write for a country that ISO 3166-1 spells otherwise.
DATABASE_ALIASES = {'GB': ('UK',)}
MAX_DATE_HEADER = 4096
# Bytes of a database split into lines at a time (_lines_ending).
CHUNK = 1 << 20


class DatabaseError(ValueError):
    """A database file that cannot be read; the message names the line."""


def _line_number(data, offset):
    return data.count(b'\n', 0, offset) + 1


def _show(line):
    text = line.decode('utf-8', 'replace').rstrip('\r')
    return repr(text if len(text) <= 80 else text[:77] + '...')


def detect(data):
    """The format of a database's bytes (one of FORMATS). Raises DatabaseError."""
    first = _DATA_LINE.search(data)
    if first is None:
        raise DatabaseError('has no data line (only comments or nothing); valid: one of %s'
                            % '; '.join(FORMATS))
    for fmt in FORMATS:
        if _LINE[fmt].fullmatch(first.group()):
            return fmt
    raise DatabaseError('line %d: %s is not a country database line; valid formats: %s'
                        % (_line_number(data, first.start()), _show(first.group()), '; '.join(FORMATS)))


def date_of(data):
    """``(date, True)`` from a ``# Generated:`` header line, else ``(None, False)``."""
    match = _GENERATED.search(data[:MAX_DATE_HEADER])
    if match is None:
        return None, False
    try:
        stamp = email.utils.parsedate_to_datetime(match.group(1).decode('ascii', 'replace'))
    except (TypeError, ValueError):
        return None, False
    if stamp is None:
        return None, False
    return stamp.date(), True


def _address(text):
    """(version, integer) of an address of a database line, or None."""
    text = text.decode('ascii')
    version, family = (6, socket.AF_INET6) if ':' in text else (4, socket.AF_INET)
    try:
        return version, int.from_bytes(socket.inet_pton(family, text), 'big')
    except OSError:
        return None


def _wanted(countries):
    """The country column values of the countries asked for, and the code each stands for."""
    codes = {}
    for country in countries:
        codes[country.encode('ascii')] = country
        for alias in DATABASE_ALIASES.get(country, ()):
            codes[alias.encode('ascii')] = country
    return codes


class Parsed(object):
    """What one file gives: its format, date, the families it has lines of, and per country
    asked for ``{4: range list, 6: range list}`` (merged)."""

    def __init__(self, fmt, date, dated, families, ranges):
        self.format = fmt
        self.date = date            # a datetime.date, or None (the caller uses the file's mtime)
        self.dated = dated          # whether the date came from the file's header
        self.families = families    # sorted list of 4 and/or 6
        self.ranges = ranges        # {country: {4: [(first, last)], 6: [...]}}


def parse(data, countries):
    """Read a database's bytes; the merged ranges of ``countries`` (upper-case ISO codes).

    Raises DatabaseError naming the first bad line.
    """
    fmt = detect(data)
    bad = _first_bad(data, fmt)
    if bad is not None:
        raise DatabaseError('line %d: %s is not a line of this file\'s format (%s, as its first data '
                            'line); a country database has one format throughout'
                            % (_line_number(data, bad[0]), _show(bad[1]), fmt))
    codes = _wanted(countries)
    found = dict((country, {4: [], 6: []}) for country in countries)
    columns = _columns(data, fmt, codes) if codes else ([], [], [])
    by_code = _ranges_by_code(fmt, *columns)
    if by_code is None:         # a bad range: the careful reader names the first in the file
        by_code = _careful_ranges(data, fmt, *columns)
    for code, per in by_code.items():
        for version, ranges in per.items():
            found[codes[code]][version] += ranges       # UK and GB: both are GB
    date, dated = date_of(data)
    families = sorted(_families(data, fmt))
    ranges = dict((country, dict((v, prefixes.merge(r)) for v, r in per.items()))
                  for country, per in found.items())
    return Parsed(fmt, date, dated, families, ranges)


def _first_line(data):
    end = data.find(b'\n')
    return data if end < 0 else data[:end]


def _first_bad(data, fmt):
    """(offset, text) of the first line that is neither a comment, empty, nor of the format, or
    None. The scan finds each line by the newline in front of it; the first line has none, so it
    is looked at on its own (the file is not copied to put one there)."""
    first = _first_line(data)
    if _BAD[fmt].match(b'\n' + first):
        return 0, first
    bad = _BAD[fmt].search(data)
    return None if bad is None else (bad.start() + 1, bad.group()[1:])


def _columns(data, fmt, codes):
    """(firsts, seconds, codes): the three columns of the lines of the countries ``codes``, in the
    file's order (every line of ``data`` is of the format ``fmt``: checked already).

    The lines are found the faster way for their format (measured on tor-geoipdb): a file of
    short lines (start,end,CC with integers: 385,000 lines in 9 MB) by one scan of a regular
    expression that finds each line by the newline in front of it (the first line is looked at
    on its own); a file of long lines (IPv6 addresses) by ``endswith``, 1 MB at a time. Their
    fields are then split in one go.
    """
    wanted = sorted(codes)
    if fmt == CIDRS:
        rows = _findall(rb'\n' + _FIELDS[fmt] + b',(' + b'|'.join(wanted) + b')' + _END, data)
        return tuple(map(list, zip(*rows))) if rows else ([], [], [])
    if fmt == INTEGERS:
        lines = _findall(rb'\n([0-9]+,[0-9]+,(?:' + b'|'.join(wanted) + b'))' + _END, data)
    else:
        lines = _lines_ending(data, tuple(b',' + code for code in wanted))
    if not lines:
        return [], [], []
    fields = b','.join(lines).split(b',')
    return fields[0::3], fields[1::3], fields[2::3]


def _findall(pattern, data):
    """``findall`` of a pattern that starts with the newline in front of a line, the first line
    included (looked at on its own: the file is not copied to put a newline before it)."""
    pattern = re.compile(pattern)
    return pattern.findall(b'\n' + _first_line(data)) + pattern.findall(data)


def _lines_ending(data, ends):
    """The lines of ``data`` that end in one of ``ends`` and are not comments."""
    kept = []
    start = 0
    while start < len(data):       # a piece at a time: its list of lines stays small
        end = data.find(b'\n', start + CHUNK)
        end = len(data) if end < 0 else end
        piece = data[start:end]
        if b'\r' in piece:
            piece = piece.replace(b'\r\n', b'\n')    # the check allowed "\r" only before a newline
        kept += [line for line in piece.split(b'\n') if line.endswith(ends) and not line.startswith(b'#')]
        start = end
    return kept


def _families(data, fmt):
    if fmt == INTEGERS:
        return {4}
    # a data line of IPv4 starts "a.b.", one of IPv6 has a colon in its first group: searched
    # from a newline, which the regular expression engine finds at C speed
    found = set()
    for version, start in ((4, rb'[0-9]{1,3}\.[0-9]{1,3}\.'), (6, rb'[0-9A-Fa-f]{0,4}:')):
        if re.match(start, data) or re.search(b'\n' + start, data):
            found.add(version)
    return found


def _ranges_by_code(fmt, firsts, lasts, codes):
    """``{code: {4: ranges, 6: ranges}}`` of the rows (each code's in the file's order) when all
    are valid ranges, else None.

    The short way through 300,000 rows: the columns are converted at once (``map``, C loops);
    _careful_ranges decides the same and words the refusal of the first bad row.
    """
    if fmt == CIDRS:
        return None if firsts else {}
    try:
        if fmt == INTEGERS:
            is6 = itertools.repeat(False)
            lows, highs = list(map(int, firsts)), list(map(int, lasts))
            if highs and max(highs) > 0xffffffff:
                return None
        else:
            is6 = [b':' in first for first in firsts]
            lows, highs = _numbers(is6, firsts), _numbers(is6, lasts)
    except (OSError, ValueError):
        return None
    if any(map(operator.gt, lows, highs)):
        return None
    # grouped by a plain loop: measured faster than a sort by key or a C loop per country
    groups = collections.defaultdict(list)
    for key, item in zip(zip(codes, is6), zip(lows, highs)):
        groups[key].append(item)
    found = {}
    for (code, ipv6), items in groups.items():
        found.setdefault(code, {4: [], 6: []})[6 if ipv6 else 4] = items
    return found


def _careful_ranges(data, fmt, firsts, lasts, codes):
    """What _ranges_by_code gives, a row at a time: raises DatabaseError naming the first row of
    the file that is not a valid range."""
    reader = {INTEGERS: _integers, ADDRESSES: _addresses, CIDRS: _cidrs}[fmt]
    found = {}
    for first, second, code in zip(firsts, lasts, codes):
        version, low, high = reader(data, first, second)
        found.setdefault(code, {4: [], 6: []})[version].append((low, high))
    return found


def _numbers(is6, texts):
    """The integers of addresses (bytes), IPv6 where ``is6`` says so: C loops (map), a call each."""
    families = map({False: socket.AF_INET, True: socket.AF_INET6}.__getitem__, is6)
    packed = map(socket.inet_pton, families, map(bytes.decode, texts))
    return list(map(int.from_bytes, packed, itertools.repeat('big')))


def _where(data, *fields):
    """The line number of the first line that starts with ``fields`` joined by commas."""
    match = re.search(rb'^' + re.escape(b','.join(fields)), data, re.M)
    return _line_number(data, match.start()) if match else 0


def _integers(data, first, second):
    low, high = int(first), int(second)
    if low > high or high > 0xffffffff:
        raise DatabaseError('line %d: %s..%s is not a range of IPv4 addresses (0 to 4294967295, '
                            'start <= end)' % (_where(data, first, second), first.decode(),
                                               second.decode()))
    return 4, low, high


def _addresses(data, first, second):
    low, high = _address(first), _address(second)
    if low is None or high is None:
        text = (first if low is None else second).decode()
        raise DatabaseError('line %d: %r is not an IPv4 or IPv6 address'
                            % (_where(data, first, second), text))
    if low[0] != high[0] or low[1] > high[1]:
        raise DatabaseError('line %d: %s,%s is not a range of addresses (one family, first <= last)'
                            % (_where(data, first, second), first.decode(), second.decode()))
    return low[0], low[1], high[1]


def _cidrs(data, first, second):
    address = _address(first)
    length = int(second)
    width = prefixes.WIDTH[address[0]] if address else 0
    if address is None or length > width or (len(second) > 1 and second.startswith(b'0')):
        raise DatabaseError('line %d: %s/%s is not a CIDR'
                            % (_where(data, first + b'/' + second), first.decode(), second.decode()))
    version, value = address
    size = 1 << (width - length)
    if value & (size - 1):
        network = prefixes.entries(version, [(value & ~(size - 1), length)])[0]
        raise DatabaseError('line %d: %s/%s has host bits set; did you mean %s?'
                            % (_where(data, first + b'/' + second), first.decode(), second.decode(),
                               network if '/' in network else '%s/%d' % (network, length)))
    return version, value, value + size - 1


def dates_text(date):
    """A date as the role prints it."""
    return date.isoformat() if isinstance(date, datetime.date) else 'unknown date'
