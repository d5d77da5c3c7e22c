# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""chains.py: whole rulesets, (inventory, exact ruleset)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import random

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _evaluate
from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import IPSET_NAME_MAX
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import chains
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import model
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import outputs
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import PolicyError
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy import reference
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy.support import (
    BAD_HOST,
    CHAIN,
    DROP_ALL,
    ESTABLISHED,
    INTERNET,
    JUMPS,
    LOOPBACK,
    OFFICE,
    PRELUDE4,
    PRELUDE6,
)


def ipset_name(hint, version, entries):
    """docs/ruleset-format.md: pbxfw- + what + family + a digest of the entries."""
    return 'pbxfw-%s%d-%s' % (hint, version,
                              hashlib.sha1('\n'.join(entries).encode('ascii')).hexdigest()[:8])


# --------------------------------------------------------------------------- whole rulesets

OFFICE_V4 = [
    CHAIN + '-s 192.168.10.66/32 -p tcp -m tcp --dport 22 '
            '-m comment --comment "pbxfw:block ssh network=Bad host" -j DROP',
    CHAIN + '-s 192.168.10.0/24 -p icmp -m icmp --icmp-type 8 '
            '-m comment --comment "Office LAN: allow icmp,sip,ssh,web" -j ACCEPT',
    CHAIN + '-s 192.168.10.0/24 -p tcp -m multiport --dports 22,80,443,5060:5061 '
            '-m comment --comment "Office LAN: allow icmp,sip,ssh,web" -j ACCEPT',
    CHAIN + '-s 192.168.10.0/24 -p udp -m multiport --dports 5060,10000:10200 '
            '-m comment --comment "Office LAN: allow icmp,sip,ssh,web" -j ACCEPT',
]
INTERNET_SIP = [
    CHAIN + '-p tcp -m tcp --dport 5060:5061 -m comment --comment "Internet: allow sip" -j ACCEPT',
    CHAIN + '-p udp -m multiport --dports 5060,10000:10200 '
            '-m comment --comment "Internet: allow sip" -j ACCEPT',
]

