# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lockout check over a real SSH controller path: refused before any change.

sshd runs inside a network namespace; ansible-playbook connects to it over a veth pair
(IPv4, and IPv6 on the same pair), as root and with ``become`` (``su -l``, which clears
the environment, so the module must find the SSH connection in its ancestor processes).
A policy that would drop the controller's SSH is refused before the host is touched:
a poller reads the whole netfilter state (both backends, both families, ipsets) in the
namespace every 0.05 s during the run and never sees a change, no rollback marker or
persistence file ever appears, and the message names the controller's address, the
port and the deciding network. The same policy plus a network that allows the
controller's SSH applies normally (confirmed over a new connection).
"""

from __future__ import annotations

import ipaddress
import os
import sys
import threading

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy

MODULE = 'pbxops.firewall.iptables_ruleset'
RUN_DIR = '/run/pbx-firewall'
OFFICE_SIP = {'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['sip']}
# su -l clears the environment; root to root needs Ansible told that become is wanted anyway
BECOME = {'become': True, 'become_method': 'su', 'become_flags': '-l'}
BECOME_ENV = {'ANSIBLE_BECOME_ALLOW_SAME_USER': 'True'}


class StatePoller(threading.Thread):
    """Reads the namespace's whole netfilter state until stopped; keeps every distinct one."""

    def __init__(self, netns):
        super().__init__(daemon=True)
        self.netns = netns
        self.baseline = netns.full_state()
        self.changes = []
        self.reads = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            state = self.netns.full_state()
            self.reads += 1
            if state != self.baseline and state not in self.changes:
                self.changes.append(state)
            self.stop.wait(0.05)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join(timeout=30)


def _markers():
    try:
        return set(os.listdir(RUN_DIR))
    except OSError:
        return set()


def _args(ruleset, persist_dir, **extra):
    args = {'ruleset': ruleset, 'backend': 'nft', 'rollback_timeout': 5, 'persist': True,
            'persist_dir': str(persist_dir), 'unit_dir': str(persist_dir) + '-systemd'}
    args.update(extra)
    return args


def _refused_run(ssh_host, ansible, inventory, rulesets, tmp_path, keywords=None, env=None):
    """Apply each ruleset, then again in check mode; assert nothing changed at any time."""
    persist = tmp_path / 'persist'
    markers = _markers()
    tasks = []
    for index, ruleset in enumerate(rulesets):
        tasks.append(dict({'name': 'apply %d' % index, MODULE: _args(ruleset, persist), 'ignore_errors': True},
                          **(keywords or {})))
        tasks.append(dict({'name': 'check %d' % index, MODULE: _args(ruleset, persist), 'ignore_errors': True,
                           'check_mode': True}, **(keywords or {})))
    with StatePoller(ssh_host.netns) as poller:
        results = ansible.run(tasks, inventory, extra_env=env)
    assert poller.reads >= 5, poller.reads
    assert poller.changes == [], poller.changes[0]
    assert ssh_host.netns.full_state() == poller.baseline
    assert _markers() == markers                      # no rollback armed, no lock taken
    assert not persist.exists() and not os.path.exists(str(persist) + '-systemd')
    for result in results:
        assert result['_status'] == 'failed', result
        assert result['changed'] is False and result['rolled_back'] is False, result
        assert 'rollback_token' not in result, result
    return results


def test_a_policy_that_drops_the_controller_is_refused_before_any_change(ssh_host, ansible, tmp_path):
    lan = str(ipaddress.ip_network(ssh_host.controller + '/30', strict=False))
    controller_lan = {'name': 'Controller LAN', 'subnet': lan,
                      'services': ['web'], 'block': ['ssh']}
    office_only = _policy.firewall_ruleset([OFFICE_SIP])
    blocked = _policy.firewall_ruleset([OFFICE_SIP, controller_lan,
                                        {'name': 'Everyone', 'subnet': '0.0.0.0/0', 'services': ['ssh']}])
    results = _refused_run(ssh_host, ansible, ssh_host.inventory, [office_only, blocked], tmp_path)
    for result in results:
        msg = result['msg']
        assert msg.startswith('Refusing to apply: the new ruleset would lock the controller out: a new tcp '
                              'packet from the controller %s (its SSH connection as this host sees it) to '
                              'port 22 gets DROP from ' % ssh_host.controller), msg
        assert 'Nothing was changed on the host.' in msg
        assert 'Fix: add a network that allows ssh from %s' % ssh_host.controller in msg
        assert 'pbx_firewall_lockout_check: false' in msg
        report = result['lockout_check']
        assert report['checked'] is True and report['found_in'] == 'environment', report
        assert (report['address'], report['port'], report['server_address']) == (
            ssh_host.controller, 22, ssh_host.address)
    # the office-only policy: nothing allows ssh, the final drop decides; the other names the network
    # (apply, check) of each policy. Office only: nothing allows ssh, the final drop decides;
    # the other policy: the network that blocks ssh is named
    for result in results[:2]:
        assert 'from the final drop, because no network allows it' in result['msg']
    for result in results[2:]:
        assert result['msg'].count('gets DROP from rule "pbxfw:block ssh network=Controller LAN"') == 1
        assert result['lockout_check']['verdict']['comment'] == 'pbxfw:block ssh network=Controller LAN'


