# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters, called the way playbooks call them: through Ansible's templar.

The templar hands the filters ansible-core's lazy, tagged containers (2.19+);
the filters must give exactly what the policy core gives for plain data, and
turn bad input into AnsibleFilterError naming the filter.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

try:  # ansible-core 2.19+: templates must be trusted; before, every string was a template
    from ansible.template import trust_as_template
except ImportError:  # ansible-core 2.16-2.18 (the support matrix runs this file on them)
    def trust_as_template(value):
        return value

from ansible_collections.pbxops.firewall.plugins.filter import select_networks as select_networks_plugin
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
BUILD = os.path.join(ROOT, '.build')
FILTERS = ('firewall_ruleset', 'fail2ban_ignoreip', 'asterisk_localnet', 'select_networks')

OFFICE = {'name': 'Office LAN', 'subnet': '192.168.10.0/24',
          'services': ['sip', 'web', 'ssh', 'icmp'], 'local_network': True, 'never_block': True}
VPN = {'name': 'VPN', 'subnet': ['10.8.0.0/24', '10.8.1.0/24', 'fd00:8::/64'],
       'services': ['sip'], 'block': ['ssh'], 'local_network': True}
ADMIN = {'name': 'admin', 'subnet': ['10.8.0.7', '2001:db8::7'], 'services': ['ssh'],
         'never_block': True}