RULESETS = {
    # no network: nothing is dropped (no lockout of an unconfigured host)
    'no-networks': (dict(networks=[]), {
        'ipv4': PRELUDE4, 'ipv6': PRELUDE6, 'ipsets': [], 'jumps': JUMPS}),

    # longest prefix first, custom rules just before the catch-all, then the final drop
    'office-host-internet-custom': (dict(
        networks=[INTERNET, OFFICE, BAD_HOST],
        custom_rules=['-s 198.51.100.7/32 -p tcp -m tcp --dport 8080 -j ACCEPT',
                      {'rule': '-s 2001:db8:9::/48  -p udp -m udp --dport 69 -j ACCEPT',
                       'family': 'ipv6'},
                      {'rule': '-p tcp -m tcp --dport 8443 -j DROP', 'family': 'both'}]), {
        'ipv4': PRELUDE4 + OFFICE_V4 + [
            CHAIN + '-s 198.51.100.7/32 -p tcp -m tcp --dport 8080 -j ACCEPT',
            CHAIN + '-p tcp -m tcp --dport 8443 -m comment --comment "pbxfw:custom" -j DROP',
        ] + INTERNET_SIP + [DROP_ALL],
        'ipv6': PRELUDE6 + [
            CHAIN + '-s 2001:db8::1/128 -p tcp -m tcp --dport 22 '
                    '-m comment --comment "pbxfw:block ssh network=Bad host" -j DROP',
            CHAIN + '-s 2001:db8:9::/48 -p udp -m udp --dport 69 -j ACCEPT',
            CHAIN + '-p tcp -m tcp --dport 8443 -m comment --comment "pbxfw:custom" -j DROP',
        ] + INTERNET_SIP + [DROP_ALL],
        'ipsets': [], 'jumps': JUMPS}),

    # only IPv6 networks: IPv4 still ends in a drop (a network is defined)
    'ipv6-only-network': (dict(networks=[{'name': 'v6', 'subnet': '2001:db8:10::/48',
                                          'services': ['web']}]), {
        'ipv4': PRELUDE4 + [DROP_ALL],
        'ipv6': PRELUDE6 + [
            CHAIN + '-s 2001:db8:10::/48 -p tcp -m multiport --dports 80,443 '
                    '-m comment --comment "v6: allow web" -j ACCEPT',
            DROP_ALL],
        'ipsets': [], 'jumps': JUMPS}),

    # scanners (plain SIP only), flood limit (SIP signalling), trunks (all of sip), ipv6=false
    'trunks-scanners-rate-limit': (dict(
        networks=[{'name': 'Admins', 'subnet': ['198.51.100.0/24', '2001:db8:a::/48'],
                   'services': ['ssh']}],
        trunks=['203.0.113.5', '203.0.113.0/28', 'sip.example.net', '2001:db8:5::/48'],
        resolver=lambda host: {'sip.example.net': ['192.0.2.10', '2001:db8:5::10']}[host],
        sip_rate_limit=20, sip_scanner_agents=['sipvicious', 'friendly-scanner', 'sipvicious'],
        ipv6=False), {
        'ipv4': [
            LOOPBACK,
            CHAIN + '-p tcp -m tcp --dport 5060 -m comment --comment "pbx-firewall: SIP guards" '
                    '-j PBX-FW-SIP',
            CHAIN + '-p udp -m udp --dport 5060 -m comment --comment "pbx-firewall: SIP guards" '
                    '-j PBX-FW-SIP',
            CHAIN + '-p tcp -m tcp --dport 5061 -m conntrack --ctstate NEW -m comment --comment '
                    '"pbx-firewall: SIP-TLS guard (new connections)" -j PBX-FW-SIP-TLS',
            ESTABLISHED,
            CHAIN + '-s 192.0.2.10/32 -p tcp -m tcp --dport 5060:5061 '
                    '-m comment --comment "trunk sip.example.net: allow sip" -j ACCEPT',
            CHAIN + '-s 192.0.2.10/32 -p udp -m multiport --dports 5060,10000:10200 '
                    '-m comment --comment "trunk sip.example.net: allow sip" -j ACCEPT',
            CHAIN + '-s 203.0.113.0/28 -p tcp -m tcp --dport 5060:5061 '
                    '-m comment --comment "trunk 203.0.113.0/28: allow sip" -j ACCEPT',
            CHAIN + '-s 203.0.113.0/28 -p udp -m multiport --dports 5060,10000:10200 '
                    '-m comment --comment "trunk 203.0.113.0/28: allow sip" -j ACCEPT',
            CHAIN + '-s 203.0.113.5/32 -p tcp -m tcp --dport 5060:5061 '
                    '-m comment --comment "trunk 203.0.113.5: allow sip" -j ACCEPT',
            CHAIN + '-s 203.0.113.5/32 -p udp -m multiport --dports 5060,10000:10200 '
                    '-m comment --comment "trunk 203.0.113.5: allow sip" -j ACCEPT',
            CHAIN + '-s 198.51.100.0/24 -p tcp -m tcp --dport 22 '
                    '-m comment --comment "Admins: allow ssh" -j ACCEPT',
            DROP_ALL] + [
            # trunks return before the guards (203.0.113.5 lies inside 203.0.113.0/28)
            '-A PBX-FW-SIP -s 192.0.2.10/32 -m comment --comment "trunks, never_block: no SIP '
            'guards" -j RETURN',
            '-A PBX-FW-SIP -s 203.0.113.0/28 -m comment --comment "trunks, never_block: no SIP '
            'guards" -j RETURN',
            # "\nUser-Agent:" + agent, then "\nUser-Agent: " + agent, case-insensitive
            '-A PBX-FW-SIP -m string --hex-string "|0a557365722d4167656e743a667269656e646c792d7363'
            '616e6e6572|" --algo bm --icase -m comment --comment "pbxfw:scanner User-Agent '
            'friendly-scanner" -j DROP',
            '-A PBX-FW-SIP -m string --hex-string "|0a557365722d4167656e743a20667269656e646c792d'
            '7363616e6e6572|" --algo bm --icase -m comment --comment "pbxfw:scanner User-Agent'
            ' friendly-scanner" -j DROP',
            '-A PBX-FW-SIP -m string --hex-string "|0a557365722d4167656e743a736970766963696'
            'f7573|" --algo bm --icase -m comment --comment "pbxfw:scanner User-Agent sipvicious" -j DROP',
            '-A PBX-FW-SIP -m string --hex-string "|0a557365722d4167656e743a20736970766963696'
            'f7573|" --algo bm --icase -m comment --comment "pbxfw:scanner User-Agent sipvicious" -j DROP',
            # " SIP/2.0\r\n" ends a request line only: requests count, responses do not
            '-A PBX-FW-SIP -m string --hex-string "|205349502f322e300d0a|" --algo bm -m hashlimit '
            '--hashlimit-above 20/sec --hashlimit-burst 40 --hashlimit-mode srcip --hashlimit-name '
            'pbxfw-sip -m comment --comment "pbxfw:flood SIP requests above 20/s per address" -j DROP',
            '-A PBX-FW-SIP-TLS -s 192.0.2.10/32 -m comment --comment "trunks, never_block: no SIP '
            'guards" -j RETURN',
            '-A PBX-FW-SIP-TLS -s 203.0.113.0/28 -m comment --comment "trunks, never_block: no '
            'SIP guards" -j RETURN',
            '-A PBX-FW-SIP-TLS -m hashlimit --hashlimit-above 20/sec --hashlimit-burst 40 '
            '--hashlimit-mode srcip --hashlimit-name pbxfw-sip-tls -m comment --comment "pbxfw:flood '
            'SIP-TLS connections above 20/s per address" -j DROP'],
        'ipv6': [], 'ipsets': [], 'jumps': JUMPS}),

    # 15 multiport slots per rule, a range counts two; touching ports merge into ranges
    'multiport-chunks': (dict(
        networks=[{'name': 'wide', 'subnet': '172.16.0.0/12',
                   'services': ['sip', 'web', 'ssh', 'ami', 'ajam', 'cticlient', 'many']}],
        custom_services={'many': [{'proto': 'tcp', 'port': p}
                                  for p in (6001, 6003, 6005, '6007-6009', '6011-6013', 6015)]},
        ipv6=False), {
        'ipv4': PRELUDE4 + [
            CHAIN + '-s 172.16.0.0/12 -p tcp -m multiport --dports '
                    '22,80,443,4222,5038,5060:5061,6001,6003,6005,6007:6009,6011:6013,6015 '
                    '-m comment --comment "wide: allow ajam,ami,cticlient,many,sip,ssh,web" '
                    '-j ACCEPT',
            CHAIN + '-s 172.16.0.0/12 -p tcp -m multiport --dports 8088:8089,8222 '
                    '-m comment --comment "wide: allow ajam,ami,cticlient,many,sip,ssh,web" '
                    '-j ACCEPT',
            CHAIN + '-s 172.16.0.0/12 -p udp -m multiport --dports 5060,10000:10200 '
                    '-m comment --comment "wide: allow ajam,ami,cticlient,many,sip,ssh,web" '
                    '-j ACCEPT',
            DROP_ALL],
        'ipv6': [], 'ipsets': [], 'jumps': JUMPS}),

    # port overrides: ranges, moved ports, a range that overlaps its own service's port
    'port-overrides': (dict(
        networks=[{'name': 'LAN', 'subnet': '192.168.1.0/24', 'services': ['sip', 'ssh', 'web']}],
        ports={'rtp': '12000-12100', 'ssh': 2222, 'web_https': 8443, 'sip': '5060-5061'},
        ipv6=False), {
        'ipv4': PRELUDE4 + [
            CHAIN + '-s 192.168.1.0/24 -p tcp -m multiport --dports 80,2222,5060:5061,8443 '
                    '-m comment --comment "LAN: allow sip,ssh,web" -j ACCEPT',
            CHAIN + '-s 192.168.1.0/24 -p udp -m multiport --dports 5060:5061,12000:12100 '
                    '-m comment --comment "LAN: allow sip,ssh,web" -j ACCEPT',
            DROP_ALL],
        'ipv6': [], 'ipsets': [], 'jumps': JUMPS}),
}

