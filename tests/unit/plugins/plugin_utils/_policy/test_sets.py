# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sets.py through the policy: countries and blocklists, (inventory, exact sets, warnings, notes)
and (inventory, exact error)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import ipaddress

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import sets as sets_module
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import PolicyError
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.role import role_policy
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.validate import load_policy
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy.support import members as set_members


def ip(text):
    return int(ipaddress.ip_address(text))


def tor_v4_line(first, last, country):
    return '%d,%d,%s' % (ip(first), ip(last), country)


V4 = '\n'.join([
    '# Generated: Thu, 25 Jun 2026 04:33:59 GMT',
    tor_v4_line('5.0.0.0', '5.0.255.255', 'CH'),
    tor_v4_line('5.1.0.0', '5.1.255.255', 'DE'),
    tor_v4_line('5.2.0.0', '5.2.255.255', 'AT'),
    tor_v4_line('5.3.0.0', '5.3.0.255', 'DE'),
    tor_v4_line('6.0.0.0', '6.0.255.255', 'CN'),
]) + '\n'
V6 = '\n'.join([
    '# Generated: Thu, 25 Jun 2026 04:33:59 GMT',
    '2a01:100::,2a01:100:ffff:ffff:ffff:ffff:ffff:ffff,DE',
    '2400:100::,2400:100:ffff:ffff:ffff:ffff:ffff:ffff,CN',
]) + '\n'
INTERNET = {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']}


@pytest.fixture
def db(tmp_path):
    v4, v6 = tmp_path / 'geoip', tmp_path / 'geoip6'
    v4.write_text(V4)
    v6.write_text(V6)
    return [str(v4), str(v6)]


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr(sets_module, 'today', lambda: datetime.date(2026, 7, 5))


def ipsets(policy_result):
    return dict((s['name'], s) for s in policy_result['ruleset']['ipsets'])


def members(result, prefix):
    return dict((s['name'], set_members(s)) for s in result['ruleset']['ipsets'] if s['name'].startswith(prefix))


# ---------------------------------------------------------------------------- countries

def test_a_country_network_covers_both_families(db):
    result = role_policy([INTERNET, {'name': 'Scanners', 'countries': ['cn', 'DE'], 'block': ['sip']}],
                         geoip_db=db)
    found = members(result, 'pbxfw-cc')
    assert sorted(found.values()) == [['2400:100::/32', '2a01:100::/32'],
                                      ['5.1.0.0/16', '5.3.0.0/24', '6.0.0.0/16']]
    assert result['notes'] == [
        'country database: %s (2026-06-25), %s (2026-06-25)' % tuple(db),
        "pbx_firewall_networks[1] ('Scanners') (CN,DE): 3 IPv4 and 2 IPv6 prefixes",
    ]
    assert result['warnings'] == []


def _no_database_read(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError('the country database was read')
    monkeypatch.setattr(sets_module.countrydb, 'read_file', refuse)


@pytest.mark.parametrize('trunks', [[], ['6.0.0.0/28']])       # the blocked sets with and without a cut
def test_a_second_compile_takes_the_country_sets_from_the_cache(db, monkeypatch, trunks):
    networks = [INTERNET, {'name': 'Scanners', 'countries': ['CN', 'DE', 'AQ'], 'block': ['sip']},
                {'name': 'DE web', 'countries': ['DE'], 'subnet': '5.1.0.0/17', 'services': ['web']}]
    first = role_policy(networks, geoip_db=db, trunks=trunks)
    _no_database_read(monkeypatch)
    assert role_policy(networks, geoip_db=db, trunks=trunks) == first
    assert first['warnings'][-1].startswith('country AQ (Antarctica) has no address in the country database')


@pytest.mark.parametrize('change', ['networks', 'trunks', 'database'])
def test_the_country_sets_cache_follows_what_they_depend_on(db, monkeypatch, change):
    networks = [INTERNET, {'name': 'Scanners', 'countries': ['CN', 'DE'], 'block': ['sip']}]
    role_policy(networks, geoip_db=db)
    trunks = []
    if change == 'networks':
        networks[1] = dict(networks[1], countries=['CN'])
    elif change == 'trunks':
        trunks = ['6.0.0.0/28']
    else:
        with open(db[0], 'a') as handle:
            handle.write(tor_v4_line('7.0.0.0', '7.0.0.255', 'CN') + '\n')
    reads = []
    real = sets_module.countrydb.read_file
    monkeypatch.setattr(sets_module.countrydb, 'read_file', lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    result = role_policy(networks, geoip_db=db, trunks=trunks)
    assert reads == db
    expected = {
        'networks': ['6.0.0.0/16'],
        # CN without the trunk 6.0.0.0/28
        'trunks': ['5.1.0.0/16', '5.3.0.0/24', '6.0.0.16/28', '6.0.0.32/27', '6.0.0.64/26', '6.0.0.128/25',
                   '6.0.1.0/24', '6.0.2.0/23', '6.0.4.0/22', '6.0.8.0/21', '6.0.16.0/20', '6.0.32.0/19',
                   '6.0.64.0/18', '6.0.128.0/17'],
        'database': ['5.1.0.0/16', '5.3.0.0/24', '6.0.0.0/16', '7.0.0.0/24'],
    }[change]
    assert [m for m in members(result, 'pbxfw-cc').values() if '.' in m[0]][-1] == expected


def test_a_subnet_narrows_a_country_network_and_ipv6_false_drops_its_ipv6_set(db):
    net = {'name': 'DE west', 'countries': ['DE'], 'subnet': ['5.1.128.0/17', '5.3.0.0/16'], 'services': ['web']}
    result = role_policy([net], geoip_db=db, ipv6=False)
    assert list(members(result, 'pbxfw-cc').values()) == [['5.1.128.0/17', '5.3.0.0/24']]
    assert result['ruleset']['ipv6'] == []


def test_adjacent_countries_merge_into_fewer_prefixes(db):
    """CH 5.0.0.0/16 and DE 5.1.0.0/16 are one /15 together."""
    result = role_policy([{'name': 'CH DE', 'countries': ['DE', 'CH'], 'services': ['sip']}], geoip_db=db,
                         ipv6=False)
    assert list(members(result, 'pbxfw-cc').values()) == [['5.0.0.0/15', '5.3.0.0/24']]


def test_trunks_and_never_block_subnets_are_taken_out_of_blocked_countries_only(db):
    networks = [INTERNET,
                {'name': 'Branch', 'subnet': '5.1.2.0/24', 'services': ['ssh'], 'never_block': True},
                {'name': 'DE', 'countries': ['DE'], 'services': ['web'], 'block': ['sip']}]
    result = role_policy(networks, geoip_db=db, trunks=['5.1.7.9'], ipv6=False)
    rules = result['ruleset']['ipv4']
    allow, block = [next(r.split('--match-set ')[1].split()[0] for r in rules if comment in r)
                    for comment in ('DE (DE): allow web', 'pbxfw:country DE sip network=DE')]
    found = ipsets(result)
    assert set_members(found[allow]) == ['5.1.0.0/16', '5.3.0.0/24']          # everyone in DE gets web
    assert set_members(found[block]) == [                                    # no one but the exempt
        '5.1.0.0/23', '5.1.3.0/24', '5.1.4.0/23', '5.1.6.0/24', '5.1.7.0/29', '5.1.7.8', '5.1.7.10/31',
        '5.1.7.12/30', '5.1.7.16/28', '5.1.7.32/27', '5.1.7.64/26', '5.1.7.128/25', '5.1.8.0/21', '5.1.16.0/20',
        '5.1.32.0/19', '5.1.64.0/18', '5.1.128.0/17', '5.3.0.0/24']


def test_networks_that_cover_the_same_addresses_share_a_set(db):
    networks = [{'name': 'A', 'countries': ['CN'], 'block': ['sip']},
                {'name': 'B', 'countries': ['cn'], 'block': ['web']}]
    result = role_policy(networks, geoip_db=db)
    assert len(members(result, 'pbxfw-cc')) == 2        # one per family


@pytest.mark.parametrize('today_is, warned', [(datetime.date(2026, 9, 23), False),
                                              (datetime.date(2026, 9, 24), True)])
def test_an_old_database_warns(db, monkeypatch, today_is, warned):
    monkeypatch.setattr(sets_module, 'today', lambda: today_is)
    result = role_policy([{'name': 'CN', 'countries': ['CN'], 'block': ['sip']}], geoip_db=db)
    expected = ['the country database is from 2026-06-25, 91 days old (pbx_firewall_geoip_max_age_days: 90): '
                'update it (apt-get install --only-upgrade tor-geoipdb, or a newer DB-IP lite country CSV); '
                'files: %s (2026-06-25), %s (2026-06-25)' % tuple(db)]
    assert result['warnings'] == (expected if warned else [])
    assert role_policy([{'name': 'CN', 'countries': ['CN'], 'block': ['sip']}], geoip_db=db,
                       geoip_max_age_days=0)['warnings'] == []


def test_a_country_without_addresses_and_a_database_without_ipv6_warn(db):
    result = role_policy([{'name': 'Far', 'countries': ['BV', 'CN'], 'block': ['sip']}], geoip_db=db[:1])
    assert result['warnings'] == [
        'country BV (Bouvet Island) has no address in the country database (%s (2026-06-25)): the networks '
        'naming it match no source there' % db[0],
        'the country database (%s (2026-06-25)) has no IPv6 addresses: country networks match no IPv6 source; '
        'add an IPv6 file to pbx_firewall_geoip_db (tor-geoipdb: /usr/share/tor/geoip6)' % db[0],
    ]


def refusal(networks, **kwargs):
    with pytest.raises(PolicyError) as excinfo:
        load_policy(networks, **kwargs)
    return excinfo.value.errors


SCANNERS = {'name': 'Scanners', 'countries': ['CN'], 'block': ['sip']}
PACKAGE = ("install Debian's tor-geoipdb on the controller (apt-get install tor-geoipdb), or set "
           'pbx_firewall_geoip_db to a DB-IP lite country CSV (first,last,CC) or a CIDR,CC file')


def test_no_database(tmp_path):
    assert refusal([SCANNERS], geoip_db=[str(tmp_path / 'geoip')]) == [
        "pbx_firewall_geoip_db[0] (%s): cannot read the country database: No such file or directory; "
        "countries are used by pbx_firewall_networks[0] ('Scanners'): %s" % (tmp_path / 'geoip', PACKAGE)]
    assert refusal([SCANNERS], geoip_db=[]) == [
        "pbx_firewall_geoip_db: no country database is given; countries are used by "
        "pbx_firewall_networks[0] ('Scanners'): " + PACKAGE]


def test_removing_reads_neither_the_database_nor_the_feeds(tmp_path):
    result = role_policy([SCANNERS], geoip_db=[str(tmp_path / 'gone')], blocklist_files=[str(tmp_path / 'gone')],
                         enabled=False)
    assert result['ruleset']['ipsets'] == [] and result['notes'] == []


def test_no_database_is_fine_without_countries(tmp_path):
    assert load_policy([INTERNET], geoip_db=[str(tmp_path / 'geoip')]).sets.countries == []


@pytest.mark.parametrize('kwargs, message', [
    (dict(geoip_db=5), 'pbx_firewall_geoip_db: must be a string or a list, got integer 5'),
    (dict(geoip_db=['']), "pbx_firewall_geoip_db[0]: must be a path on the controller, got string ''"),
    (dict(geoip_max_age_days=-1), 'pbx_firewall_geoip_max_age_days: must be a number of days >= 0 (0: never '
                                  'warn), got integer -1'),
    (dict(geoip_max_age_days='soon'), 'pbx_firewall_geoip_max_age_days: must be a number of days >= 0 (0: never '
                                      "warn), got string 'soon'"),
])
def test_bad_options(kwargs, message):
    assert refusal([SCANNERS], **kwargs) == [message]


def test_a_bad_database_line_names_variable_file_and_line(tmp_path):
    path = tmp_path / 'dbip.csv'
    path.write_text('1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.1.255,CN\n1.0.2.0;1.0.2.255;CN\n')
    assert refusal([SCANNERS], geoip_db=str(path)) == [
        "pbx_firewall_geoip_db (%s): line 3: '1.0.2.0;1.0.2.255;CN' is not a line of this file's format "
        "(first,last,CC with addresses (tor-geoipdb geoip6, DB-IP lite country CSV), as its first data line); "
        "a country database has one format throughout" % path]


def test_a_database_that_gives_one_address_to_two_countries(tmp_path):
    path = tmp_path / 'countries.csv'
    path.write_text('198.51.100.0/24,CN\n198.51.100.128/25,RU\n')
    assert refusal([SCANNERS, {'name': 'RU', 'countries': ['RU'], 'services': ['sip']}], geoip_db=str(path)) == [
        'the country database (%s) gives 198.51.100.128/25 to both CN and RU; a country database gives each '
        'address to one country' % path]


# ---------------------------------------------------------------------------- blocklists

def test_a_blocklist_from_the_inventory_and_files(tmp_path):
    feed = tmp_path / 'drop.txt'
    feed.write_text('; Spamhaus DROP\n203.0.113.0/25 ; SBL1\n203.0.113.128/25 ; SBL2\n2001:db8:bad::/48 ; SBL3\n')
    result = role_policy([INTERNET], blocklist=['198.51.100.7', '198.51.100.7/32'],
                         blocklist_files=[str(feed)])
    found = ipsets(result)
    assert set_members(found['pbxfw-blocklist4']) == ['198.51.100.7', '203.0.113.0/24']
    assert set_members(found['pbxfw-blocklist6']) == ['2001:db8:bad::/48']
    assert found['pbxfw-blocklist4']['source'] == (
        'blocklist: pbx_firewall_blocklist (2 entries), pbx_firewall_blocklist_files[0] (%s) (3 entries)' % feed)
    assert (found['pbxfw-blocklist4']['maxelem'], found['pbxfw-blocklist4']['hashsize']) == (65536, 1024)
    assert result['notes'] == ['blocklist: 2 IPv4 and 1 IPv6 prefixes from pbx_firewall_blocklist (2 entries), '
                               'pbx_firewall_blocklist_files[0] (%s) (3 entries)' % feed]


def test_trunks_and_never_block_subnets_stay_exempt_with_a_warning_naming_both():
    networks = [INTERNET, {'name': 'Partner', 'subnet': '198.51.100.64/26', 'services': ['ssh'],
                           'never_block': True}]
    result = role_policy(networks, trunks=['198.51.100.7'], blocklist=['198.51.100.0/24'], ipv6=False)
    assert set_members(ipsets(result)['pbxfw-blocklist4']) == [
        '198.51.100.0/30', '198.51.100.4/31', '198.51.100.6', '198.51.100.8/29', '198.51.100.16/28',
        '198.51.100.32/27', '198.51.100.128/25']
    assert result['warnings'] == [
        'trunk 198.51.100.7 (198.51.100.7/32) is in the blocklist entry 198.51.100.0/24 '
        '(pbx_firewall_blocklist[0]): it stays exempt from the blocklist',
        "never_block network 'Partner' (198.51.100.64/26) is in the blocklist entry 198.51.100.0/24 "
        '(pbx_firewall_blocklist[0]): it stays exempt from the blocklist',
    ]


def test_a_network_the_blocklist_touches_is_named(tmp_path):
    feed = tmp_path / 'level1.netset'
    feed.write_text('# firehol_level1\n192.168.0.0/16\n')
    office = {'name': 'Office', 'subnet': '192.168.10.0/24', 'services': ['sip', 'ssh']}
    result = role_policy([INTERNET, office], blocklist_files=[str(feed)])
    assert result['warnings'] == [
        "pbx_firewall_networks[1] ('Office'): 192.168.10.0/24 overlaps the blocklist entry 192.168.0.0/16 "
        "(pbx_firewall_blocklist_files[0] (%s) line 2): its sources there are dropped for every service; "
        "remove the entry, or make the network never_block" % feed]


def test_an_empty_feed_warns_and_keeps_its_sets(tmp_path):
    feed = tmp_path / 'empty.txt'
    feed.write_text('# nothing today\n')
    result = role_policy([INTERNET], blocklist_files=[str(feed)])
    assert [set_members(ipsets(result)[n]) for n in ('pbxfw-blocklist4', 'pbxfw-blocklist6')] == [[], []]
    assert result['warnings'] == ['pbx_firewall_blocklist_files[0] (%s) has no entries: it blocks nothing '
                                  '(did a download fail?)' % feed]


def test_blocklist_refusals(tmp_path):
    feed = tmp_path / 'feed.txt'
    feed.write_text('203.0.113.0/24\n224.0.0.0/3\n')
    assert refusal([INTERNET], blocklist=['10.0.0.0/7', 'nope', 7], blocklist_files=[str(feed), str(tmp_path / 'gone')]) == [
        "pbx_firewall_blocklist[0]: '10.0.0.0/7' is wider than a blocklist entry may be; valid: at most /8 for "
        "IPv4 and /32 for IPv6",
        "pbx_firewall_blocklist[1]: 'nope' is not a valid IPv4 or IPv6 address or CIDR: it contains 'n' "
        '(U+006E LATIN SMALL LETTER N); an address has only digits, a-f, "." and ":", then "/" and the prefix '
        'length',
        'pbx_firewall_blocklist[2]: must be an address or a CIDR, got integer 7',
        "pbx_firewall_blocklist_files[0] (%s) line 2: '224.0.0.0/3' is wider than a blocklist entry may be; "
        "valid: at most /8 for IPv4 and /32 for IPv6" % feed,
        'pbx_firewall_blocklist_files[1] (%s): cannot read the blocklist file: No such file or directory'
        % (tmp_path / 'gone'),
    ]


def test_a_blocklist_may_not_cover_a_family():
    entries = ['%d.0.0.0/8' % n for n in range(256)]
    assert refusal([INTERNET], blocklist=entries) == [
        'pbx_firewall_blocklist, pbx_firewall_blocklist_files: together the entries cover every IPv4 address, '
        'which would drop the whole Internet; a blocklist lists abusers']


def _no_feed_parsed(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError('the blocklist file was parsed')
    monkeypatch.setattr(sets_module.blocklists, 'parse_file', refuse)
    monkeypatch.setattr(sets_module.blocklists, 'plain_ipv4_ranges', refuse)


@pytest.mark.parametrize('touched', [False, True])
def test_a_second_compile_takes_the_blocklist_from_the_cache(tmp_path, monkeypatch, touched):
    """The same feed, entries and exemptions give the same sets, notes and warnings from the cache;
    the feed is parsed again only for a warning that names an entry's line."""
    feed = tmp_path / 'feed.netset'
    feed.write_text('# feed\n203.0.113.0/24\n198.51.100.0/24\n2001:db8:bad::/48\n')
    networks = [INTERNET] + ([{'name': 'Partner', 'subnet': '198.51.100.64/26', 'services': ['ssh'],
                               'never_block': True}] if touched else [])
    first = role_policy(networks, blocklist=['192.0.2.7'], blocklist_files=[str(feed)])
    if not touched:
        _no_feed_parsed(monkeypatch)
    assert role_policy(networks, blocklist=['192.0.2.7'], blocklist_files=[str(feed)]) == first
    assert bool(first['warnings']) == touched


@pytest.mark.parametrize('change', ['feed', 'inline', 'trunks', 'ipv6', 'label'])
def test_the_blocklist_cache_follows_what_the_sets_depend_on(tmp_path, monkeypatch, change):
    """After any change the sets depend on, a compile gives what one without a cache gives."""
    feed = tmp_path / 'feed.netset'
    feed.write_text('203.0.113.0/24\n2001:db8:bad::/48\n')
    other = tmp_path / 'other.netset'
    other.write_text(feed.read_text())
    before = dict(blocklist=['192.0.2.7'], blocklist_files=[str(feed)], trunks=[], ipv6=True)
    first = role_policy([INTERNET], **before)
    after = dict(before)
    if change == 'feed':
        feed.write_text('203.0.113.0/25\n')
    elif change == 'inline':
        after['blocklist'] = ['192.0.2.8']
    elif change == 'trunks':
        after['trunks'] = ['203.0.113.9']
    elif change == 'ipv6':
        after['ipv6'] = False
    else:
        after['blocklist_files'] = [str(other)]
    second = role_policy([INTERNET], **after)
    monkeypatch.setenv('PBX_FIREWALL_CACHE_DIR', '')
    assert second == role_policy([INTERNET], **after) != first


def test_fingerprint_follows_the_feed(tmp_path):
    feed = tmp_path / 'feed.txt'
    feed.write_text('203.0.113.0/24\n')
    first = sets_module.sets_fingerprint(geoip_db=[str(tmp_path / 'geoip')], blocklist_files=[str(feed)])
    assert first['geoip_db'] == [{'path': str(tmp_path / 'geoip'), 'missing': 'No such file or directory'}]
    assert first['blocklist_files'] == [{'path': str(feed), 'sha256': hashlib.sha256(b'203.0.113.0/24\n').hexdigest()}]
    feed.write_text('203.0.113.0/25\n')
    assert sets_module.sets_fingerprint(geoip_db=[str(tmp_path / 'geoip')], blocklist_files=[str(feed)]) != first
    assert sets_module.sets_fingerprint()['geoip_db'][0]['path'] == '/usr/share/tor/geoip'


# ---------------------------------------------------------------------------- the real database

def test_the_real_database_gives_its_countries(tor_geoipdb):
    result = role_policy([INTERNET, {'name': 'Scanners', 'countries': ['CN', 'RU'], 'block': ['sip']}],
                         geoip_max_age_days=0)
    sizes = sorted(len(set_members(s)) for s in result['ruleset']['ipsets'])
    assert sizes[0] > 5000 and sizes[1] > 15000
    assert all(s['maxelem'] >= len(set_members(s)) for s in result['ruleset']['ipsets'])
