# Copyright (c) pbxops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the repository importable as ``ansible_collections.pbxops.firewall`` under pytest.

The repository root is the collection root. A symlink tree
``.build/ansible_collections/pbxops/firewall -> <repo root>`` (the same one that
``hack/link-collection.sh`` and ``ansible.cfg`` use) is created idempotently, put on
``sys.path`` and on ``ANSIBLE_COLLECTIONS_PATH`` (inherited by ansible-playbook runs
started from integration tests), and Ansible's collection loader is installed so tests
import plugins exactly as Ansible does.
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(ROOT, '.build')
LINK = os.path.join(BUILD, 'ansible_collections', 'pbxops', 'firewall')


def _link_collection():
    """Create .build/ansible_collections/pbxops/firewall -> ROOT (safe under pytest-xdist)."""
    if os.path.islink(LINK) and os.readlink(LINK) == ROOT:
        return
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    tmp = '%s.%d.tmp' % (LINK, os.getpid())
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(ROOT, tmp)
    os.replace(tmp, LINK)  # atomic: concurrent workers never see a missing link


def _prepend_env_path(name, value):
    current = [p for p in os.environ.get(name, '').split(os.pathsep) if p and p != value]
    os.environ[name] = os.pathsep.join([value] + current)


_link_collection()
if BUILD not in sys.path:
    sys.path.insert(0, BUILD)
_prepend_env_path('ANSIBLE_COLLECTIONS_PATH', BUILD)
_prepend_env_path('PYTHONPATH', BUILD)


def pytest_configure(config):  # pylint: disable=unused-argument
    """Install Ansible's collection finder so imports resolve like they do in Ansible."""
    try:
        # pylint: disable-next=import-outside-toplevel
        from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
    except ImportError:  # ansible-core not installed: plain PEP 420 imports via sys.path still work
        return
    _AnsibleCollectionFinder(paths=[BUILD])._install()  # pylint: disable=protected-access