# Above the threshold a service's subnets go into hash:net sets; the other verdict's
# subnets are nomatch exceptions, so the kernel's longest-prefix match decides.
SSH_ALLOW = ['10.1.0.0/16', '10.1.2.0/24 nomatch', '10.2.0.0/16', '10.3.0.7']
SSH_BLOCK = ['10.1.0.0/16 nomatch', '10.1.2.0/24', '10.2.0.0/16 nomatch', '10.3.0.7 nomatch']
RULESETS['ipsets'] = (dict(
    networks=[{'name': 'A', 'subnet': ['10.2.0.0/16', '10.1.0.0/16'], 'services': ['ssh']},
              {'name': 'B', 'subnet': '10.1.2.0/24', 'block': ['ssh']},
              {'name': 'C', 'subnet': ['10.3.0.7', '2001:db8::/32'], 'services': ['ssh', 'icmp']}],
    ipset_threshold=2), {
    'ipv4': PRELUDE4 + [
        CHAIN + '-s 10.3.0.7/32 -p icmp -m icmp --icmp-type 8 '
                '-m comment --comment "C: allow icmp" -j ACCEPT',
        CHAIN + '-p tcp -m tcp --dport 22 -m set --match-set %s src '
                '-m comment --comment "ssh: allow 3 subnets" -j ACCEPT'
        % ipset_name('ssh-a', 4, SSH_ALLOW),
        CHAIN + '-p tcp -m tcp --dport 22 -m set --match-set %s src '
                '-m comment --comment "pbxfw:block ssh from 1 subnet" -j DROP'
        % ipset_name('ssh-d', 4, SSH_BLOCK),
        DROP_ALL],
    'ipv6': PRELUDE6 + [
        CHAIN + '-s 2001:db8::/32 -p ipv6-icmp -m icmp6 --icmpv6-type 128 '
                '-m comment --comment "C: allow icmp,ssh" -j ACCEPT',
        CHAIN + '-s 2001:db8::/32 -p tcp -m tcp --dport 22 '
                '-m comment --comment "C: allow icmp,ssh" -j ACCEPT',
        DROP_ALL],
    'ipsets': [
        {'name': ipset_name('ssh-a', 4, SSH_ALLOW), 'family': 'inet', 'maxelem': 65536,
         'entries': SSH_ALLOW},
        {'name': ipset_name('ssh-d', 4, SSH_BLOCK), 'family': 'inet', 'maxelem': 65536,
         'entries': SSH_BLOCK},
    ],
    'jumps': JUMPS})

