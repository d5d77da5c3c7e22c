# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``hostfw_lab`` (session): the host-firewall lab of _support.py, removed at the end.

``_support`` is imported inside the fixture: this conftest may load before the repository's
conftest installs Ansible's collection finder (when a path below this directory is given to
pytest), so nothing from ``ansible_collections`` may be imported at module level here.
"""

from __future__ import annotations

import importlib
import os
import shutil

import pytest


@pytest.fixture(scope='session')
def hostfw_lab(tmp_path_factory, ansible_home, needs):
    for tool in ('docker', 'debootstrap', 'ssh-keygen'):
        needs(shutil.which(tool), '%s is not installed (hack/install-debs.sh)' % tool)
    sup = importlib.import_module('ansible_collections.pbxops.firewall.tests.integration.hostfw._support')
    sup.run(['bash', os.path.join(sup.LAB, 'docker.sh')])
    sup.run(['bash', os.path.join(sup.LAB, 'image.sh'), '--suite', 'hostfw'], timeout=1800)
    lab = sup.HostfwLab(tmp_path_factory.mktemp('hostfw'), ansible_home)
    try:
        yield lab
    finally:
        lab.fleet.destroy(quiet=True)
