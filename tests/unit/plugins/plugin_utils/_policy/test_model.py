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
    ('²', "'²' is not a port: numbers are written with the ASCII digits 0-9 only, '²' is U+00B2 "
          "SUPERSCRIPT TWO; did you mean 2?"),
    ('٥٠٦٠', "'٥٠٦٠' is not a port: numbers are written with the ASCII digits 0-9 only, '٥' is "
             "U+0665 ARABIC-INDIC DIGIT FIVE; did you mean 5060?"),
    ('10000-١٠٢٠٠', "'10000-١٠٢٠٠' is not a port: numbers are written with the ASCII digits 0-9 "
                    "only, '١' is U+0661 ARABIC-INDIC DIGIT ONE; did you mean 10200?"),
    ('5060\n', "'5060\\n' is not a port; " + VALID_PORTS),
    ('0x50', "'0x50' is not a port; " + VALID_PORTS),
    ('+80', "'+80' is not a port; " + VALID_PORTS),
    ('-1', "'-1': port -1 is out of range; " + VALID_PORTS),
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
