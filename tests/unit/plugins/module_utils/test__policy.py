# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The policy core, table by table: (input, exact output) and (input, exact error text)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import random

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _policy
from ansible_collections.pbxops.firewall.plugins.module_utils._policy import PolicyError

CHAIN = '-A PBX-FIREWALL '
ESTABLISHED = (CHAIN + '-m conntrack --ctstate RELATED,ESTABLISHED '
               '-m comment --comment "pbx-firewall: established, related" -j ACCEPT')
LOOPBACK = CHAIN + '-i lo -m comment --comment "pbx-firewall: loopback" -j ACCEPT'
PRELUDE4 = [ESTABLISHED, LOOPBACK]
PRELUDE6 = PRELUDE4 + [
    CHAIN + '-p ipv6-icmp -m icmp6 --icmpv6-type %d -m comment --comment '
    '"pbx-firewall: IPv6 needs %s" -j ACCEPT' % item
    for item in ((1, 'destination-unreachable'), (2, 'packet-too-big'), (3, 'time-exceeded'),
                 (4, 'parameter-problem'), (133, 'router-solicitation'),
                 (134, 'router-advertisement'), (135, 'neighbour-solicitation'),
                 (136, 'neighbour-advertisement'))]
DROP_ALL = CHAIN + '-m comment --comment "pbx-firewall: drop everything else" -j DROP'
JUMPS = [{'chain': 'INPUT', 'target': 'PBX-FIREWALL'}]

OFFICE = {'name': 'Office LAN', 'subnet': '192.168.10.0/24',
          'services': ['web', 'sip', 'ssh', 'icmp'], 'local_network': True, 'never_block': True}
