# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The restart fallback of asterisk_localnet_apply with a scripted Asterisk CLI.

A real Asterisk 22 never needs it (its reload applies local_net; see
tests/integration/asterisk/), so its two outcomes are exercised here: the restart
happens within the bound, or it stays pending and the module returns anyway."""

from __future__ import annotations

import time

from ansible_collections.pbxops.firewall.plugins.module_utils import _asterisk as ast
from ansible_collections.pbxops.firewall.plugins.modules import asterisk_localnet_apply as mod


class ScriptedAsterisk:
    """run_command for `asterisk -rx`: uptime grows with time; RESTART_AFTER seconds after
    'core restart when convenient' was started in the background, it starts again from 0."""

    def __init__(self, restart_after):
        self.restart_after = restart_after
        self.started = time.monotonic()
        self.restart_at = None
        self.commands = []

    def __call__(self, argv):
        self.commands.append(argv)
        if argv[0] == '/bin/sh':
            assert 'core restart when convenient' in argv[2] and argv[2].rstrip().endswith('&')
            self.restart_at = time.monotonic() + self.restart_after
            return 0, '', ''
        command = argv[-1]
        now = time.monotonic()
        since = self.started if self.restart_at is None or now < self.restart_at else self.restart_at
        if command == 'core show version':
            return 0, 'Asterisk 22.10.1\n', ''
        if command == 'core show uptime seconds':
            uptime = int(now - since) + (100 if since == self.started else 0)
            return 0, 'System uptime: %d\nLast reload: 1\n' % uptime, ''
        if command == 'core waitfullybooted':
            return 0, 'Asterisk has fully booted.\n', ''
        raise AssertionError(command)


class FakeModule:
    def __init__(self, run):
        self.run_command = run


def test_a_restart_within_the_bound_is_done():
    asterisk = ScriptedAsterisk(restart_after=1.5)
    cli = ast.Cli(asterisk, 'asterisk')
    started = time.monotonic()
    assert mod.restart_when_convenient(FakeModule(asterisk), cli, wait=10) == 'done'
    assert time.monotonic() - started < 6
    assert ['asterisk', '-rx', 'core waitfullybooted'] in asterisk.commands


def test_a_restart_held_by_calls_is_pending_and_does_not_hold_the_module():
    asterisk = ScriptedAsterisk(restart_after=3600)     # a call that lasts an hour
    cli = ast.Cli(asterisk, 'asterisk')
    started = time.monotonic()
    assert mod.restart_when_convenient(FakeModule(asterisk), cli, wait=2) == 'pending'
    assert time.monotonic() - started < 4
