# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the Asterisk suite (tests only). A real Asterisk 22 for the role's local_net tests: one container of the lab's sid
image (``lab/image.sh --suite sid``, built here when absent or stale) on a Docker
network of its own, reached by Ansible over SSH like the lab fleet.

==================  ===============================================================
address             what it is
==================  ===============================================================
10.238.1.10         the PBX (also fd42:238:1::10); Asterisk's transports announce
                    203.0.113.10 / 2001:db8::10 to clients outside local_net
10.238.1.1          this machine on the network: the controller, and the phone in
                    the PBX's own subnet ("Local")
198.51.100.7        a second address of this machine on the bridge: the phone on
                    the Internet (routed by the PBX's default gateway, 10.238.1.1)
==================  ===============================================================

Docker and the lab image are shared with the demo lab: run this suite under
``flock /tmp/pbxfw-lab.lock``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import time


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
IMAGE = os.environ.get('LAB_SID_IMAGE', 'pbxops/lab-pbx:sid')
NETWORK = 'pbxfw-ast'
CONTAINER = 'pbxfw-ast-pbx'
PBX4, GW4, SUBNET4 = '10.238.1.10', '10.238.1.1', '10.238.1.0/24'
PBX6, GW6, SUBNET6 = 'fd42:238:1::10', 'fd42:238:1::1', 'fd42:238:1::/64'
OUTSIDE = '198.51.100.7'
EXTERNAL4, EXTERNAL6 = '203.0.113.10', '2001:db8::10'
TRANSPORTS = ('transport-udp', 'transport-udp6', 'transport-tcp')


def run(argv, check=True, timeout=120, **kwargs):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
                          check=False, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError('%s failed (rc=%d):\n%s\n%s' % (argv, proc.returncode, proc.stdout, proc.stderr))
    return proc


def wait_for(what, probe, timeout=10.0, interval=0.2):
    """Call PROBE every INTERVAL seconds until it returns true; fail naming WHAT after TIMEOUT."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(interval)
    raise AssertionError('timed out after %.0f s waiting for %s' % (timeout, what))


def live_local_net(text):
    """local_net values of `pjsip show transport NAME` output (the test's own reading)."""
    return [m.strip() for m in re.findall(r'(?m)^\s*local_net\s*:\s*(\S.*)$', text)]


def as_networks(values):
    """Networks of 'ADDR/PREFIX' or Asterisk's 'ADDR/NETMASK' strings (IPv6 masks too)."""
    found = set()
    for value in values:
        address, _sep, mask = value.partition('/')
        if ':' in mask or '.' in mask:
            mask = bin(int(ipaddress.ip_address(mask))).count('1')
        found.add(ipaddress.ip_network('%s/%s' % (address, mask), strict=False))
    return found


class Pbx:
    """The Asterisk container: shell, Asterisk CLI and the inventory entry to reach it."""

    def __init__(self, key):
        self.key = key

    def sh(self, command, check=True):
        return run(['docker', 'exec', CONTAINER, 'sh', '-c', command], check=check).stdout

    def cli(self, command):
        return self.sh("asterisk -rx '%s'" % command)

    def local_nets(self):
        """{transport: [local_net]} as the running Asterisk prints them."""
        return {name: live_local_net(self.cli('pjsip show transport %s' % name)) for name in TRANSPORTS}

    def pid(self):
        return int(self.sh('pidof asterisk').split()[0])

    def uptime(self):
        match = re.search(r'System uptime:\s*(\d+)', self.cli('core show uptime seconds'))
        return int(match.group(1))

    def file(self, path):
        return self.sh('cat %s 2>/dev/null || echo ABSENT' % path, check=False)

    def host(self, **host_vars):
        values = {
            'ansible_host': PBX4, 'ansible_user': 'root', 'ansible_ssh_private_key_file': self.key,
            'ansible_python_interpreter': '/usr/bin/python3', 'ansible_ssh_pipelining': True,
            'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null',
        }
        values.update(host_vars)
        return json.dumps({'all': {'hosts': {'target': values}}})
