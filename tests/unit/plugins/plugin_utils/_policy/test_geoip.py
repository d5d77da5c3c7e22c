# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""geoip.py: (database bytes, exact ranges, format and date) and (bytes, exact error naming the line)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import geoip

TOR_HEADER = b'''# This file has been converted from the IPFire Location database
#
# Generated: Thu, 25 Jun 2026 04:33:59 GMT
# License:   CC BY-SA 4.0
#
'''
FORMATS = ('start,end,CC with integers (tor-geoipdb geoip); first,last,CC with addresses (tor-geoipdb '
           'geoip6, DB-IP lite country CSV); CIDR,CC')


def ip(text):
    return int(ipaddress.ip_address(text))


def v4(first, last):
    return (ip(first), ip(last))


TOR_V4 = TOR_HEADER + b'''15726992,15726999,??
16777216,16777471,AU
16777472,16778239,CN
16778240,16779263,AU
16779264,16781311,CN
50331648,50331903,UK
50331904,50332159,GB
'''
TOR_V6 = TOR_HEADER + b'''2001::,2001:0:ffff:ffff:ffff:ffff:ffff:ffff,??
2001:2::,2001:2:0:ffff:ffff:ffff:ffff:ffff,JP
2001:200:135::,2001:200:135:ffff:ffff:ffff:ffff:ffff,US
2001:200:136::,2001:200:179:ffff:ffff:ffff:ffff:ffff,JP
'''
DBIP = b'''1.0.0.0,1.0.0.255,AU
1.0.1.0,1.0.3.255,CN
1.0.4.0,1.0.7.255,AU
2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,JP
'''
CIDRS = b'''# hand-made
203.0.113.0/25,DE
203.0.113.128/25,DE
2001:db8::/32,DE
198.51.100.0/24,AT
'''


@pytest.mark.parametrize('data, countries, fmt, families, ranges', [
    (TOR_V4, ['CN'], geoip.INTEGERS, [4], {'CN': {4: [v4('1.0.1.0', '1.0.3.255'), v4('1.0.8.0', '1.0.15.255')],
                                                  6: []}}),
    # adjacent lines of one country are one range; UK is how databases spell GB
    (TOR_V4, ['AU', 'GB'], geoip.INTEGERS, [4], {
        'AU': {4: [v4('1.0.0.0', '1.0.0.255'), v4('1.0.4.0', '1.0.7.255')], 6: []},
        'GB': {4: [v4('3.0.0.0', '3.0.1.255')], 6: []}}),
    (TOR_V6, ['JP'], geoip.ADDRESSES, [6], {'JP': {4: [], 6: [
        (ip('2001:2::'), ip('2001:2:0:ffff:ffff:ffff:ffff:ffff')),
        (ip('2001:200:136::'), ip('2001:200:179:ffff:ffff:ffff:ffff:ffff'))]}}),
    (DBIP, ['AU', 'JP'], geoip.ADDRESSES, [4, 6], {
        'AU': {4: [v4('1.0.0.0', '1.0.0.255'), v4('1.0.4.0', '1.0.7.255')], 6: []},
        'JP': {4: [], 6: [(ip('2001:200::'), ip('2001:200:ffff:ffff:ffff:ffff:ffff:ffff'))]}}),
    (CIDRS, ['DE'], geoip.CIDRS, [4, 6], {'DE': {4: [v4('203.0.113.0', '203.0.113.255')],
                                                 6: [(ip('2001:db8::'), ip('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'))]}}),
    (CIDRS, ['FR'], geoip.CIDRS, [4, 6], {'FR': {4: [], 6: []}}),
    (CIDRS, [], geoip.CIDRS, [4, 6], {}),
    (b'1.0.0.0,1.0.0.255,AU\r\n1.0.1.0,1.0.1.255,AU\r\n', ['AU'], geoip.ADDRESSES, [4],
     {'AU': {4: [v4('1.0.0.0', '1.0.1.255')], 6: []}}),
    # a comment that ends like a wanted line is a comment; the last line may lack its newline
    (b'# moved: 1,2,AU\n16777216,16777471,AU\n# 5,6,AU', ['AU'], geoip.INTEGERS, [4],
     {'AU': {4: [v4('1.0.0.0', '1.0.0.255')], 6: []}}),
    (b'16777216,16777471,AU\r\n16777472,16777727,AU', ['AU'], geoip.INTEGERS, [4],
     {'AU': {4: [v4('1.0.0.0', '1.0.1.255')], 6: []}}),
])
def test_parse(data, countries, fmt, families, ranges):
    parsed = geoip.parse(data, countries)
    assert (parsed.format, parsed.families, parsed.ranges) == (fmt, families, ranges)


@pytest.mark.parametrize('data, countries', [
    (TOR_V4, ['AU', 'GB', 'CN']), (TOR_V6, ['JP', 'US']), (DBIP, ['AU', 'JP', 'CN']), (CIDRS, ['DE', 'AT']),
    (b'1.0.0.0,1.0.0.255,AU\r\n2001:200::,2001:200::ff,AU\r\n1.0.1.0,1.0.1.255,AU', ['AU']),
])
def test_the_short_way_gives_what_the_careful_readers_give(data, countries, monkeypatch):
    """Countries converted a whole column at a time (_ranges_by_code) and row by row (the
    readers that word a refusal) give the same ranges."""
    short = geoip.parse(data, countries).ranges
    monkeypatch.setattr(geoip, '_ranges_by_code', lambda *columns: None)
    assert geoip.parse(data, countries).ranges == short


