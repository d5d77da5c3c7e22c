# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reboot: what boot runs brings the owned firewall back, before any service listens.

The module applies a compiled policy with persistence into temporary persist and unit
directories. Then the namespace loses every table and ipset (as at power-off), the
administrator's own rule comes back first (netfilter-persistent runs before the unit),
and the unit's ExecStart runs exactly as systemd would start it. Checked: the unit's
ordering (before network-pre.target and fail2ban.service, enabled for
multi-user.target), the owned chains, ipsets and single jump are back byte for byte,
the administrator's rule is kept, and with real traffic from a client namespace: right
after the boot script and before a listener exists, a non-allowed source is dropped
while an allowed one already reaches the stack (refused), and once the listener
starts the allowed one connects and the others are still dropped.

A reboot inside the rollback window: an apply that cuts the controller off is not in the
boot files until it is confirmed, so the boot brings back the rules the controller had
confirmed.
"""

from __future__ import annotations

import configparser
import json
import os
import shlex
import signal
import subprocess
import time

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

WEB = 80
ADMIN_RULE = '-A INPUT -s 10.30.0.1/32 -p tcp -m tcp --dport 8080 -j ACCEPT'


def _policy_for(client):
    allowed, stranger, blocked = client.addresses
    return _policy.firewall_ruleset([
        {'name': 'Admin', 'subnet': allowed, 'services': ['web', 'ssh']},
        {'name': 'Client LAN', 'subnet': '10.214.0.0/16', 'services': ['sip'], 'block': ['ssh']},
        {'name': 'Blocked host', 'subnet': blocked, 'block': ['web']},
        {'name': 'Sites', 'subnet': ['10.70.%d.0/24' % i for i in range(20)] + ['fd70:%x::/64' % i for i in range(20)],
         'services': ['web']},
        {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']},
    ], sip_rate_limit=20, sip_scanner_agents=['friendly-scanner'])


def _unit(path):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(path)
    return parser


def _power_off(ns, backend):
    """Every table and every ipset gone, as after a reboot (without instantiating the other backend)."""
    for tool in ('iptables', 'ip6tables'):
        sup.ns_sh(ns, '{0}-{1} -w -F && {0}-{1} -w -X'.format(tool, backend))
    sup.ns_sh(ns, 'ipset destroy')


class Listener:
    """A TCP listener in the host namespace (a service starting after the firewall)."""

    def __init__(self, ns, port):
        code = ('import socket,time\n'
                's=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n'
                's.bind(("0.0.0.0", %d)); s.listen(16); print("ready", flush=True)\n'
                'while True:\n'
                '    c,_=s.accept(); c.close()\n' % port)
        self.proc = subprocess.Popen(sup.ns_argv(ns, sup.PYTHON, '-c', code), stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == 'ready'

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.mark.parametrize('backend', ['nft', 'legacy'])
def test_boot_restores_the_firewall_before_services_listen(netns, ansible, client, tmp_path, backend):
    allowed, stranger, blocked = client.addresses
    ruleset = _policy_for(client)
    assert ruleset['ipsets'], 'the policy must exercise ipsets at boot'
    persist_dir, unit_dir = tmp_path / 'persist', tmp_path / 'systemd'
    result, = ansible.local(netns, [{sup.MODULE: {
        'ruleset': ruleset, 'backend': backend, 'persist': True, 'persist_dir': str(persist_dir),
        'unit_dir': str(unit_dir), 'rollback_timeout': 30}}])
    assert result['_status'] == 'ok' and result['changed'] is True, result.get('msg', result)
    applied = {f: sup.owned_chains(sup.family_save(netns.name, backend, f)) for f in ('ipv4', 'ipv6')}
    applied_sets = sup.ipsets(netns.ipset_save())
    assert sup.ruleset_mismatch(netns.name, backend, ruleset) == []

    # the unit: enabled, ordered before the network and fail2ban, runs the restore script
    unit_path = unit_dir / 'pbx-firewall.service'
    unit = _unit(str(unit_path))
    before = unit.get('Unit', 'Before').split()
    assert 'network-pre.target' in before and 'fail2ban.service' in before, before
    assert 'network-pre.target' in unit.get('Unit', 'Wants').split()
    assert unit.get('Unit', 'DefaultDependencies') == 'no'
    assert 'netfilter-persistent.service' in unit.get('Unit', 'After').split()
    assert unit.get('Service', 'Type') == 'oneshot'
    assert unit.get('Install', 'WantedBy') == 'multi-user.target'
    assert os.readlink(str(unit_dir / 'multi-user.target.wants' / 'pbx-firewall.service')) == str(unit_path)
    exec_start = shlex.split(unit.get('Service', 'ExecStart'))
    assert exec_start[0] == str(persist_dir / 'restore')

    # power off: nothing left; netfilter-persistent (ordered before us) restores the admin's rule
    _power_off(netns.name, backend)
    assert 'PBX-' not in sup.family_save(netns.name, backend, 'ipv4') and netns.ipset_save().strip() == ''
    netns.sh('iptables-%s -w %s' % (backend, ADMIN_RULE))
    # baseline: with no firewall the stranger reaches the stack (no listener: refused)
    assert client.tcp_probe(stranger, WEB) == 'refused'

    # what boot runs: the unit's ExecStart, as systemd would (no shell around it)
    boot = sup.run(sup.ns_argv(netns.name, *exec_start))
    assert [line for line in boot.stderr.splitlines() if not line.startswith('# Warning:')] == [], boot.stderr

    # right after the boot script, before any listener
    assert client.tcp_probe(stranger, WEB) == 'dropped'
    assert client.tcp_probe(blocked, WEB) == 'dropped'
    assert client.tcp_probe(allowed, WEB) == 'refused'      # accepted by the firewall, nobody listens yet

    # owned rules, ipsets and the jump are back exactly; the admin's rule is untouched
    assert sup.ruleset_mismatch(netns.name, backend, ruleset) == []
    assert {f: sup.owned_chains(sup.family_save(netns.name, backend, f)) for f in ('ipv4', 'ipv6')} == applied
    assert sup.ipsets(netns.ipset_save()) == applied_sets
    assert sup.filter_chains(sup.family_save(netns.name, backend, 'ipv4'))['INPUT'] == [
        '-A INPUT -j PBX-FIREWALL', ADMIN_RULE]
    other = 'legacy' if backend == 'nft' else 'nft'
    assert 'PBX-' not in sup.family_save(netns.name, other, 'ipv4') + sup.family_save(netns.name, other, 'ipv6')

    # the service starts: the allowed source connects, the others are still dropped
    listener = Listener(netns.name, WEB)
    try:
        deadline = time.time() + 5
        while client.tcp_probe(allowed, WEB) != 'open':
            assert time.time() < deadline
        assert client.tcp_probe(stranger, WEB) == 'dropped'
        assert client.tcp_probe(blocked, WEB) == 'dropped'
    finally:
        listener.stop()

    # the next run finds nothing to do: boot restored exactly what was applied
    again, = ansible.local(netns, [{sup.MODULE: {
        'ruleset': ruleset, 'backend': backend, 'persist': True, 'persist_dir': str(persist_dir),
        'unit_dir': str(unit_dir), 'rollback_timeout': 30}}])
    assert again['_status'] == 'ok' and again['changed'] is False, again


# ------------------------------------------------------------------------------------------
# a reboot inside the rollback window
# ------------------------------------------------------------------------------------------

RUN_DIR = '/run/pbx-firewall'


def _netns_inode(ns_name):
    return os.stat('/run/netns/%s' % ns_name).st_ino


def _armed_token(ns_name, before):
    """The token of the run armed in the namespace since ``before`` (the markers seen then), or None."""
    for name in set(os.listdir(RUN_DIR)) - before:
        if name.startswith('pending-'):
            token = name[len('pending-'):]
            try:
                with open(os.path.join(RUN_DIR, 'rollback-%s.json' % token)) as handle:
                    spec = json.load(handle)
            except (OSError, ValueError):
                continue
            if spec.get('netns', 'net%d' % _netns_inode(ns_name)) == 'net%d' % _netns_inode(ns_name):
                return token
    return None


def _power_cut(token):
    """What a reboot does to a run in its window: its watcher dies and /run is empty again."""
    for pid in os.listdir('/proc'):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                argv = handle.read().split(b'\0')
        except OSError:
            continue
        if pid.isdigit() and ('rollback-%s.json' % token).encode() in b' '.join(argv):
            os.kill(int(pid), signal.SIGKILL)       # the watcher this test's apply started
    for name in os.listdir(RUN_DIR):
        if token in name:
            os.unlink(os.path.join(RUN_DIR, name))


def test_a_reboot_inside_the_rollback_window_boots_the_confirmed_rules(ssh_host, ansible, tmp_path):
    """Boot files only ever hold confirmed rules: an apply that locks the controller out is not in them
    until it is confirmed, so a reboot before its rollback boots the rules the controller had confirmed."""
    controller = {'name': 'Controller', 'subnet': ssh_host.controller, 'services': ['ssh']}
    office = {'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['sip', 'web']}
    confirmed = _policy.firewall_ruleset([controller, office], ipv6=False)
    lockout = _policy.firewall_ruleset([office], ipv6=False)
    persist_dir, unit_dir = tmp_path / 'persist', tmp_path / 'systemd'
    args = {'backend': 'nft', 'persist': True, 'persist_dir': str(persist_dir), 'unit_dir': str(unit_dir),
            'rollback_timeout': 30, 'lockout_check': False}
    first, = ansible.run([{sup.MODULE: dict(args, ruleset=confirmed)}], ssh_host.inventory)
    assert first['_status'] == 'ok' and first['rolled_back'] is False, first.get('msg')
    boot_files = sup.tree_digests(persist_dir, unit_dir)
    assert 'Controller: allow ssh' in (persist_dir / 'rules.v4').read_text()

    markers = set(os.listdir(RUN_DIR))
    started = ansible.start([{sup.MODULE: dict(args, ruleset=lockout), 'ignore_errors': True}], ssh_host.inventory)
    deadline = time.time() + 60
    while sup.ruleset_mismatch(ssh_host.netns.name, 'nft', lockout) or _armed_token(ssh_host.netns.name, markers) is None:
        assert time.time() < deadline and started[0].poll() is None, 'the lockout was not applied'
        time.sleep(0.1)
    # inside the window: the controller is locked out, nothing is confirmed, the boot files are the old ones
    assert not ssh_host.reachable()
    assert sup.tree_digests(persist_dir, unit_dir) == boot_files

    # the reboot: the watcher dies with everything else, /run is empty, the tables are gone
    _power_cut(_armed_token(ssh_host.netns.name, markers))
    _power_off(ssh_host.netns.name, 'nft')
    exec_start = shlex.split(_unit(str(unit_dir / 'pbx-firewall.service')).get('Service', 'ExecStart'))
    sup.run(sup.ns_argv(ssh_host.netns.name, *exec_start))

    # the host boots the confirmed rules: the controller gets in again
    assert sup.ruleset_mismatch(ssh_host.netns.name, 'nft', confirmed) == []
    assert ssh_host.reachable()
    result, = ansible.wait(started)
    # the controller's confirmation finds no marker of its run after the reboot, and says so
    assert result['_status'] == 'failed', result
    assert 'vanished' in result['msg'], result['msg']
    assert sup.tree_digests(persist_dir, unit_dir) == boot_files
