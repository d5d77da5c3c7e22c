# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rollback watcher outlives the SSH session where logind ends a session's processes.

A container of the lab image runs systemd as PID 1 with logind's ``KillUserProcesses=yes``
and sshd with PAM (so every SSH login is a logind session with a scope of its own). The
controller logs in as a non-root ``ansible_user`` with ``become`` (sudo), the common setup
logind's default exemption of root does not cover. First the test shows the killer at work:
a process a session left behind as root is gone once the session ends. Then an apply that
cuts the controller off (``lockout_check: false``, ``rollback_timeout: 10``): the action plugin
drops its connection to confirm over a new one, the session ends, and the host must still
roll back by itself. Before the fix the watcher lived in the session's scope and died with
it, so the lock-out stayed; now it runs in a transient scope of its own (``systemd-run
--scope``).

The image (``SYSTEMD_IMAGE``) is the lab image plus Debian's systemd, built on first use.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BASE_IMAGE = os.environ.get('LAB_IMAGE', 'pbxops/lab-pbx:bookworm')
SYSTEMD_IMAGE = 'pbxops/lab-pbx-systemd:bookworm'
PACKAGES = 'systemd systemd-sysv dbus libpam-systemd'
USER = 'pbxadmin'
TIMEOUT = 10
# systemd as PID 1 without --privileged (which this machine's capability set refuses)
RUN_OPTIONS = ['--cap-add', 'SYS_ADMIN', '--cap-add', 'NET_ADMIN', '--cap-add', 'NET_RAW',
               '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined',
               '--cgroupns=host', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw', '--tmpfs', '/run', '--tmpfs', '/run/lock',
               '-e', 'container=docker', '--entrypoint', '/lib/systemd/systemd']
SETUP = r'''
set -e
useradd -m -s /bin/bash %(user)s
usermod -p '*' %(user)s
install -d -m 700 -o %(user)s /home/%(user)s/.ssh
install -m 600 -o %(user)s /tmp/key.pub /home/%(user)s/.ssh/authorized_keys
echo '%(user)s ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/%(user)s
# the lab image's sshd reads UsePAM no from sshd_config.d (the first value wins)
sed -i 's/^UsePAM no/UsePAM yes/' /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf
mkdir -p /etc/systemd/logind.conf.d
printf '[Login]\nKillUserProcesses=yes\n' > /etc/systemd/logind.conf.d/pbxfw-test.conf
systemctl disable --now fail2ban >/dev/null 2>&1 || true
ssh-keygen -A >/dev/null
systemctl restart systemd-logind
systemctl enable ssh >/dev/null 2>&1
systemctl reset-failed ssh
systemctl restart ssh
'''


def docker(*args, check=True, data=None, timeout=600):
    return sup.run(['docker'] + list(args), check=check, data=data, timeout=timeout)


def _image_id(name):
    out = docker('image', 'inspect', '-f', '{{.Id}}', name, check=False)
    return out.stdout.strip() if out.returncode == 0 else None


def systemd_image():
    """The lab image plus systemd, rebuilt when the lab image changed (label pbxops.lab.base)."""
    base = _image_id(BASE_IMAGE)
    built = docker('image', 'inspect', '-f', '{{index .Config.Labels "pbxops.systemd.base"}}', SYSTEMD_IMAGE,
                   check=False)
    if built.returncode == 0 and built.stdout.strip() == base:
        return SYSTEMD_IMAGE
    name = 'pbxfw-sdbuild-%s' % secrets.token_hex(3)
    docker('run', '-d', '--name', name, '--entrypoint', 'sleep', BASE_IMAGE, 'infinity')
    try:
        docker('exec', name, 'sh', '-ec', 'apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive '
               'apt-get install -y -q --no-install-recommends %s >/dev/null' % PACKAGES)
        docker('commit', '--change', 'ENTRYPOINT ["/lib/systemd/systemd"]', '--change', 'CMD []',
               '--change', 'LABEL pbxops.systemd.base=%s' % base, name, SYSTEMD_IMAGE)
    finally:
        docker('rm', '-f', name, check=False)
    return SYSTEMD_IMAGE


