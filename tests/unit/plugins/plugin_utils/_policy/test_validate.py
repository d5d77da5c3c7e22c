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
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import validate
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.addresses import parse_subnet
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import PolicyError
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy.support import VALID_PORTS


# --------------------------------------------------------------------------- validation errors


def net(**changes):
    base = {'name': 'Office', 'subnet': '192.168.10.0/24', 'services': ['sip']}
    base.update(changes)
    return base


def unresolvable(host):
    raise OSError('[Errno -2] Name or service not known')


OFFICE_PATH = "pbx_firewall_networks[0] ('Office')"
BOOL_VALID = '; valid: true or false (from the command line also yes/no, on/off, 1/0)'
SERVICES = 'ajam, ami, cticlient, iax, icmp, sip, ssh, web'
PORT_NAMES = ('ajam, ajam_tls, ami, cti_nats, cti_nats_web, iax, rtp, sip, ssh, tls, web_http, '
              'web_https')
WRITE_THE_MASK = ': write the mask as a prefix length (e.g. 192.168.10.0/24, 2001:db8::/48)'
AGENT_CHARACTERS = ' must be 1-64 characters of letters, digits, space and ._/:()+-'
RATE_LIMIT_NOT_AN_INTEGER = ('pbx_firewall_sip_rate_limit: must be an integer >= 0 (new SIP requests per second per '
                             'source; 0 turns it off), got ')
IPSET_THRESHOLD_NOT_AN_INTEGER = ('pbx_firewall_ipset_threshold: must be an integer >= 0 (subnets per service above '
                                  'which an ipset is used; 0 never uses ipsets), got ')


# (kwargs, exact message) rows for one bad string: the message names its path, quotes the
# value (Python's repr) and gives the reason.

def bad_subnet(subnet, reason):
    return dict(networks=[net(subnet=subnet)]), OFFICE_PATH + '.subnet: %r%s' % (subnet, reason)


def bad_trunk(trunk, reason):
    return dict(networks=[], trunks=[trunk]), 'pbx_firewall_trunks[0]: %r%s' % (trunk, reason)


def bad_rule(rule, reason):
    return dict(networks=[], custom_rules=[rule]), 'pbx_firewall_custom_rules[0].rule: %r%s' % (rule, reason)


def bad_name(name, reason):
    """The path shows the name too, and the message ends with it."""
    return dict(networks=[net(name=name)]), "pbx_firewall_networks[0] (%r).name: %s; got %r" % (name, reason, name)