@pytest.mark.parametrize('data, countries', [(TOR_V6, ['JP']), (DBIP, ['AU', 'JP'])])
def test_a_database_read_a_few_bytes_at_a_time_gives_the_same_ranges(data, countries, monkeypatch):
    whole = geoip.parse(data, countries).ranges
    monkeypatch.setattr(geoip, 'CHUNK', 7)
    assert geoip.parse(data, countries).ranges == whole


def test_dates():
    assert geoip.parse(TOR_V4, []).date == datetime.date(2026, 6, 25)
    assert geoip.parse(TOR_V4, []).dated is True
    assert geoip.parse(DBIP, []).date is None        # countrydb uses the file's modification time
    assert geoip.parse(b'# Generated: not a date\n1,2,DE\n', []).date is None


@pytest.mark.parametrize('data, message', [
    (b'', 'has no data line (only comments or nothing); valid: one of ' + FORMATS),
    (b'# only\n# comments\n\n', 'has no data line (only comments or nothing); valid: one of ' + FORMATS),
    (b'# header\n<html><body>Not found</body></html>\n',
     "line 2: '<html><body>Not found</body></html>' is not a country database line; valid formats: " + FORMATS),
    (b'network,country\n1.0.0.0/24,AU\n',
     "line 1: 'network,country' is not a country database line; valid formats: " + FORMATS),
    (b'1,2,DE\n3,4,de\n', "line 2: '3,4,de' is not a line of this file's format (start,end,CC with "
                          "integers (tor-geoipdb geoip), as its first data line); a country database has "
                          "one format throughout"),
    (b'1,2,DE\n3,4,de', "line 2: '3,4,de' is not a line of this file's format (start,end,CC with "
                        "integers (tor-geoipdb geoip), as its first data line); a country database has "
                        "one format throughout"),
    (b'1,2,DE\n3,4,DE,extra\n', "line 2: '3,4,DE,extra' is not a line of this file's format (start,end,CC "
                                "with integers (tor-geoipdb geoip), as its first data line); a country "
                                "database has one format throughout"),
    (b'1.0.0.0,1.0.0.255,AU\n1.0.1.0/24,AU\n',
     "line 2: '1.0.1.0/24,AU' is not a line of this file's format (first,last,CC with addresses (tor-geoipdb "
     "geoip6, DB-IP lite country CSV), as its first data line); a country database has one format throughout"),
    (b'5,4,DE\n', 'line 1: 5..4 is not a range of IPv4 addresses (0 to 4294967295, start <= end)'),
    (b'1,4294967296,DE\n', 'line 1: 1..4294967296 is not a range of IPv4 addresses (0 to 4294967295, '
                           'start <= end)'),
    (b'# x\n1.0.0.0,1.0.0.255,AU\n1.0.1.0,01.0.1.255,DE\n', "line 3: '01.0.1.255' is not an IPv4 or IPv6 address"),
    (b'1.0.0.9,1.0.0.1,DE\n', 'line 1: 1.0.0.9,1.0.0.1 is not a range of addresses (one family, first <= last)'),
    (b'1.0.0.0,2001::,DE\n', 'line 1: 1.0.0.0,2001:: is not a range of addresses (one family, first <= last)'),
    (b'10.1.2.3/24,DE\n', 'line 1: 10.1.2.3/24 has host bits set; did you mean 10.1.2.0/24?'),
    (b'10.1.2.0/33,DE\n', 'line 1: 10.1.2.0/33 is not a CIDR'),
    (b'10.1.2.0/024,DE\n', 'line 1: 10.1.2.0/024 is not a CIDR'),
    (b'2001:db8::1/64,DE\n', 'line 1: 2001:db8::1/64 has host bits set; did you mean 2001:db8::/64?'),
])
def test_refusals(data, message):
    with pytest.raises(geoip.DatabaseError) as excinfo:
        geoip.parse(data, ['DE', 'AU'])
    assert str(excinfo.value) == message


def test_a_bad_line_of_another_country_is_refused_too():
    """Every line is checked, not only the lines of the countries asked for."""
    with pytest.raises(geoip.DatabaseError) as excinfo:
        geoip.parse(TOR_V4 + b'16781312,16785407,J P\n', ['CN'])
    assert str(excinfo.value).startswith("line 13: '16781312,16785407,J P' is not a line of this file's format")


def test_the_real_database(tor_geoipdb):
    """tor-geoipdb as Debian ships it: every line is of its format; the counts the README gives."""
    v4_file, v6_file = tor_geoipdb
    with open(v4_file, 'rb') as handle:
        parsed = geoip.parse(handle.read(), ['DE', 'CN'])
    assert parsed.format == geoip.INTEGERS and parsed.date is not None
    assert len(parsed.ranges['DE'][4]) > 10000 and len(parsed.ranges['CN'][4]) > 1000
    assert not set(parsed.ranges['DE'][4]) & set(parsed.ranges['CN'][4])
    with open(v6_file, 'rb') as handle:
        parsed = geoip.parse(handle.read(), ['DE'])
    assert parsed.format == geoip.ADDRESSES and parsed.families == [6]
    assert len(parsed.ranges['DE'][6]) > 1000
