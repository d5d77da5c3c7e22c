# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the module tests that count or log drops (the addresses: _traffic.py).

* ``client``: a second namespace with the addresses BAD and STRANGER, linked to the PBX
  (the ``netns`` fixture, address PBX) by a veth pair; ``_traffic.send`` sends UDP from it;
* ``counters_state``: the PBX namespace's counters state file (``_counters``), removed after
  the test, since a later namespace may get the same inode.
"""

from __future__ import annotations

import os
import secrets
import subprocess

import pytest

# The collection is imported inside the fixtures: pytest loads this file before the root
# conftest.py installs Ansible's collection finder when the tests are named by a path here.


@pytest.fixture
def client(netns):
    """A second namespace with BAD and STRANGER, linked to the PBX (``netns``) by a veth pair."""
    from ansible_collections.pbxops.firewall.tests.integration.plugins.modules._traffic import BAD, PBX, STRANGER

    name = 'pbxc-%s' % secrets.token_hex(4)
    outer, inner = 'pbxa%s' % secrets.token_hex(3), 'pbxb%s' % secrets.token_hex(3)
    subprocess.run(['ip', 'netns', 'add', name], check=True)
    try:
        subprocess.run(['ip', 'link', 'add', outer, 'netns', netns.name, 'type', 'veth', 'peer', 'name', inner,
                        'netns', name], check=True)
        for ns, dev, addresses in ((netns.name, outer, [PBX]), (name, inner, [BAD, STRANGER])):
            for address in addresses:
                subprocess.run(['ip', '-n', ns, 'addr', 'add', address + '/24', 'dev', dev], check=True)
            subprocess.run(['ip', '-n', ns, 'link', 'set', dev, 'up'], check=True)
            subprocess.run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'], check=True)
        yield name
    finally:
        subprocess.run(['ip', 'netns', 'delete', name], check=False)


@pytest.fixture
def counters_state(netns):
    """The namespace's counters state file, removed afterwards (a later namespace may get its inode)."""
    from ansible_collections.pbxops.firewall.plugins.module_utils import _counters

    path = netns.sh("python3 -c 'from os import stat; print(stat(\"%s\").st_ino)'" % _counters.NETNS).strip()
    path = os.path.join(_counters.RUN_DIR, 'counters-%s.json' % path)
    yield path
    if os.path.exists(path):
        os.unlink(path)
