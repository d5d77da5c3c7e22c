# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Prometheus textfile: exact exposition text, atomic write, where it goes."""

from __future__ import annotations

import os

from ansible_collections.pbxops.firewall.plugins.module_utils import _metrics

REPORT = {
    'drops': [
        {'family': 'ipv4', 'reason': 'block', 'network': 'Office "LAN" \\ east', 'packets': 5, 'bytes': 300},
        {'family': 'ipv4', 'reason': 'default', 'network': None, 'packets': 7, 'bytes': 420},
    ],
    'bans': {'sshd': ['203.0.113.9'], 'asterisk': []},
    'rule_count': {'ipv4': 44, 'ipv6': 40},
    'last_apply': 1796600000.25,
}

EXPECTED = '''\
# HELP pbx_firewall_drops_total Packets the PBX firewall dropped, by reason, deciding network and address family.
# TYPE pbx_firewall_drops_total counter
pbx_firewall_drops_total{family="ipv4",network="Office \\"LAN\\" \\\\ east",reason="block"} 5
pbx_firewall_drops_total{family="ipv4",network="",reason="default"} 7
# HELP pbx_firewall_drop_bytes_total Bytes of the packets the PBX firewall dropped, by reason, deciding network and \
address family.
# TYPE pbx_firewall_drop_bytes_total counter
pbx_firewall_drop_bytes_total{family="ipv4",network="Office \\"LAN\\" \\\\ east",reason="block"} 300
pbx_firewall_drop_bytes_total{family="ipv4",network="",reason="default"} 420
# HELP pbx_firewall_bans Addresses fail2ban bans now, per jail.
# TYPE pbx_firewall_bans gauge
pbx_firewall_bans{jail="asterisk"} 0
pbx_firewall_bans{jail="sshd"} 1
# HELP pbx_firewall_rules Rules in the chains the PBX firewall owns, per address family.
# TYPE pbx_firewall_rules gauge
pbx_firewall_rules{family="ipv4"} 44
pbx_firewall_rules{family="ipv6"} 40
# HELP pbx_firewall_last_apply_timestamp_seconds When the owned rules were last changed by an apply or loaded by \
the restore script.
# TYPE pbx_firewall_last_apply_timestamp_seconds gauge
pbx_firewall_last_apply_timestamp_seconds 1796600000.25
'''


def test_render_is_the_exposition_format_with_escaped_labels():
    assert _metrics.render(REPORT) == EXPECTED


def test_no_bans_and_no_apply_leave_those_metrics_without_samples():
    text = _metrics.render(dict(REPORT, bans=None, last_apply=None, drops=[]))
    assert 'pbx_firewall_bans{' not in text and '\npbx_firewall_last_apply_timestamp_seconds ' not in text
    assert '# TYPE pbx_firewall_bans gauge' in text


def test_write_replaces_the_file_atomically_and_leaves_no_temporary_file(tmp_path):
    (tmp_path / 'other.prom').write_text('x 1\n')
    path = _metrics.write(str(tmp_path), 'a 1\n')
    assert path == str(tmp_path / 'pbx_firewall.prom')
    _metrics.write(str(tmp_path), 'a 2\n')
    assert (tmp_path / 'pbx_firewall.prom').read_text() == 'a 2\n'
    assert sorted(os.listdir(str(tmp_path))) == ['other.prom', 'pbx_firewall.prom']
    assert oct(os.stat(path).st_mode & 0o777) == '0o644'


def test_textfile_dir():
    assert _metrics.textfile_dir('auto', exists=lambda d: True) == '/var/lib/prometheus/node-exporter'
    assert _metrics.textfile_dir(None, exists=lambda d: False) is None
    assert _metrics.textfile_dir('', exists=lambda d: True) is None
    assert _metrics.textfile_dir('/srv/prom', exists=lambda d: False) == '/srv/prom'