TRUNKS = ['192.0.2.10', '203.0.113.0/28', '203.0.113.5']
RULESETS['trunk-ipset'] = (dict(networks=[], trunks=['203.0.113.5', '203.0.113.0/28', '192.0.2.10'],
                                ipset_threshold=2, ipv6=False), {
    'ipv4': PRELUDE4 + [
        CHAIN + '-p tcp -m tcp --dport 5060:5061 -m set --match-set %s src -m comment '
                '--comment "SIP trunks: allow sip (3 addresses)" -j ACCEPT'
        % ipset_name('trunk', 4, TRUNKS),
        CHAIN + '-p udp -m multiport --dports 5060,10000:10200 -m set --match-set %s src '
                '-m comment --comment "SIP trunks: allow sip (3 addresses)" -j ACCEPT'
        % ipset_name('trunk', 4, TRUNKS)],
    'ipv6': [],
    'ipsets': [{'name': ipset_name('trunk', 4, TRUNKS), 'family': 'inet', 'maxelem': 65536,
                'entries': TRUNKS}],
    'jumps': JUMPS})


@pytest.mark.parametrize('kwargs, expected', list(RULESETS.values()), ids=list(RULESETS))
def test_firewall_ruleset(kwargs, expected):
    kwargs = dict(kwargs)
    kwargs.setdefault('sip_scanner_agents', [])    # these tables show no scanner rules
    assert chains.firewall_ruleset(kwargs.pop('networks'), **kwargs) == expected


