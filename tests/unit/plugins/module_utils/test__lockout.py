# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lockout check and the final-drop warning, on compiled policies and a fake /proc."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _evaluate, _lockout
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.tests.unit.plugins.module_utils.test__controller import FakeProc

OFFICE_SIP = {'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['sip']}
CONTROLLER = {'name': 'Controller', 'subnet': '10.213.7.1', 'services': ['ssh']}
OFFICE6 = {'name': 'Office v6', 'subnet': '2001:db8:10::/48', 'services': ['sip', 'ssh']}


@pytest.fixture
def ssh(tmp_path):
    """assess() as the module under an SSH session from ``client`` to port ``port``."""
    counter = []

    def run(ruleset, client='10.213.7.1', server='10.213.7.2', port=22, check=True):
        counter.append(1)
        proc = FakeProc(tmp_path / ('proc%d' % len(counter)))
        proc.process(300, 200, 'python3')
        proc.process(200, 1, 'sh', {'SSH_CONNECTION': '%s 40022 %s %d' % (client, server, port)})
        proc.socket(server, port, client, 40022)
        return _lockout.assess(ruleset, check, environ={}, proc=str(proc.root), pid=300)
    return run


def _assess(run, networks, **kwargs):
    options = {k: kwargs.pop(k) for k in ('custom_rules', 'ports', 'ipv6') if k in kwargs}
    return run(_policy.firewall_ruleset(networks, **options), **kwargs)


def test_office_with_sip_only_refuses_naming_address_port_and_rule(ssh):
    result = _assess(ssh, [OFFICE_SIP])
    rules = _policy.firewall_ruleset([OFFICE_SIP])['ipv4']
    final = next(i for i, rule in enumerate(rules) if 'pbxfw:default everything else' in rule)
    assert result.refusal == (
        'Refusing to apply: the new ruleset would lock the controller out: a new tcp packet from the '
        'controller 10.213.7.1 (its SSH connection as this host sees it) to port 22 gets DROP from the final '
        'drop, because no network allows it (rule "pbxfw:default everything else", ruleset.ipv4[%d]). '
        'Nothing was changed on the host. Fix: add a network that allows ssh from 10.213.7.1, e.g. '
        '{name: Controller, subnet: 10.213.7.1, services: [ssh]} in pbx_firewall_networks; or, if the '
        'controller reaches the host some other way, set pbx_firewall_lockout_check: false (module option '
        'lockout_check: false) (the rollback stays armed).' % final)
    assert result.report['checked'] is True
    assert result.report['verdict']['target'] == 'DROP'


def test_a_network_that_blocks_ssh_is_named(ssh):
    lab = {'name': 'Lab', 'subnet': '10.213.0.0/16', 'services': ['web'], 'block': ['ssh']}
    result = _assess(ssh, [OFFICE_SIP, lab, {'name': 'Everyone', 'subnet': '0.0.0.0/0', 'services': ['ssh']}])
    assert 'gets DROP from rule "pbxfw:block ssh network=Lab"' in result.refusal
    assert 'controller 10.213.7.1' in result.refusal and 'to port 22' in result.refusal


def test_a_network_allowing_the_controller_passes(ssh):
    result = _assess(ssh, [OFFICE_SIP, CONTROLLER])
    assert result.refusal is None
    assert result.report['verdict']['comment'] == 'Controller: allow ssh'
    assert result.report['address'] == '10.213.7.1' and result.report['port'] == 22
    assert str(result.controller[0].client) == '10.213.7.1'


def test_another_ssh_port(ssh):
    networks = [OFFICE_SIP, CONTROLLER]
    assert 'to port 2222 gets DROP' in _assess(ssh, networks, port=2222).refusal
    assert 'pbx_firewall_ports: {ssh: 2222}' in _assess(ssh, networks, port=2222).refusal
    assert _assess(ssh, networks, port=2222, ports={'ssh': 2222}).refusal is None


def test_ipv6_controller_with_only_ipv4_networks(ssh):
    result = _assess(ssh, [OFFICE_SIP, CONTROLLER], client='fd00:213:7::1', server='fd00:213:7::2')
    assert 'controller fd00:213:7::1' in result.refusal and 'gets DROP from the final drop' in result.refusal
    assert 'ruleset.ipv6[' in result.refusal
    ok = _assess(ssh, [OFFICE_SIP, dict(CONTROLLER, subnet=['10.213.7.1', 'fd00:213:7::1'])],
                 client='fd00:213:7::1', server='fd00:213:7::2')
    assert ok.refusal is None


def test_ipv6_off_leaves_ipv6_to_the_input_chain(ssh):
    result = _assess(ssh, [OFFICE_SIP], client='fd00:213:7::1', server='fd00:213:7::2', ipv6=False)
    assert result.refusal is None and result.report['verdict']['target'] is None


def test_an_undecidable_custom_rule_is_refused_conservatively(ssh):
    recent = '-p tcp -m tcp --dport 22 -m recent --name ssh --rcheck --seconds 60 --hitcount 4 -j ACCEPT'
    result = _assess(ssh, [OFFICE_SIP], custom_rules=[recent])
    assert result.refusal.startswith('Refusing to apply: cannot tell whether the new ruleset keeps the '
                                     'controller in: a new tcp packet from the controller 10.213.7.1')
    custom = _policy.firewall_ruleset([OFFICE_SIP], custom_rules=[recent])['ipv4'].index('-A PBX-FIREWALL ' + recent)
    assert 'gets ACCEPT or DROP depending on rule ruleset.ipv4[%d]: -A PBX-FIREWALL %s [cannot evaluate: ' \
           '-m recent]' % (custom, recent) in result.refusal
    assert 'The lockout check is conservative' in result.refusal
    assert result.report['verdict']['target'] == 'UNKNOWN'
    # a network allowing the controller decides before the custom rules: certain again
    assert _assess(ssh, [OFFICE_SIP, CONTROLLER], custom_rules=[recent]).refusal is None


def test_check_off_and_no_ssh(ssh, tmp_path):
    off = _assess(ssh, [OFFICE_SIP], check=False)
    assert off.refusal is None and off.report == {'checked': False, 'note': 'lockout_check is false'}
    proc = FakeProc(tmp_path / 'plain')
    proc.process(300, 1, 'python3')
    local = _lockout.assess(_policy.firewall_ruleset([OFFICE_SIP]), True, environ={}, proc=str(proc.root), pid=300)
    assert local.refusal is None
    assert local.report == {'checked': False, 'note': 'no SSH connection found (connection local or not over '
                                                      'SSH): nothing to check'}
    # what the check built is kept for the module's later steps (the flows that lost access)
    assert off.controller is None and off.evaluator.rules('ipv4')
    assert local.controller == (None, local.report['note'])


IPV6_WARNING = ('all new IPv6 traffic will be dropped: the ruleset accepts no new IPv6 packet except loopback '
                'and the ICMPv6 types IPv6 needs (the policy has no IPv6 network of its own); add an IPv6 '
                'network or set pbx_firewall_ipv6: false')
IPV4_WARNING = ('all new IPv4 traffic will be dropped: the ruleset accepts no new IPv4 packet except loopback '
                '(the policy has no IPv4 network of its own); add an IPv4 network')


@pytest.mark.parametrize('networks, options, warnings', [
    ([OFFICE_SIP], {}, [IPV6_WARNING]),
    ([OFFICE_SIP], {'ipv6': False}, []),
    ([OFFICE_SIP, OFFICE6], {}, []),
    ([OFFICE6], {}, [IPV4_WARNING]),
    # an IPv6 network that only blocks: still nothing new gets in
    ([OFFICE_SIP, {'name': 'Bad', 'subnet': '2001:db8:66::/48', 'block': ['ssh']}], {}, [IPV6_WARNING]),
    # IPv6 trunks accept SIP from them: not everything is dropped
    ([OFFICE_SIP], {'trunks': ['2001:db8:99::5']}, []),
    # a catch-all ::/0 network is an IPv6 network
    ([OFFICE_SIP, {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']}], {}, []),
    # no network at all: no final drop, nothing to warn about here (the role warns)
    ([], {}, []),
])
def test_final_drop_warning(networks, options, warnings):
    evaluator = _evaluate.Evaluator(_policy.firewall_ruleset(networks, **options))
    assert _lockout.final_drop_warnings(evaluator) == warnings


def test_final_drop_warning_is_given_once_with_the_check_off_too(ssh):
    result = _assess(ssh, [OFFICE_SIP, CONTROLLER], check=False)
    assert result.warnings == [IPV6_WARNING]


@pytest.mark.parametrize('custom', [
    '-p tcp -m tcp --dport 22 -m hashlimit --hashlimit-upto 3/min --hashlimit-burst 3 --hashlimit-mode srcip '
    '--hashlimit-name ssh -j ACCEPT',
    '-p tcp -m tcp --dport 22 -m limit --limit 3/min --limit-burst 3 -j ACCEPT',
])
def test_a_custom_rule_that_rate_limits_ssh_is_refused_conservatively(ssh, custom):
    result = _assess(ssh, [OFFICE_SIP], custom_rules=[custom])
    assert result.refusal is not None, result.report
    assert result.refusal.startswith('Refusing to apply: cannot tell whether the new ruleset keeps the '
                                     'controller in'), result.refusal
    assert 'gets ACCEPT or DROP depending on rule' in result.refusal and '-m %s' % custom.split('-m ')[2].split()[0] \
        in result.refusal


@pytest.mark.parametrize('client, server', [
    ('127.0.0.1', '127.0.0.1'),       # a reverse tunnel, cloudflared, an SSM-style agent
    ('::1', '::1'),
    ('10.213.7.2', '10.213.7.2'),     # the controller SSHes to the host's own address
])
def test_a_controller_arriving_over_loopback_keeps_its_access(ssh, client, server):
    result = _assess(ssh, [OFFICE_SIP], client=client, server=server)
    assert result.refusal is None, result.refusal
    assert result.report['verdict']['comment'] == 'pbx-firewall: loopback'
    assert result.report['local'] is True


def test_a_controller_on_another_own_address_is_local(tmp_path):
    """ssh -b 10.213.9.9 10.213.7.2 on the host itself: both ends are sockets of this namespace."""
    proc = FakeProc(tmp_path / 'proc')
    proc.process(300, 1, 'sh', {'SSH_CONNECTION': '10.213.9.9 40022 10.213.7.2 22'})
    proc.socket('10.213.7.2', 22, '10.213.9.9', 40022)
    proc.socket('10.213.9.9', 40022, '10.213.7.2', 22)
    result = _lockout.assess(_policy.firewall_ruleset([OFFICE_SIP]), True, environ={}, proc=str(proc.root), pid=300)
    assert result.refusal is None, result.refusal
    assert result.report['local'] is True and result.report['verdict']['comment'] == 'pbx-firewall: loopback'
    # only the server's end here: the controller is elsewhere, the final drop hits it
    proc = FakeProc(tmp_path / 'proc2')
    proc.process(300, 1, 'sh', {'SSH_CONNECTION': '10.213.9.9 40022 10.213.7.2 22'})
    proc.socket('10.213.7.2', 22, '10.213.9.9', 40022)
    result = _lockout.assess(_policy.firewall_ruleset([OFFICE_SIP]), True, environ={}, proc=str(proc.root), pid=300)
    assert result.report['local'] is False and 'gets DROP from the final drop' in result.refusal
