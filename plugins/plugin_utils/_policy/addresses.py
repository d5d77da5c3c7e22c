# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Addresses and subnets: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns the
one strict parser every address and CIDR of the inventory goes through, and the
``Subnet`` value it returns. The parser is our own, in front of any library, so that
what is accepted does not depend on the installed netaddr version (netaddr 0.8.0
reads ``010.0.0.0/8`` as 8.0.0.0/8 and ``10.1`` as 10.0.0.1): an IPv4 address is
exactly four decimal numbers 0-255 without leading zeros, an IPv6 address is the
RFC 4291 text form (hex groups, one ``::`` at most, an optional dotted IPv4 tail),
a prefix length is decimal, and only the ASCII characters of those forms are
accepted. A refusal says what was probably meant. Pure Python, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import re
import socket

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.scalars import (
    ascii_digits_hint,
    char_label,
    non_ascii_digit,
    type_name,
)

EXAMPLES = '(e.g. 192.168.10.0/24, 203.0.113.5, 2001:db8::/32)'
ADDRESS_CHARS = frozenset('0123456789abcdefABCDEF.:/')
DECIMAL = frozenset('0123456789')
HEX = frozenset('0123456789abcdefABCDEF')
# The forms almost every inventory writes: an IPv4 address (four decimal numbers 0-255
# without leading zeros) or an IPv6 address of hex groups, each with an optional decimal
# prefix length without a leading zero. Recognising them takes one regular expression; the
# full parser still decides everything else and words every refusal. [0-9], not \d: \d
# would also match other scripts' digits.
_OCTET = r'(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
_CANONICAL_IPV4 = re.compile(r'%s\.%s\.%s\.%s(?:/(3[0-2]|[12]?[0-9]))?' % ((_OCTET,) * 4))
_HEX = r'[0-9a-fA-F]{1,4}'
_CANONICAL_IPV6 = re.compile(r'(%s(?::%s){7}|(?:%s(?::%s)*)?::(?:%s(?::%s)*)?)'
                             r'(?:/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?' % ((_HEX,) * 6))


class Subnet(tuple):
    """(version, first address as int, prefix length); sorts v4 before v6."""

    __slots__ = ()

    def __new__(cls, version, value, prefixlen):
        return tuple.__new__(cls, (version, value, prefixlen))

    @property
    def version(self):
        return self[0]

    @property
    def value(self):
        return self[1]

    @property
    def prefixlen(self):
        return self[2]

    @property
    def is_catch_all(self):
        return self[2] == 0

    @property
    def is_host(self):
        return self[2] == (32 if self[0] == 4 else 128)

    @property
    def last(self):
        """The last address of the subnet, as an int."""
        return self[1] | ((1 << ((32 if self[0] == 4 else 128) - self[2])) - 1)

    def address(self):
        return address_text(self[0], self[1])

    def cidr(self):
        """As iptables-save prints a source: always with the prefix length."""
        return '%s/%d' % (address_text(self[0], self[1]), self[2])

    def ipset_entry(self):
        """As ipset save prints a hash:net member: hosts without the prefix length."""
        if self[2] == (32 if self[0] == 4 else 128):
            return address_text(self[0], self[1])
        return '%s/%d' % (address_text(self[0], self[1]), self[2])


@functools.lru_cache(maxsize=1 << 16)
def address_text(version, value):
    """An address as iptables and ipset print it (inet_ntop: RFC 5952 for IPv6)."""
    if version == 4:
        return socket.inet_ntoa(value.to_bytes(4, 'big'))
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, 'big'))


class _Refused(ValueError):
    """The text is not an address: why, what was probably meant, and its implied prefix."""

    def __init__(self, reason=None, hint=None, implied_prefix=None):
        super(_Refused, self).__init__(reason)
        self.reason = reason
        self.hint = hint
        self.implied_prefix = implied_prefix


def _ipv4_number(text):
    """Four decimal numbers 0-255, no leading zeros -> int. Raises _Refused."""
    parts = text.split('.')
    if not all(part and set(part) <= DECIMAL for part in parts) or len(parts) > 4:
        raise _Refused()
    numbers = [int(part) for part in parts]
    if any(number > 255 for number in numbers):
        raise _Refused()
    plain = '.'.join(str(n) for n in (numbers + [0, 0, 0])[:4])
    if any(len(part) > 1 and part.startswith('0') for part in parts):
        raise _Refused('leading zeros are ambiguous (some tools read 010 as octal, that is 8)',
                       plain if len(parts) == 4 else None, 32)
    if len(numbers) != 4:
        raise _Refused('an IPv4 address is four numbers 0-255 separated by dots', plain,
                       8 * len(numbers))
    return (numbers[0] << 24) | (numbers[1] << 16) | (numbers[2] << 8) | numbers[3]


