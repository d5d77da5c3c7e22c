# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The decision about the host's other firewall managers: report, refusal, warnings and the
firewalld plan, from facts as probe.py reads them (texts captured from the real daemons)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import accepts as acc
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import assess
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import firewalld as fwd
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import firewalld_plan
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import nftables as nft
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import probe
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy

CAPTURED = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'captured')
ABSENT = {'content': None, 'mode': None, 'target': None}
NETWORKS = [
    {'name': 'Management', 'subnet': '10.203.0.0/24', 'services': ['ssh']},
    {'name': 'Office LAN', 'subnet': '10.203.10.0/24', 'services': ['sip', 'web', 'ssh', 'icmp']},
    {'name': 'Internet', 'subnet': '10.203.30.0/24', 'services': ['sip'], 'block': ['web']},
]
RULESET = _policy.firewall_ruleset(NETWORKS)
CMD = '/usr/bin/firewall-cmd'
IGNORE_HINT = ' To apply anyway, set host_firewall (the role: pbx_firewall_host_firewall) to ignore.'


def captured(name):
    with open(os.path.join(CAPTURED, name)) as handle:
        return handle.read()


def firewalld(running=True, version=(1, 3, 3), conf=None, files=None, policies=None, record=None, enabled=True):
    zones = fwd.parse_listing(captured('firewalld-list-all-zones.txt'))
    zones['public']['flags'].add('default')
    base = dict((p, dict(ABSENT)) for p in (fwd.POLICY_PATH, fwd.DIRECT_PATH, firewalld_plan.RUN_RECORD))
    base.update(files or {})
    return {'cmd': CMD, 'enabled': enabled, 'running': running, 'conf': conf or {}, 'files': base,
            'record': record, 'version': version, 'zones': zones if running else {},
            'policies': policies or {},
            'services': {'ssh': ([('tcp', 22, 22)], []), 'dhcpv6-client': ([('udp', 546, 546)], [])}}


def facts(**managers):
    result = probe.Facts()
    for name, value in managers.items():
        setattr(result, name, value)
    return result


def run(found, mode='auto', state='present', ruleset=RULESET, backend='nft', tables=None):
    return assess.assess(found, mode, state, nf.validate_ruleset(ruleset), ruleset, backend, 'nft', tables or {})


def argv(steps):
    return [s['argv'][1:] for s in steps]


def test_no_other_manager():
    result = run(facts())
    assert (result.refusal, result.warnings, result.changed) == (None, [], False)
    assert result.report['summary'] == 'host firewall (auto): no other firewall manager'


def test_firewalld_auto_before_its_next_reload():
    result = run(facts(firewalld=firewalld()))
    assert result.refusal is None
    assert result.report['summary'] == (
        'host firewall (auto): firewalld 1.3.3 running (nftables backend; zones public): owned policy pbx-firewall '
        'lets through 6 ports, 9 ICMP types, owned direct rules put the chains back after its reloads')
    assert result.warnings == [
        'firewalld lets in zone public: dhcpv6-client (546/udp), but the PBX firewall policy drops them from every '
        'source (its chain ends with a drop): list them in pbx_firewall_networks if this host needs them']
    plan = result.firewalld
    assert [(s['kind'], s['path']) for s in plan.files] == [
        ('write', fwd.POLICY_PATH), ('write', fwd.DIRECT_PATH), ('write', firewalld_plan.RUN_RECORD)]
    assert plan.closing == []
    assert argv(plan.opening)[0] == ['--zone=public', '--add-port=22/tcp', '--add-port=80/tcp', '--add-port=443/tcp',
                                     '--add-port=5060-5061/tcp', '--add-port=5060/udp', '--add-port=10000-10200/udp']
    assert argv(plan.opening)[1][:2] == ['--zone=public',
                                         '--add-rich-rule=rule priority="-1" family="ipv4" icmp-type name="echo-request" '
                                         'accept']
    assert [a[1].split('=')[0] for a in argv(plan.revert)] == ['--remove-port', '--remove-rich-rule']
    record = json.loads(plan.files[2]['content'])
    assert record['public']['ports'][0] == '22/tcp'
    assert result.report['firewalld']['zones'] == ['public']


