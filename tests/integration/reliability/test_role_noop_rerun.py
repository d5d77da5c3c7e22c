# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A rerun of the whole role with nothing to change runs at most three modules on the host.

The namespace host gets the role once (firewall, fail2ban jail.d file, PJSIP include file
and the include line in pjsip.conf), then the same inventory again with
``ansible_python_interpreter`` pointing to a wrapper that logs one line per start of the
interpreter before it execs Python. With a local connection and pipelining every module
execution is one start, including the modules an action plugin runs internally (e.g. a
stat inside ``copy``). The rerun must report changed=0 and start the interpreter at most
three times: the firewall module, one ``find`` for fail2ban and Asterisk, and the
``#include`` line of pjsip.conf.
"""

from __future__ import annotations

from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

NETWORKS = [
    {'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['sip', 'web', 'ssh'],
     'local_network': True, 'never_block': True},
    {'name': 'Branch VPN', 'subnet': ['10.8.0.0/24', 'fd00:8::/64'], 'services': ['sip'], 'local_network': True},
    {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']},
]
MAX_MODULE_RUNS = 3


def test_noop_rerun_changes_nothing_and_runs_at_most_three_modules(netns, playbook, role_paths, tmp_path):
    play = [{'hosts': 'all', 'gather_facts': False, 'module_defaults': role_paths.module_defaults(),
             'roles': [sup.ROLE]}]
    first = playbook.run(play, {'pbx': sup.local_host(pbx_firewall_networks=NETWORKS, **role_paths.role_vars())},
                         netns=netns.name)
    assert first.rc == 0, first.output
    assert role_paths.jail_file.exists() and (role_paths.asterisk_dir / 'pjsip_pbx_firewall.conf').exists()

    log = tmp_path / 'starts.log'
    wrapper = tmp_path / 'python-counted'
    wrapper.write_text('#!/bin/sh\necho "$$" >>%s\nexec %s "$@"\n' % (log, sup.PYTHON))
    wrapper.chmod(0o755)
    before = dict(sup.digest_of(sup.snapshot(netns.name)), **role_paths.artefacts())

    rerun = playbook.run(play, {'pbx': sup.local_host(pbx_firewall_networks=NETWORKS, ansible_python_interpreter=str(wrapper),
                                                      **role_paths.role_vars())}, netns=netns.name)
    assert rerun.rc == 0, rerun.output
    assert 'changed=0' in rerun.output, rerun.output
    assert dict(sup.digest_of(sup.snapshot(netns.name)), **role_paths.artefacts()) == before
    starts = log.read_text().split() if log.exists() else []
    ran = [r['task'] for r in rerun.of('pbx') if r['status'] != 'skipped']
    print('no-op rerun: %d module runs on the host; tasks not skipped: %s' % (len(starts), ran))
    assert 1 <= len(starts) <= MAX_MODULE_RUNS, (len(starts), ran)
    assert rerun.one('pbx', 'Record what changed')['result']['ansible_facts']['pbx_firewall_changed'] == []