def test_scanner_agents_default_to_the_collection_list():
    """Omitted (None): model.DEFAULT_SIP_SCANNER_AGENTS, sorted; an empty list: none."""
    rules = chains.firewall_ruleset([], ipv6=False)['ipv4']
    scanners = [rule for rule in rules if '-m string' in rule]
    assert sorted(model.DEFAULT_SIP_SCANNER_AGENTS) == [
        'VaxSIPUserAgent', 'friendly-scanner', 'iWar', 'pplsip', 'sip-scan', 'sipcli', 'sipptk',
        'sipvicious', 'sundayddr']
    # header-anchored: a line feed, then the header with or without the space, any case
    assert scanners == [
        '-A PBX-FW-SIP -m string --hex-string "|%s|" --algo bm --icase -m comment '
        '--comment "pbxfw:scanner User-Agent %s" -j DROP'
        % (('\nUser-Agent:' + space + agent).encode('ascii').hex(), agent)
        for agent in sorted(model.DEFAULT_SIP_SCANNER_AGENTS) for space in ('', ' ')]
    assert chains.firewall_ruleset([], ipv6=False, sip_scanner_agents=None)['ipv4'] == rules
    assert not [rule for rule in chains.firewall_ruleset([], ipv6=False, sip_scanner_agents=[])['ipv4']
                if '-m string' in rule]


@pytest.mark.parametrize('rate', [1, 7, 999, 1000])
def test_sip_rate_limit_is_printed_back_unchanged(rate):
    """hashlimit stores 1/rate in microseconds; up to 1000/s iptables-save prints the same rate."""
    rules = chains.firewall_ruleset([], sip_rate_limit=rate, ipv6=False, sip_scanner_agents=[])['ipv4']
    assert rules[-1] == ('-A PBX-FW-SIP-TLS -m hashlimit --hashlimit-above %d/sec --hashlimit-burst '
                         '%d --hashlimit-mode srcip --hashlimit-name pbxfw-sip-tls -m comment '
                         '--comment "pbxfw:flood SIP-TLS connections above %d/s per address" -j DROP'
                         % (rate, 2 * rate, rate))
    assert rules[-2] == ('-A PBX-FW-SIP -m string --hex-string "|205349502f322e300d0a|" --algo bm '
                         '-m hashlimit --hashlimit-above %d/sec --hashlimit-burst %d '
                         '--hashlimit-mode srcip --hashlimit-name pbxfw-sip -m comment --comment '
                         '"pbxfw:flood SIP requests above %d/s per address" -j DROP' % (rate, 2 * rate, rate))
    period = 1000000 // rate            # XT_HASHLIMIT_SCALE_v2; libxt_hashlimit prints 10**6 // period
    assert 1000000 // period == rate


def test_ipset_name_follows_its_members():
    """A set whose members change gets a new name (created before the switch-over)."""
    def names(subnets):
        nets = [{'name': 'n%d' % i, 'subnet': s, 'services': ['ssh']} for i, s in enumerate(subnets)]
        return [s['name'] for s in chains.firewall_ruleset(nets, ipset_threshold=1)['ipsets']]

    first = names(['10.0.0.0/24', '10.0.1.0/24'])
    again = names(['10.0.1.0/24', '10.0.0.0/24'])
    changed = names(['10.0.0.0/24', '10.0.2.0/24'])
    assert first == again
    assert first[0].startswith('pbxfw-ssh-a4-') and changed[0].startswith('pbxfw-ssh-a4-')
    assert first != changed
    assert all(len(name) <= 31 for name in first + changed)


def test_longest_custom_service_name_fits_an_ipset_name():
    nets = [{'name': 'n%d' % i, 'subnet': '2001:db8:%x::/48' % i, 'services': ['abcdefghijkl']}
            for i in range(3)]
    ruleset = chains.firewall_ruleset(
        nets, ipset_threshold=1,
        custom_services={'abcdefghijkl': [{'proto': 'udp', 'port': 7000}]})
    (ipset,) = ruleset['ipsets']
    assert ipset['name'].startswith('pbxfw-abcdefghijkl-a6-') and len(ipset['name']) <= 31
    assert ipset['family'] == 'inet6'
    assert ipset['entries'] == ['2001:db8::/48', '2001:db8:1::/48', '2001:db8:2::/48']


