# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Docker lab fleet, shared by the lab tests of one session (one create, one rollout).

``lab`` (lab/demo.sh create --owner lab-tests --take-demo, then pbxops.firewall.rollout)
yields a working directory for the tests' reports; the lab goes at the end of the session.
Run them under the lab lock: ``flock /tmp/pbxfw-lab.lock .venv/bin/pytest tests/integration/lab``.
A lab that ``make demo`` left up is replaced (``make demo`` brings it back); a lab another
owner claimed (Molecule) makes it fail: remove that lab first. Each test leaves the fleet as
it found it.
"""

from __future__ import annotations

import os
import shutil

import pytest

# The collection is imported inside the fixture: pytest loads this file before the root
# conftest.py installs Ansible's collection finder when the tests are named by a path here.


@pytest.fixture(scope='session')
def lab(tmp_path_factory, integration_env, needs):
    needs(shutil.which('docker'), 'the lab needs docker.io (hack/install-debs.sh)')
    needs(shutil.which('debootstrap'), 'the lab needs debootstrap (hack/install-debs.sh)')
    from ansible_collections.pbxops.firewall.tests.integration.lab import _support

    os.environ['ANSIBLE_CONFIG'] = os.path.join(_support.REPO, 'ansible.cfg')
    _support.run(['bash', os.path.join(_support.LAB, 'demo.sh'), 'create', '--owner', _support.OWNER,
                  '--take-demo'])
    try:
        _support.playbook('rollout')
        yield tmp_path_factory.mktemp('lab')
    finally:
        _support.run(['bash', os.path.join(_support.LAB, 'demo.sh'), 'down', '--owner', _support.OWNER],
                     check=False)
