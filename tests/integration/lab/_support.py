# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the lab tests: commands, playbooks against the lab, the lab's names."""

from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LAB = os.path.join(REPO, 'lab')
CACHE = os.path.join(LAB, '.cache')
OWNER = 'lab-tests'
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
PBXS = ('pbx1', 'pbx2', 'pbx3')
CLIENTS = ('client-inet', 'client-inet2', 'client-office', 'client-vpn')


def run(argv, check=True, timeout=900):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False, timeout=timeout, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError('%s failed (rc=%d):\n%s' % (' '.join(argv), proc.returncode, proc.stdout[-6000:]))
    return proc


def playbook(name, *extra, check=True, inventories=()):
    argv = [ANSIBLE_PLAYBOOK, '-i', os.path.join(CACHE, 'inventory.yml')]
    if name == 'verify':
        argv += ['-i', os.path.join(CACHE, 'probes.yml')]
    for inventory in inventories:
        argv += ['-i', inventory]
    argv += ['-i', os.path.join(LAB, 'inventory') + '/']
    return run(argv + ['pbxops.firewall.%s' % name] + list(extra), check=check)


def docker_exec(container, *argv):
    return run(['docker', 'exec', container] + list(argv))