@pytest.mark.parametrize('seed', range(5))
def test_network_order_does_not_matter(seed):
    networks = [OFFICE, BAD_HOST, INTERNET,
                {'name': 'VPN', 'subnet': ['10.8.1.0/24', '10.8.0.0/24', 'fd00::/64'],
                 'services': ['ssh', 'sip'], 'block': ['web'], 'local_network': True},
                {'name': 'Branch', 'subnet': '10.8.0.0/16', 'services': ['web'],
                 'never_block': True}]
    options = dict(trunks=['203.0.113.5', '198.51.100.0/24'], ipset_threshold=1)
    shuffled = random.Random(seed).sample(networks, len(networks))
    shuffled = [dict(n, services=list(reversed(n.get('services', [])))) for n in shuffled]
    assert (chains.firewall_ruleset(shuffled, **options)
            == chains.firewall_ruleset(networks, **options))
    assert outputs.fail2ban_ignoreip(shuffled) == outputs.fail2ban_ignoreip(networks)
    assert outputs.asterisk_localnet(shuffled) == outputs.asterisk_localnet(networks)


def test_service_name_limit_keeps_every_ipset_name_within_the_host_limit():
    """chains.ipset_name: 18 + len(service) characters; SERVICE_NAME_MAX (12) gives 30 <= 31."""
    longest = chains.ipset_name('%s-a' % ('z' * model.SERVICE_NAME_MAX), 6, ['2001:db8::/48'])
    assert len(longest) == 18 + model.SERVICE_NAME_MAX == 30
    assert len(longest) <= IPSET_NAME_MAX == 31
    assert len(chains.LONGEST_IPSET_NAME) == len(longest)
    with pytest.raises(PolicyError) as excinfo:
        chains.firewall_ruleset([], custom_services={'z' * (model.SERVICE_NAME_MAX + 1):
                                                     [{'proto': 'udp', 'port': 7000}]})
    assert str(excinfo.value) == ("pbx_firewall_custom_services.zzzzzzzzzzzzz: service name "
                                  "'zzzzzzzzzzzzz' must match [a-z][a-z0-9_]* and be at most "
                                  "12 characters")


