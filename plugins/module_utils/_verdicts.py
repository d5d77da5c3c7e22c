# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The verdicts a rule or a walk through the chains ends in: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). The compiler
(``plugin_utils/_policy``) writes them and the evaluator (``_evaluate.py``: lockout, ending
flows, verify) reads them; both take them from here. No imports: the filter plugins load it
without loading a core.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

ACCEPT = 'ACCEPT'
DROP = 'DROP'
REJECT = 'REJECT'
UNKNOWN = 'UNKNOWN'         # the evaluator cannot tell (a match it does not model)
DENY = (DROP, REJECT)
FINAL = (ACCEPT, DROP, REJECT)
