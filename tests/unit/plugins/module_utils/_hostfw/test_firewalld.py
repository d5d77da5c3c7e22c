# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""firewalld's outputs (captured from Debian 12's firewalld 1.3.3), the owned policy object and
the owned block of direct.xml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shlex

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import accepts as acc
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import firewalld as fwd
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy

CAPTURED = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'captured')


def captured(name):
    with open(os.path.join(CAPTURED, name)) as handle:
        return handle.read()


RULESET = {
    'ipv4': [
        '-A PBX-FIREWALL -p udp -m udp --dport 5060 -m comment --comment "pbx-firewall: SIP guards" -j PBX-FW-SIP',
        '-A PBX-FIREWALL -s 10.0.0.0/8 -p tcp -m multiport --dports 22,5060:5061 -m comment '
        '--comment "Office LAN: allow sip,ssh" -j ACCEPT',
        '-A PBX-FIREWALL -s 10.0.0.0/8 -p icmp -m icmp --icmp-type 8 -j ACCEPT',
        '-A PBX-FIREWALL -m comment --comment "pbx-firewall: drop everything else" -j DROP',
        '-A PBX-FW-SIP -m string --hex-string "|0a557365722d4167656e743a69576172|" --algo bm --icase '
        '-m comment --comment "SIP scanner iWar: block" -j DROP',
    ],
    'ipv6': ['-A PBX-FIREWALL -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT',
             '-A PBX-FIREWALL -j DROP'],
}


def test_zones_of_a_stock_firewalld():
    zones = fwd.parse_listing(captured('firewalld-list-all-zones.txt'))
    assert list(zones) == ['block', 'dmz', 'drop', 'external', 'home', 'internal', 'public', 'trusted', 'work']
    public = zones['public']
    assert public['flags'] == set() and public['target'] == 'default'
    assert fwd.words(public, 'services') == ['dhcpv6-client', 'ssh'] and fwd.words(public, 'ports') == []
    assert zones['block']['target'] == '%%REJECT%%'


def test_policies_with_rich_rules():
    policies = fwd.parse_listing(captured('firewalld-list-all-policies.txt'))
    policy = policies['allow-host-ipv6']
    assert policy['flags'] == {'active'} and policy['priority'] == '-15000'
    assert fwd.words(policy, 'ingress-zones') == ['ANY'] and fwd.words(policy, 'egress-zones') == ['HOST']
    assert policy['rich rules'][0] == 'rule family="ipv6" icmp-type name="neighbour-advertisement" accept'
    assert fwd.listed_passes(policy).icmp == [('ipv6', 'neighbour-advertisement'), ('ipv6', 'neighbour-solicitation'),
                                              ('ipv6', 'redirect'), ('ipv6', 'router-advertisement')]


def test_a_zone_with_an_interface_and_the_runtime_pass():
    text = ('internal (active)\n  target: default\n  interfaces: eth0\n  services: ssh\n'
            '  ports: 5060/udp 10000-10200/udp\n  protocols: gre\n  rich rules: \n'
            '\trule priority="-1" family="ipv4" icmp-type name="echo-request" accept\n'
            '\trule family="ipv4" source address="10.0.0.0/8" accept\n\n')
    zone = fwd.parse_listing(text)['internal']
    assert zone['flags'] == {'active'} and fwd.words(zone, 'interfaces') == ['eth0']
    passes = fwd.listed_passes(zone)
    assert (passes.ports, passes.protocols, passes.icmp) == (['5060/udp', '10000-10200/udp'], ['gre'],
                                                             [('ipv4', 'echo-request')])


@pytest.mark.parametrize('text, version', [('1.3.3\n', (1, 3, 3)), ('2.0.0', (2, 0, 0)), ('', ())])
def test_version(text, version):
    assert fwd.parse_version(text) == version


@pytest.mark.parametrize('version, has_direct, flushes', [
    ((1, 3, 3), False, True), ((1, 3, 3), True, True), ((2, 0, 0), False, False), ((2, 3, 1), True, True),
    ((), False, True),
])
def test_which_firewalld_flushes_iptables(version, has_direct, flushes):
    assert fwd.flushes_iptables(version, has_direct) is flushes


def test_service_definition():
    text = ('<?xml version="1.0" encoding="utf-8"?>\n<service>\n  <short>DHCPv6 Client</short>\n'
            '  <port protocol="udp" port="546"/>\n  <port protocol="tcp" port="5000-5002"/>\n'
            '  <protocol value="gre"/>\n  <destination ipv6="fe80::/64"/>\n</service>\n')
    assert fwd.parse_service(text) == ([('udp', 546, 546), ('tcp', 5000, 5002)], ['gre'])


