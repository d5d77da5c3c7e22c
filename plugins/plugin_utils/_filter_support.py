# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller-side glue shared by the filters: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns what
every filter does at its boundary: check the call's arguments (a misspelled keyword
names the filter and its valid keywords instead of a bare Python TypeError), copy
ansible-core's lazy containers into plain data, choose the names error messages use
(the filter's own arguments by default, the role's variables with ``names='role'``)
and turn the core's errors into AnsibleFilterError.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import functools
import inspect
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import (
    ROLE_NAMES,
    MissingDependency,
)

ROLE = 'role'


def to_plain(value):
    """Copy templated values into plain dict/list/str/int/float/bool/None.

    ansible-core 2.19+ hands filters lazy, tagged containers and strings; the core
    and jmespath want the builtin types.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_plain(v) for v in value]
    return value


def _argument_error(filter_name, signature, args, kwargs):
    """The message for a call that does not fit the filter's signature."""
    params = list(signature.parameters.values())
    keywords = [p.name for p in params[1:]]
    valid = ', '.join(keywords) if keywords else 'none'
    for name in kwargs:
        if name not in signature.parameters or name == params[0].name:
            close = ([k for k in keywords if k.startswith(name) or name.startswith(k)]
                     or difflib.get_close_matches(name, keywords, n=1))
            return ('pbxops.firewall.%s: unknown keyword %r%s; valid keywords: %s'
                    % (filter_name, name, '' if not close else ' (did you mean %s?)' % close[0],
                       valid))
    positional = len(params) - 1
    if len(args) - 1 > positional:
        return ('pbxops.firewall.%s: takes the input and at most %d more argument%s (%s), got %d'
                % (filter_name, positional, '' if positional == 1 else 's', valid, len(args) - 1))
    bound = set(params[i].name for i in range(min(len(args), len(params)))) | set(kwargs)
    missing = [p.name for p in params if p.default is inspect.Parameter.empty and p.name not in bound]
    if missing and missing[0] == params[0].name:
        return 'pbxops.firewall.%s: the input is missing' % filter_name
    if missing:
        return 'pbxops.firewall.%s: missing argument %r' % (filter_name, missing[0])
    for name in kwargs:
        index = keywords.index(name) + 1
        if index < len(args):
            return ('pbxops.firewall.%s: %r is given twice (as argument %d and as a keyword)'
                    % (filter_name, name, index))
    return 'pbxops.firewall.%s: arguments do not fit; valid keywords: %s' % (filter_name, valid)


def checked_arguments(filter_name):
    """Decorate a filter so that a call that does not fit its signature fails clearly."""
    def decorate(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            try:
                signature.bind(*args, **kwargs)
            except TypeError:
                raise AnsibleFilterError(
                    _argument_error(filter_name, signature, args, kwargs)) from None
            return function(*args, **kwargs)
        return wrapper
    return decorate


def filter_names(names, input_key):
    """The names the core's messages use: the filter's own arguments unless told otherwise.

    ``names`` None: every input by the filter's argument name (the piped input as
    ``_input``); ``'role'``: the role's variables (``pbx_firewall_networks`` ...); a
    mapping: those names, the filter's argument names for the rest.
    """
    names = to_plain(names)
    own = dict((key, key) for key in ROLE_NAMES)
    own[input_key] = '_input'
    if names is None:
        return own
    if names == ROLE:
        return dict(ROLE_NAMES)
    if isinstance(names, dict):
        own.update(names)
        return own
    return names        # the core refuses it with a message naming ``names``


def call_core(filter_name, function, *args, **kwargs):
    """Run a core function on plain copies of the arguments; turn its errors into filter errors.

    ``inventory`` (a keyword for this function, not passed on) chooses the header:
    "invalid inventory" when the caller named its variables (``names``), "invalid
    input" when the messages name the filter's own arguments.
    """
    inventory = kwargs.pop('inventory', False)
    args = [to_plain(a) for a in args]
    kwargs = dict((k, to_plain(v)) for k, v in kwargs.items())
    try:
        return function(*args, **kwargs)
    except MissingDependency as exc:
        raise AnsibleFilterError('pbxops.firewall.%s: %s' % (filter_name, exc)) from exc
    except ValueError as exc:
        raise AnsibleFilterError('pbxops.firewall.%s: invalid %s:\n%s'
                                 % (filter_name, 'inventory' if inventory else 'input', exc)) from exc