def _ipv6_number(text):
    """RFC 4291 text form (hex groups, one "::", a dotted IPv4 tail) -> int. Raises _Refused."""
    tail_v4 = 0
    if '.' in text:
        groups, _colon, last = text.rpartition(':')
        if not groups or '.' in groups:
            raise _Refused()
        try:
            tail_v4 = _ipv4_number(last)
        except _Refused:
            raise _Refused('the IPv4 part of an IPv6 address is four numbers 0-255 without '
                           'leading zeros')
        text = groups + ':0:0'
    if text.count('::') > 1 or ':::' in text:
        raise _Refused('"::" may appear only once')
    head, double, tail = text.partition('::')
    groups_head = head.split(':') if head else []
    groups_tail = tail.split(':') if tail else []
    groups = groups_head + groups_tail
    if not all(group and len(group) <= 4 and set(group) <= HEX for group in groups):
        raise _Refused()
    if (double and len(groups) > 7) or (not double and len(groups) != 8):
        raise _Refused('an IPv6 address is eight groups of hex digits, or fewer with one "::"')
    values = [int(group, 16) for group in groups_head]
    values += [0] * (8 - len(groups))
    values += [int(group, 16) for group in groups_tail]
    number = 0
    for value in values:
        number = (number << 16) | value
    return number | tail_v4


def _refuse(value, reason=None, hint=None):
    if reason:
        text = '%s is not a valid IPv4 or IPv6 address or CIDR: %s' % (repr(value), reason)
    else:
        text = '%s is not a valid IPv4 or IPv6 address or CIDR %s' % (repr(value), EXAMPLES)
    if hint:
        text += '; did you mean %s?' % hint
    raise ValueError(text)


def canonical_subnet(value):
    """The Subnet of a string in one of the canonical forms that needs no refusal, or None.

    Only a shortcut: whatever it returns, the full parser returns too (a unit test checks
    this on random strings); everything else, valid or not, is left to the full parser.
    """
    match = _CANONICAL_IPV4.fullmatch(value)
    if match is not None:
        first, second, third, fourth, length = match.groups()
        number = (int(first) << 24) | (int(second) << 16) | (int(third) << 8) | int(fourth)
        version, width = 4, 32
    else:
        match = _CANONICAL_IPV6.fullmatch(value)
        if match is None:
            return None
        address, length = match.groups()
        if '::' in address and len([group for group in address.split(':') if group]) > 7:
            return None     # "::" must stand for at least one group
        # the expression above checked every character: inet_pton only converts
        number = int.from_bytes(socket.inet_pton(socket.AF_INET6, address), 'big')
        version, width = 6, 128
    prefixlen = width if length is None else int(length)
    if number & ((1 << (width - prefixlen)) - 1):
        return None     # host bits set: the full parser says what was meant
    if version == 6 and prefixlen >= 96 and number >> 32 == 0xffff:
        return None     # IPv4-mapped: refused by the full parser
    return Subnet(version, number, prefixlen)


def parse_subnet(value):
    """Parse one CIDR (or bare address) strictly. Raises ValueError with the reason."""
    if isinstance(value, str):
        subnet = canonical_subnet(value)
        if subnet is not None:
            return subnet
    return _parse_subnet(value)


def _parse_subnet(value):
    """The full parser: every form the inventory may use, and every refusal with its reason."""
    if not isinstance(value, str):
        raise ValueError('must be a CIDR string such as 192.168.10.0/24 or 2001:db8::/32, '
                         'got %s %r' % (type_name(value), value))
    text = value.strip(' ')
    odd = [char for char in text if char not in ADDRESS_CHARS]
    if odd:
        digit = non_ascii_digit(text)
        if digit is not None:
            hint = ascii_digits_hint(text)
            _refuse(value, 'numbers are written with the ASCII digits 0-9 only, %s is %s'
                    % (repr(digit), char_label(digit)),
                    hint if set(hint) <= ADDRESS_CHARS else None)
        _refuse(value, 'it contains %s (%s); an address has only digits, a-f, "." and ":", '
                'then "/" and the prefix length' % (repr(odd[0]), char_label(odd[0])))
    address, slash, length = text.partition('/')
    version, width = (6, 128) if ':' in address else (4, 32)
    if slash and not (length and set(length) <= DECIMAL):
        if '.' in length or ':' in length:
            raise ValueError('%r: write the mask as a prefix length '
                             '(e.g. 192.168.10.0/24, 2001:db8::/48)' % (value,))
        _refuse(value, 'the prefix length after "/" must be a decimal number 0-%d' % width)
    try:
        number = _ipv6_number(address) if version == 6 else _ipv4_number(address)
    except _Refused as exc:
        hint = exc.hint
        if hint is not None:
            prefix = int(length) if slash else exc.implied_prefix
            hint = hint if prefix == 32 and not slash else '%s/%d' % (hint, prefix)
        _refuse(value, exc.reason, hint)
    if len(length) > 1 and length.startswith('0'):
        _refuse(value, 'the prefix length has a leading zero', '%s/%d' % (address, int(length)))
    prefixlen = int(length) if slash else width
    if prefixlen > width:
        raise ValueError('%r: prefix length %d is out of range for IPv%d (0-%d)'
                         % (value, prefixlen, version, width))
    if version == 6 and prefixlen >= 96 and number >> 32 == 0xffff:
        raise ValueError('%r is an IPv4-mapped IPv6 subnet; write the IPv4 subnet instead'
                         % (value,))
    host_bits = (1 << (width - prefixlen)) - 1
    if number & host_bits:
        network = Subnet(version, number & ~host_bits, prefixlen)
        raise ValueError('%r has host bits set; did you mean %s?' % (value, network.cidr()))
    return Subnet(version, number, prefixlen)