def test_the_same_policy_with_the_controller_allowed_applies(ssh_host, ansible, tmp_path):
    controller = {'name': 'Controller', 'subnet': ssh_host.controller, 'services': ['ssh']}
    ruleset = _policy.firewall_ruleset([OFFICE_SIP, controller])
    persist = tmp_path / 'persist'
    checked, applied, again = ansible.run([
        {'name': 'check', MODULE: _args(ruleset, persist), 'check_mode': True},
        {'name': 'apply', MODULE: _args(ruleset, persist)},
        {'name': 'again', MODULE: _args(ruleset, persist)},
    ], ssh_host.inventory)
    for result in (checked, applied, again):
        assert result['_status'] == 'ok', result.get('msg')
        report = result['lockout_check']
        assert report['checked'] is True and report['address'] == ssh_host.controller, report
        assert report['verdict']['target'] == 'ACCEPT'
        assert report['verdict']['comment'] == 'Controller: allow ssh'
        # no IPv6 network: the final-drop warning, once per run of the module
        ipv6_warnings = [w for w in result['_warnings'] if 'IPv6' in w]
        assert len(ipv6_warnings) == 1 and (
            'all new IPv6 traffic will be dropped: the ruleset accepts no new IPv6 packet except loopback and '
            'the ICMPv6 types IPv6 needs (the policy has no IPv6 network of its own); add an IPv6 network or '
            'set pbx_firewall_ipv6: false') in ipv6_warnings[0], result['_warnings']
    assert checked['changed'] is True and applied['changed'] is True and again['changed'] is False
    assert applied['rolled_back'] is False and applied['rollback_token']
    assert 'Controller: allow ssh' in ssh_host.netns.save('nft')
    assert ssh_host.reachable()


def test_with_become_the_connection_is_found_in_an_ancestor(ssh_host, ansible, tmp_path, needs):
    needs(os.path.exists('/bin/su') or os.path.exists('/usr/bin/su'), 'su is not installed')
    probe = ansible.run([dict({'ansible.builtin.command': 'printenv SSH_CONNECTION', 'changed_when': False,
                               'ignore_errors': True}, **BECOME)], ssh_host.inventory, extra_env=BECOME_ENV)[0]
    # su -l cleared the environment: the module's own has no SSH_CONNECTION
    assert probe['_status'] == 'failed' and probe['stdout'] == '', probe
    results = _refused_run(ssh_host, ansible, ssh_host.inventory, [_policy.firewall_ruleset([OFFICE_SIP])],
                           tmp_path, BECOME, BECOME_ENV)
    for result in results:
        assert 'from the controller %s ' % ssh_host.controller in result['msg']
        assert result['lockout_check']['found_in'].startswith('process '), result['lockout_check']
    controller = {'name': 'Controller', 'subnet': ssh_host.controller, 'services': ['ssh']}
    applied = ansible.run([dict({MODULE: _args(_policy.firewall_ruleset([OFFICE_SIP, controller]),
                                               tmp_path / 'persist2')}, **BECOME)],
                          ssh_host.inventory, extra_env=BECOME_ENV)[0]
    assert applied['_status'] == 'ok' and applied['changed'] is True, applied.get('msg')
    assert applied['rolled_back'] is False
    assert applied['lockout_check']['verdict']['comment'] == 'Controller: allow ssh'
    assert applied['lockout_check']['found_in'].startswith('process '), applied['lockout_check']


def test_over_ipv6(ssh_host, ansible, tmp_path):
    # allowed over IPv4 only: the controller connecting over IPv6 would be dropped
    v4_only = {'name': 'Controller', 'subnet': ssh_host.controller, 'services': ['ssh']}
    inventory = ssh_host.inventory_for(ssh_host.address6)
    results = _refused_run(ssh_host, ansible, inventory, [_policy.firewall_ruleset([OFFICE_SIP, v4_only])],
                           tmp_path)
    for result in results:
        assert ('a new tcp packet from the controller %s (its SSH connection as this host sees it) to port 22 '
                'gets DROP from the final drop' % ssh_host.controller6) in result['msg'], result['msg']
        assert result['lockout_check']['family'] == 'ipv6'
    both = dict(v4_only, subnet=[ssh_host.controller, ssh_host.controller6])
    applied = ansible.run([{MODULE: _args(_policy.firewall_ruleset([OFFICE_SIP, both]), tmp_path / 'p6')}],
                          inventory)[0]
    assert applied['_status'] == 'ok' and applied['changed'] is True, applied.get('msg')
    assert applied['rolled_back'] is False
    assert applied['lockout_check']['verdict']['comment'] == 'Controller: allow ssh'
    assert 'Controller: allow ssh' in ssh_host.netns.save('nft', 'ipv6')


