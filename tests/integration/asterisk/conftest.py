# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``pbx`` fixture: the Asterisk 22 container of this suite (see _support.py)."""

from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.pbxops.firewall.tests.integration.asterisk import _sip
from ansible_collections.pbxops.firewall.tests.integration.asterisk import _support as sup


@pytest.fixture(scope='module')
def pbx(integration_env, needs, tmp_path_factory):
    needs(shutil.which('docker'), 'docker is not installed')
    needs(shutil.which('debootstrap'), 'debootstrap is not installed (it builds the sid image)')
    sup.run(['bash', os.path.join(sup.REPO, 'lab', 'docker.sh')])
    sup.run(['bash', os.path.join(sup.REPO, 'lab', 'image.sh'), '--suite', 'sid'], timeout=1800)
    keydir = tmp_path_factory.mktemp('asterisk-key')
    key = str(keydir / 'id_ed25519')
    sup.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key])
    os.chmod(str(keydir), 0o755)

    def teardown():
        sup.run(['docker', 'rm', '-f', sup.CONTAINER], check=False)
        sup.run(['docker', 'network', 'rm', sup.NETWORK], check=False)

    teardown()
    try:
        sup.run(['docker', 'network', 'create', '--ipv6', '--subnet', sup.SUBNET4, '--gateway', sup.GW4,
                 '--subnet', sup.SUBNET6, '--gateway', sup.GW6,
                 '-o', 'com.docker.network.bridge.name=%s' % sup.NETWORK, sup.NETWORK])
        sup.run(['ip', 'addr', 'add', sup.OUTSIDE + '/32', 'dev', sup.NETWORK])
        sup.run(['docker', 'run', '-d', '--name', sup.CONTAINER, '--hostname', sup.CONTAINER,
                 '--cap-add', 'NET_ADMIN', '--cap-add', 'NET_RAW',
                 '-v', '%s.pub:/run/lab/authorized_keys:ro' % key,
                 '--network', sup.NETWORK, '--ip', sup.PBX4, '--ip6', sup.PBX6, sup.IMAGE])
        box = sup.Pbx(key)
        # Asterisk drops SIP requests until it has fully booted
        sup.wait_for('Asterisk', lambda: 'fully booted' in box.sh("asterisk -rx 'core waitfullybooted'", check=False),
                     timeout=60, interval=0.5)
        ssh = ['ssh', '-i', key, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
               '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=2', 'root@' + sup.PBX4, 'true']
        sup.wait_for('SSH', lambda: sup.run(ssh, check=False).returncode == 0, timeout=60, interval=0.5)
        yield box
    finally:
        teardown()


@pytest.fixture
def phone():
    """``phone(local, pbx=PBX4)``: a SIP phone bound to LOCAL (closed after the test)."""
    made = []

    def make(local, pbx=sup.PBX4):
        made.append(_sip.Phone(local, pbx))
        return made[-1]

    yield make
    for one in made:
        one.close()
