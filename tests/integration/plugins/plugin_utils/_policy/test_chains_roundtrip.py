# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real kernel: what the compiler emits is exactly what iptables-save prints back.

Each case loads a compiled ruleset into a throwaway network namespace with
ipset restore and iptables-restore / ip6tables-restore (nft and legacy backends)
and compares iptables-save's owned chain and ipset save's members with the
compiler's output, byte for byte. Hypothesis adds inventories whose names, descriptions,
custom rules and other strings come from all of Unicode (tests/unit/.../hostile.py):
each is refused with a path, or iptables-save prints its rules back byte for byte,
read line by line on "\n" only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import subprocess
import uuid

import pytest
from hypothesis import HealthCheck, given, settings

from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import MAIN_CHAIN
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy import hostile
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy.support import members

BACKENDS = ('nft', 'legacy')
TOR_GEOIPDB = ('/usr/share/tor/geoip', '/usr/share/tor/geoip6')

OFFICE = {'name': 'Office LAN', 'subnet': '192.168.10.0/24',
          'services': ['sip', 'web', 'ssh', 'ami', 'ajam', 'icmp', 'cticlient', 'iax'],
          'local_network': True, 'never_block': True}
VPN = {'name': "Bob's VPN \"east\" – Офис", 'subnet': ['10.8.0.0/24', '10.8.1.0/24', 'fd00:8::/64'],
       'services': ['sip', 'web'], 'block': ['ssh']}
HOST = {'name': 'admin', 'subnet': ['10.8.0.7', '2001:db8::7'], 'services': ['ssh']}
INTERNET = {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip'],
            'block': ['web']}


