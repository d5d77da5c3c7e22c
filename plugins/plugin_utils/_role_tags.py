# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which parts of the role pbx_firewall a run's tags select: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). The role's task for
its files runs for every tag (``always``) and manages several parts in one module run; a part
``P`` stands for the tag ``pbx_firewall_P`` (``pbx_firewall_fail2ban``,
``pbx_firewall_asterisk``, ...). This decides, the way Ansible decides for a task tagged with
that one tag, whether a run with these ``--tags`` and ``--skip-tags`` selects the part. Pure
Python, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

TAG_PREFIX = 'pbx_firewall_'


def part_tag(part):
    return TAG_PREFIX + part


def _selects(tag, run_tags, skip_tags):
    if tag in skip_tags or 'tagged' in skip_tags:
        return False
    return 'all' in run_tags or 'tagged' in run_tags or tag in run_tags


def selected_parts(parts, run_tags=None, skip_tags=None):
    """The PARTS (in their order, once each) that a run with RUN_TAGS (``ansible_run_tags``;
    empty or None: ``all``) and SKIP_TAGS (``ansible_skip_tags``) selects."""
    run_tags = set(run_tags or ['all'])
    skip_tags = set(skip_tags or [])
    found = []
    for part in parts:
        if part not in found and _selects(part_tag(part), run_tags, skip_tags):
            found.append(part)
    return found
