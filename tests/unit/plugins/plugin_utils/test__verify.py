# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verify playbook's expected verdicts (plugin_utils/_verify.py).

Tables for the sampling of port ranges and the probe list; cases for trunks, longest
prefix, ipsets, custom rules (evaluated when certain, ``unknown`` naming the rule when
not) and IPv6 left unmanaged; and a property test: for random inventories and sources,
every probe's expectation agrees with the naive reference evaluator of DESIGN.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random

import pytest
from hypothesis import given

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _verify
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy import reference
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy.test_properties import (
    SETTINGS,
    COUNTRY_DB,
    COUNTRY_DB_FILE,
    address_near,
    inventories,
)


@pytest.mark.parametrize('low, high, samples, expected', [
    (22, 22, 3, [22]),
    (10000, 10200, 3, [10000, 10100, 10200]),
    (10000, 10001, 3, [10000, 10001]),
    (10000, 10200, 1, [10000]),
    (1, 10, 4, [1, 4, 7, 10]),
    (5060, 5062, 5, [5060, 5061, 5062]),
])
def test_sample_ports(low, high, samples, expected):
    assert _verify.sample_ports(low, high, samples) == expected


def test_sample_ports_needs_one():
    with pytest.raises(ValueError, match='at least 1'):
        _verify.sample_ports(1, 2, 0)


def _table(probes):
    return [(p['service'], p['proto'], p['port'], p['port_name'], p['kind']) for p in probes]


def test_service_probes_default_policy():
    assert _table(_verify.service_probes()) == [
        ('ajam', 'tcp', 8088, 'ajam', 'tcp'),
        ('ajam', 'tcp', 8089, 'ajam_tls', 'tcp'),
        ('ami', 'tcp', 5038, 'ami', 'tcp'),
        ('cticlient', 'tcp', 4222, 'cti_nats', 'tcp'),
        ('cticlient', 'tcp', 8222, 'cti_nats_web', 'tcp'),
        ('iax', 'udp', 4569, 'iax', 'iax'),
        ('icmp', 'icmp', None, 'icmp', 'icmp'),
        ('sip', 'tcp', 5060, 'sip', 'tcp'),
        ('sip', 'tcp', 5061, 'tls', 'tcp'),
        ('sip', 'udp', 5060, 'sip', 'sip'),           # SIP OPTIONS: a SIP server answers
        ('sip', 'udp', 10000, 'rtp', 'udp'),          # RTP need not answer
        ('sip', 'udp', 10100, 'rtp', 'udp'),
        ('sip', 'udp', 10200, 'rtp', 'udp'),
        ('ssh', 'tcp', 22, 'ssh', 'tcp'),
        ('web', 'tcp', 80, 'web_http', 'tcp'),
        ('web', 'tcp', 443, 'web_https', 'tcp'),
    ]


def test_service_probes_follow_port_overrides_and_custom_services():
    probes = _verify.service_probes(ports={'ssh': 2222, 'rtp': '20000-20001'},
                                    custom_services={'prov': [{'proto': 'tcp', 'port': 8081},
                                                              {'proto': 'udp', 'port': '9000-9100'}]},
                                    range_samples=2)
    table = _table(probes)
    assert ('ssh', 'tcp', 2222, 'ssh', 'tcp') in table
    assert [row for row in table if row[3] == 'rtp'] == [
        ('sip', 'udp', 20000, 'rtp', 'udp'), ('sip', 'udp', 20001, 'rtp', 'udp')]
    assert [row for row in table if row[0] == 'prov'] == [
        ('prov', 'tcp', 8081, 'prov', 'tcp'), ('prov', 'udp', 9000, 'prov', 'udp'),
        ('prov', 'udp', 9100, 'prov', 'udp')]


def test_service_probes_reject_a_bad_port_like_the_compiler():
    with pytest.raises(ValueError, match='pbx_firewall_ports.ssh'):
        _verify.service_probes(ports={'ssh': 'twenty-two'})


