# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""validate.py: bad inventory, (input, exact error text)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import chains
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import outputs
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import PolicyError
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy.support import (
    OFFICE,
    VALID_PORTS,
)


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
        chains.firewall_ruleset(kwargs.pop('networks'), **kwargs)
    assert str(excinfo.value) == message
    assert excinfo.value.errors == [message]
    assert isinstance(excinfo.value, ValueError)


def test_every_problem_is_reported_at_once():
    with pytest.raises(PolicyError) as excinfo:
        chains.firewall_ruleset([net(subnet='10.0.0.1/8'), {'name': 'b', 'subnet': '10.0.0.0/8',
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
        chains.firewall_ruleset(networks)
    lines = str(excinfo.value).split('\n')
    assert len(excinfo.value.errors) == 30
    assert len(lines) == 26 and lines[-1] == '... and 5 more problem(s)'
    assert lines[0] == ("pbx_firewall_networks[0] ('n0').subnet: '10.0.0.1/8' has host bits set; "
                        "did you mean 10.0.0.0/8?")


@pytest.mark.parametrize('function', [outputs.fail2ban_ignoreip, outputs.asterisk_localnet])
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
        outputs.fail2ban_ignoreip([], extra=['10.0.0.0/8', '10.0.0.1/8'])
    assert str(excinfo.value) == ("pbx_firewall_fail2ban_ignoreip_extra[1]: '10.0.0.1/8' has host "
                                  "bits set; did you mean 10.0.0.0/8?")


@pytest.mark.parametrize('value, message', [
    (0, "pbx_firewall_sip_rate_limit_ipv6_prefix: must be an integer >= 1 (the IPv6 prefix length "
        "(1-128) whose addresses share one SIP rate budget), got integer 0"),
    (129, 'pbx_firewall_sip_rate_limit_ipv6_prefix: 129 is out of range; valid: 1-128'),
    ('64', "pbx_firewall_sip_rate_limit_ipv6_prefix: must be an integer >= 1 (the IPv6 prefix "
           "length (1-128) whose addresses share one SIP rate budget), got string '64'"),
])
def test_sip_rate_limit_ipv6_prefix_errors(value, message):
    with pytest.raises(PolicyError) as caught:
        chains.firewall_ruleset([], sip_rate_limit=5, sip_rate_limit_ipv6_prefix=value)
    assert message in str(caught.value)
