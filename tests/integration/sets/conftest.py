# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The countries and blocklists suite needs tor-geoipdb: a developer machine without it skips,
CI fails (``needs``)."""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import geo_lab  # noqa: E402  (the harness next to this file)


def _tools(needs):
    needs(all(os.path.exists(path) for path in geo_lab.TOR_GEOIPDB),
          'tor-geoipdb is not installed (Debian package tor-geoipdb, make deps)')
    needs(shutil.which('conntrack'), 'conntrack is not installed (make deps)')


@pytest.fixture(autouse=True)
def geo_tools(integration_env, needs):
    _tools(needs)


@pytest.fixture(scope='module')
def world(tmp_path_factory, integration_env, needs):
    """The lab of one test module: its namespaces, clients, policy and feed (geo_world.World)."""
    _tools(needs)
    import geo_world    # imports the collection: not at conftest load time
    world = geo_world.World(str(tmp_path_factory.mktemp('geo')))
    try:
        world.lab.up()
        yield world
    finally:
        world.lab.down()
