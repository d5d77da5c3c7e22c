# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""addresses.py: the strict address parser, (text, exact subnet) and (text, exact error).

Strictness does not depend on the installed netaddr: the same table runs against the
oldest netaddr the collection accepts in test_netaddr_versions.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import addresses

NOT_VALID = ' is not a valid IPv4 or IPv6 address or CIDR'
GENERIC = ' (e.g. 192.168.10.0/24, 203.0.113.5, 2001:db8::/32)'
ONLY_ADDRESS_CHARACTERS = '; an address has only digits, a-f, "." and ":", then "/" and the prefix length'
FOUR_NUMBERS = ': an IPv4 address is four numbers 0-255 separated by dots; '
LEADING_ZEROS = ': leading zeros are ambiguous (some tools read 010 as octal, that is 8)'
ASCII_DIGITS = ': numbers are written with the ASCII digits 0-9 only, '
PREFIX_LENGTH = ': the prefix length after "/" must be a decimal number 0-'


def refused(reason, *values):
    """Rows (value, exact message) for values refused for one reason: the message quotes the
    value (Python's repr), says it is not an address, then gives the reason."""
    return [(value, repr(value) + NOT_VALID + reason) for value in values]


def refused_with_hint(reason, *cases):
    """Rows for (value, what it meant) cases: the reason ends with 'did you mean MEANT?'."""
    return [(value, repr(value) + NOT_VALID + reason + 'did you mean %s?' % meant) for value, meant in cases]


def refused_character(*cases):
    """Rows for (value, the character as the message shows it) cases: a character no address has."""
    return [(value, repr(value) + NOT_VALID + ': it contains ' + character + ONLY_ADDRESS_CHARACTERS)
            for value, character in cases]


@pytest.mark.parametrize('text, version, cidr, entry', [
    ('192.168.10.0/24', 4, '192.168.10.0/24', '192.168.10.0/24'),
    (' 10.0.0.0/8 ', 4, '10.0.0.0/8', '10.0.0.0/8'),
    ('0.0.0.0/0', 4, '0.0.0.0/0', '0.0.0.0/0'),
    ('203.0.113.5', 4, '203.0.113.5/32', '203.0.113.5'),
    ('203.0.113.5/32', 4, '203.0.113.5/32', '203.0.113.5'),
    ('2001:DB8::/32', 6, '2001:db8::/32', '2001:db8::/32'),
    ('2001:0db8:0000:0000:0000:0000:0000:0000/48', 6, '2001:db8::/48', '2001:db8::/48'),
    ('2001:db8::1', 6, '2001:db8::1/128', '2001:db8::1'),
    ('2001:db8:0:0:1:0:0:1', 6, '2001:db8::1:0:0:1/128', '2001:db8::1:0:0:1'),
    ('::/0', 6, '::/0', '::/0'),
    ('::1', 6, '::1/128', '::1'),
    ('FD00:8::/64', 6, 'fd00:8::/64', 'fd00:8::/64'),
    ('64:ff9b::192.0.2.1', 6, '64:ff9b::c000:201/128', '64:ff9b::c000:201'),
    ('1:2:3:4:5:6:7::', 6, '1:2:3:4:5:6:7:0/128', '1:2:3:4:5:6:7:0'),
    ('::1:2:3:4:5:6:7', 6, '0:1:2:3:4:5:6:7/128', '0:1:2:3:4:5:6:7'),
    ('255.255.255.255', 4, '255.255.255.255/32', '255.255.255.255'),
    ('0.0.0.0', 4, '0.0.0.0/32', '0.0.0.0'),
])
def test_parse_subnet(text, version, cidr, entry):
    subnet = addresses.parse_subnet(text)
    assert (subnet.version, subnet.cidr(), subnet.ipset_entry()) == (version, cidr, entry)
    assert subnet.prefixlen == int(cidr.rsplit('/', 1)[1])


