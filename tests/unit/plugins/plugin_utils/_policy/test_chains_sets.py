# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""chains.py with countries and a blocklist: (inventory, exact rules and sets)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils._reasons import parse_comment
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import chains
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy.support import (
    CHAIN,
    DROP_ALL,
    ESTABLISHED,
    JUMPS,
    LOOPBACK,
    PRELUDE4,
    PRELUDE6,
    members,
)

# A small database: CN 1.0.1.0-1.0.3.255 and 2400:100::/32, RU 5.0.0.0/16, DE 5.1.0.0/16, AT 5.2.0.0/16
DATABASE = '''# Generated: Thu, 25 Jun 2026 04:33:59 GMT
1.0.1.0,1.0.3.255,CN
2400:100::,2400:100:ffff:ffff:ffff:ffff:ffff:ffff,CN
5.0.0.0,5.0.255.255,RU
5.1.0.0,5.1.255.255,DE
5.2.0.0,5.2.255.255,AT
'''
INTERNET_SIP = {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']}
INTERNET_NONE = {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': []}
SIP_TCP = '-p tcp -m tcp --dport 5060:5061'
SIP_UDP = '-p udp -m multiport --dports 5060,10000:10200'


def digest(definition):
    return hashlib.sha1(definition.encode('utf-8')).hexdigest()[:8]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / 'countries.csv'
    path.write_text(DATABASE)
    return str(path)


def compile_(db, networks, **kwargs):
    kwargs.setdefault('sip_scanner_agents', [])
    return chains.firewall_ruleset(networks, geoip_db=db, geoip_max_age_days=0, **kwargs)


def test_block_sip_from_two_countries(db):
    """The README's first example: Internet 0/0 [sip] plus {countries: [CN, RU], block: [sip]}."""
    ruleset = compile_(db, [INTERNET_SIP, {'name': 'Scanners', 'countries': ['cn', 'RU'], 'block': ['sip']}])
    set4, set6 = 'pbxfw-cc4-' + digest('countries=CN,RU'), 'pbxfw-cc6-' + digest('countries=CN,RU')
    country = '-m set --match-set %s src -m comment --comment "pbxfw:country CN,RU sip network=Scanners" -j DROP'
    internet = '-m comment --comment "Internet: allow sip" -j ACCEPT'
    assert ruleset['ipv4'] == PRELUDE4 + [
        CHAIN + SIP_TCP + ' ' + country % set4, CHAIN + SIP_UDP + ' ' + country % set4,
        CHAIN + SIP_TCP + ' ' + internet, CHAIN + SIP_UDP + ' ' + internet, DROP_ALL]
    assert ruleset['ipv6'] == PRELUDE6 + [
        CHAIN + SIP_TCP + ' ' + country % set6, CHAIN + SIP_UDP + ' ' + country % set6,
        CHAIN + SIP_TCP + ' ' + internet, CHAIN + SIP_UDP + ' ' + internet, DROP_ALL]
    source = 'countries CN,RU from %s (2026-06-25)' % db
    assert ruleset['ipsets'] == [
        {'name': set4, 'family': 'inet', 'maxelem': 65536, 'hashsize': 1024, 'source': source,
         'entries': '1.0.1.0/24\n1.0.2.0/23\n5.0.0.0/16'},
        {'name': set6, 'family': 'inet6', 'maxelem': 65536, 'hashsize': 1024, 'source': source,
         'entries': '2400:100::/32'},
    ]
    assert ruleset['jumps'] == JUMPS


def test_allow_sip_from_two_countries_only(db):
    """The README's second example: Internet 0/0 [] plus {countries: [DE, AT], services: [sip]};
    an explicit branch office abroad (a subnet) wins over the countries."""
    branch = {'name': 'Branch', 'subnet': '1.0.2.0/24', 'services': ['sip', 'ssh']}
    ruleset = compile_(db, [INTERNET_NONE, branch, {'name': 'DACH', 'countries': ['DE', 'AT'], 'services': ['sip']}],
                       ipv6=False)
    name = 'pbxfw-cc4-' + digest('countries=AT,DE')
    country = '-m set --match-set %s src -m comment --comment "DACH (AT,DE): allow sip" -j ACCEPT' % name
    assert ruleset['ipv4'] == PRELUDE4 + [
        CHAIN + '-s 1.0.2.0/24 -p tcp -m multiport --dports 22,5060:5061 -m comment --comment '
                '"Branch: allow sip,ssh" -j ACCEPT',
        CHAIN + '-s 1.0.2.0/24 ' + SIP_UDP + ' -m comment --comment "Branch: allow sip,ssh" -j ACCEPT',
        CHAIN + SIP_TCP + ' ' + country, CHAIN + SIP_UDP + ' ' + country, DROP_ALL]
    assert [(s['name'], members(s)) for s in ruleset['ipsets']] == [(name, ['5.1.0.0/16', '5.2.0.0/16'])]


def test_the_blocklist_comes_after_loopback_and_before_established(db):
    ruleset = compile_(db, [INTERNET_SIP], blocklist=['203.0.113.0/24', '2001:db8:bad::/48'],
                       trunks=['203.0.113.7'], sip_scanner_agents=['friendly-scanner'], docker=True)
    guards = [r for r in ruleset['ipv4'] if r.startswith(CHAIN) and r.endswith('-j PBX-FW-SIP')]
    blocklist = (CHAIN + '-m set --match-set pbxfw-blocklist4 src -m comment --comment '
                 '"pbxfw:blocklist source in pbxfw-blocklist4" -j DROP')
    assert ruleset['ipv4'][:5] == [LOOPBACK] + guards + [blocklist, ESTABLISHED]
    docker = [r for r in ruleset['ipv4'] if r.startswith('-A PBX-FW-DOCKER ')]
    assert docker[3:5] == [
        '-A PBX-FW-DOCKER -m set --match-set pbxfw-blocklist4 src -m comment --comment '
        '"pbxfw:blocklist source in pbxfw-blocklist4" -j DROP',
        '-A PBX-FW-DOCKER -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment '
        '"pbx-firewall: established, related" -j RETURN']
    assert ruleset['ipv6'][3] == blocklist.replace('blocklist4', 'blocklist6')
    sets = dict((s['name'], s) for s in ruleset['ipsets'])
    # the trunk is not in the set: the set holds exactly what the rule drops
    assert members(sets['pbxfw-blocklist4']) == [
        '203.0.113.0/30', '203.0.113.4/31', '203.0.113.6', '203.0.113.8/29', '203.0.113.16/28',
        '203.0.113.32/27', '203.0.113.64/26', '203.0.113.128/25']
    assert members(sets['pbxfw-blocklist6']) == ['2001:db8:bad::/48']


def test_a_new_database_or_feed_changes_members_only(db, tmp_path):
    networks = [INTERNET_SIP, {'name': 'Scanners', 'countries': ['CN'], 'block': ['sip']}]
    feed = tmp_path / 'feed.txt'
    feed.write_text('203.0.113.0/24\n')
    before = compile_(db, networks, blocklist_files=[str(feed)])
    newer = tmp_path / 'newer.csv'
    newer.write_text(DATABASE.replace('1.0.3.255,CN', '1.0.7.255,CN'))
    feed.write_text('203.0.113.0/24\n198.51.100.0/24\n')
    after = compile_(str(newer), networks, blocklist_files=[str(feed)])
    assert (after['ipv4'], after['ipv6'], after['jumps']) == (before['ipv4'], before['ipv6'], before['jumps'])
    assert [s['name'] for s in after['ipsets']] == [s['name'] for s in before['ipsets']]
    assert [members(s) for s in after['ipsets']] != [members(s) for s in before['ipsets']]


@pytest.mark.parametrize('count, maxelem, hashsize', [
    (0, 65536, 1024), (4096, 65536, 1024), (4097, 65536, 2048), (65536, 65536, 16384),
    (65537, 131072, 32768), (300000, 524288, 131072),
])
def test_sets_are_sized_to_fit(count, maxelem, hashsize):
    entries = [str(ipaddress.IPv4Address(0x0a000000 + 2 * i)) for i in range(count)]
    spec = chains._large_ipset('pbxfw-blocklist4', 4, entries, 'x')
    assert (spec['maxelem'], spec['hashsize']) == (maxelem, hashsize)
    assert members(spec) == entries


def test_the_blocklist_and_a_blocked_country_drop_for_their_reasons(db):
    """Their comments carry the reasons the report counts; logged, they jump to their log chains
    (and an allowing country rule keeps its plain comment and target)."""
    networks = [INTERNET_NONE, {'name': 'Scanners', 'countries': ['CN'], 'block': ['sip'], 'services': ['web']}]
    ruleset = compile_(db, networks, blocklist=['203.0.113.0/24'], ipv6=False, log_drops=True)
    dropping = [r for r in ruleset['ipv4'] if '--match-set' in r and ' -j PBX-FW-LOG-' in r]
    assert [(parse_comment(r.split('--comment "')[1].split('"')[0]), r.rsplit(' ', 1)[1]) for r in dropping] == [
        (('blocklist', None), 'PBX-FW-LOG-BLOCKLIST'),
        (('country', 'Scanners'), 'PBX-FW-LOG-COUNTRY'), (('country', 'Scanners'), 'PBX-FW-LOG-COUNTRY')]
    assert any(r.endswith('--comment "Scanners (CN): allow web" -j ACCEPT') for r in ruleset['ipv4'])
    assert {r.split()[1] for r in ruleset['ipv4'] if r.startswith('-A PBX-FW-LOG-')} == {
        'PBX-FW-LOG-BLOCKLIST', 'PBX-FW-LOG-COUNTRY', 'PBX-FW-LOG-DEFAULT'}