def test_firewalld_auto_second_run_changes_nothing():
    first = run(facts(firewalld=firewalld())).firewalld
    files = dict((s['path'], dict(ABSENT, content=s['content'], mode=s['mode'])) for s in first.files)
    found = firewalld(files=files, record=json.loads(files[firewalld_plan.RUN_RECORD]['content']))
    public = found['zones']['public']
    public['ports'] = '22/tcp 80/tcp 443/tcp 5060-5061/tcp 5060/udp 10000-10200/udp'
    public['rich rules'] = fwd.pass_list(acc.from_ruleset(RULESET)).rich_rules(priority=-1)
    result = run(facts(firewalld=found))
    assert result.changed is False, (result.firewalld.files, result.firewalld.opening, result.firewalld.closing)


def test_firewalld_after_its_reload_runs_the_policy_object():
    policy = {'flags': {'active'}, 'ingress-zones': 'ANY', 'egress-zones': 'HOST', 'ports': '22/tcp 9999/tcp',
              'protocols': '', 'rich rules': []}
    found = firewalld(policies={'pbx-firewall': policy}, record={'public': {'ports': ['22/tcp']}},
                      files={firewalld_plan.RUN_RECORD: dict(ABSENT, content='{}', mode=0o644)})
    plan = run(facts(firewalld=found)).firewalld
    target = '--policy=pbx-firewall'
    echo = '--add-rich-rule=rule family="ipv4" icmp-type name="echo-request" accept'
    expected = [[target, '--add-port=80/tcp'], [target, echo], [target, '--remove-port=9999/tcp']]
    assert [a[:2] for a in argv(plan.opening)] == expected
    assert not [s for s in plan.files if s['path'] == firewalld_plan.RUN_RECORD], 'the stale record is left alone'
    # removal: its entries and its zones go at runtime, then the files
    plan = run(facts(firewalld=found), state='absent').firewalld
    assert argv(plan.closing) == [[target, '--remove-port=22/tcp', '--remove-port=9999/tcp'],
                                  [target, '--remove-ingress-zone=ANY'], [target, '--remove-egress-zone=HOST']]
    assert [s['kind'] for s in plan.files] == ['remove']


def test_firewalld_2_without_direct_rules_needs_no_direct_configuration():
    result = run(facts(firewalld=firewalld(version=(2, 0, 1))))
    assert [s['path'] for s in result.firewalld.files] == [fwd.POLICY_PATH, firewalld_plan.RUN_RECORD]
    assert result.report['firewalld']['reload_flushes_iptables'] is False
    assert 'owned direct rules' not in result.report['summary']
    admin = '<direct>\n  <rule ipv="ipv4" table="filter" chain="INPUT" priority="0">-j ACCEPT</rule>\n</direct>\n'
    found = firewalld(version=(2, 0, 1), files={fwd.DIRECT_PATH: dict(ABSENT, content=admin, mode=0o644)})
    result = run(facts(firewalld=found))
    assert fwd.DIRECT_PATH in [s['path'] for s in result.firewalld.files]


def test_firewalld_enabled_but_stopped_gets_its_files_only():
    result = run(facts(firewalld=firewalld(running=False)))
    assert [s['path'] for s in result.firewalld.files] == [fwd.POLICY_PATH, fwd.DIRECT_PATH]
    assert result.firewalld.opening == [] and 'enabled, not running' in result.report['summary']
    # neither running nor enabled, nothing of ours there: nothing to do
    result = run(facts(firewalld=firewalld(running=False, enabled=False)))
    assert result.firewalld is None and result.report['summary'] == 'host firewall (auto): no other firewall manager'
    assert result.report['firewalld']['installed'] is True and result.report['firewalld']['running'] is False


def test_firewalld_refuse_and_ignore():
    result = run(facts(firewalld=firewalld()), mode='refuse')
    assert result.refusal == (
        'host_firewall is refuse and this host runs another firewall manager: firewalld 1.3.3 (running). Nothing was '
        'changed. Fix: stop and disable it, or set host_firewall (the role: pbx_firewall_host_firewall) to auto (the '
        'collection keeps its policy in force next to it) or ignore.')
    assert result.firewalld is None
    owned = {fwd.POLICY_PATH: dict(ABSENT, content='<policy/>', mode=0o644)}
    result = run(facts(firewalld=firewalld(files=owned)), mode='ignore')
    assert result.refusal is None
    assert result.warnings == [
        'host_firewall is ignore: firewalld 1.3.3 is running: with its nftables backend the effective policy is the '
        'intersection of its zones and the PBX firewall chain, and every firewall-cmd --reload, stop or start removes '
        'the chain']
    assert [(s['kind'], s['path']) for s in result.firewalld.files] == [('remove', fwd.POLICY_PATH)]
    assert result.report['summary'].endswith('left as it is, owned additions removed')