ERRORS = {
    'invalid-cidr': bad_subnet('192.168.300.0/24', ' is not a valid IPv4 or IPv6 address or CIDR (e.g. '
                               '192.168.10.0/24, 203.0.113.5, 2001:db8::/32)'),
    'host-bits': bad_subnet('192.168.10.1/24', ' has host bits set; did you mean 192.168.10.0/24?'),
    'host-bits-in-list': (dict(networks=[net(subnet=['10.0.0.0/8', '2001:db8::1/64'])]),
                          OFFICE_PATH + ".subnet[1]: '2001:db8::1/64' has host bits set; did you "
                          "mean 2001:db8::/64?"),
    'prefix-out-of-range': bad_subnet('10.0.0.0/33', ': prefix length 33 is out of range for IPv4 (0-32)'),
    'dotted-mask': bad_subnet('10.0.0.0/255.0.0.0', WRITE_THE_MASK),
    'ipv6-with-ipv4-mask': bad_subnet('2001:db8::/255.255.0.0', WRITE_THE_MASK),
    'ipv4-mapped': (dict(networks=[net(subnet=['10.0.0.0/8', '::ffff:10.0.0.0/104'])]),
                    OFFICE_PATH + ".subnet[1]: '::ffff:10.0.0.0/104' is an IPv4-mapped IPv6 "
                    "subnet; write the IPv4 subnet instead"),
    'subnet-not-a-string': (dict(networks=[net(subnet=[10])]),
                            OFFICE_PATH + '.subnet[0]: must be a CIDR string such as '
                            '192.168.10.0/24 or 2001:db8::/32, got integer 10'),
    'subnet-missing': (dict(networks=[{'name': 'Office'}]),
                       OFFICE_PATH + '.subnet: required, a CIDR or a list of CIDRs '
                       '(e.g. 192.168.10.0/24), unless the network gives countries'),
    'country-unknown': (dict(networks=[net(countries=['DE', 'UK'])]),
                        OFFICE_PATH + ".countries[1]: 'UK' is not an ISO 3166-1 alpha-2 country code; did you "
                        'mean GB (United Kingdom)?'),
    'country-a-name': (dict(networks=[net(subnet=None, countries='Germany')]),
                       OFFICE_PATH + ".countries: 'Germany' is not an ISO 3166-1 alpha-2 country code; did you "
                       'mean DE (Germany)?'),
    'country-not-a-list': (dict(networks=[net(subnet=None, countries=49)]),
                           OFFICE_PATH + '.countries: must be a string or a list, got integer 49'),
    'country-local-network': (dict(networks=[net(countries=['CN'], local_network=True)]),
                              OFFICE_PATH + '.local_network: not on a network with countries: a country is not a '
                              'LAN or VPN: Asterisk would present its local address, not its external one, to '
                              'every address in it; put the subnets that are local in a network of their own'),
    'country-never-block': (dict(networks=[net(subnet=None, countries=['CN'], never_block='yes')]),
                            OFFICE_PATH + '.never_block: not on a network with countries: a country is not a '
                            'LAN: fail2ban and the SIP guards would never ban anyone in it; put the subnets you '
                            'trust in a network of their own'),
    'country-conflict': (dict(networks=[{'name': 'A', 'countries': ['CN', 'RU'], 'block': ['sip', 'web']},
                                        {'name': 'B', 'countries': ['ru', 'DE'], 'services': ['sip', 'ssh']}]),
                         "pbx_firewall_networks[1] ('B'): country RU is given both \"allow sip\" "
                         "(pbx_firewall_networks[1] ('B')) and \"block sip\" (pbx_firewall_networks[0] ('A')) for "
                         'IPv4; two country networks that cover one country must agree on each service'),
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
                    OFFICE_PATH + ": unknown key 'servces'; valid keys: name, subnet, countries, services, "
                    "block, local_network, never_block, description, tags"),
    'string-for-list': (dict(networks=[net(services='sip')]),
                        OFFICE_PATH + ".services: must be a list, got string 'sip'"),
    'networks-not-a-list': (dict(networks={'name': 'x'}),
                            "pbx_firewall_networks: must be a list of networks, got mapping "
                            "{'name': 'x'}"),
    'network-not-a-mapping': (dict(networks=['10.0.0.0/8']),
                              "pbx_firewall_networks[0]: each network must be a mapping with name, "
                              "subnet, services, ...; got string '10.0.0.0/8'"),
    'flag-not-bool': (dict(networks=[net(never_block='maybe')]),
                      OFFICE_PATH + ".never_block: must be true or false, got string 'maybe'"
                      + BOOL_VALID),
    'flag-not-bool-int': (dict(networks=[net(local_network=2)]),
                          OFFICE_PATH + '.local_network: must be true or false, got integer 2'
                          + BOOL_VALID),
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
    'trunk-catch-all': bad_trunk('0.0.0.0/0', " would trust the whole Internet as a SIP trunk; name the provider's "
                                 'hosts or subnets'),
    'trunk-not-a-name': bad_trunk('sip..example', ' is neither an address, a CIDR nor a host name'),
    'trunk-bad-address': bad_trunk('203.0.113.0/33', ': prefix length 33 is out of range for IPv4 (0-32)'),
    'trunks-not-a-list': (dict(networks=[], trunks='sip.example.net'),
                          "pbx_firewall_trunks: must be a list, got string 'sip.example.net'"),
    'custom-rule-with-append': bad_rule('-A INPUT -p tcp -j ACCEPT', ': give only the match and target; the '
                                        'collection adds "-A PBX-FIREWALL" itself'),
    'custom-rule-family': (dict(networks=[], custom_rules=[{'rule': '-j ACCEPT', 'family': 'ipv5'}]),
                           "pbx_firewall_custom_rules[0].family: 'ipv5'; valid: ipv4, ipv6, both"),
    'custom-rule-multiline': (dict(networks=[], custom_rules=['-j ACCEPT\n-A INPUT -j ACCEPT']),
                              "pbx_firewall_custom_rules[0].rule: must be one line, got "
                              "'-j ACCEPT\\n-A INPUT -j ACCEPT'"),
    'scanner-agent': (dict(networks=[], sip_scanner_agents=['friendly-scanner', 'bad"agent']),
                      "pbx_firewall_sip_scanner_agents[1]: 'bad\"agent'" + AGENT_CHARACTERS),
    'scanner-agent-empty': (dict(networks=[], sip_scanner_agents=['']),
                            "pbx_firewall_sip_scanner_agents[0]: ''" + AGENT_CHARACTERS),
    'rate-limit-negative': (dict(networks=[], sip_rate_limit=-1), RATE_LIMIT_NOT_AN_INTEGER + 'integer -1'),
    'rate-limit-string': (dict(networks=[], sip_rate_limit='ten'), RATE_LIMIT_NOT_AN_INTEGER + "string 'ten'"),
    'rate-limit-too-high': (dict(networks=[], sip_rate_limit=1001),
                            'pbx_firewall_sip_rate_limit: 1001 is too high; valid: 0 (off) to 1000 '
                            'new SIP requests per second per source'),
    'ipset-threshold': (dict(networks=[], ipset_threshold=-1), IPSET_THRESHOLD_NOT_AN_INTEGER + 'integer -1'),
    'ipv6-not-bool': (dict(networks=[], ipv6='maybe'),
                      "pbx_firewall_ipv6: must be true or false, got string 'maybe'" + BOOL_VALID),
}