BAD_HOST = {'name': 'Bad host', 'subnet': ['192.168.10.66', '2001:DB8::1'], 'block': ['ssh']}
INTERNET = {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']}


def ipset_name(hint, version, entries):
    """docs/ruleset-format.md: pbxfw- + what + family + a digest of the entries."""
    return 'pbxfw-%s%d-%s' % (hint, version,
                              hashlib.sha1('\n'.join(entries).encode('ascii')).hexdigest()[:8])


# --------------------------------------------------------------------------- parse_subnet


@pytest.mark.parametrize('text, version, cidr, entry', [
    ('192.168.10.0/24', 4, '192.168.10.0/24', '192.168.10.0/24'),
    (' 10.0.0.0/8 ', 4, '10.0.0.0/8', '10.0.0.0/8'),
    ('0.0.0.0/0', 4, '0.0.0.0/0', '0.0.0.0/0'),
    ('203.0.113.5', 4, '203.0.113.5/32', '203.0.113.5'),
    ('203.0.113.5/32', 4, '203.0.113.5/32', '203.0.113.5'),
    ('2001:DB8::/32', 6, '2001:db8::/32', '2001:db8::/32'),
    ('2001:0db8:0000:0000:0000:0000:0000:0000/48', 6, '2001:db8::/48', '2001:db8::/48'),
    ('2001:db8::1', 6, '2001:db8::1/128', '2001:db8::1'),
    ('2001:db8:0:0:1:0:0:1', 6, '2001:db8::1:0:0:1/128', '2001:db8::1:0:0:1'),
    ('::/0', 6, '::/0', '::/0'),
    ('::1', 6, '::1/128', '::1'),
    ('FD00:8::/64', 6, 'fd00:8::/64', 'fd00:8::/64'),
])
def test_parse_subnet(text, version, cidr, entry):
    subnet = _policy.parse_subnet(text)
    assert (subnet.version, subnet.cidr(), subnet.ipset_entry()) == (version, cidr, entry)
    assert subnet.prefixlen == int(cidr.rsplit('/', 1)[1])


@pytest.mark.parametrize('value, message', [
    ('192.168.300.0/24', "'192.168.300.0/24' is not a valid IPv4 or IPv6 address or CIDR "
                         "(e.g. 192.168.10.0/24, 203.0.113.5, 2001:db8::/32)"),
    ('10.1', "'10.1' is not a valid IPv4 or IPv6 address or CIDR "
             "(e.g. 192.168.10.0/24, 203.0.113.5, 2001:db8::/32)"),
    ('192.168.10.1/24', "'192.168.10.1/24' has host bits set; did you mean 192.168.10.0/24?"),
    ('2001:db8::1/32', "'2001:db8::1/32' has host bits set; did you mean 2001:db8::/32?"),
    ('10.0.0.0/33', "'10.0.0.0/33': prefix length 33 is out of range for IPv4 (0-32)"),
    ('2001:db8::/129', "'2001:db8::/129': prefix length 129 is out of range for IPv6 (0-128)"),
    ('10.0.0.0/255.0.0.0', "'10.0.0.0/255.0.0.0': write the mask as a prefix length "
                           "(e.g. 192.168.10.0/24, 2001:db8::/48)"),
    ('2001:db8::/255.255.0.0', "'2001:db8::/255.255.0.0': write the mask as a prefix length "
                               "(e.g. 192.168.10.0/24, 2001:db8::/48)"),
    ('::ffff:10.0.0.1', "'::ffff:10.0.0.1' is an IPv4-mapped IPv6 subnet; write the IPv4 "
                        "subnet instead"),
    ('::ffff:0:0/96', "'::ffff:0:0/96' is an IPv4-mapped IPv6 subnet; write the IPv4 subnet "
                      "instead"),
    (24, 'must be a CIDR string such as 192.168.10.0/24 or 2001:db8::/32, got integer 24'),
    (None, 'must be a CIDR string such as 192.168.10.0/24 or 2001:db8::/32, got null None'),
])
def test_parse_subnet_errors(value, message):
    with pytest.raises(ValueError) as excinfo:
        _policy.parse_subnet(value)
    assert str(excinfo.value) == message


# --------------------------------------------------------------------------- parse_port

VALID_PORTS = 'valid: an integer 1-65535 or a range "FROM-TO" with FROM <= TO, e.g. "10000-10200"'


@pytest.mark.parametrize('value, expected', [
    (22, (22, 22)),
    ('22', (22, 22)),
    (' 5060 ', (5060, 5060)),
    ('10000-10200', (10000, 10200)),
    ('10000 - 10200', (10000, 10200)),
    ('4569-4569', (4569, 4569)),
    (1, (1, 1)),
    ('1-65535', (1, 65535)),
])
def test_parse_port(value, expected):
    assert _policy.parse_port(value) == expected


@pytest.mark.parametrize('value, message', [
    (0, '0: port 0 is out of range; ' + VALID_PORTS),
    (65536, '65536: port 65536 is out of range; ' + VALID_PORTS),
    ('1-65536', "'1-65536': port 65536 is out of range; " + VALID_PORTS),
    ('10200-10000', '\'10200-10000\' is a range written backwards; did you mean "10000-10200"?'),
    (True, 'True is not a port; ' + VALID_PORTS),
    (22.5, '22.5 is not a port; ' + VALID_PORTS),
    ('ssh', "'ssh' is not a port; " + VALID_PORTS),
    ('10000:10200', "'10000:10200' is not a port; " + VALID_PORTS),
    (None, 'None is not a port; ' + VALID_PORTS),
])
def test_parse_port_errors(value, message):
    with pytest.raises(ValueError) as excinfo:
        _policy.parse_port(value)
    assert str(excinfo.value) == message


# --------------------------------------------------------------------------- comment_arg


@pytest.mark.parametrize('text, expected', [
    ('Office_LAN-1', 'Office_LAN-1'),                        # only [A-Za-z0-9_-]: bare
    ('Office LAN: allow sip', '"Office LAN: allow sip"'),
    ('', '""'),
    ('VPN "east"', '"VPN \\"east\\""'),
    ("Bob's", '"Bob\\\'s"'),
    ('C:\\net', '"C:\\\\net"'),
    ('tab\there\nnewline', '"tab here newline"'),              # control characters -> spaces
    ('Zürich', '"Zürich"'),
    ('a' * 255, 'a' * 255),                                    # exactly the kernel's limit
    ('a' * 300, 'a' * 255),
    ('é' * 128, '"%s"' % ('é' * 127)),                         # 256 bytes -> 254, never half a char
    ('a' + 'é' * 127, '"a%s"' % ('é' * 127)),                  # exactly 255 bytes: kept
    ('aa' + 'é' * 127, '"aa%s"' % ('é' * 126)),
    ('a' * 253 + '€', 'a' * 253),                              # a 3-byte char across the limit
    ('"' * 300, '"%s"' % ('\\"' * 255)),                       # the limit counts unescaped bytes
])
def test_comment_arg(text, expected):
    assert _policy.comment_arg(text) == expected


# --------------------------------------------------------------------------- fail2ban / Asterisk


@pytest.mark.parametrize('networks, expected', [
    ([], ['127.0.0.0/8', '::1/128']),
    ([OFFICE, BAD_HOST, INTERNET], ['127.0.0.0/8', '192.168.10.0/24', '::1/128']),
    ([{'name': 'a', 'subnet': ['10.8.0.0/24', '10.8.1.0/24'], 'never_block': True}],
     ['10.8.0.0/23', '127.0.0.0/8', '::1/128']),                     # merged
    ([{'name': 'a', 'subnet': '10.0.0.0/8', 'never_block': True},
      {'name': 'b', 'subnet': ['10.1.0.0/16', '10.0.0.0/8'], 'never_block': True}],
     ['10.0.0.0/8', '127.0.0.0/8', '::1/128']),                      # contained + duplicate
    ([{'name': 'a', 'subnet': ['9.0.0.0/8', '100.64.0.0/10', '2001:db8::/32'], 'never_block': True},
      {'name': 'b', 'subnet': ['fd00::/8', '10.0.0.0/8', '203.0.113.5'], 'never_block': True}],
     ['9.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '203.0.113.5/32', '::1/128', '2001:db8::/32',
      'fd00::/8']),                                                  # numeric order, v4 first
    ([{'name': 'a', 'subnet': ['127.5.0.0/16', '::1'], 'never_block': True}],
     ['127.0.0.0/8', '::1/128']),                                    # loopback once
    ([{'name': 'all', 'subnet': ['0.0.0.0/0', '::/0'], 'never_block': True}],
     ['0.0.0.0/0', '::/0']),
    ([{'name': 'a', 'subnet': '10.0.0.0/8', 'never_block': False},
      {'name': 'b', 'subnet': '10.1.0.0/16', 'local_network': True}],
     ['127.0.0.0/8', '::1/128']),
    ([{'name': 'a', 'subnet': '2001:DB8:0:0::/64', 'never_block': True}],
     ['127.0.0.0/8', '::1/128', '2001:db8::/64']),
])
def test_fail2ban_ignoreip(networks, expected):
    assert _policy.fail2ban_ignoreip(networks) == expected


def test_fail2ban_ignoreip_extra():
    assert (_policy.fail2ban_ignoreip([OFFICE], extra=['198.51.100.7', '192.168.10.128/25'])
            == ['127.0.0.0/8', '192.168.10.0/24', '198.51.100.7/32', '::1/128'])


@pytest.mark.parametrize('networks, expected', [
    ([], []),
    ([OFFICE, BAD_HOST, INTERNET], ['192.168.10.0/24']),
    ([{'name': 'VPN', 'subnet': ['10.8.1.0/24', '10.8.0.0/24', 'fd00:8::/64'], 'local_network': True},
      {'name': 'LAN', 'subnet': ['192.168.0.0/16', '192.168.10.0/24', '172.16.0.0/12'],
       'local_network': True},
      {'name': 'not local', 'subnet': '198.51.100.0/24', 'local_network': False}],
     ['10.8.0.0/23', '172.16.0.0/12', '192.168.0.0/16', 'fd00:8::/64']),
    ([{'name': 'a', 'subnet': ['10.0.0.0/25', '10.0.0.128/25', '10.0.1.0/24', '10.0.2.0/23'],
       'local_network': True}],
     ['10.0.0.0/22']),
])
def test_asterisk_localnet(networks, expected):
    assert _policy.asterisk_localnet(networks) == expected


# --------------------------------------------------------------------------- whole rulesets

OFFICE_V4 = [
    CHAIN + '-s 192.168.10.66/32 -p tcp -m tcp --dport 22 '
            '-m comment --comment "Bad host: block ssh" -j DROP',
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
            CHAIN + '-p tcp -m tcp --dport 8443 -j DROP',
        ] + INTERNET_SIP + [DROP_ALL],
        'ipv6': PRELUDE6 + [
            CHAIN + '-s 2001:db8::1/128 -p tcp -m tcp --dport 22 '
                    '-m comment --comment "Bad host: block ssh" -j DROP',
            CHAIN + '-s 2001:db8:9::/48 -p udp -m udp --dport 69 -j ACCEPT',
            CHAIN + '-p tcp -m tcp --dport 8443 -j DROP',
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
        'ipv4': PRELUDE4 + [
            CHAIN + '-p tcp -m tcp --dport 5060 -m string --string "friendly-scanner" --algo bm '
                    '-m comment --comment "SIP scanner friendly-scanner: block" -j DROP',
            CHAIN + '-p udp -m udp --dport 5060 -m string --string "friendly-scanner" --algo bm '
                    '-m comment --comment "SIP scanner friendly-scanner: block" -j DROP',
            CHAIN + '-p tcp -m tcp --dport 5060 -m string --string "sipvicious" --algo bm '
                    '-m comment --comment "SIP scanner sipvicious: block" -j DROP',
            CHAIN + '-p udp -m udp --dport 5060 -m string --string "sipvicious" --algo bm '
                    '-m comment --comment "SIP scanner sipvicious: block" -j DROP',
            CHAIN + '-p tcp -m tcp --dport 5060:5061 -m hashlimit --hashlimit-above 20/sec '
                    '--hashlimit-burst 40 --hashlimit-mode srcip --hashlimit-name pbxfw-sip '
                    '-m comment --comment "SIP flood above 20/s per source: block" -j DROP',
            CHAIN + '-p udp -m udp --dport 5060 -m hashlimit --hashlimit-above 20/sec '
                    '--hashlimit-burst 40 --hashlimit-mode srcip --hashlimit-name pbxfw-sip '
                    '-m comment --comment "SIP flood above 20/s per source: block" -j DROP',
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
            DROP_ALL],
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
                '-m comment --comment "ssh: block 1 subnet" -j DROP'
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
    assert _policy.firewall_ruleset(kwargs.pop('networks'), **kwargs) == expected


@pytest.mark.parametrize('rate', [1, 7, 999, 1000])
def test_sip_rate_limit_is_printed_back_unchanged(rate):
    """hashlimit stores 1/rate in microseconds; up to 1000/s iptables-save prints the same rate."""
    rules = _policy.firewall_ruleset([], sip_rate_limit=rate, ipv6=False)['ipv4']
    assert rules[2] == (CHAIN + '-p tcp -m tcp --dport 5060:5061 -m hashlimit --hashlimit-above '
                        '%d/sec --hashlimit-burst %d --hashlimit-mode srcip --hashlimit-name '
                        'pbxfw-sip -m comment --comment "SIP flood above %d/s per source: block" '
                        '-j DROP' % (rate, 2 * rate, rate))
    period = 1000000 // rate            # XT_HASHLIMIT_SCALE_v2; libxt_hashlimit prints 10**6 // period
    assert 1000000 // period == rate


def test_ipset_name_follows_its_members():
    """A set whose members change gets a new name (created before the switch-over)."""
    def names(subnets):
        nets = [{'name': 'n%d' % i, 'subnet': s, 'services': ['ssh']} for i, s in enumerate(subnets)]
        return [s['name'] for s in _policy.firewall_ruleset(nets, ipset_threshold=1)['ipsets']]

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
    ruleset = _policy.firewall_ruleset(
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
    assert (_policy.firewall_ruleset(shuffled, **options)
            == _policy.firewall_ruleset(networks, **options))
    assert _policy.fail2ban_ignoreip(shuffled) == _policy.fail2ban_ignoreip(networks)
    assert _policy.asterisk_localnet(shuffled) == _policy.asterisk_localnet(networks)


# --------------------------------------------------------------------------- validation errors


def net(**changes):
    base = {'name': 'Office', 'subnet': '192.168.10.0/24', 'services': ['sip']}
    base.update(changes)
    return base


def unresolvable(host):
    raise OSError('[Errno -2] Name or service not known')


OFFICE_PATH = "pbx_firewall_networks[0] ('Office')"
SERVICES = 'ajam, ami, cticlient, iax, icmp, sip, ssh, web'
PORT_NAMES = ('ajam, ajam_tls, ami, cti_nats, cti_nats_web, iax, rtp, sip, ssh, tls, web_http, '
              'web_https')

ERRORS = {
    'invalid-cidr': (dict(networks=[net(subnet='192.168.300.0/24')]),
                     OFFICE_PATH + ".subnet: '192.168.300.0/24' is not a valid IPv4 or IPv6 "
                     "address or CIDR (e.g. 192.168.10.0/24, 203.0.113.5, 2001:db8::/32)"),
    'host-bits': (dict(networks=[net(subnet='192.168.10.1/24')]),
                  OFFICE_PATH + ".subnet: '192.168.10.1/24' has host bits set; did you mean "
                  "192.168.10.0/24?"),
    'host-bits-in-list': (dict(networks=[net(subnet=['10.0.0.0/8', '2001:db8::1/64'])]),
                          OFFICE_PATH + ".subnet[1]: '2001:db8::1/64' has host bits set; did you "
                          "mean 2001:db8::/64?"),
    'prefix-out-of-range': (dict(networks=[net(subnet='10.0.0.0/33')]),
                            OFFICE_PATH + ".subnet: '10.0.0.0/33': prefix length 33 is out of "
                            "range for IPv4 (0-32)"),
    'dotted-mask': (dict(networks=[net(subnet='10.0.0.0/255.0.0.0')]),
                    OFFICE_PATH + ".subnet: '10.0.0.0/255.0.0.0': write the mask as a prefix "
                    "length (e.g. 192.168.10.0/24, 2001:db8::/48)"),
    'ipv6-with-ipv4-mask': (dict(networks=[net(subnet='2001:db8::/255.255.0.0')]),
                            OFFICE_PATH + ".subnet: '2001:db8::/255.255.0.0': write the mask as a "
                            "prefix length (e.g. 192.168.10.0/24, 2001:db8::/48)"),
    'ipv4-mapped': (dict(networks=[net(subnet=['10.0.0.0/8', '::ffff:10.0.0.0/104'])]),
                    OFFICE_PATH + ".subnet[1]: '::ffff:10.0.0.0/104' is an IPv4-mapped IPv6 "
                    "subnet; write the IPv4 subnet instead"),
    'subnet-not-a-string': (dict(networks=[net(subnet=[10])]),
                            OFFICE_PATH + '.subnet[0]: must be a CIDR string such as '
                            '192.168.10.0/24 or 2001:db8::/32, got integer 10'),
    'subnet-missing': (dict(networks=[{'name': 'Office'}]),
                       OFFICE_PATH + '.subnet: required, a CIDR or a list of CIDRs '
                       '(e.g. 192.168.10.0/24)'),
    'unknown-service': (dict(networks=[net(services=['sip', 'smtp'])]),
                        OFFICE_PATH + ".services[1]: unknown service 'smtp'; valid: " + SERVICES),
    'unknown-blocked-service': (dict(networks=[net(block=['telnet'])],
                                     custom_services={'prov': [{'proto': 'tcp', 'port': 8081}]}),
                                OFFICE_PATH + ".block[0]: unknown service 'telnet'; valid: "
                                "ajam, ami, cticlient, iax, icmp, prov, sip, ssh, web"),
    'service-not-a-string': (dict(networks=[net(services=[22])]),
                             OFFICE_PATH + '.services[0]: must be a service name, got integer 22; '
                             'valid: ' + SERVICES),
    'duplicate-name': (dict(networks=[net(), net(name='OFFICE', subnet='10.0.0.0/8')]),
                       "pbx_firewall_networks[1] ('OFFICE').name: duplicate name 'OFFICE' "
                       "(also pbx_firewall_networks[0]); names must be unique"),
    'empty-name': (dict(networks=[net(name='  ')]),
                   "pbx_firewall_networks[0].name: must be a non-empty string, got string '  '"),
    'missing-name': (dict(networks=[{'subnet': '10.0.0.0/8'}]),
                     'pbx_firewall_networks[0].name: required, a unique non-empty string'),
    'name-not-a-string': (dict(networks=[net(name=42)]),
                          'pbx_firewall_networks[0].name: must be a non-empty string, '
                          'got integer 42'),
    'unknown-key': (dict(networks=[net(servces=['ssh'])]),
                    OFFICE_PATH + ": unknown key 'servces'; valid keys: name, subnet, services, "
                    "block, local_network, never_block, description, tags"),
    'string-for-list': (dict(networks=[net(services='sip')]),
                        OFFICE_PATH + ".services: must be a list, got string 'sip'"),
    'networks-not-a-list': (dict(networks={'name': 'x'}),
                            "pbx_firewall_networks: must be a list of networks, got mapping "
                            "{'name': 'x'}"),
    'network-not-a-mapping': (dict(networks=['10.0.0.0/8']),
                              "pbx_firewall_networks[0]: each network must be a mapping with name, "
                              "subnet, services, ...; got string '10.0.0.0/8'"),
    'flag-not-bool': (dict(networks=[net(never_block='yes')]),
                      OFFICE_PATH + ".never_block: must be true or false, got string 'yes'"),
    'flag-not-bool-int': (dict(networks=[net(local_network=1)]),
                          OFFICE_PATH + '.local_network: must be true or false, got integer 1'),
    'port-out-of-range': (dict(networks=[], ports={'ssh': 70000}),
                          'pbx_firewall_ports.ssh: 70000: port 70000 is out of range; '
                          + VALID_PORTS),
    'port-range-reversed': (dict(networks=[], ports={'rtp': '10200-10000'}),
                            'pbx_firewall_ports.rtp: \'10200-10000\' is a range written '
                            'backwards; did you mean "10000-10200"?'),
    'port-unknown-key': (dict(networks=[], ports={'https': 8443}),
                         "pbx_firewall_ports.https: unknown port name 'https'; valid: "
                         + PORT_NAMES),
    'ports-overlap': (dict(networks=[], ports={'iax': 10100}),
                      "pbx_firewall_ports: udp port 10000-10200 (rtp, service 'sip') overlaps "
                      "10100 (iax, service 'iax'); a port can belong to one service only"),
    'custom-service-overlaps-builtin': (
        dict(networks=[], custom_services={'alt_ssh': [{'proto': 'udp', 'port': 9000},
                                                       {'proto': 'tcp', 'port': '20-25'}]}),
        "pbx_firewall_custom_services.alt_ssh[1].port: tcp port 20-25 (alt_ssh, service "
        "'alt_ssh') overlaps 22 (ssh, service 'ssh'); a port can belong to one service only"),
    'custom-service-is-builtin': (dict(networks=[],
                                       custom_services={'ssh': [{'proto': 'tcp', 'port': 2222}]}),
                                  "pbx_firewall_custom_services.ssh: 'ssh' is a built-in service; "
                                  "change its ports with pbx_firewall_ports instead"),
    'custom-service-protocol': (dict(networks=[],
                                     custom_services={'prov': [{'proto': 'sctp', 'port': 2222}]}),
                                "pbx_firewall_custom_services.prov[0].proto: 'sctp' is not a "
                                "protocol; valid: tcp, udp"),
    'allowed-and-blocked-in-one-network': (dict(networks=[net(block=['sip'])]),
                                           OFFICE_PATH + ": service 'sip' is both in services and "
                                           "in block; keep it in one of them"),
    'allowed-and-blocked-by-two-networks': (
        dict(networks=[net(), {'name': 'Quarantine', 'subnet': ['192.168.10.0/24'],
                               'block': ['sip']}]),
        "pbx_firewall_networks[1] ('Quarantine'): subnet 192.168.10.0/24 is given both "
        "\"allow sip\" (pbx_firewall_networks[0] ('Office')) and \"block sip\" "
        "(pbx_firewall_networks[1] ('Quarantine')); one subnet can have only one verdict per "
        "service"),
    'trunk-does-not-resolve': (dict(networks=[], trunks=['sip.nowhere.example'],
                                    resolver=unresolvable),
                               "pbx_firewall_trunks[0]: cannot resolve 'sip.nowhere.example' on "
                               "the controller: [Errno -2] Name or service not known"),
    'trunk-resolves-to-nothing': (dict(networks=[], trunks=['10.0.0.1', 'sip.example.net'],
                                       resolver=lambda host: []),
                                  "pbx_firewall_trunks[1]: 'sip.example.net' resolves to no "
                                  "address"),
    'trunk-catch-all': (dict(networks=[], trunks=['0.0.0.0/0']),
                        "pbx_firewall_trunks[0]: '0.0.0.0/0' would trust the whole Internet as a "
                        "SIP trunk; name the provider's hosts or subnets"),
    'trunk-not-a-name': (dict(networks=[], trunks=['sip..example']),
                         "pbx_firewall_trunks[0]: 'sip..example' is neither an address, a CIDR "
                         "nor a host name"),
    'trunk-bad-address': (dict(networks=[], trunks=['203.0.113.0/33']),
                          "pbx_firewall_trunks[0]: '203.0.113.0/33': prefix length 33 is out of "
                          "range for IPv4 (0-32)"),
    'trunks-not-a-list': (dict(networks=[], trunks='sip.example.net'),
                          "pbx_firewall_trunks: must be a list, got string 'sip.example.net'"),
    'custom-rule-with-append': (dict(networks=[], custom_rules=['-A INPUT -p tcp -j ACCEPT']),
                                "pbx_firewall_custom_rules[0].rule: '-A INPUT -p tcp -j ACCEPT': "
                                "give only the match and target; the collection adds "
                                "\"-A PBX-FIREWALL\" itself"),
    'custom-rule-family': (dict(networks=[], custom_rules=[{'rule': '-j ACCEPT', 'family': 'ipv5'}]),
                           "pbx_firewall_custom_rules[0].family: 'ipv5'; valid: ipv4, ipv6, both"),
    'custom-rule-multiline': (dict(networks=[], custom_rules=['-j ACCEPT\n-A INPUT -j ACCEPT']),
                              "pbx_firewall_custom_rules[0].rule: must be one line, got "
                              "'-j ACCEPT\\n-A INPUT -j ACCEPT'"),
    'scanner-agent': (dict(networks=[], sip_scanner_agents=['friendly-scanner', 'bad"agent']),
                      "pbx_firewall_sip_scanner_agents[1]: 'bad\"agent' must be 1-64 characters "
                      "of letters, digits, space and ._/:()+-"),
    'scanner-agent-empty': (dict(networks=[], sip_scanner_agents=['']),
                            "pbx_firewall_sip_scanner_agents[0]: '' must be 1-64 characters of "
                            "letters, digits, space and ._/:()+-"),
    'rate-limit-negative': (dict(networks=[], sip_rate_limit=-1),
                            'pbx_firewall_sip_rate_limit: must be an integer >= 0 (new SIP '
                            'requests per second per source; 0 turns it off), got integer -1'),
    'rate-limit-string': (dict(networks=[], sip_rate_limit='10'),
                          'pbx_firewall_sip_rate_limit: must be an integer >= 0 (new SIP requests '
                          "per second per source; 0 turns it off), got string '10'"),
    'rate-limit-too-high': (dict(networks=[], sip_rate_limit=1001),
                            'pbx_firewall_sip_rate_limit: 1001 is too high; valid: 0 (off) to 1000 '
                            'new SIP requests per second per source'),
    'ipset-threshold': (dict(networks=[], ipset_threshold=-1),
                        'ipset_threshold: must be an integer >= 0 (subnets per service above '
                        'which an ipset is used; 0 never uses ipsets), got integer -1'),
    'ipv6-not-bool': (dict(networks=[], ipv6='no'),
                      "ipv6: must be true or false, got string 'no'"),
}


@pytest.mark.parametrize('kwargs, message', list(ERRORS.values()), ids=list(ERRORS))
def test_validation_errors(kwargs, message):
    kwargs = dict(kwargs)
    with pytest.raises(PolicyError) as excinfo:
        _policy.firewall_ruleset(kwargs.pop('networks'), **kwargs)
    assert str(excinfo.value) == message
    assert excinfo.value.errors == [message]
    assert isinstance(excinfo.value, ValueError)


def test_every_problem_is_reported_at_once():
    with pytest.raises(PolicyError) as excinfo:
        _policy.firewall_ruleset([net(subnet='10.0.0.1/8'), {'name': 'b', 'subnet': '10.0.0.0/8',
                                                             'services': ['smtp']}],
                                 sip_rate_limit=-5)
    assert excinfo.value.errors == [
        OFFICE_PATH + ".subnet: '10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?",
        "pbx_firewall_networks[1] ('b').services[0]: unknown service 'smtp'; valid: " + SERVICES,
        'pbx_firewall_sip_rate_limit: must be an integer >= 0 (new SIP requests per second per '
        'source; 0 turns it off), got integer -5',
    ]


def test_a_flood_of_problems_is_capped():
    networks = [{'name': 'n%d' % i, 'subnet': '10.0.0.%d/8' % (i + 1)} for i in range(30)]
    with pytest.raises(PolicyError) as excinfo:
        _policy.firewall_ruleset(networks)
    lines = str(excinfo.value).split('\n')
    assert len(excinfo.value.errors) == 30
    assert len(lines) == 26 and lines[-1] == '... and 5 more problem(s)'
    assert lines[0] == ("pbx_firewall_networks[0] ('n0').subnet: '10.0.0.1/8' has host bits set; "
                        "did you mean 10.0.0.0/8?")


@pytest.mark.parametrize('function', [_policy.fail2ban_ignoreip, _policy.asterisk_localnet])
@pytest.mark.parametrize('networks, message', [
    ([net(subnet='10.0.0.1/8')],
     OFFICE_PATH + ".subnet: '10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?"),
    ([net(services=[5])],
     OFFICE_PATH + '.services[0]: must be a service name, got integer 5; valid: a string'),
    ([net(), net(name='office')],
     "pbx_firewall_networks[1] ('office').name: duplicate name 'office' (also "
     "pbx_firewall_networks[0]); names must be unique"),
    ([net(local_network='true', never_block='true')],
     OFFICE_PATH + ".local_network: must be true or false, got string 'true'\n"
     + OFFICE_PATH + ".never_block: must be true or false, got string 'true'"),
])
def test_list_filters_validate_too(function, networks, message):
    with pytest.raises(PolicyError) as excinfo:
        function(networks)
    assert str(excinfo.value) == message


def test_fail2ban_ignoreip_extra_errors():
    with pytest.raises(PolicyError) as excinfo:
        _policy.fail2ban_ignoreip([], extra=['10.0.0.0/8', '10.0.0.1/8'])
    assert str(excinfo.value) == ("pbx_firewall_fail2ban_ignoreip_extra[1]: '10.0.0.1/8' has host "
                                  "bits set; did you mean 10.0.0.0/8?")
