# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the controller-core tests: the real country database, a private cache."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

TOR_GEOIPDB = ('/usr/share/tor/geoip', '/usr/share/tor/geoip6')


@pytest.fixture
def tor_geoipdb():
    """Debian's tor-geoipdb files: skipped on a developer machine without them, a failure in CI
    (hack/install-debs.sh installs the package)."""
    if not all(os.path.exists(path) for path in TOR_GEOIPDB):
        why = 'tor-geoipdb is not installed (%s)' % ', '.join(TOR_GEOIPDB)
        if os.environ.get('CI'):
            pytest.fail('%s: CI installs everything the tests need (hack/install-debs.sh)' % why)
        pytest.skip(why)
    return TOR_GEOIPDB


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test parses into a cache of its own (countrydb.py): none reads another's."""
    monkeypatch.setenv('PBX_FIREWALL_CACHE_DIR', str(tmp_path / 'cache'))