def test_with_the_check_off_the_controllers_own_connection_is_not_ended(ssh_host, ansible, tmp_path, needs):
    """Blocking the controller on purpose (lockout_check: false) ends every flow that lost ssh
    except the module's own SSH connection, so its answer still gets home."""
    # conntrack tracks the namespace's traffic from the first rule that needs it: make the
    # SSH connection an inbound flow from its first packet, as on a host with a firewall
    ssh_host.netns.sh('iptables-nft -A OUTPUT -m conntrack --ctstate INVALID -j DROP')
    controller = {'name': 'Controller', 'subnet': ssh_host.controller, 'services': ['ssh']}
    allowed, blocked = (_policy.firewall_ruleset(networks) for networks in ([OFFICE_SIP, controller], [OFFICE_SIP]))
    first, second = ansible.run([
        {'name': 'allow', MODULE: _args(allowed, tmp_path / 'p', rollback_timeout=0, persist=False)},
        {'name': 'block', MODULE: _args(blocked, tmp_path / 'p', rollback_timeout=0, persist=False,
                                        lockout_check=False)},
    ], ssh_host.inventory)
    nothing = {'count': 0, 'flows': [], 'undecided': 0, 'left': 0}
    assert first['_status'] == 'ok' and first['flows_ended'] == nothing, first
    # without the exception the module's own connection is cut and this answer never arrives
    assert second['_status'] == 'ok' and second['changed'] is True, second.get('msg')
    assert second['flows_ended'] == nothing, second['flows_ended']
    assert 'Controller: allow ssh' not in ssh_host.netns.save('nft')
    assert not ssh_host.reachable()      # a new connection is dropped


@pytest.mark.parametrize('own', ['127.0.0.1', '::1', 'address'])
def test_a_controller_arriving_over_loopback_is_not_refused(ssh_host, ansible, tmp_path, own):
    """ansible-playbook runs inside the host's namespace and SSHes to the host itself, over
    lo (a reverse tunnel, cloudflared, an SSM-style agent: SSH_CONNECTION=127.0.0.1 ... 127.0.0.1
    22), or to one of its own non-loopback addresses. A policy that allows ssh from no network
    still keeps that controller in: its packets arrive on lo."""
    target = ssh_host.address if own == 'address' else own
    ruleset = _policy.firewall_ruleset([OFFICE_SIP])
    started = ansible.start([{MODULE: _args(ruleset, tmp_path / 'persist', persist=False)},
                             {'ansible.builtin.command': 'printenv SSH_CONNECTION', 'changed_when': False}],
                            ssh_host.inventory_for(target), netns=ssh_host.netns)
    results = ansible.wait(started)
    applied = results[0]
    assert applied['_status'] == 'ok', applied.get('msg')
    assert results[1]['stdout'].split()[0] == target, results[1]['stdout']
    assert applied['changed'] is True and applied['rolled_back'] is False
    report = applied['lockout_check']
    assert (report['checked'], report['local'], report['address']) == (True, True, target), report
    assert report['verdict']['comment'] == 'pbx-firewall: loopback', report
    # the rules are live, and confirmed: from outside, ssh is dropped; over lo it still answers
    family = 'ipv6' if ':' in target else 'ipv4'
    assert '"pbxfw:default everything else" -j DROP' in ssh_host.netns.save('nft', family)
    assert not ssh_host.reachable()
    banner = ssh_host.netns.sh('timeout 3 %s -c "import socket; s = socket.create_connection((\'%s\', 22), 2); '
                               'print(s.recv(4))"' % (sys.executable, target))
    assert "b'SSH-'" in banner, banner


@pytest.mark.parametrize('connection', ['local'])
def test_connection_local_has_nothing_to_check(netns, ansible, tmp_path, connection):
    # a policy that drops everything from outside applies: the local connection never crosses it
    result = ansible.local(netns, [{MODULE: _args(_policy.firewall_ruleset([OFFICE_SIP]), tmp_path / 'p',
                                                  rollback_timeout=0)}])[0]
    assert result['_status'] == 'ok' and result['changed'] is True, result.get('msg')
    assert result['lockout_check']['checked'] is False
    assert result['lockout_check']['note'].endswith('nothing to check'), result['lockout_check']
