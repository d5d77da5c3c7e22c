# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""UDP from the ``client`` namespace (conftest.py) to the PBX namespace: private addresses only."""

from __future__ import annotations

import subprocess

PBX = '10.223.0.1'
BAD = '10.223.0.10'              # in a network that blocks a service
STRANGER = '10.223.0.40'         # in no network
PAYLOAD = b'pbxfw-test'


def send(client, source, port, count, payload=PAYLOAD):
    """``count`` UDP datagrams from ``source`` to the PBX's ``port``, each from its own source port."""
    script = ('import socket\n'
              'for n in range(%d):\n'
              '    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n'
              '    s.bind((%r, 40000 + n))\n'
              '    s.sendto(%r, (%r, %d))\n'
              '    s.close()\n' % (count, source, payload, PBX, port))
    subprocess.run(['ip', 'netns', 'exec', client, 'python3', '-c', script], check=True)
