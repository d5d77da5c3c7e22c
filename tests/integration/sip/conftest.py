# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SIP lab's tools: a developer machine without them skips, CI fails (``needs``)."""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sip_lab  # noqa: E402  (the harness next to this file)


@pytest.fixture(autouse=True)
def sip_tools(integration_env, needs):
    for tool, package in (('sipp', 'sip-tester'), ('sipsak', 'sipsak'), ('conntrack', 'conntrack'),
                          ('ss', 'iproute2')):
        needs(shutil.which(tool), '%s is not installed (Debian package %s, make deps)' % (tool, package))
    needs(os.path.exists(sip_lab.SVMAP), 'sipvicious is not installed in the venv (make venv)')
