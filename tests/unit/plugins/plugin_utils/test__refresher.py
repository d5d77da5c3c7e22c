# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The metrics refresher's script and cron file (the script's run on a real kernel: integration)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _refresher


def test_the_script_carries_the_host_code_and_refuses_bad_options(tmp_path):
    text = _refresher.script()
    assert text.startswith('#!/usr/bin/python3\n# Managed by pbxops.firewall')
    compile(text, 'pbx-firewall-metrics', 'exec')
    for name in _refresher.MODULE_UTILS:
        assert ("('%s', " % name) in text
    script = tmp_path / 'pbx-firewall-metrics'
    script.write_text(text)
    proc = subprocess.run([sys.executable, str(script), '--colour', 'red'], capture_output=True, text=True,
                          check=False)
    assert (proc.returncode, proc.stderr) == (
        1, 'pbx-firewall-metrics: unknown option --colour; valid: --backend auto|nft|legacy, --metrics-dir DIR\n')
    proc = subprocess.run([sys.executable, str(script), '--metrics-dir', ''], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 1 and 'no node_exporter textfile directory' in proc.stderr


@pytest.mark.parametrize('args, line', [
    ((5,), '*/5 * * * * root /usr/local/sbin/pbx-firewall-metrics --backend auto --metrics-dir auto 2>&1 '
           '>/dev/null | logger -t pbx-firewall-metrics'),
    ((1, 'legacy', '/srv/node exporter'), "* * * * * root /usr/local/sbin/pbx-firewall-metrics --backend legacy "
                                          "--metrics-dir '/srv/node exporter' 2>&1 >/dev/null | logger -t "
                                          "pbx-firewall-metrics"),
])
def test_cron_file(args, line):
    assert _refresher.cron_file(*args).splitlines()[-1] == line


@pytest.mark.parametrize('args, message', [
    ((0,), 'pbx_firewall_metrics_interval: must be 0 (off) or 1-59 minutes, got 0'),
    ((60,), 'got 60'),
    ((True,), 'got True'),
    ((5, 'auto', '/srv/50%'), "pbx_firewall_metrics_dir: a cron line cannot carry % or a line break, got '/srv/50%'"),
])
def test_cron_file_refuses(args, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace(')', r'\)')):
        _refresher.cron_file(*args)