def refusal(function, kwargs):
    """The PolicyError that function(networks, **the other keywords) raises for one table row."""
    kwargs = dict(kwargs)
    with pytest.raises(PolicyError) as excinfo:
        function(kwargs.pop('networks'), **kwargs)
    return excinfo.value


@pytest.mark.parametrize('kwargs, message', list(ERRORS.values()), ids=list(ERRORS))
def test_validation_errors(kwargs, message):
    error = refusal(chains.firewall_ruleset, kwargs)
    assert str(error) == message
    assert error.errors == [message]
    assert isinstance(error, ValueError)


@pytest.mark.parametrize('networks', [
    # no shared country; one family each; disjoint subnets; the same verdict
    [{'name': 'A', 'countries': ['CN'], 'block': ['sip']}, {'name': 'B', 'countries': ['RU'], 'services': ['sip']}],
    [{'name': 'A', 'countries': ['CN'], 'subnet': '0.0.0.0/0', 'block': ['sip']},
     {'name': 'B', 'countries': ['CN'], 'subnet': '::/0', 'services': ['sip']}],
    [{'name': 'A', 'countries': ['CN'], 'subnet': '1.0.0.0/8', 'block': ['sip']},
     {'name': 'B', 'countries': ['CN'], 'subnet': '2.0.0.0/8', 'services': ['sip']}],
    [{'name': 'A', 'countries': ['CN'], 'block': ['sip']}, {'name': 'B', 'countries': ['cn'], 'block': ['sip']}],
])
def test_country_networks_that_never_disagree(networks):
    checked = validate.validate_networks(networks)
    assert [n['countries'] for n in checked] == [[n['countries'][0].upper()] for n in networks]


def test_validate_networks_checks_country_conflicts_too():
    with pytest.raises(PolicyError) as excinfo:
        validate.validate_networks([{'name': 'A', 'countries': ['CN'], 'block': ['sip']},
                                    {'name': 'B', 'countries': ['CN'], 'services': ['sip']}])
    assert excinfo.value.errors == [
        "pbx_firewall_networks[1] ('B'): country CN is given both \"allow sip\" (pbx_firewall_networks[1] "
        "('B')) and \"block sip\" (pbx_firewall_networks[0] ('A')) for IPv4; two country networks that cover "
        'one country must agree on each service']