@pytest.mark.parametrize('value, message', [
    ('192.168.300.0/24', "'192.168.300.0/24' is not a valid IPv4 or IPv6 address or CIDR "
                         "(e.g. 192.168.10.0/24, 203.0.113.5, 2001:db8::/32)"),
    ('192.168.10.1/24', "'192.168.10.1/24' has host bits set; did you mean 192.168.10.0/24?"),
    ('2001:db8::1/32', "'2001:db8::1/32' has host bits set; did you mean 2001:db8::/32?"),
    ('10.0.0.0/33', "'10.0.0.0/33': prefix length 33 is out of range for IPv4 (0-32)"),
    ('2001:db8::/129', "'2001:db8::/129': prefix length 129 is out of range for IPv6 (0-128)"),
    ('10.0.0.0/255.0.0.0', "'10.0.0.0/255.0.0.0': write the mask as a prefix length "
                           "(e.g. 192.168.10.0/24, 2001:db8::/48)"),
    ('2001:db8::/255.255.0.0', "'2001:db8::/255.255.0.0': write the mask as a prefix length "
                               "(e.g. 192.168.10.0/24, 2001:db8::/48)"),
    ('::ffff:10.0.0.1', "'::ffff:10.0.0.1' is an IPv4-mapped IPv6 subnet; write the IPv4 "
                        "subnet instead"),
    ('::ffff:0:0/96', "'::ffff:0:0/96' is an IPv4-mapped IPv6 subnet; write the IPv4 subnet "
                      "instead"),
    (24, 'must be a CIDR string such as 192.168.10.0/24 or 2001:db8::/32, got integer 24'),
    (None, 'must be a CIDR string such as 192.168.10.0/24 or 2001:db8::/32, got null None'),
])
def test_parse_subnet_errors(value, message):
    with pytest.raises(ValueError) as excinfo:
        addresses.parse_subnet(value)
    assert str(excinfo.value) == message


# Hole 2 of issue 11: what netaddr 0.8.0 read as another network, or accepted with garbage.
STRICT = (
    refused_with_hint(LEADING_ZEROS + '; ', ('010.0.0.0/8', '10.0.0.0/8'), ('192.168.010.0/24', '192.168.10.0/24'),
                      ('010.1.2.3', '10.1.2.3'))
    + refused(LEADING_ZEROS, '010.1')
    + refused_with_hint(FOUR_NUMBERS, ('10.1', '10.1.0.0/16'), ('10', '10.0.0.0/8'), ('10/8', '10.0.0.0/8'),
                        ('172.16.1/24', '172.16.1.0/24'))
    + refused_with_hint(': the prefix length has a leading zero; ', ('10.0.0.0/08', '10.0.0.0/8'))
    + refused(PREFIX_LENGTH + '32', '10.0.0.0/', '1.2.3.4/32/1')
    + refused(PREFIX_LENGTH + '128', '2001:db8::/')
    + refused(GENERIC, '256.1.1.1', '1.2.3.4.5', '10..0.1', '', '1.2.3.4::', '12345::', ':1::')
    # odd numerals and characters: never silently another network
    + refused_with_hint(ASCII_DIGITS + "'١' is U+0661 ARABIC-INDIC DIGIT ONE; ", ('١٠.0.0.0/8', '10.0.0.0/8'))
    + refused_with_hint(ASCII_DIGITS + "'²' is U+00B2 SUPERSCRIPT TWO; ", ('10.0.0.0/²', '10.0.0.0/2'))
    + refused_with_hint(ASCII_DIGITS + "'１' is U+FF11 FULLWIDTH DIGIT ONE; ", ('１０.0.0.0/8', '10.0.0.0/8'))
    + refused_with_hint(ASCII_DIGITS + "'२' is U+0968 DEVANAGARI DIGIT TWO; ", ('10.0.0.0/२४', '10.0.0.0/24'))
    + refused_character(
        ('10.0.0.0 garbage/8', "' ' (U+0020 SPACE)"),
        ('10.0.0.0/8 # office', "' ' (U+0020 SPACE)"),
        ('0x0a.0.0.0/8', "'x' (U+0078 LATIN SMALL LETTER X)"),
        ('10.0.0.0\n', "'\\n' (U+000A LINE FEED)"),
        ('10.0.0.0/8\u2028', "'\\u2028' (U+2028 LINE SEPARATOR)"),
        ('\ud800', "'\\ud800' (U+D800 surrogate)"),
        ('2001:db8::g', "'g' (U+0067 LATIN SMALL LETTER G)"),
        ('fe80::1%eth0', "'%' (U+0025 PERCENT SIGN)"))
    # IPv6
    + refused(': an IPv6 address is eight groups of hex digits, or fewer with one "::"',
              '1:2:3:4:5:6:7:8:9', '1::2:3:4:5:6:7:8')
    + refused(': "::" may appear only once', '2001:db8:::1', '2001:db8::1::2')
    + refused(': the IPv4 part of an IPv6 address is four numbers 0-255 without leading zeros',
              '::ffff:1.2.3', '64:ff9b::010.1.2.3')
)


