# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller-side glue shared by the filters: plain data in, AnsibleFilterError out."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy


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


def call_core(filter_name, function, *args, **kwargs):
    """Run a core function on plain copies of the arguments; turn its errors into filter errors."""
    args = [to_plain(a) for a in args]
    kwargs = {k: to_plain(v) for k, v in kwargs.items()}
    try:
        return function(*args, **kwargs)
    except _policy.MissingDependency as exc:
        raise AnsibleFilterError('pbxops.firewall.%s: %s' % (filter_name, exc))
    except ValueError as exc:
        raise AnsibleFilterError('pbxops.firewall.%s: invalid inventory:\n%s' % (filter_name, exc))
