# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_policy/__init__.py: the package's exports, each loaded from its file on first use.

Ansible loads every filter file of the collection, in every task's worker process, to find
any one filter: loading them must not import the compiler, the evaluator or the verify
core (each task would compile them again where bytecode is not cached).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import os
import subprocess
import sys

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *(['..'] * 5)))
BUILD = os.path.join(REPO, '.build')
# What loading every filter file may load of the collection besides the filters: the glue, the
# run cache, the package and its light names (``model``: the defaults of the filters'
# signatures and the names errors use, with ``scalars`` and the verdict names of
# ``module_utils/_verdicts``, which model needs). Everything else
# (the compiler, validation, addresses, outputs, files, the verify core, the host core) must
# wait for a call.
LIGHT = {'plugins', 'plugins.filter', 'plugins.plugin_utils', 'plugins.plugin_utils._filter_support',
         'plugins.plugin_utils._run_cache', 'plugins.plugin_utils._policy', 'plugins.plugin_utils._policy.model',
         'plugins.plugin_utils._policy.scalars', 'plugins.module_utils', 'plugins.module_utils._verdicts'}


@pytest.mark.parametrize('name, module', sorted(_policy.EXPORTS.items()))
def test_every_export_is_the_object_of_its_file(name, module):
    assert getattr(_policy, name) is getattr(importlib.import_module('%s.%s' % (_policy.__name__, module)), name)
    assert name in dir(_policy)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'firewall_rulesets'"):
        _policy.firewall_rulesets      # pylint: disable=pointless-statement


def test_loading_every_filter_file_leaves_the_cores_unloaded():
    script = '''
import importlib, os, sys
sys.path.insert(0, sys.argv[1])
base = 'ansible_collections.pbxops.firewall.'
for name in sorted(os.listdir(sys.argv[2])):
    if name.endswith('.py'):
        importlib.import_module(base + 'plugins.filter.' + name[:-3])
print(' '.join(sorted(m[len(base):] for m in sys.modules if m.startswith(base))))
'''
    out = subprocess.run([sys.executable, '-c', script, BUILD, os.path.join(REPO, 'plugins', 'filter')],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=True)
    loaded = out.stdout.split()
    assert 'plugins.filter.firewall_ruleset' in loaded
    assert [name for name in loaded if not name.startswith('plugins.filter.') and name not in LIGHT] == []