def test_every_problem_is_reported_at_once():
    with pytest.raises(PolicyError) as excinfo:
        chains.firewall_ruleset([net(subnet='10.0.0.1/8'), {'name': 'b', 'subnet': '10.0.0.0/8',
                                                            'services': ['smtp']}],
                                sip_rate_limit=-5)
    assert excinfo.value.errors == [
        OFFICE_PATH + ".subnet: '10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?",
        "pbx_firewall_networks[1] ('b').services[0]: unknown service 'smtp'; valid: " + SERVICES,
        RATE_LIMIT_NOT_AN_INTEGER + 'integer -5',
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
    ([net(local_network='sure', never_block=[True])],
     OFFICE_PATH + ".local_network: must be true or false, got string 'sure'" + BOOL_VALID + "\n"
     + OFFICE_PATH + ".never_block: must be true or false, got list [True]" + BOOL_VALID),
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
    (1.5, "pbx_firewall_sip_rate_limit_ipv6_prefix: must be an integer >= 1 (the IPv6 prefix "
          "length (1-128) whose addresses share one SIP rate budget), got float 1.5"),
])
def test_sip_rate_limit_ipv6_prefix_errors(value, message):
    with pytest.raises(PolicyError) as caught:
        chains.firewall_ruleset([], sip_rate_limit=5, sip_rate_limit_ipv6_prefix=value)
    assert message in str(caught.value)


# --------------------------------------------------------------------------- issue 11: hostile input

ONLY_MATCH_AND_TARGET = ('is not allowed: give only the match and target; the collection appends '
                         'the rule to PBX-FIREWALL in the filter table itself')
UNBALANCED = ('has an unbalanced double quote or a trailing backslash; quote a value as '
              'iptables-save does: "text", with \\" and \\\\ inside')
NOT_AN_ADDRESS = ' is not a valid IPv4 or IPv6 address or CIDR: '
ASCII_ONLY = 'numbers are written with the ASCII digits 0-9 only, '
FOUR_NUMBERS = 'an IPv4 address is four numbers 0-255 separated by dots; did you mean '
MATCH_OR_TARGET_FIRST = (': must start with a match or target option such as -s, -p, -m or -j (the collection '
                         'adds "-A PBX-FIREWALL" itself); ')
TRUNK_TOO_WIDE = (" is wider than a SIP trunk may be; valid: the provider's hosts or subnets, at "
                  "most /16 for IPv4 and /48 for IPv6")


def mapped_and_v6(host):
    return ['::ffff:192.0.2.7', '2001:db8::7']


