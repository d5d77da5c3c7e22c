# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role with logged drops through NFLOG on a host where ulogd2 writes no log: fail2ban's
own configuration test (on a scratch copy, with the role's filter in it) refuses the jail
that would read the missing file, the role says what to install or set, and nothing of
fail2ban's is written (a fail2ban reload would otherwise fail on the whole configuration).
That the jail bans from ulogd2's lines where they exist is test_drop_logging.py (a real
ulogd2 and fail2ban-server); that the role writes both files and reruns at two modules is
test_role_noop_rerun.py ("observe").
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils._reasons import ULOGD_LOG_FILE
from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

NETWORKS = [{'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['sip', 'ssh'], 'never_block': True},
            {'name': 'Internet', 'subnet': '0.0.0.0/0', 'services': ['sip']}]


def test_nflog_without_ulogd_log_is_refused_by_fail2ban_test(netns, playbook, role_paths):
    if os.path.exists(ULOGD_LOG_FILE):
        pytest.skip('%s exists on this machine: the jail would find its log' % ULOGD_LOG_FILE)
    extra = dict(pbx_firewall_networks=NETWORKS, pbx_firewall_log_drops=True, pbx_firewall_nflog_group=0,
                 **role_paths.role_vars())
    play = [{'hosts': 'all', 'gather_facts': False, 'module_defaults': role_paths.module_defaults(),
             'roles': [sup.ROLE]}]
    run = playbook.run(play, {'pbx': sup.local_host(**extra)}, netns=netns.name)
    assert run.rc != 0, run.output
    files = run.one('pbx', 'Keep the fail2ban and Asterisk files')
    message = files['result']['msg']
    assert 'Have not found any log file for pbx-firewall-drops jail' in message, message
    assert 'install and start ulogd2' in message and 'pbx_firewall_nflog_group: null' in message, message
    assert not role_paths.jail_file.exists()
    assert not (role_paths.fail2ban_dir / 'filter.d' / 'pbx-firewall-drops.conf').exists()