@pytest.mark.parametrize('found, ruleset, backend, problem', [
    (firewalld(conf={'FirewallBackend': 'iptables'}), RULESET, 'nft',
     "firewalld 1.3.3 runs with FirewallBackend=iptables (/etc/firewalld/firewalld.conf); the collection keeps its "
     "policy in force next to firewalld's nftables backend only. Fix: set FirewallBackend=nftables there and reload "
     "firewalld"),
    (firewalld(), dict(RULESET, ipv4=RULESET['ipv4'][:-1] + ['-A PBX-FIREWALL -s 10.0.0.5/32 -j ACCEPT']), 'nft',
     "firewalld 1.3.3: the ipv4 rule '-A PBX-FIREWALL -s 10.0.0.5/32 -j ACCEPT' accepts every protocol, and firewalld "
     "can only be told to let through ports, protocols and ICMP types. Fix: give the rule a protocol (-p) and ports "
     "(--dport)"),
    (firewalld(), RULESET, 'legacy',
     'firewalld 1.3.3 flushes every iptables table on each reload and puts the PBX firewall chains back from its direct '
     'configuration with iptables (the nft backend), but the chains are managed in the legacy backend. Fix: set '
     'backend (pbx_firewall_backend) to nft'),
    (firewalld(), dict(RULESET, jumps=[{'chain': 'INPUT', 'target': 'PBX-FIREWALL'},
                                       {'chain': 'DOCKER-USER', 'target': 'PBX-FIREWALL'}]), 'nft',
     "firewalld 1.3.3 flushes every iptables table on each reload, start and stop, and Docker then recreates "
     "DOCKER-USER without the jump '-A DOCKER-USER -j PBX-FIREWALL', so Docker-host mode cannot stay in force. Fix: "
     "set pbx_firewall_docker: false on this host, or use firewalld 2.0 or later without direct rules"),
    (firewalld(files={fwd.DIRECT_PATH: dict(ABSENT, content='<direct><rule>', mode=0o644)}), RULESET, 'nft',
     'firewalld 1.3.3: cannot add the owned block to /etc/firewalld/direct.xml: /etc/firewalld/direct.xml is not '
     'well-formed XML: no element found: line 1, column 14. Fix: repair the file (firewall-cmd --check-config)'),
])
def test_firewalld_refusals(found, ruleset, backend, problem):
    result = run(facts(firewalld=found), ruleset=ruleset, backend=backend)
    assert result.refusal == 'refused before any change (host_firewall: auto): %s.%s' % (problem, IGNORE_HINT)
    assert result.firewalld is None and result.changed is False


def ufw(conf='ENABLED=yes\n', defaults='IPV6=yes\nMANAGE_BUILTINS=no\n'):
    return {'conf': dict(line.split('=') for line in conf.split()),
            'defaults': dict(line.split('=') for line in defaults.split()),
            'rules': {'ipv4': captured('ufw-user.rules'), 'ipv6': captured('ufw-user6.rules')}}


def test_ufw_default_settings_coexist():
    result = run(facts(ufw=ufw()))
    assert result.refusal is None
    assert result.warnings == [
        'ufw is active; the PBX firewall chain comes first in INPUT and decides every new packet, so these ufw rules no '
        'longer decide anything: allow 8080/tcp from anywhere (ipv4): the policy drops it from every source; deny '
        '5060/udp from 10.0.0.0/8 (ipv4): the policy accepts it from some networks first; allow 22/tcp from anywhere '
        '(ipv6): the policy drops it from every source; allow 8080/tcp from anywhere (ipv6): the policy drops it from '
        'every source']
    assert result.report['summary'] == "host firewall (auto): ufw active (5 rules): our chain first, ufw's rules after it"
    assert run(facts(ufw=ufw()), mode='refuse').refusal.startswith(
        'host_firewall is refuse and this host runs another firewall manager: ufw (active).')
    inactive = run(facts(ufw=ufw(conf='ENABLED=no'))).report
    assert inactive['summary'] == 'host firewall (auto): no other firewall manager' and inactive['ufw']['active'] is False