HOLES = {
    # 1. every character that cannot round-trip through iptables-save, in every string
    'name-line-separator': bad_name('Office\u2028LAN', 'must be one line; U+2028 LINE SEPARATOR ends a line'),
    'name-paragraph-separator': bad_name('Office\u2029', 'must be one line; U+2029 PARAGRAPH SEPARATOR ends a line'),
    'name-next-line': bad_name('Office\x85', 'must be one line; U+0085 NEXT LINE ends a line'),
    'name-newline': bad_name('Office\n', 'must be one line; U+000A LINE FEED ends a line'),
    'name-nul': bad_name('Office\x00', 'contains a control character, U+0000 NUL; write it without'),
    'name-tab': bad_name('Office\tLAN', 'contains a control character, U+0009 TAB; write it without'),
    'name-lone-surrogate': bad_name('Office \ud800', 'contains a lone surrogate (not valid Unicode text), U+D800 '
                                    'surrogate; write it without'),
    'name-bidi-override': bad_name('Office \u202e', 'contains an invisible format character, U+202E RIGHT-TO-LEFT '
                                   'OVERRIDE; write it without'),
    'description-newline': (dict(networks=[net(description='line\nbreak')]),
                            OFFICE_PATH + ".description: must be one line; U+000A LINE FEED ends "
                            "a line; got 'line\\nbreak'"),
    'trunk-line-separator': (dict(networks=[], trunks=['sip.example.net\u2028']),
                             "pbx_firewall_trunks[0]: must be one line; U+2028 LINE SEPARATOR ends "
                             "a line; got 'sip.example.net\\u2028'"),
    'trunk-international-name': bad_trunk('sip.bücher.example', ' is neither an address, a CIDR nor a host name; '
                                          'write an international name in its ASCII form: '
                                          'sip.xn--bcher-kva.example'),
    'custom-rule-line-separator': (dict(networks=[], custom_rules=['-m comment --comment "a\u2028b" -j ACCEPT']),
                                   "pbx_firewall_custom_rules[0].rule: must be one line; U+2028 LINE "
                                   "SEPARATOR ends a line; got '-m comment --comment \"a\\u2028b\" -j "
                                   "ACCEPT'"),
    # 4. refused by the filter, not by the module on the canary host
    'custom-service-trailing-newline': (dict(networks=[], custom_services={'prov\n': [{'proto': 'tcp', 'port': 8081}]}),
                                        "pbx_firewall_custom_services['prov\\n']: service name "
                                        "'prov\\n' must match [a-z][a-z0-9_]* and be at most 12 "
                                        "characters"),
    'scanner-agent-trailing-newline': (dict(networks=[], sip_scanner_agents=['friendly-scanner\n']),
                                       "pbx_firewall_sip_scanner_agents[0]: 'friendly-scanner\\n'" + AGENT_CHARACTERS),
    'custom-rule-nul': (dict(networks=[], custom_rules=['-p tcp\x00 -j ACCEPT']),
                        "pbx_firewall_custom_rules[0].rule: contains a control character, U+0000 "
                        "NUL; write it without; got '-p tcp\\x00 -j ACCEPT'"),
    'custom-rule-unbalanced-quote': bad_rule('-m comment --comment "open -j ACCEPT', ' ' + UNBALANCED),
    'custom-rule-trailing-backslash': bad_rule('-p tcp -j ACCEPT \\', ' ' + UNBALANCED),
    'custom-rule-table': bad_rule('-t nat -p tcp -j ACCEPT', ": '-t' " + ONLY_MATCH_AND_TARGET),
    'custom-rule-table-glued': bad_rule('-p tcp -j ACCEPT -tnat', ": '-tnat' " + ONLY_MATCH_AND_TARGET),
    'custom-rule-table-long': bad_rule('-p tcp --table=nat -j ACCEPT', ": '--table=nat' " + ONLY_MATCH_AND_TARGET),
    'custom-rule-policy': bad_rule('--policy INPUT ACCEPT', ": '--policy' " + ONLY_MATCH_AND_TARGET),
    'custom-rule-policy-later': bad_rule('-p tcp -P INPUT ACCEPT', ": '-P' " + ONLY_MATCH_AND_TARGET),
    'custom-rule-commit': bad_rule('COMMIT', MATCH_OR_TARGET_FIRST + "got 'COMMIT' first"),
    'custom-rule-comment-line': bad_rule('# -j ACCEPT', MATCH_OR_TARGET_FIRST + "got '#' first"),
    'custom-rule-hash': bad_rule('-p tcp -j ACCEPT #note', ": has '#note' outside quotes, which iptables-restore "
                                 'may read as a comment; quote it'),
    'custom-rule-jump-into-owned-chain': bad_rule('-p tcp -j PBX-FIREWALL', ": may not jump to 'PBX-FIREWALL': the "
                                                  "collection's own chains are not targets for custom rules"),
    # 5. a path, the value and what is valid; ASCII digits only
    'subnet-superscript-prefix': bad_subnet('10.0.0.0/²', NOT_AN_ADDRESS + ASCII_ONLY + "'²' is U+00B2 SUPERSCRIPT "
                                            'TWO; did you mean 10.0.0.0/2?'),
    'subnet-arabic-indic': bad_subnet('١٩٢.168.10.0/24', NOT_AN_ADDRESS + ASCII_ONLY + "'١' is U+0661 "
                                      'ARABIC-INDIC DIGIT ONE; did you mean 192.168.10.0/24?'),
    'subnet-leading-zeros': bad_subnet('010.0.0.0/8', NOT_AN_ADDRESS + 'leading zeros are ambiguous (some tools '
                                       'read 010 as octal, that is 8); did you mean 10.0.0.0/8?'),
    'subnet-short-form': bad_subnet('10.1', NOT_AN_ADDRESS + FOUR_NUMBERS + '10.1.0.0/16?'),
    'subnet-garbage': bad_subnet('10.0.0.0 garbage/8', NOT_AN_ADDRESS + "it contains ' ' (U+0020 SPACE); an "
                                 'address has only digits, a-f, "." and ":", then "/" and the prefix length'),
    'port-superscript': (dict(networks=[], ports={'ssh': '²'}),
                         "pbx_firewall_ports.ssh: '²' is not a port: " + ASCII_ONLY + "'²' is "
                         "U+00B2 SUPERSCRIPT TWO; did you mean 2?"),
    'port-arabic-indic': (dict(networks=[], ports={'ssh': '٢٢'}),
                          "pbx_firewall_ports.ssh: '٢٢' is not a port: " + ASCII_ONLY + "'٢' is "
                          "U+0662 ARABIC-INDIC DIGIT TWO; did you mean 22?"),
    'custom-service-port-arabic-indic': (dict(networks=[], custom_services={'prov': [{'proto': 'tcp', 'port': '٨٠٨١'}]}),
                                         "pbx_firewall_custom_services.prov[0].port: '٨٠٨١' is not a "
                                         "port: " + ASCII_ONLY + "'٨' is U+0668 ARABIC-INDIC DIGIT "
                                         "EIGHT; did you mean 8081?"),
    'port-name-with-newline': (dict(networks=[], ports={'ssh\n': 22}),
                               "pbx_firewall_ports['ssh\\n']: unknown port name 'ssh\\n'; valid: "
                               + PORT_NAMES),
    'rate-limit-arabic-indic': (dict(networks=[], sip_rate_limit='٢٠'),
                                RATE_LIMIT_NOT_AN_INTEGER + "string '٢٠': " + ASCII_ONLY + "'٢' is U+0662 "
                                'ARABIC-INDIC DIGIT TWO; did you mean 20?'),
    'ipset-threshold-float': (dict(networks=[], ipset_threshold=1.5), IPSET_THRESHOLD_NOT_AN_INTEGER + 'float 1.5'),
    'docker-not-bool': (dict(networks=[], docker=2),
                        'pbx_firewall_docker: must be true or false, got integer 2' + BOOL_VALID),
    'trunk-arabic-indic': bad_trunk('١٠.0.0.1', NOT_AN_ADDRESS + ASCII_ONLY + "'١' is U+0661 ARABIC-INDIC DIGIT "
                                    'ONE; did you mean 10.0.0.1?'),
    'trunk-short-form': bad_trunk('10.1', NOT_AN_ADDRESS + FOUR_NUMBERS + '10.1.0.0/16?'),
    'trunk-resolves-to-garbage': (dict(networks=[], trunks=['sip.example.net'],
                                       resolver=lambda host: ['not-an-ip']),
                                  "pbx_firewall_trunks[0]: 'sip.example.net' resolves to "
                                  "'not-an-ip', which is not an IP address"),
    # 6. no trunk opens the world, alone or together
    'trunk-wider-than-16': bad_trunk('10.0.0.0/15', TRUNK_TOO_WIDE),
    'trunk-wider-than-48': bad_trunk('2001:db8::/47', TRUNK_TOO_WIDE),
    'trunk-halves-of-the-internet': (dict(networks=[], trunks=['0.0.0.0/1', '128.0.0.0/1']),
                                     "pbx_firewall_trunks[0]: '0.0.0.0/1'" + TRUNK_TOO_WIDE + '\n'
                                     "pbx_firewall_trunks[1]: '128.0.0.0/1'" + TRUNK_TOO_WIDE),
}