class SystemdHost:
    def __init__(self, name, address, gateway, key):
        self.name = name
        self.address = address
        self.controller = gateway
        self.key = key

    def sh(self, command, check=True):
        return docker('exec', self.name, 'sh', '-c', command, check=check).stdout

    def inventory(self):
        return ('target ansible_host=%s ansible_user=%s ansible_become=true ansible_ssh_private_key_file=%s '
                'ansible_python_interpreter=/usr/bin/python3 '
                "ansible_ssh_common_args='-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no'\n"
                % (self.address, USER, self.key))

    def ssh(self, command):
        return subprocess.run(['ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o',
                               'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=5',
                               '-i', self.key, '%s@%s' % (USER, self.address), command],
                              capture_output=True, text=True, timeout=30, check=False)

    def owned_rules(self):
        return [line for line in self.sh('iptables-save -t filter').splitlines()
                if line.startswith('-A PBX-FIREWALL ')]


@pytest.fixture
def systemd_host(integration_env, needs, tmp_path):
    needs(shutil.which('docker'), 'docker is not installed (hack/install-debs.sh)')
    sup.run(['bash', os.path.join(REPO, 'lab', 'docker.sh')])
    sup.run(['bash', os.path.join(REPO, 'lab', 'image.sh')], timeout=1200)
    image = systemd_image()
    key = str(tmp_path / 'key')
    sup.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'pbxfw-test', '-f', key])
    name = 'pbxfw-systemd-%s' % secrets.token_hex(3)
    docker(*(['run', '-d', '--name', name] + RUN_OPTIONS + [image]))
    try:
        host = SystemdHost(name, None, None, key)
        sup.wait_for('systemd to start', lambda: host.sh('systemctl is-system-running', check=False).strip()
                     in ('running', 'degraded'), interval=0.5)
        docker('cp', key + '.pub', '%s:/tmp/key.pub' % name)
        host.sh(SETUP % {'user': USER})
        host.address = docker('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
                              name).stdout.strip()
        host.controller = docker('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}',
                                 name).stdout.strip()
        sup.wait_for('an SSH login', lambda: host.ssh('true').returncode == 0, interval=0.5)
        yield host
    finally:
        docker('rm', '-f', name, check=False)


def test_the_watcher_outlives_a_session_that_logind_ends(systemd_host, ansible):
    host = systemd_host
    # the killer at work: a process a session leaves behind as root ends with the session
    left = host.ssh('loginctl show-session "$XDG_SESSION_ID" -p Scope --value; '
                    'sudo setsid sleep 1234 </dev/null >/dev/null 2>&1 &')
    assert left.returncode == 0 and left.stdout.strip().startswith('session-'), (left.stdout, left.stderr)
    sup.wait_for('logind to end the session', lambda: 'sleep 1234' not in host.sh('ps -eo args'), 15, interval=0.5)

    controller = {'name': 'Controller', 'subnet': host.controller, 'services': ['ssh']}
    office = {'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['sip']}
    allow = _policy.firewall_ruleset([controller, office], ipv6=False)
    lockout = _policy.firewall_ruleset([office], ipv6=False)
    args = {'backend': 'nft', 'persist': False, 'rollback_timeout': TIMEOUT}
    first, = ansible.run([{sup.MODULE: dict(args, ruleset=allow)}], host.inventory())
    assert first['_status'] == 'ok' and first['rolled_back'] is False, first.get('msg')
    kept = host.owned_rules()
    assert kept == [r for r in allow['ipv4'] if r.startswith('-A PBX-FIREWALL ')]

    result, = ansible.run([{sup.MODULE: dict(args, ruleset=lockout, lockout_check=False), 'ignore_errors': True}],
                          host.inventory())
    # whatever the controller could see: the host put the controller's rules back by itself
    assert host.owned_rules() == kept, host.owned_rules()
    assert host.ssh('true').returncode == 0
    assert result['_status'] == 'failed' and result['rolled_back'] is True, result.get('msg')
    assert result['rollback_verified'] is True, result['msg']
    # the watcher ran in a scope of its own, which is gone with it
    journal = host.sh('journalctl --no-pager -o cat -u "pbx-firewall-rollback-%s.scope"' % result['rollback_token'])
    assert 'pbxops.firewall rollback watcher' in journal, journal