SIP_NETS = [{'name': 'Office', 'subnet': ['10.1.0.0/24', '2001:db8:1::/64'], 'services': ['sip'],
             'never_block': True},
            {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']}]
SIP_OPTIONS = dict(trunks=['192.0.2.7'], sip_rate_limit=20,
                   sip_scanner_agents=['friendly-scanner', 'sipcli'])
OPTIONS_FROM = (b'OPTIONS sip:100@pbx SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.9:5060\r\n'
                b'From: "%s" <sip:%s@pbx>;tag=1\r\n%s\r\n\r\n')
OK_REPLY = b'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.51.100.1:5060\r\nUser-Agent: Yealink\r\n\r\n'


def _req(user=b'alice', ua=b'User-Agent: Yealink SIP-T46S'):
    return OPTIONS_FROM % (user, user, ua)


@pytest.mark.parametrize('source, proto, port, state, payload, over, expected', [
    # scanner User-Agents, in the header only, any case, with or without the space
    ('203.0.113.9', 'udp', 5060, 'NEW', _req(ua=b'User-Agent: friendly-scanner'), False, 'DROP'),
    ('203.0.113.9', 'udp', 5060, 'ESTABLISHED', _req(ua=b'User-Agent: Friendly-Scanner'), False, 'DROP'),
    ('203.0.113.9', 'tcp', 5060, 'ESTABLISHED', _req(ua=b'user-agent:FRIENDLY-SCANNER'), False, 'DROP'),
    ('203.0.113.9', 'udp', 5060, 'NEW', _req(ua=b'User-Agent: sipcli/v1.8'), False, 'DROP'),
    ('203.0.113.9', 'udp', 5060, 'NEW', _req(user=b'sipcliente'), False, 'ACCEPT'),
    ('203.0.113.9', 'udp', 5060, 'NEW', _req(user=b'friendly-scanner'), False, 'ACCEPT'),
    ('203.0.113.9', 'udp', 5060, 'NEW', _req(ua=b'User-Agent: my friendly-scanner'), False, 'ACCEPT'),
    ('203.0.113.9', 'udp', 10000, 'NEW', _req(ua=b'User-Agent: friendly-scanner'), False, 'ACCEPT'),
    # the rate limit counts requests, never responses; TLS: new connections only
    ('203.0.113.9', 'udp', 5060, 'ESTABLISHED', _req(), True, 'DROP'),
    ('203.0.113.9', 'udp', 5060, 'ESTABLISHED', _req(), False, 'ACCEPT'),
    ('203.0.113.9', 'udp', 5060, 'ESTABLISHED', OK_REPLY, True, 'ACCEPT'),
    ('203.0.113.9', 'tcp', 5060, 'NEW', None, True, 'ACCEPT'),
    ('203.0.113.9', 'tcp', 5061, 'NEW', None, True, 'DROP'),
    ('203.0.113.9', 'tcp', 5061, 'ESTABLISHED', b'\x17\x03\x03', True, 'ACCEPT'),
    ('2001:db8:2::5', 'udp', 5060, 'NEW', _req(), True, 'DROP'),
    # trunks and never_block networks are exempt from both guards
    ('192.0.2.7', 'udp', 5060, 'NEW', _req(ua=b'User-Agent: friendly-scanner'), True, 'ACCEPT'),
    ('10.1.0.5', 'udp', 5060, 'ESTABLISHED', _req(ua=b'User-Agent: friendly-scanner'), True, 'ACCEPT'),
    ('2001:db8:1::5', 'tcp', 5061, 'NEW', None, True, 'ACCEPT'),
    # loopback comes first (a SIP proxy on the host itself relays every request from there)
    ('127.0.0.1', 'udp', 5060, 'ESTABLISHED', _req(ua=b'User-Agent: friendly-scanner'), True, 'ACCEPT'),
    ('::1', 'tcp', 5061, 'NEW', None, True, 'ACCEPT'),
])
def test_sip_guards(source, proto, port, state, payload, over, expected):
    """The compiled guards (run by the interpreter) and the written semantics agree."""
    compiled = _evaluate.Evaluator(chains.firewall_ruleset(SIP_NETS, **SIP_OPTIONS))
    family = 'ipv6' if ':' in source else 'ipv4'
    verdict = compiled.evaluate(family, source, proto, port, state=state, payload=payload,
                                over_limit=over)
    assert (verdict.target, verdict.uncertain) == (expected, [])
    assert reference.verdict(SIP_NETS, source, proto, port, state=state, payload=payload,
                             over_limit=over, **SIP_OPTIONS) == expected


def test_sip_guards_ipv6_prefix():
    rules = chains.firewall_ruleset(SIP_NETS, sip_rate_limit=5, sip_rate_limit_ipv6_prefix=48)['ipv6']
    assert [r for r in rules if 'srcmask' in r] == [
        '-A PBX-FW-SIP -m string --hex-string "|205349502f322e300d0a|" --algo bm -m hashlimit '
        '--hashlimit-above 5/sec --hashlimit-burst 10 --hashlimit-mode srcip --hashlimit-name '
        'pbxfw-sip --hashlimit-srcmask 48 -m comment --comment "pbxfw:flood SIP requests above 5/s '
        'per /48" -j DROP',
        '-A PBX-FW-SIP-TLS -m hashlimit --hashlimit-above 5/sec --hashlimit-burst 10 '
        '--hashlimit-mode srcip --hashlimit-name pbxfw-sip-tls --hashlimit-srcmask 48 -m comment '
        '--comment "pbxfw:flood SIP-TLS connections above 5/s per /48" -j DROP']
    per_address = chains.firewall_ruleset(SIP_NETS, sip_rate_limit=5, sip_rate_limit_ipv6_prefix=128)
    assert not any('srcmask' in r for r in per_address['ipv6'])


def test_no_guards_without_agents_or_rate():
    compiled = chains.firewall_ruleset(SIP_NETS, trunks=['192.0.2.7'], sip_scanner_agents=[])
    assert not any('PBX-FW-SIP' in r for r in compiled['ipv4'] + compiled['ipv6'])