INTERNET = {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']}
NETWORKS = [OFFICE, VPN, ADMIN, INTERNET]


def render(expression, **variables):
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(trust_as_template(expression))


def filter_error(excinfo):
    """The message of the filter's own AnsibleFilterError within the templar's error chain."""
    exc = excinfo.value
    while exc is not None:
        if str(exc).startswith('pbxops.firewall.'):
            return str(exc)
        exc = exc.__cause__ or exc.__context__
    raise AssertionError('no pbxops.firewall error in %r' % excinfo.value)


# --------------------------------------------------------------------------- same as the core


@pytest.mark.parametrize('networks, call, options', [
    (NETWORKS, 'firewall_ruleset', {}),
    ([], 'firewall_ruleset', {}),
    (NETWORKS, 'firewall_ruleset(ports=ports, trunks=trunks, sip_rate_limit=10, '
               'sip_scanner_agents=["friendly-scanner"], ipset_threshold=1, ipv6=false, '
               'custom_rules=["-s 198.51.100.7/32 -p tcp -m tcp --dport 8080 -j ACCEPT"], '
               'custom_services=custom)',
     dict(ports={'rtp': '12000-12100', 'ssh': 2222}, trunks=['203.0.113.5', '2001:db8:5::/48'],
          sip_rate_limit=10, sip_scanner_agents=['friendly-scanner'], ipset_threshold=1,
          ipv6=False, custom_rules=['-s 198.51.100.7/32 -p tcp -m tcp --dport 8080 -j ACCEPT'],
          custom_services={'prov': [{'proto': 'tcp', 'port': 8081}]})),
], ids=['networks', 'empty', 'all-options'])
def test_firewall_ruleset_equals_the_core(networks, call, options):
    variables = {'nets': networks, 'ports': options.get('ports'), 'trunks': options.get('trunks'),
                 'custom': options.get('custom_services')}
    got = render('{{ nets | pbxops.firewall.%s }}' % call, **variables)
    assert got == _policy.firewall_ruleset(networks, **options)
    assert json.dumps(got, sort_keys=True)   # plain data: serializable


@pytest.mark.parametrize('name, expected', [
    ('fail2ban_ignoreip', ['10.8.0.7/32', '127.0.0.0/8', '192.168.10.0/24', '::1/128',
                           '2001:db8::7/128']),
    ('asterisk_localnet', ['10.8.0.0/23', '192.168.10.0/24', 'fd00:8::/64']),
])
def test_list_filters_equal_the_core(name, expected):
    got = render('{{ nets | pbxops.firewall.%s }}' % name, nets=NETWORKS)
    assert got == expected == getattr(_policy, name)(NETWORKS)


def test_nested_templates_in_the_inventory_are_resolved():
    """Lazy containers with templated members (how inventory vars arrive) work like plain data."""
    networks = [{'name': trust_as_template('{{ site }} LAN'),
                 'subnet': [trust_as_template('{{ prefix }}.0/24'), '2001:db8:10::/48'],
                 'services': trust_as_template('{{ voice }}'),
                 'never_block': trust_as_template('{{ trusted }}'),
                 'local_network': True}]
    variables = {'nets': networks, 'site': 'Office', 'prefix': '192.168.10',
                 'voice': ['sip', 'icmp'], 'trusted': True}
    plain = [{'name': 'Office LAN', 'subnet': ['192.168.10.0/24', '2001:db8:10::/48'],
              'services': ['sip', 'icmp'], 'never_block': True, 'local_network': True}]
    assert (render('{{ nets | pbxops.firewall.firewall_ruleset }}', **variables)
            == _policy.firewall_ruleset(plain))
    assert (render('{{ nets | pbxops.firewall.fail2ban_ignoreip | join(" ") }}', **variables)
            == '127.0.0.0/8 192.168.10.0/24 ::1/128 2001:db8:10::/48')
    assert (render('{{ nets | pbxops.firewall.asterisk_localnet }}', **variables)
            == ['192.168.10.0/24', '2001:db8:10::/48'])


# --------------------------------------------------------------------------- errors


BAD = [{'name': 'Office', 'subnet': '192.168.10.1/24', 'services': ['sip']}]
BAD_TEXT = ("[0] ('Office').subnet: '192.168.10.1/24' has host bits set; did you mean "
            "192.168.10.0/24?")


@pytest.mark.parametrize('name', ['firewall_ruleset', 'fail2ban_ignoreip', 'asterisk_localnet'])
def test_bad_input_names_the_filters_own_argument(name):
    """Used on its own, a filter cannot know the variable: it names its input, _input."""
    with pytest.raises(AnsibleFilterError) as excinfo:
        render('{{ nets | pbxops.firewall.%s }}' % name, nets=BAD)
    assert filter_error(excinfo) == 'pbxops.firewall.%s: invalid input:\n_input%s' % (name, BAD_TEXT)


@pytest.mark.parametrize('name', ['firewall_ruleset', 'fail2ban_ignoreip', 'asterisk_localnet'])
def test_the_role_gets_its_variable_names(name):
    """names='role' (what the role passes): the role's variables and "invalid inventory"."""
    with pytest.raises(AnsibleFilterError) as excinfo:
        render('{{ nets | pbxops.firewall.%s(names="role") }}' % name, nets=BAD)
    assert filter_error(excinfo) == ('pbxops.firewall.%s: invalid inventory:\npbx_firewall_networks%s'
                                     % (name, BAD_TEXT))
    assert 'pbx_firewall_networks' + BAD_TEXT in str(excinfo.value)


def test_a_caller_can_name_its_own_variables():
    with pytest.raises(AnsibleFilterError) as excinfo:
        render('{{ nets | pbxops.firewall.firewall_ruleset(ipv6=v6, names={"networks": "site_nets", '
               '"ipv6": "use_v6"}) }}', nets=BAD, v6='maybe')
    assert filter_error(excinfo) == (
        'pbxops.firewall.firewall_ruleset: invalid inventory:\nsite_nets' + BAD_TEXT + '\n'
        "use_v6: must be true or false, got string 'maybe'; valid: true or false (from the command "
        "line also yes/no, on/off, 1/0)")


# (expression, exact message): calls with a bad argument value; with those of a call that does
# not fit (CALLS_THAT_DO_NOT_FIT below) they run in test_a_refused_call_gives_the_precise_message.
BAD_ARGUMENTS = [
    ('{{ nets | pbxops.firewall.firewall_ruleset(ports={"ssh": 0}) }}',
     'pbxops.firewall.firewall_ruleset: invalid input:\nports.ssh: 0: port 0 is '
     'out of range; valid: an integer 1-65535 or a range "FROM-TO" with FROM <= TO, '
     'e.g. "10000-10200"'),
    ('{{ nets | pbxops.firewall.firewall_ruleset(trunks="sip.example.com") }}',
     "pbxops.firewall.firewall_ruleset: invalid input:\ntrunks: must be a list, "
     "got string 'sip.example.com'"),
    ('{{ nets | pbxops.firewall.firewall_ruleset(ipv6="maybe") }}',
     "pbxops.firewall.firewall_ruleset: invalid input:\nipv6: must be true or false, "
     "got string 'maybe'; valid: true or false (from the command line also yes/no, on/off, 1/0)"),
    ('{{ "10.0.0.0/8" | pbxops.firewall.fail2ban_ignoreip }}',
     "pbxops.firewall.fail2ban_ignoreip: invalid input:\n_input: must be a "
     "list of networks, got string '10.0.0.0/8'"),
    ('{{ nets | pbxops.firewall.fail2ban_ignoreip(extra=["10.1"]) }}',
     "pbxops.firewall.fail2ban_ignoreip: invalid input:\nextra[0]: '10.1' is not a valid IPv4 or "
     "IPv6 address or CIDR: an IPv4 address is four numbers 0-255 separated by dots; did you mean "
     "10.1.0.0/16?"),
    ('{{ [{"name": "x", "subnet": "10.0.0.0/8", "services": [5]}] '
     '| pbxops.firewall.asterisk_localnet }}',
     "pbxops.firewall.asterisk_localnet: invalid input:\n_input[0] ('x')."
     "services[0]: must be a service name, got integer 5; valid: a string"),
    ('{{ ["10.0.0.010"] | pbxops.firewall.in_subnets(["10.0.0.0/8"]) }}',
     "pbxops.firewall.in_subnets: invalid input:\n_input[0]: '10.0.0.010' is not a valid IPv4 or "
     "IPv6 address or CIDR: leading zeros are ambiguous (some tools read 010 as octal, that is 8); "
     "did you mean 10.0.0.10?"),
    ('{{ nets | pbxops.firewall.firewall_ruleset(names="pbx") }}',
     "pbxops.firewall.firewall_ruleset: invalid inventory:\nnames: must be a mapping of input to the "
     "name used in messages (e.g. {networks: pbx_firewall_networks}), got string 'pbx'"),
]


@pytest.mark.parametrize('name', ['firewall_ruleset', 'fail2ban_ignoreip', 'asterisk_localnet'])
def test_missing_netaddr_gives_one_install_line(monkeypatch, name):
    monkeypatch.setattr(model, 'HAS_NETADDR', False)
    with pytest.raises(AnsibleFilterError) as excinfo:
        render('{{ nets | pbxops.firewall.%s }}' % name, nets=NETWORKS)
    assert filter_error(excinfo) == (
        'pbxops.firewall.%s: the Python library netaddr is required: install it on the '
        'controller (pip install netaddr)' % name)


# --------------------------------------------------------------------------- select_networks


SITE = {
    'networks': [
        {'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['sip', 'web'],
         'tags': ['voip', 'lan']},
        {'name': 'Printers', 'subnet': '192.168.20.0/24', 'services': [], 'tags': ['lan']},
        {'name': 'Branch', 'subnet': '10.20.0.0/16', 'services': ['sip'], 'tags': ['voip']},
    ],
    'owner': 'ops',
}


@pytest.mark.parametrize('expression, expected', [
    ("networks[?contains(tags, 'voip')]", [SITE['networks'][0], SITE['networks'][2]]),
    ("networks[?contains(tags, 'lan')].{name: name, subnet: subnet}",
     [{'name': 'Office LAN', 'subnet': '192.168.10.0/24'},
      {'name': 'Printers', 'subnet': '192.168.20.0/24'}]),
    ("networks[?contains(tags, 'wan')]", []),
    ('nothing_here', []),                       # null -> []
    ('networks', SITE['networks']),
])
def test_select_networks(expression, expected):
    got = render('{{ site | pbxops.firewall.select_networks(expr) }}', site=SITE, expr=expression)
    assert got == expected
    assert got.__class__ is list and all(n.__class__ is dict for n in got)   # plain, not lazy


def test_select_networks_feeds_the_other_filters():
    site = {'networks': [dict(n, local_network=True) for n in SITE['networks']]}
    got = render("{{ site | pbxops.firewall.select_networks(\"networks[?contains(tags, 'voip')]\") "
                 "| pbxops.firewall.asterisk_localnet }}", site=site)
    assert got == ['10.20.0.0/16', '192.168.10.0/24']


@pytest.mark.parametrize('expression, expected', [
    ('owner', "pbxops.firewall.select_networks: 'owner' must select a list of networks "
              "(mappings), got 'ops'"),
    ('networks[0]', "pbxops.firewall.select_networks: 'networks[0]' must select a list of "
                    "networks (mappings), got %r" % (SITE['networks'][0],)),
    ('networks[].name', "pbxops.firewall.select_networks: 'networks[].name' must select a list "
                        "of networks (mappings), got ['Office LAN', 'Printers', 'Branch']"),
    ('networks[?', None),
    ('', "pbxops.firewall.select_networks: expression must be a non-empty JMESPath string, "
         "got ''"),
])
def test_select_networks_errors(expression, expected):
    with pytest.raises(AnsibleFilterError) as excinfo:
        render('{{ site | pbxops.firewall.select_networks(expr) }}', site=SITE, expr=expression)
    message = filter_error(excinfo)
    if expected is None:
        assert message.startswith("pbxops.firewall.select_networks: invalid JMESPath expression "
                                  "'networks[?': ")
        assert 'Incomplete expression' in message
    else:
        assert message == expected


def test_select_networks_without_jmespath(monkeypatch):
    monkeypatch.setattr(select_networks_plugin, 'HAS_JMESPATH', False)
    with pytest.raises(AnsibleFilterError) as excinfo:
        render("{{ site | pbxops.firewall.select_networks('networks') }}", site=SITE)
    assert filter_error(excinfo) == (
        'pbxops.firewall.select_networks: the Python library jmespath is required: install it '
        'on the controller (pip install jmespath)')


# --------------------------------------------------------------------------- documentation


def _ansible_doc(tmp_path, *args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=BUILD, ANSIBLE_NOCOLOR='1',
               ANSIBLE_DEPRECATION_WARNINGS='1', ANSIBLE_LOCAL_TEMP=str(tmp_path),
               HOME=str(tmp_path))
    command = [os.path.join(os.path.dirname(sys.executable), 'ansible-doc'), '-t', 'filter']
    return subprocess.run(command + list(args), env=env, cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=120, check=False)


def test_ansible_doc_renders_every_filter_without_warnings(tmp_path):
    names = ['pbxops.firewall.%s' % name for name in FILTERS]
    text = _ansible_doc(tmp_path, *names)
    assert text.returncode == 0, text.stderr
    assert text.stderr == ''
    assert 'WARNING' not in text.stdout and 'ERROR' not in text.stdout
    for name in names:
        # page header: '> FILTER name (path)' since ansible-core 2.17, '> NAME (path)' in 2.16
        assert '> FILTER %s ' % name in text.stdout or '> %s ' % name.upper() in text.stdout

    docs = _ansible_doc(tmp_path, '--json', *names)
    assert docs.returncode == 0 and docs.stderr == '', docs.stderr
    data = json.loads(docs.stdout)
    assert sorted(data) == sorted(names)
    for name in names:
        doc = data[name]
        assert doc['doc']['name'] == name.rsplit('.', 1)[1]
        assert doc['doc']['short_description']
        assert doc['doc']['options']['_input']['required'] is True
        assert doc['doc']['requirements']
        assert doc['examples'].strip()
        assert '_value' in doc['return']


def test_shared_option_docs_come_from_the_doc_fragments(tmp_path):
    """plugins/doc_fragments/: one text of the networks input and of names, on every filter using it."""
    network_filters = ['pbxops.firewall.%s' % name
                       for name in ('firewall_ruleset', 'fail2ban_ignoreip', 'asterisk_localnet')]
    docs = _ansible_doc(tmp_path, '--json', 'pbxops.firewall.in_subnets', *network_filters)
    assert docs.returncode == 0 and docs.stderr == '', docs.stderr
    data = {name: found['doc'] for name, found in json.loads(docs.stdout).items()}
    names_options = [doc['options']['names'] for doc in data.values()]
    assert len(names_options) == 4 and all(option == names_options[0] for option in names_options)
    assert names_options[0]['type'] == 'raw'
    for name in network_filters:
        doc = data[name]
        assert doc['options']['_input'] == data[network_filters[0]]['options']['_input']
        assert doc['options']['_input']['description'][0].startswith('The networks, in the inventory model')
        assert doc['requirements'] == ['netaddr (on the controller)']
        assert {'module': 'pbxops.firewall.iptables_ruleset',
                'description': 'Applies the compiled ruleset on the host.'} in doc['seealso']
        assert 'pbxops.firewall.pbx_firewall_policy' in [link.get('plugin') for link in doc['seealso']]


# --------------------------------------------------------------------------- arguments


CALLS_THAT_DO_NOT_FIT = [
    ('{{ nets | pbxops.firewall.firewall_ruleset(trunk=["192.0.2.1"]) }}',
     "pbxops.firewall.firewall_ruleset: unknown keyword 'trunk' (did you mean trunks?); valid "
     "keywords: ports, custom_services, trunks, sip_rate_limit, sip_scanner_agents, custom_rules, "
     "ipset_threshold, ipv6, docker, names, sip_rate_limit_ipv6_prefix, log_drops, log_rate, "
     "nflog_group, geoip_db, geoip_max_age_days, blocklist, blocklist_files"),
    ('{{ nets | pbxops.firewall.firewall_ruleset(ipv4=false) }}',
     "pbxops.firewall.firewall_ruleset: unknown keyword 'ipv4' (did you mean ipv6?); valid "
     "keywords: ports, custom_services, trunks, sip_rate_limit, sip_scanner_agents, custom_rules, "
     "ipset_threshold, ipv6, docker, names, sip_rate_limit_ipv6_prefix, log_drops, log_rate, "
     "nflog_group, geoip_db, geoip_max_age_days, blocklist, blocklist_files"),
    ('{{ nets | pbxops.firewall.firewall_ruleset(networks=nets) }}',
     "pbxops.firewall.firewall_ruleset: unknown keyword 'networks'; valid keywords: ports, "
     "custom_services, trunks, sip_rate_limit, sip_scanner_agents, custom_rules, ipset_threshold, "
     "ipv6, docker, names, sip_rate_limit_ipv6_prefix, log_drops, log_rate, nflog_group, geoip_db, "
     "geoip_max_age_days, blocklist, blocklist_files"),
    ('{{ nets | pbxops.firewall.fail2ban_ignoreip(extras=[]) }}',
     "pbxops.firewall.fail2ban_ignoreip: unknown keyword 'extras' (did you mean extra?); valid "
     "keywords: extra, names"),
    ('{{ nets | pbxops.firewall.fail2ban_ignoreip([], "role", 3) }}',
     "pbxops.firewall.fail2ban_ignoreip: takes the input and at most 2 more arguments (extra, "
     "names), got 3"),
    ('{{ nets | pbxops.firewall.asterisk_localnet(extra=[]) }}',
     "pbxops.firewall.asterisk_localnet: unknown keyword 'extra'; valid keywords: names"),
    ('{{ ["10.0.0.1"] | pbxops.firewall.in_subnets(subnet=["10.0.0.0/8"]) }}',
     "pbxops.firewall.in_subnets: unknown keyword 'subnet' (did you mean subnets?); valid "
     "keywords: subnets, names"),
    ('{{ ["10.0.0.1"] | pbxops.firewall.in_subnets }}',
     "pbxops.firewall.in_subnets: missing argument 'subnets'"),
    ('{{ site | pbxops.firewall.select_networks(expr="networks") }}',
     "pbxops.firewall.select_networks: unknown keyword 'expr' (did you mean expression?); valid "
     "keywords: expression"),
    ('{{ site | pbxops.firewall.select_networks }}',
     "pbxops.firewall.select_networks: missing argument 'expression'"),
    ('{{ nets | pbxops.firewall.firewall_ruleset({}, ports={}) }}',
     "pbxops.firewall.firewall_ruleset: 'ports' is given twice (as argument 1 and as a keyword)"),
    ('{{ nets | pbxops.firewall.pbx_firewall_policy(ignoreip=[]) }}',
     "pbxops.firewall.pbx_firewall_policy: unknown keyword 'ignoreip' (did you mean "
     "ignoreip_extra?); valid keywords: ports, custom_services, trunks, sip_rate_limit, "
     "sip_scanner_agents, custom_rules, ipset_threshold, ipv6, docker, ignoreip_extra, "
     "docker_jails, enabled, sip_rate_limit_ipv6_prefix, log_drops, log_rate, nflog_group, "
     "metrics_interval, metrics_dir, backend, metrics_script, geoip_db, geoip_max_age_days, "
     "blocklist, blocklist_files"),
    ('{{ [] | pbxops.firewall.verify_plan(timeuot=3) }}',
     "pbxops.firewall.verify_plan: unknown keyword 'timeuot' (did you mean timeout?); valid "
     "keywords: reach, timeout, parallel, deadline, max_probes, range_samples"),
    ('{{ [] | pbxops.firewall.verify_report(probe=[]) }}',
     "pbxops.firewall.verify_report: unknown keyword 'probe' (did you mean probes?); valid "
     "keywords: probes, probe_names, fail_on_unknown"),
]


@pytest.mark.parametrize('expression, expected', BAD_ARGUMENTS + CALLS_THAT_DO_NOT_FIT)
def test_a_refused_call_gives_the_precise_message(expression, expected):
    """A bad value names the filter, the argument and what is valid; a call that does not fit
    names the filter and its keywords."""
    with pytest.raises(AnsibleFilterError) as excinfo:
        render(expression, nets=[OFFICE], site=SITE)
    assert filter_error(excinfo) == expected


def test_standalone_example_of_the_readme_drops_the_default_scanners():
    """README: the filter alone, without sip_scanner_agents, drops the collection's default list."""
    rules = render('{{ nets | pbxops.firewall.firewall_ruleset(ports={"rtp": "12000-12100"}) }}',
                   nets=NETWORKS)['ipv4']
    agents = sorted({rule.split('"pbxfw:scanner User-Agent ')[1].split('"')[0] for rule in rules
                     if '"pbxfw:scanner ' in rule})
    assert agents == sorted(_policy.DEFAULT_SIP_SCANNER_AGENTS)
