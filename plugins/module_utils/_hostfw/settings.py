# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``KEY=value`` settings files of the other firewall managers (private to pbxops.firewall):
``/etc/firewalld/firewalld.conf``, ``/etc/ufw/ufw.conf``, ``/etc/default/ufw``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def parse_settings(text):
    """{KEY: value}: comments and blank lines skipped, surrounding quotes removed."""
    values = {}
    for line in (text or '').split('\n'):
        line = line.strip()
        if not line or line.startswith('#') or '=' not in line:
            continue
        key, _sep, value = line.partition('=')
        values[key.strip()] = value.strip().strip('"\'')
    return values