def test_pass_list_and_policy_object():
    passes = fwd.pass_list(acc.from_ruleset(RULESET))
    # 5060/udp only jumps to the SIP guards here: nothing accepts it
    assert passes.ports == ['22/tcp', '5060-5061/tcp']
    assert passes.icmp == [('ipv4', 'echo-request'), ('ipv6', 'neighbour-solicitation')]
    assert passes.rich_rules() == ['rule family="ipv4" icmp-type name="echo-request" accept',
                                   'rule family="ipv6" icmp-type name="neighbour-solicitation" accept']
    xml = fwd.render_policy(passes)
    assert xml.startswith('<?xml version="1.0" encoding="utf-8"?>\n<policy target="CONTINUE">\n  <short>pbx-firewall'
                          '</short>\n')
    assert ('  <ingress-zone name="ANY"/>\n  <egress-zone name="HOST"/>\n  <port port="22" protocol="tcp"/>\n'
            '  <port port="5060-5061" protocol="tcp"/>\n'
            '  <rule family="ipv4">\n    <icmp-type name="echo-request"/>\n    <accept/>\n  </rule>\n') in xml
    assert xml.endswith('</rule>\n</policy>\n')
    # an ICMP type firewalld has no name for: the whole protocol
    other = fwd.pass_list(acc.from_ruleset({'ipv4': ['-A PBX-FIREWALL -p icmp -m icmp --icmp-type 13 -j ACCEPT']}))
    assert other.protocols == ['icmp'] and other.icmp == []


def test_direct_entries_round_trip_through_firewalld_quoting():
    entries = fwd.direct_entries(nf.validate_ruleset(RULESET))
    assert [e.kind for e in entries] == ['chain'] * 3 + ['rule'] * 7 + ['passthrough'] * 2
    rule = entries[4]
    assert rule == fwd.Entry('rule', 'ipv4', 'filter', 'PBX-FIREWALL', 1, (
        '-s', '10.0.0.0/8', '-p', 'tcp', '-m', 'multiport', '--dports', '22,5060:5061', '-m', 'comment',
        '--comment', 'Office LAN: allow sip,ssh', '-j', 'ACCEPT'))
    assert entries[-1].args == ('-t', 'filter', '-I', 'INPUT', '1', '-j', 'PBX-FIREWALL')
    text = fwd.merge_direct(None, entries)
    assert fwd.parse_direct(text) == entries          # what firewalld reads back (shlex)
    assert ("<rule ipv=\"ipv4\" table=\"filter\" chain=\"PBX-FIREWALL\" priority=\"1\">-s 10.0.0.0/8 -p tcp -m "
            "multiport --dports 22,5060:5061 -m comment --comment 'Office LAN: allow sip,ssh' -j ACCEPT</rule>") in text
    assert fwd.unportable(entries) == []


