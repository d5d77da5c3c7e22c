# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""countries.py: (value, exact code) and (value, exact error)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import countries

VALID = '; valid: ISO 3166-1 alpha-2 codes such as DE, AT, CH (any case)'


@pytest.mark.parametrize('value, code', [
    ('DE', 'DE'), ('de', 'DE'), (' at ', 'AT'), ('gB', 'GB'), ('AX', 'AX'), ('ZW', 'ZW'),
])
def test_codes(value, code):
    assert countries.country_code(value) == code


@pytest.mark.parametrize('value, message', [
    ('UK', "'UK' is not an ISO 3166-1 alpha-2 country code; did you mean GB (United Kingdom)?"),
    ('el', "'el' is not an ISO 3166-1 alpha-2 country code; did you mean GR (Greece)?"),
    ('USA', "'USA' is not an ISO 3166-1 alpha-2 country code; did you mean US (United States)?"),
    ('Germany', "'Germany' is not an ISO 3166-1 alpha-2 country code; did you mean DE (Germany)?"),
    ('austr', None),     # Australia and Austria: no guess
    ('switz', "'switz' is not an ISO 3166-1 alpha-2 country code; did you mean CH (Switzerland)?"),
    ('Congo', "'Congo' is not an ISO 3166-1 alpha-2 country code; did you mean CG (Congo)?"),
    ('EU', "'EU' is not an ISO 3166-1 alpha-2 country code" + VALID),
    ('??', "'??' is not an ISO 3166-1 alpha-2 country code" + VALID),
    ('XK', "'XK' is not an ISO 3166-1 alpha-2 country code" + VALID),
    ('', "'' is not an ISO 3166-1 alpha-2 country code" + VALID),
    (49, 'must be a country code, got 49' + VALID),
    (None, 'must be a country code, got None' + VALID),
])
def test_refusals(value, message):
    with pytest.raises(ValueError) as excinfo:
        countries.country_code(value)
    if message is None:
        message = "%r is not an ISO 3166-1 alpha-2 country code%s" % (value, VALID)
    assert str(excinfo.value) == message


def test_every_assigned_code_and_only_those():
    codes = countries.ISO_3166_ALPHA2
    assert len(codes) == 249
    assert all(len(code) == 2 and code.isupper() and code.isascii() for code in codes)
    assert not set(countries.ALIASES) & set(codes)
    assert set(countries.ALIASES.values()) <= set(codes)