@pytest.mark.parametrize('kwargs, message', list(HOLES.values()), ids=list(HOLES))
def test_hostile_input_is_refused_with_its_path(kwargs, message):
    assert str(refusal(validate.load_policy, kwargs)) == message


def test_trunks_that_together_cover_a_family_are_refused():
    """65536 /16s, each within the bound, together are 0.0.0.0/0."""
    trunks = ['%d.%d.0.0/16' % (i >> 8, i & 255) for i in range(1 << 16)]
    with pytest.raises(PolicyError) as excinfo:
        validate.load_policy([], trunks=trunks)
    assert str(excinfo.value) == (
        "pbx_firewall_trunks: together the entries cover every IPv4 address, which would trust "
        "the whole Internet as a SIP trunk; name the provider's hosts or subnets")
    assert validate.load_policy([], trunks=trunks[1:]).trunks[0][1].cidr() == '0.1.0.0/16'


@pytest.mark.parametrize('subnets, covered', [
    (['0.0.0.0/1', '128.0.0.0/2', '192.0.0.0/2'], [4]),
    (['0.0.0.0/1', '128.0.0.0/2', '192.0.0.0/3'], []),
    (['::/1', '8000::/1', '10.0.0.0/8'], [6]),
    (['0.0.0.0/0', '::/0'], [4, 6]),
    (['0.0.0.0/1', '0.0.0.0/2', '128.0.0.0/1'], [4]),       # nested entries
    ([], []),
])
def test_covered_families(subnets, covered):
    assert validate._covered_families([parse_subnet(s) for s in subnets]) == covered


