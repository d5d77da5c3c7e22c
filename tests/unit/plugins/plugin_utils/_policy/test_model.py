# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""model.py: address, port and comment parsing: (input, exact output) and (input, exact error)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import model
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy.support import VALID_PORTS


# --------------------------------------------------------------------------- parse_subnet


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
])
def test_parse_subnet(text, version, cidr, entry):
    subnet = model.parse_subnet(text)
    assert (subnet.version, subnet.cidr(), subnet.ipset_entry()) == (version, cidr, entry)
    assert subnet.prefixlen == int(cidr.rsplit('/', 1)[1])


@pytest.mark.parametrize('value, message', [
    ('192.168.300.0/24', "'192.168.300.0/24' is not a valid IPv4 or IPv6 address or CIDR "
                         "(e.g. 192.168.10.0/24, 203.0.113.5, 2001:db8::/32)"),
    ('10.1', "'10.1' is not a valid IPv4 or IPv6 address or CIDR "
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
        model.parse_subnet(value)
    assert str(excinfo.value) == message


# --------------------------------------------------------------------------- parse_port


@pytest.mark.parametrize('value, expected', [
    (22, (22, 22)),
    ('22', (22, 22)),
    (' 5060 ', (5060, 5060)),
    ('10000-10200', (10000, 10200)),
    ('10000 - 10200', (10000, 10200)),
    ('4569-4569', (4569, 4569)),
    (1, (1, 1)),
    ('1-65535', (1, 65535)),
])
def test_parse_port(value, expected):
    assert model.parse_port(value) == expected


@pytest.mark.parametrize('value, message', [
    (0, '0: port 0 is out of range; ' + VALID_PORTS),
    (65536, '65536: port 65536 is out of range; ' + VALID_PORTS),
    ('1-65536', "'1-65536': port 65536 is out of range; " + VALID_PORTS),
    ('10200-10000', '\'10200-10000\' is a range written backwards; did you mean "10000-10200"?'),
    (True, 'True is not a port; ' + VALID_PORTS),
    (22.5, '22.5 is not a port; ' + VALID_PORTS),
    ('ssh', "'ssh' is not a port; " + VALID_PORTS),
    ('10000:10200', "'10000:10200' is not a port; " + VALID_PORTS),
    (None, 'None is not a port; ' + VALID_PORTS),
])
def test_parse_port_errors(value, message):
    with pytest.raises(ValueError) as excinfo:
        model.parse_port(value)
    assert str(excinfo.value) == message


# --------------------------------------------------------------------------- comment_arg


@pytest.mark.parametrize('text, expected', [
    ('Office_LAN-1', 'Office_LAN-1'),                        # only [A-Za-z0-9_-]: bare
    ('Office LAN: allow sip', '"Office LAN: allow sip"'),
    ('', '""'),
    ('VPN "east"', '"VPN \\"east\\""'),
    ("Bob's", '"Bob\\\'s"'),
    ('C:\\net', '"C:\\\\net"'),
    ('tab\there\nnewline', '"tab here newline"'),              # control characters -> spaces
    ('Zürich', '"Zürich"'),
    ('a' * 255, 'a' * 255),                                    # exactly the kernel's limit
    ('a' * 300, 'a' * 255),
    ('é' * 128, '"%s"' % ('é' * 127)),                         # 256 bytes -> 254, never half a char
    ('a' + 'é' * 127, '"a%s"' % ('é' * 127)),                  # exactly 255 bytes: kept
    ('aa' + 'é' * 127, '"aa%s"' % ('é' * 126)),
    ('a' * 253 + '€', 'a' * 253),                              # a 3-byte char across the limit
    ('"' * 300, '"%s"' % ('\\"' * 255)),                       # the limit counts unescaped bytes
])
def test_comment_arg(text, expected):
    assert model.comment_arg(text) == expected
