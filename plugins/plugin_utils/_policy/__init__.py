# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The controller core of pbxops.firewall: validate, normalize and compile.

This package is private to the pbxops.firewall collection (no stable API). It runs
on the controller only (it needs netaddr, and DNS for trunk host names), which is
why it lives in plugin_utils and not in module_utils: no module ships it to a host.
Every entry point takes plain dicts, lists, strings and numbers (the inventory model
of README.md and docs/design.md) and either returns plain data or raises ``PolicyError``, a
``ValueError`` whose message names the inventory path, the bad value and what would
be valid. The filter plugins are thin wrappers around the names exported here.

One concern per file:

* ``scalars.py``: what one text, number or boolean of the inventory may be;
* ``addresses.py``: the strict address/CIDR parser and ``Subnet``;
* ``model.py``: services, ports, verdicts, the default scanner list, the names
  messages use, comment text, the ``Policy`` record, the error classes;
* ``validate.py``: ``load_policy`` and the checks of every inventory input;
* ``chains.py``: compiling a ``Policy`` into the ruleset of docs/ruleset-format.md;
* ``outputs.py``: fail2ban ``ignoreip``, Asterisk ``local_net``, ``addresses_in``;
* ``files.py``: the text of each file the role owns, from those outputs;
* ``role.py``: the role's one call, everything ``pbx_firewall`` needs from one validation;
* ``sets.py``: countries and blocklists, the large address sets of a policy, from
  ``countries.py`` (ISO codes), ``countrydb.py`` (the database files, cached), ``geoip.py``
  (their formats), ``blocklists.py`` (blocklist entries and files) and ``prefixes.py``
  (ranges and prefixes as integers).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib

# The names this package exports, and the file of the package that defines each. A file is
# imported when one of its names is first used (PEP 562 module __getattr__), not when the
# package is: to find one filter, Ansible loads every filter file of the collection in each
# task's worker process, and most of those filters need only a part of the core, or none.
EXPORTS = {
    'compile_policy': 'chains',
    'firewall_ruleset': 'chains',
    'DEFAULT_IPSET_THRESHOLD': 'model',
    'DEFAULT_METRICS_SCRIPT': 'model',
    'DEFAULT_SIP_SCANNER_AGENTS': 'model',
    'ROLE_NAMES': 'model',
    'MissingDependency': 'model',
    'PolicyError': 'model',
    'addresses_in': 'outputs',
    'asterisk_localnet': 'outputs',
    'fail2ban_ignoreip': 'outputs',
    'role_policy': 'role',
    'load_policy': 'validate',
    'sets_fingerprint': 'sets',
}


def __getattr__(name):
    if name not in EXPORTS:
        raise AttributeError('module %r has no attribute %r' % (__name__, name))
    value = getattr(importlib.import_module('%s.%s' % (__name__, EXPORTS[name])), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(EXPORTS))