NETWORKS = [
    {'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['sip', 'web', 'ssh', 'icmp']},
    {'name': 'Boss', 'subnet': '192.168.10.7', 'block': ['ssh']},
    {'name': 'Branch VPN', 'subnet': ['10.8.0.0/24', 'fd00:8::/64'], 'services': ['sip', 'web']},
    {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip'], 'block': ['web']},
]


def _expect(ruleset, source, service, proto='tcp', port=None, **options):
    probes = [p for p in _verify.service_probes(options.get('ports'), options.get('custom_services'))
              if p['service'] == service and p['proto'] == proto and (port is None or p['port'] == port)]
    (row,) = _verify.expected_verdicts(ruleset, probes[:1], source)
    return row


@pytest.mark.parametrize('source, service, proto, port, expected, decided_by', [
    ('192.168.10.5', 'ssh', 'tcp', 22, 'open', 'Office LAN: allow icmp,sip,ssh,web'),
    ('192.168.10.7', 'ssh', 'tcp', 22, 'closed', 'pbxfw:block ssh network=Boss'),          # longest prefix
    ('192.168.10.7', 'web', 'tcp', 80, 'open', 'Office LAN: allow icmp,sip,ssh,web'),
    ('192.168.10.5', 'icmp', 'icmp', None, 'open', 'Office LAN: allow icmp,sip,ssh,web'),
    ('10.8.0.9', 'web', 'tcp', 443, 'open', 'Branch VPN: allow sip,web'),
    ('10.8.0.9', 'ssh', 'tcp', 22, 'closed', 'pbxfw:default everything else'),
    ('203.0.113.9', 'web', 'tcp', 80, 'closed', 'pbxfw:block web network=Internet'),      # catch-all last
    ('203.0.113.9', 'sip', 'udp', 10100, 'open', 'Internet: allow sip'),
    ('2001:db8::1', 'sip', 'tcp', 5061, 'open', 'Internet: allow sip'),
    ('fd00:8::5', 'web', 'tcp', 80, 'open', 'Branch VPN: allow sip,web'),
    ('fd00:8::5', 'icmp', 'icmp', None, 'closed', 'pbxfw:default everything else'),
])
def test_expectations_name_the_deciding_network(source, service, proto, port, expected, decided_by):
    ruleset = _policy.firewall_ruleset(NETWORKS)
    row = _expect(ruleset, source, service, proto, port)
    assert (row['expected'], row['decided_by']) == (expected, decided_by)
    assert row['rule'] in ruleset['ipv4'] + ruleset['ipv6']


def test_trunks_get_sip_and_rtp_but_nothing_else():
    ruleset = _policy.firewall_ruleset(NETWORKS, trunks=['198.51.100.7'])
    for proto, port in (('udp', 5060), ('tcp', 5061), ('udp', 10000)):
        row = _expect(ruleset, '198.51.100.7', 'sip', proto, port)
        assert (row['expected'], row['decided_by']) == ('open', 'trunk 198.51.100.7: allow sip')
    assert _expect(ruleset, '198.51.100.7', 'web', 'tcp', 80)['decided_by'] == 'pbxfw:block web network=Internet'


def test_ipset_rules_decide_like_direct_rules():
    direct = _policy.firewall_ruleset(NETWORKS, ipset_threshold=0)
    via_sets = _policy.firewall_ruleset(NETWORKS, ipset_threshold=1)
    assert via_sets['ipsets'] and not direct['ipsets']
    probes = _verify.service_probes()
    for source in ('192.168.10.5', '192.168.10.7', '10.8.0.9', '203.0.113.9', 'fd00:8::5', '2001:db8::1'):
        want = [r['expected'] for r in _verify.expected_verdicts(direct, probes, source)]
        got = _verify.expected_verdicts(via_sets, probes, source)
        assert [r['expected'] for r in got] == want, source
    row = _expect(via_sets, '192.168.10.7', 'ssh', 'tcp', 22)
    assert row['expected'] == 'closed' and row['decided_by'] == 'pbxfw:block ssh from 1 subnet'
    assert '-m set --match-set pbxfw-ssh-d4-' in row['rule']


def test_a_custom_rule_that_can_be_evaluated_decides():
    ruleset = _policy.firewall_ruleset(NETWORKS, custom_rules=[
        '-s 203.0.113.0/24 -p tcp -m tcp --dport 22 -m comment --comment "jump host" -j ACCEPT'])
    row = _expect(ruleset, '203.0.113.9', 'ssh', 'tcp', 22)
    assert (row['expected'], row['decided_by']) == ('open', 'jump host')
    assert _expect(ruleset, '198.51.100.1', 'ssh', 'tcp', 22)['expected'] == 'closed'


def test_a_custom_rule_that_cannot_be_evaluated_makes_the_expectation_unknown():
    rule = '-p tcp -m tcp --dport 22 -m recent --name knock --rcheck --seconds 60 -j ACCEPT'
    ruleset = _policy.firewall_ruleset(NETWORKS, custom_rules=[rule])
    row = _expect(ruleset, '203.0.113.9', 'ssh', 'tcp', 22)
    assert row['expected'] == 'unknown'
    assert '-m recent' in row['reason'] and 'not guessed' in row['reason']
    # it cannot change what is decided before it: the office keeps its verdict
    assert _expect(ruleset, '192.168.10.5', 'ssh', 'tcp', 22)['expected'] == 'open'
    # nor what it cannot match (another port): drop everything else decides
    assert _expect(ruleset, '203.0.113.9', 'ami', 'tcp', 5038)['expected'] == 'closed'
    # a DROP that may or may not match, before a final drop, is closed either way
    ruleset = _policy.firewall_ruleset(NETWORKS, custom_rules=[rule.replace('ACCEPT', 'DROP')])
    assert _expect(ruleset, '203.0.113.9', 'ssh', 'tcp', 22)['expected'] == 'closed'


def test_ipv6_left_alone_is_unknown_not_open():
    ruleset = _policy.firewall_ruleset(NETWORKS, ipv6=False)
    row = _expect(ruleset, 'fd00:8::5', 'web', 'tcp', 80)
    assert row['expected'] == 'unknown' and 'no ipv6 rules' in row['reason']


def test_no_network_means_everything_open():
    row = _expect(_policy.firewall_ruleset([]), '203.0.113.9', 'ssh', 'tcp', 22)
    assert (row['expected'], row['decided_by']) == ('open', 'no owned rule')


def test_a_bad_source_names_it():
    with pytest.raises(ValueError, match="'10.1' is not an IP address"):
        _verify.expected_verdicts(_policy.firewall_ruleset(NETWORKS), _verify.service_probes(), '10.1')


REFERENCE = {reference.ACCEPT: 'open', reference.DROP: 'closed'}


@SETTINGS
@given(inventories())
def test_expectations_agree_with_the_reference_evaluator(inventory):
    """Every probe verify sends, from sources near the inventory's subnets: the
    expectation from the compiled rules equals the written semantics."""
    options = {k: v for k, v in inventory.items() if k != 'networks'}
    ruleset = _policy.firewall_ruleset(inventory['networks'], geoip_db=COUNTRY_DB_FILE, geoip_max_age_days=0,
                                       **options)
    probes = _verify.service_probes(inventory['ports'], inventory['custom_services'])
    rng = random.Random(repr(sorted(inventory.items(), key=str)))
    for _source in range(4):
        source = address_near(rng, inventory)
        for row in _verify.expected_verdicts(ruleset, probes, source):
            want = reference.verdict(inventory['networks'], source, row['proto'], row['port'],
                                     ports=inventory['ports'], custom_services=inventory['custom_services'],
                                     trunks=inventory['trunks'], ipv6=inventory['ipv6'],
                                     blocklist=inventory['blocklist'], country_db=COUNTRY_DB)
            if want is None and ':' in source and not inventory['ipv6']:
                assert row['expected'] == 'unknown', row
            elif want is None:
                assert (row['expected'], row['decided_by']) == ('open', 'no owned rule'), row
            else:
                assert row['expected'] == REFERENCE[want], (source, row, want)
                assert row['rule'] is not None