def test_a_trunk_that_resolves_to_an_ipv4_mapped_address_is_that_ipv4_address():
    policy = validate.load_policy([], trunks=['sip.example.net'], resolver=mapped_and_v6)
    assert [(label, subnet.cidr()) for label, subnet in policy.trunks] == [
        ('sip.example.net', '192.0.2.7/32'), ('sip.example.net', '2001:db8::7/128')]


@pytest.mark.parametrize('value, expected', [
    (True, True), (False, False), ('true', True), ('false', False), ('True', True),
    ('FALSE', False), ('yes', True), ('no', False), ('on', True), ('off', False), ('1', True),
    ('0', False), (1, True), (0, False),
])
def test_booleans_from_the_command_line_are_taken_alike_everywhere(value, expected):
    """-e pbx_firewall_ipv6=false gives the string 'false': every boolean option takes it."""
    policy = validate.load_policy([net(local_network=value, never_block=value)], ipv6=value,
                                  docker=value)
    assert (policy.ipv6, policy.docker) == (expected, expected)
    assert (policy.networks[0]['local_network'], policy.networks[0]['never_block']) == (expected, expected)


def test_numbers_from_the_command_line_are_taken_alike_everywhere():
    policy = validate.load_policy([], sip_rate_limit='20', ipset_threshold='4',
                                  ports={'ssh': '2222', 'rtp': '12000-12100'},
                                  custom_services={'prov': [{'proto': 'tcp', 'port': '8081'}]})
    assert (policy.sip_rate_limit, policy.ipset_threshold) == (20, 4)
    assert (policy.ports['ssh'], policy.ports['rtp'], policy.ports['prov#0']) == (
        (2222, 2222), (12000, 12100), (8081, 8081))


def test_messages_use_the_names_the_caller_gives():
    with pytest.raises(PolicyError) as excinfo:
        validate.load_policy([net(subnet='10.0.0.1/8')], ipv6='maybe', trunks=['10.0.0.0/8'],
                             names={'networks': 'site_networks', 'ipv6': 'use_ipv6',
                                    'trunks': 'providers'})
    assert excinfo.value.errors == [
        "site_networks[0] ('Office').subnet: '10.0.0.1/8' has host bits set; did you mean "
        "10.0.0.0/8?",
        "providers[0]: '10.0.0.0/8'" + TRUNK_TOO_WIDE,
        "use_ipv6: must be true or false, got string 'maybe'" + BOOL_VALID,
    ]


@pytest.mark.parametrize('names, message', [
    ({'network': 'x'}, "names: unknown input 'network'; valid: addresses, blocklist, blocklist_files, "
                       "custom_rules, custom_services, docker, extra, geoip_db, geoip_max_age_days, "
                       "ipset_threshold, ipv6, log_drops, log_rate, networks, nflog_group, ports, "
                       "sip_rate_limit, sip_rate_limit_ipv6_prefix, "
                       "sip_scanner_agents, subnets, trunks"),
    ({'networks': 'a\nb'}, "names.networks: must be a variable name or path such as "
                           "pbx_firewall_networks, got 'a\\nb'"),
    ('pbx_firewall', "names: must be a mapping of input to the name used in messages (e.g. "
                     "{networks: pbx_firewall_networks}), got string 'pbx_firewall'"),
])
def test_bad_names_are_refused(names, message):
    with pytest.raises(PolicyError) as excinfo:
        validate.load_policy([], names=names)
    assert str(excinfo.value) == message
