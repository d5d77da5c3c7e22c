# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""blocklists.py: (line, exact entry) and (line or file, exact error naming the line)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import blocklists

FORMATS = ('; valid: one address or CIDR per line, "#" and ";" start a comment (plain lists, '
           'FireHOL .netset, Spamhaus DROP "CIDR ; SBLnnn"), or Spamhaus JSON lines {"cidr": ...}')


@pytest.mark.parametrize('line, entry', [
    ('203.0.113.5', '203.0.113.5'),
    ('  198.51.100.0/24\r', '198.51.100.0/24'),
    ('1.10.16.0/20 ; SBL256894', '1.10.16.0/20'),                      # Spamhaus DROP
    ('2001:db8::/32 ; SBL1', '2001:db8::/32'),
    ('5.188.10.0/23 # scanners', '5.188.10.0/23'),
    ('{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}', '1.10.16.0/20'),   # Spamhaus JSON
    ('{"type":"metadata","timestamp":1700000000,"size":1000}', None),
    ('# FireHOL netset header', None),
    ('; Spamhaus DROP List 2024/01/01', None),
    ('', None),
    ('   ', None),
])
def test_entry_text(line, entry):
    assert blocklists.entry_text(line) == entry


@pytest.mark.parametrize('line, message', [
    ('1.2.3.4 5.6.7.8', "'1.2.3.4 5.6.7.8' holds more than one entry" + FORMATS),
    ('{"sblid": "SBL1"}', '\'{"sblid": "SBL1"}\' has no "cidr"'),
    ('{"cidr": 5}', '"cidr" must be a string, got 5'),
    ('{not json', "'{not json' is not a JSON object"),
    ('["1.2.3.4"]', None),
])
def test_entry_text_refusals(line, message):
    if message is None:
        assert blocklists.entry_text(line) == '["1.2.3.4"]'     # not JSON: the address parser refuses it
        return
    with pytest.raises(ValueError) as excinfo:
        blocklists.entry_text(line)
    assert str(excinfo.value) == message


@pytest.mark.parametrize('text, message', [
    ('10.0.0.0/7', "'10.0.0.0/7' is wider than a blocklist entry may be; valid: at most /8 for IPv4 "
                   'and /32 for IPv6'),
    ('224.0.0.0/3', "'224.0.0.0/3' is wider than a blocklist entry may be; valid: at most /8 for IPv4 "
                    'and /32 for IPv6'),
    ('2001::/16', "'2001::/16' is wider than a blocklist entry may be; valid: at most /8 for IPv4 "
                  'and /32 for IPv6'),
    ('10.1.2.3/24', "'10.1.2.3/24' has host bits set; did you mean 10.1.2.0/24?"),
    ('010.1.2.3', "'010.1.2.3' is not a valid IPv4 or IPv6 address or CIDR: leading zeros are ambiguous "
                  '(some tools read 010 as octal, that is 8); did you mean 10.1.2.3?'),
])
def test_entry_refusals(text, message):
    with pytest.raises(ValueError) as excinfo:
        blocklists.parse_entry(text)
    assert str(excinfo.value) == message


def test_widest_entries_are_accepted():
    assert blocklists.parse_entry('10.0.0.0/8').prefixlen == 8
    assert blocklists.parse_entry('2001:db8::/32').prefixlen == 32


SPAMHAUS = '''; Spamhaus DROP List 2026/12/01 - (c) 2026 The Spamhaus Project SLU
; https://www.spamhaus.org/drop/drop.txt
; Last-Modified: Mon, 01 Dec 2026 12:00:00 GMT
1.10.16.0/20 ; SBL256894
1.19.0.0/16 ; SBL434604
'''


def test_parse_file_names_file_and_line():
    entries, errors = blocklists.parse_file(SPAMHAUS, 'drop.txt')
    assert errors == []
    assert [(s.cidr(), origin) for s, origin in entries] == [
        ('1.10.16.0/20', 'drop.txt line 4'), ('1.19.0.0/16', 'drop.txt line 5')]


def test_parse_file_reports_bad_lines_and_caps_them():
    text = '\n'.join(['# feed', '203.0.113.0/24'] + ['<html>%d</html>' % n for n in range(8)] + ['10.1.2.3/24'])
    entries, errors = blocklists.parse_file(text, 'feed.txt')
    assert [s.cidr() for s, _origin in entries] == ['203.0.113.0/24']
    assert errors[0] == ("feed.txt line 3: '<html>0</html>' is not a valid IPv4 or IPv6 address or CIDR: it "
                         "contains '<' (U+003C LESS-THAN SIGN); an address has only digits, a-f, \".\" and "
                         "\":\", then \"/\" and the prefix length")
    assert len(errors) == blocklists.MAX_ERRORS_PER_FILE + 1
    assert errors[-1] == 'feed.txt: ... and 4 more bad lines'


# Lines a plain feed has, and near misses the short way must leave to the strict parser.
FEED_LINES = ['203.0.113.5', '198.51.100.0/24', '10.0.0.0/8', '1.2.3.4/32', '0.0.0.0/8', '255.255.255.255',
              '# comment 1.2.3.4', '; comment', '', '10.0.0.0/7', '0.0.0.0/0', '010.0.0.0/8', '10.1',
              '1.2.3.4/24', '1.2.3.0/024', '1.2.3.0/33', '1.2.3.0/', '1.2.3.4 ; SBL1', ' 1.2.3.4', '1.2.3.4\r',
              '2001:db8::/32', '::ffff:1.2.3.4', '1.2.3.4/8x', 'x', '{"cidr": "1.2.3.0/24"}', '1.2.3.4 5.6.7.8']


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(FEED_LINES), max_size=12))
def test_the_short_way_through_a_feed_agrees_with_the_strict_parser(lines):
    """Whenever plain_ipv4_ranges answers, parse_file gives the same ranges, in order, and no error."""
    text = '\n'.join(lines)
    short = blocklists.plain_ipv4_ranges(text)
    entries, errors = blocklists.parse_file(text, 'feed')
    if short is not None:
        assert errors == []
        assert short == [(subnet.value, subnet.last) for subnet, _origin in entries]


@pytest.mark.parametrize('text', [
    '# FireHOL level 1\n1.10.16.0/20\n5.188.10.0/23\n203.0.113.5\n',
    '203.0.113.5\n\n; note\n198.51.100.0/24',
])
def test_a_plain_feed_takes_the_short_way(text):
    entries, _errors = blocklists.parse_file(text, 'feed')
    assert blocklists.plain_ipv4_ranges(text) == [(s.value, s.last) for s, _origin in entries]