@pytest.mark.parametrize('value, message', STRICT)
def test_parse_subnet_is_strict(value, message):
    with pytest.raises(ValueError) as excinfo:
        addresses.parse_subnet(value)
    assert str(excinfo.value) == message


# --------------------------------------------------------------------------- against ipaddress

V4 = st.integers(0, (1 << 32) - 1)
V6 = st.integers(0, (1 << 128) - 1)


@st.composite
def written_networks(draw):
    """A network as people write it: IPv4 dotted quad, IPv6 compressed, exploded or upper case."""
    if draw(st.booleans()):
        prefix = draw(st.integers(0, 32))
        net = ipaddress.ip_network((draw(V4) >> (32 - prefix) << (32 - prefix), prefix))
        text = str(net.network_address)
    else:
        prefix = draw(st.integers(0, 128))
        net = ipaddress.ip_network((draw(V6) >> (128 - prefix) << (128 - prefix), prefix))
        form = draw(st.sampled_from(('compressed', 'exploded', 'upper')))
        text = {'compressed': net.network_address.compressed,
                'exploded': net.network_address.exploded,
                'upper': net.network_address.compressed.upper()}[form]
    return net, text + ('/%d' % prefix if draw(st.booleans()) or prefix != net.max_prefixlen else '')


@settings(max_examples=500, deadline=None)
@given(written_networks())
def test_every_written_network_parses_to_itself(case):
    net, text = case
    if net.version == 6 and net.prefixlen >= 96 and int(net.network_address) >> 32 == 0xffff:
        return      # IPv4-mapped: refused on purpose (table above)
    subnet = addresses.parse_subnet(text)
    assert (subnet.version, subnet.value, subnet.prefixlen) == (
        net.version, int(net.network_address), net.prefixlen)
    # printed as inet_ntop prints it, as iptables does (::0.1.0.0 for ::1:0): the same address
    assert ipaddress.ip_address(subnet.address()) == net.network_address


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet='0123456789abcdefABCDEF.:/', max_size=24))
def test_whatever_parses_is_what_python_ipaddress_reads(text):
    """Strings over the address alphabet: accepted only when ipaddress (strict) agrees."""
    try:
        subnet = addresses.parse_subnet(text)
    except ValueError:
        return
    net = ipaddress.ip_network(text, strict=True)
    assert (subnet.version, subnet.value, subnet.prefixlen) == (
        net.version, int(net.network_address), net.prefixlen)


def _full_parser(text):
    try:
        return addresses._parse_subnet(text)
    except ValueError as exc:
        return str(exc)


@pytest.mark.parametrize('text', [
    '10.0.0.0/8', '203.0.113.5', '0.0.0.0/0', '255.255.255.255/32', '2001:db8::/32', '::/0', '::1',
    'fd00:1:2::/64', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', 'FD00:8::/64',
])
def test_canonical_shortcut_takes_the_usual_forms(text):
    assert addresses.canonical_subnet(text) == addresses._parse_subnet(text)


@pytest.mark.parametrize('text', [
    '010.0.0.0/8', '10.1', '10.0.0.1/8', '10.0.0.0/08', '10.0.0.0/33', ' 10.0.0.0/8', '1:2:3:4:5:6:7:8::',
    '1::2::3', '::ffff:0.0.0.0/96', '::ffff:0:0/96', '64:ff9b::192.0.2.1', '2001:db8::1/64',
    '2001:db8::/0128', '2001:db8::/129', '12345::',
])
def test_canonical_shortcut_leaves_the_rest_to_the_full_parser(text):
    assert addresses.canonical_subnet(text) is None


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.text(alphabet='0123456789abcdefABCDEF.:/', max_size=24),
                 written_networks().map(lambda case: case[1])))
def test_canonical_shortcut_agrees_with_the_full_parser(text):
    """The shortcut is only a shortcut: what it returns, the full parser returns too."""
    subnet = addresses.canonical_subnet(text)
    if subnet is not None:
        assert subnet == _full_parser(text)
    try:
        result = addresses.parse_subnet(text)
    except ValueError as exc:
        result = str(exc)
    assert result == _full_parser(text)