def test_ufw_refusals():
    result = run(facts(ufw=ufw(defaults='IPV6=no MANAGE_BUILTINS=yes')))
    assert result.refusal == (
        'refused before any change (host_firewall: auto): ufw is active with MANAGE_BUILTINS=yes (/etc/default/ufw): '
        'ufw enable, reload and disable flush every built-in chain and delete every other chain, the PBX firewall '
        'chains too. Fix: set MANAGE_BUILTINS=no there and run ufw reload; ufw is active with IPV6=no '
        '(/etc/default/ufw): ufw enable and reload restore the whole ip6 filter table without --noflush, which deletes '
        'the PBX firewall IPv6 chains. Fix: set IPV6=yes there and run ufw reload, or set pbx_firewall_ipv6: false.'
        + IGNORE_HINT)
    # IPV6=no harms nothing without IPv6 rules
    assert run(facts(ufw=ufw(defaults='IPV6=no')), ruleset=dict(RULESET, ipv6=[])).refusal is None
    # ufw's jumps in front of ours
    table = nf.filter_table('*filter\n:INPUT DROP [0:0]\n-A INPUT -j ufw-before-logging-input\n'
                            '-A INPUT -j PBX-FIREWALL\nCOMMIT\n')
    result = run(facts(ufw=ufw()), tables={'ipv4': table})
    assert result.refusal.startswith(
        "refused before any change (host_firewall: auto): ufw's jump '-A INPUT -j ufw-before-logging-input' comes "
        "before the PBX firewall jump in INPUT")


def test_nftables():
    ruleset = nft.Ruleset(captured('nft-native.json'))
    service = {'enabled': True, 'conf': '#!/usr/sbin/nft -f\n\nflush ruleset\n'}
    result = run(facts(nft=ruleset, nftables_service=service))
    assert result.refusal.startswith(
        'refused before any change (host_firewall: auto): nftables table inet pbxtest, chain input (hook input, policy '
        'drop) does not certainly accept 80/tcp, 443/tcp, 5060/udp, ICMPv6 types 1, 2, 3, 4, 133, 134, 135, 136, which '
        'the PBX firewall policy accepts')
    assert result.warnings[0].startswith('nftables.service is enabled and /etc/nftables.conf runs `flush ruleset`:')
    report = result.report['nftables']
    assert report['native_tables'] == ['inet filter', 'inet pbxtest'] and report['conf_flushes'] == ['flush ruleset']
    assert report['input_chains'][0] == {'table': 'inet filter', 'chain': 'input', 'policy': 'accept', 'drops': []}
    ignored = run(facts(nft=ruleset, nftables_service=service), mode='ignore')
    assert ignored.refusal is None and ignored.warnings[0].startswith('host_firewall is ignore: nftables table inet pbxtest')


def test_netfilter_persistent_and_docker():
    saved = '*filter\n:INPUT ACCEPT [0:0]\n:PBX-FIREWALL - [0:0]\n-A INPUT -j PBX-FIREWALL\nCOMMIT\n'
    found = {'enabled': True, 'files': {'/etc/iptables/rules.v4': saved, '/etc/iptables/rules.v6': '*filter\nCOMMIT\n'}}
    docker = nf.filter_table('*filter\n:INPUT ACCEPT [0:0]\n:DOCKER - [0:0]\n:DOCKER-USER - [0:0]\nCOMMIT\n')
    result = run(facts(persistent=found), tables={'ipv4': docker})
    assert result.report['netfilter_persistent'] == {
        'installed': True, 'enabled': True, 'files': ['/etc/iptables/rules.v4', '/etc/iptables/rules.v6'],
        'hold_owned_chains': ['/etc/iptables/rules.v4']}
    assert result.report['summary'] == (
        'host firewall (auto): netfilter-persistent enabled, saved copy of the chains in /etc/iptables/rules.v4 '
        '(replaced at boot by pbx-firewall.service, which runs after it); Docker running')
    assert result.warnings == [
        'Docker runs on this host, but pbx_firewall_docker is false: ports Docker publishes go through FORWARD, not '
        'INPUT, so the policy does not cover them; Docker-host mode (pbx_firewall_docker: true) filters them in '
        'DOCKER-USER']
    assert run(facts(persistent=found), mode='refuse').refusal.startswith(
        'host_firewall is refuse and this host runs another firewall manager: netfilter-persistent (enabled).')
    # removing the collection does not remove the administrator's saved copy
    assert run(facts(persistent=found), state='absent').warnings == [
        "netfilter-persistent's /etc/iptables/rules.v4 holds a copy of the PBX firewall chains, which it restores at "
        'the next boot: run netfilter-persistent save now that they are gone']