@pytest.mark.parametrize('nflog_group', [None, 5])
def test_the_direct_block_carries_every_logged_drop_and_reason(nflog_group):
    """Drop reasons in comments, the per-reason log chains (LOG or NFLOG, a prefix that ends in a
    space), the SIP guards' hex strings, the blocklist: every owned chain and rule goes into
    direct.xml and comes back from it as given."""
    ruleset = _policy.firewall_ruleset(
        [{'name': 'Office', 'subnet': '10.0.0.0/8', 'services': ['ssh', 'sip']},
         {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip'], 'block': ['web']}],
        sip_rate_limit=20, sip_scanner_agents=['friendly-scanner'], blocklist=['203.0.113.0/24'],
        custom_rules=['-p tcp -m tcp --dport 8080 -j DROP'], log_drops=True, nflog_group=nflog_group)
    desired = nf.validate_ruleset(ruleset)
    entries = fwd.direct_entries(desired)
    assert fwd.unportable(entries) == []
    assert fwd.parse_direct(fwd.merge_direct(None, entries)) == entries
    carried = {}
    for entry in entries:
        if entry.kind == 'rule':
            carried.setdefault((entry.ipv, entry.chain), []).append(entry.args)
    assert {key: len(rules) for key, rules in carried.items()} == {
        (family, chain): len(rules) for family in ('ipv4', 'ipv6')
        for chain, rules in desired.families[family].chains.items()}
    assert {c for (_f, c) in carried if c.startswith('PBX-FW-LOG-')} == {
        'PBX-FW-LOG-SCANNER', 'PBX-FW-LOG-FLOOD', 'PBX-FW-LOG-BLOCKLIST', 'PBX-FW-LOG-BLOCK',
        'PBX-FW-LOG-CUSTOM', 'PBX-FW-LOG-DEFAULT'}
    assert [a for args in carried[('ipv4', 'PBX-FW-LOG-FLOOD')] for a in args if a.startswith('pbxfw ')] == [
        'pbxfw flood ']
    assert ('--comment', 'pbxfw:blocklist source in pbxfw-blocklist4') in {
        args[i:i + 2] for args in carried[('ipv4', 'PBX-FIREWALL')] for i in range(len(args) - 1)}


def test_what_the_direct_interface_cannot_carry():
    ruleset = {'ipv4': ['-A PBX-FIREWALL -s 10.0.0.0/8 -m comment --comment "Office \\"A\\" & <B>" -j ACCEPT']}
    entries = fwd.direct_entries(nf.validate_ruleset(ruleset))
    assert [(e.chain, a) for e, a in fwd.unportable(entries)] == [('PBX-FIREWALL', 'Office "A" & <B>')]
    text = fwd.merge_direct(None, entries)
    assert '&amp; &lt;B&gt;' in text and fwd.parse_direct(text) == entries


ADMIN = ('<?xml version="1.0" encoding="utf-8"?>\n<direct>\n'
         '  <rule ipv="ipv4" table="filter" chain="FORWARD" priority="0">-s 192.0.2.0/24 -j DROP</rule>\n'
         '</direct>\n')


def test_merge_keeps_the_administrators_direct_xml_byte_identical():
    entries = fwd.direct_entries(nf.validate_ruleset(RULESET))
    merged = fwd.merge_direct(ADMIN, entries)
    assert merged.startswith(ADMIN[:-len('</direct>\n')] + fwd.BLOCK_BEGIN)
    assert [e for e in fwd.parse_direct(merged) if not fwd.owned_entry(e)] == fwd.parse_direct(ADMIN)
    assert fwd.merge_direct(merged, entries) == merged                    # stable
    assert fwd.merge_direct(merged, []) == ADMIN                          # removal: the administrator's bytes
    fewer = fwd.direct_entries(nf.validate_ruleset({'ipv4': RULESET['ipv4'][:1]}))
    assert fwd.merge_direct(fwd.merge_direct(merged, fewer), []) == ADMIN


def test_a_file_the_collection_created_goes_away():
    entries = fwd.direct_entries(nf.validate_ruleset(RULESET))
    assert fwd.merge_direct(fwd.merge_direct(None, entries), []) is None
    assert fwd.merge_direct(None, []) is None


def test_owned_entries_outside_the_block_after_firewalld_rewrote_the_file():
    # firewalld writes direct.xml from its memory (firewall-cmd --permanent --direct ...): no markers
    entries = fwd.direct_entries(nf.validate_ruleset(RULESET))
    rewritten = ADMIN.replace('</direct>\n', ''.join(fwd._render_entry(e) for e in entries) + '</direct>\n')
    assert fwd.merge_direct(rewritten, []) == ADMIN
    assert fwd.merge_direct(rewritten, entries) == fwd.merge_direct(ADMIN, entries)


def test_a_self_closing_direct_element_and_a_broken_file():
    entries = fwd.direct_entries(nf.validate_ruleset(RULESET))
    merged = fwd.merge_direct('<?xml version="1.0" encoding="utf-8"?>\n<direct/>\n', entries)
    assert fwd.parse_direct(merged) == entries
    with pytest.raises(ValueError, match=r'/etc/firewalld/direct.xml is not well-formed XML'):
        fwd.merge_direct('<direct><rule>', entries)
    with pytest.raises(ValueError, match=r'the root element is <zone>, not <direct>'):
        fwd.parse_direct('<zone/>')


@pytest.mark.parametrize('entry, owned', [
    (fwd.Entry('chain', 'ipv4', 'filter', 'PBX-FW-SIP', None, ()), True),
    (fwd.Entry('chain', 'ipv4', 'filter', 'ADMIN', None, ()), False),
    (fwd.Entry('rule', 'ipv4', 'filter', 'INPUT', 0, ('-j', 'PBX-FIREWALL')), True),
    (fwd.Entry('rule', 'ipv4', 'filter', 'INPUT', 0, ('-j', 'ACCEPT')), False),
    (fwd.Entry('passthrough', 'ipv6', None, None, None, tuple(shlex.split('-I INPUT 1 -j PBX-FIREWALL'))), True),
])
def test_owned_entries(entry, owned):
    assert fwd.owned_entry(entry) is owned