def _many(count):
    """``count`` /28 subnets in 10.64.0.0/10 and fd64::/16, spread over a few service sets."""
    sets = (['sip'], ['sip', 'web'], ['ssh', 'web'], ['ami'], ['icmp', 'sip'])
    nets = []
    for i in range(count):
        nets.append({'name': 'site-%d' % i,
                     'subnet': ['10.%d.%d.%d/28' % (64 + i // 4096, i // 16 % 256, i % 16 * 16),
                                'fd64:%x::/64' % i],
                     'services': sets[i % len(sets)],
                     'block': ['ajam'] if i % 7 == 0 else []})
    return nets


CASES = {
    'empty': dict(networks=[]),
    'office-vpn-internet': dict(
        networks=[OFFICE, VPN, HOST, INTERNET], trunks=['198.51.100.7', '2001:db8:5::/48'],
        sip_rate_limit=25, sip_scanner_agents=['friendly-scanner', 'sipcli/v1.8', 'VaxSIPUserAgent'],
        custom_rules=['-s 203.0.113.9/32 -p tcp -m tcp --dport 8080 -j ACCEPT',
                      {'rule': '-s 2001:db8:9::/48 -p udp -m udp --dport 69 -j ACCEPT',
                       'family': 'ipv6'}],
        ports={'rtp': '12000-12100', 'web_https': 8443},
        custom_services={'prov': [{'proto': 'tcp', 'port': 8081}, {'proto': 'udp', 'port': '6000-6010'}]}),
    'multiport-chunks': dict(
        networks=[{'name': 'wide', 'subnet': '172.16.0.0/12', 'services': ['sip', 'svc']}],
        custom_services={'svc': [{'proto': 'tcp', 'port': p} for p in
                                 (2001, 2003, '2005-2006', 2008, '2010-2011', 2013, 2015, 2017,
                                  2019, 2021, '2023-2024', 2026, 2028, 2030, 2032, 2034)]}),
    'docker-host': dict(networks=[OFFICE, VPN, HOST, INTERNET], trunks=['198.51.100.7'],
                        sip_rate_limit=10, sip_scanner_agents=['friendly-scanner'], docker=True),
    # SIP guards: per-/56 IPv6 budget, many exempt never_block subnets (an ipset)
    'sip-guards': dict(
        networks=[dict(n, never_block=True) for n in _many(20)] + [INTERNET],
        trunks=['198.51.100.7', '2001:db8:5::/48'], sip_rate_limit=1000,
        sip_rate_limit_ipv6_prefix=56, sip_scanner_agents=['Friendly-Scanner', 'friendly-scanner', 'sip cli:x'],
        ports={'sip': '5060-5061'}, docker=True),
    'sip-guards-exempt-all': dict(
        networks=[dict(INTERNET, never_block=True)], sip_rate_limit=1,
        sip_rate_limit_ipv6_prefix=128),
    # drops logged through one rate-limited chain per reason (NFLOG, LOG); custom drops get a reason
    'logged-drops-nflog': dict(
        networks=[OFFICE, VPN, HOST, INTERNET], sip_rate_limit=25, sip_scanner_agents=['friendly-scanner'],
        custom_rules=['-p tcp -m tcp --dport 8080 -m comment --comment "no proxy" -j DROP',
                      {'rule': '-p udp -m udp --dport 69 -j REJECT --reject-with icmp6-port-unreachable',
                       'family': 'ipv6'}],
        log_drops=True, log_rate='60/minute', nflog_group=17),
    'logged-drops-log': dict(networks=[OFFICE, INTERNET], sip_rate_limit=5, log_drops=True,
                             log_rate='3/hour', docker=True),
    # countries from the real database (tor-geoipdb) and a blocklist with an exempt trunk,
    # also behind DOCKER-USER
    'countries-blocklist': dict(
        networks=[OFFICE, INTERNET,
                  {'name': 'Scanners', 'countries': ['CN', 'RU'], 'block': ['sip'], 'services': ['web']},
                  {'name': 'DACH', 'countries': ['de', 'AT', 'CH'], 'subnet': '0.0.0.0/1', 'services': ['ssh']}],
        trunks=['198.51.100.7'], blocklist=['198.51.100.0/24', '2001:db8:bad::/48'], geoip_max_age_days=0,
        docker=True),
    # a region allows ajam and every seventh site inside it blocks it: nomatch exceptions
    'ipsets': dict(networks=_many(300) + [INTERNET, {
        'name': 'region', 'subnet': ['10.64.0.0/10', 'fd64::/16'], 'services': ['ajam']}],
        ipset_threshold=16),
}


def _run(argv, data=None):
    return subprocess.run(argv, input=data, capture_output=True, text=True, check=True).stdout


@contextlib.contextmanager
def _namespace():
    """A throwaway network namespace; yields the argv prefix that runs a command in it."""
    name = 'pbxfw-rt-%s' % uuid.uuid4().hex[:8]
    _run(['ip', 'netns', 'add', name])
    try:
        yield ['ip', 'netns', 'exec', name]
    finally:
        subprocess.run(['ip', 'netns', 'delete', name], check=False)


@pytest.fixture
def netns():
    with _namespace() as argv:
        yield argv


def _owned_lines(save_text):
    return [line for line in save_text.splitlines()
            if line.startswith('-A %s ' % MAIN_CHAIN) or line.startswith('-A PBX-FW-')]


def _ipset_members(save_text):
    members = {}
    for line in save_text.splitlines():
        words = line.split(' ', 2)
        if words[0] == 'add':
            members.setdefault(words[1], []).append(words[2])
    return {name: sorted(entries) for name, entries in members.items()}


def _restore_text(rules):
    chains = sorted({line.split()[1] for line in rules} | {MAIN_CHAIN})
    head = ['*filter'] + [':%s - [0:0]' % chain for chain in chains]
    return '\n'.join(head + rules + ['COMMIT', ''])


def _ipset_text(ipsets):
    lines = []
    for ipset in ipsets:
        lines.append('create %s hash:net family %s maxelem %d'
                     % (ipset['name'], ipset['family'], ipset['maxelem']))
        lines += ['add %s %s' % (ipset['name'], entry) for entry in members(ipset)]
    return '\n'.join(lines + [''])


def _needs_database(case, needs):
    if any(net.get('countries') for net in CASES[case]['networks']):
        needs(all(os.path.exists(path) for path in TOR_GEOIPDB), 'tor-geoipdb is not installed')


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('case', sorted(CASES))
def test_iptables_save_prints_the_compiled_rules_back(netns, backend, case, needs):
    _needs_database(case, needs)
    ruleset = _policy.firewall_ruleset(**CASES[case])
    _run(netns + ['ipset', 'restore'], _ipset_text(ruleset['ipsets']))
    for family, tool in (('ipv4', 'iptables'), ('ipv6', 'ip6tables')):
        _run(netns + ['%s-%s-restore' % (tool, backend), '--noflush'], _restore_text(ruleset[family]))
        saved = _run(netns + ['%s-%s-save' % (tool, backend), '-t', 'filter'])
        assert _owned_lines(saved) == ruleset[family]
    expected = {s['name']: sorted(members(s)) for s in ruleset['ipsets']}
    assert _ipset_members(_run(netns + ['ipset', 'save'])) == expected


def test_cases_cover_what_they_claim(needs):
    """Guard the table above: each case really exercises its feature."""
    _needs_database('countries-blocklist', needs)
    countries = _policy.firewall_ruleset(**CASES['countries-blocklist'])
    names = [s['name'] for s in countries['ipsets']]
    assert 'pbxfw-blocklist4' in names and 'pbxfw-blocklist6' in names
    assert sum(name.startswith('pbxfw-cc4-') for name in names) == 2       # DACH, Scanners (IPv4)
    assert sum(name.startswith('pbxfw-cc6-') for name in names) == 1       # Scanners: DACH is IPv4 only
    assert any(rule.startswith('-A PBX-FIREWALL -m set --match-set pbxfw-blocklist4 src')
               for rule in countries['ipv4'])
    assert any(rule.startswith('-A PBX-FW-DOCKER -m set --match-set pbxfw-blocklist4 src') for rule in countries['ipv4'])
    assert max(len(members(s)) for s in countries['ipsets']) > 10000
    chunks = _policy.firewall_ruleset(**CASES['multiport-chunks'])['ipv4']
    assert sum('--dports' in rule and '2034' in rule for rule in chunks) == 1
    assert sum('--dports 2001,' in rule for rule in chunks) == 1
    guards = _policy.firewall_ruleset(**CASES['sip-guards'])
    assert any(s['name'].startswith('pbxfw-sipx4-') for s in guards['ipsets'])
    assert any('--hashlimit-srcmask 56' in rule for rule in guards['ipv6'])
    assert any(rule.startswith('-A PBX-FW-DOCKER ') and rule.endswith('-j PBX-FW-SIP-TLS')
               for rule in guards['ipv4'])
    sets = _policy.firewall_ruleset(**CASES['ipsets'])
    assert any(entry.endswith(' nomatch') for s in sets['ipsets'] for entry in members(s))
    assert len(sets['ipv4']) <= 64 and len(sets['ipv6']) <= 64
    assert {s['family'] for s in sets['ipsets']} == {'inet', 'inet6'}


@pytest.fixture(scope='module')
def shared_netns():
    """One namespace for all hypothesis examples: each restore replaces the filter table."""
    with _namespace() as argv:
        yield argv


def _run_utf8(argv, data=None):
    return subprocess.run(argv, input=data, capture_output=True, encoding='utf-8', errors='strict',
                          check=True).stdout


@pytest.mark.parametrize('backend', BACKENDS)
def test_any_unicode_is_refused_with_a_path_or_read_back_identically(shared_netns, backend):
    seen = {'refused': 0, 'applied': 0, 'non-ascii': 0}

    # derandomized: the same 80 examples on every run, so the coverage guard below cannot
    # fail by the luck of one run's draw (it did: 2 refusals in one random run of 80)
    @settings(max_examples=80, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
    @given(hostile.hostile_inventories(calm=True))
    def check(inventory):
        try:
            ruleset = _policy.firewall_ruleset(resolver=hostile.fake_resolver, **inventory)
        except _policy.PolicyError as exc:
            hostile.check_messages(exc.errors)
            seen['refused'] += 1
            return
        hostile.check_rules(ruleset)
        for family, tool in (('ipv4', 'iptables'), ('ipv6', 'ip6tables')):
            _run_utf8(shared_netns + ['%s-%s-restore' % (tool, backend)],
                      _restore_text(ruleset[family]))
            saved = _run_utf8(shared_netns + ['%s-%s-save' % (tool, backend), '-t', 'filter'])
            chains = {line.split(' ')[1] for line in ruleset[family]}     # PBX-FIREWALL, the SIP guards
            owned = [line for line in saved.split('\n')
                     if line.startswith('-A ') and line.split(' ')[1] in chains]
            assert owned == ruleset[family]
        seen['applied'] += 1
        seen['non-ascii'] += any(not rule.isascii() for rule in ruleset['ipv4'])

    check()
    # the generator really exercises both outcomes, and odd text reaches the kernel
    assert seen['refused'] >= 5 and seen['applied'] >= 20 and seen['non-ascii'] >= 5, seen
