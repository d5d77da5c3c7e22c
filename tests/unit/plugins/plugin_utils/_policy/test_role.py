# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""role.py: the role's one policy call, (inputs, exact result) and (inputs, exact errors)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import (
    asterisk_localnet,
    fail2ban_ignoreip,
    firewall_ruleset,
    validate,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._filter_support import filter_names
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import files
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import PolicyError
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.role import EMPTY_POLICY_WARNING, role_policy
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy.support import (
    BAD_HOST,
    INTERNET,
    OFFICE,
)

VPN = {'name': 'VPN', 'subnet': ['10.8.0.0/24', '10.8.1.0/24', 'fd00:8::/64'], 'services': ['sip'],
       'local_network': True}
NETWORKS = [OFFICE, BAD_HOST, VPN, INTERNET]
OPTIONS = [
    {},
    {'ports': {'rtp': '12000-12100'}, 'trunks': ['203.0.113.5'], 'sip_rate_limit': 20,
     'sip_scanner_agents': ['friendly-scanner'], 'ipset_threshold': 1, 'ipv6': False, 'docker': True,
     'custom_services': {'prov': [{'proto': 'tcp', 'port': 8081}]},
     'custom_rules': ['-s 198.51.100.7/32 -p tcp -m tcp --dport 8080 -j ACCEPT']},
]


@pytest.mark.parametrize('options', OPTIONS, ids=['defaults', 'every-option'])
def test_the_same_results_as_the_separate_calls(options):
    result = role_policy(NETWORKS, ignoreip_extra=['198.51.100.0/24'], **options)
    ignoreip, localnet = fail2ban_ignoreip(NETWORKS, extra=['198.51.100.0/24']), asterisk_localnet(NETWORKS)
    assert result == {
        'state': 'present',
        'ruleset': firewall_ruleset(NETWORKS, **options),
        'ignoreip': ignoreip,
        'localnet': localnet,
        'docker_jails': [],
        'files': dict(files.role_files(ignoreip, localnet), metrics_script='', metrics_cron=''),
        'warnings': [],
        'notes': [],
    }
    assert result['localnet'] == ['10.8.0.0/23', '192.168.10.0/24', 'fd00:8::/64']


def test_the_networks_are_validated_once(monkeypatch):
    calls = []
    real = validate._networks

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(validate, '_networks', counting)
    role_policy(NETWORKS, docker=True, docker_jails=['sshd'])
    assert len(calls) == 1


@pytest.mark.parametrize('jails, docker, expected', [
    (['sshd', 'asterisk', 'sshd', 'nginx-http_auth.v2'], True, ['asterisk', 'nginx-http_auth.v2', 'sshd']),
    (['sshd'], False, []),                                   # only in Docker-host mode
    ([], True, []),
    (None, True, []),
])
def test_docker_jails(jails, docker, expected):
    assert role_policy([OFFICE], docker=docker, docker_jails=jails)['docker_jails'] == expected


@pytest.mark.parametrize('networks, enabled, warnings', [
    ([], True, [EMPTY_POLICY_WARNING]),
    ([], False, []),                                         # removing: nothing to warn about
    ([OFFICE], True, []),
])
def test_warnings(networks, enabled, warnings):
    assert role_policy(networks, enabled=enabled)['warnings'] == warnings


@pytest.mark.parametrize('enabled, state', [(True, 'present'), ('yes', 'present'), (False, 'absent'), ('off', 'absent')])
def test_enabled_gives_the_firewall_state(enabled, state):
    assert role_policy([OFFICE], enabled=enabled)['state'] == state


JAIL_VALID = ('the name of a jail section, 1-64 letters, digits, "_", "." or "-" (not DEFAULT, INCLUDES, '
              'Definition, Init), e.g. asterisk, sshd')


@pytest.mark.parametrize('kwargs, messages', [
    ({'docker': True, 'docker_jails': ['sshd', 'asterisk ; rm']},
     ["pbx_firewall_fail2ban_docker_jails[1]: 'asterisk ; rm' is not a fail2ban jail name; valid: " + JAIL_VALID]),
    ({'docker_jails': ['DEFAULT', '', 'x' * 65, 7, 'a]b']},     # checked even when Docker-host mode is off
     ["pbx_firewall_fail2ban_docker_jails[%d]: %r is not a fail2ban jail name; valid: %s" % (pos, value, JAIL_VALID)
      for pos, value in enumerate(['DEFAULT', '', 'x' * 65, 7, 'a]b'])]),
    ({'docker_jails': 'sshd'}, ["pbx_firewall_fail2ban_docker_jails: must be a list, got string 'sshd'"]),
    # 'false', 'yes', 'no' ... are booleans (the strings -e gives); these are not
    ({'ipv6': 'maybe'}, ["pbx_firewall_ipv6: must be true or false, got string 'maybe'"]),
    ({'docker': 'ja'}, ["pbx_firewall_docker: must be true or false, got string 'ja'"]),
    ({'ipset_threshold': -1}, ['pbx_firewall_ipset_threshold: must be an integer >= 0']),
    ({'enabled': 'nope'}, ["pbx_firewall_enabled: must be true or false, got 'nope'"]),
    ({'ignoreip_extra': ['10.0.0.1/8']}, ["pbx_firewall_fail2ban_ignoreip_extra[0]: '10.0.0.1/8' has host bits set"]),
    ({'metrics_interval': 'often'}, ["pbx_firewall_metrics_interval: must be 0 (off) or 1-59 minutes, got 'often'"]),
    ({'metrics_interval': 60}, ['pbx_firewall_metrics_interval: must be 0 (off) or 1-59 minutes, got 60']),
    ({'metrics_interval': 5, 'metrics_dir': 'node-exporter'},
     ["pbx_firewall_metrics_dir: must be 'auto' or an absolute path, got 'node-exporter'"]),
    ({'metrics_interval': 5, 'backend': 'iptables'}, ["pbx_firewall_backend: 'iptables' is not a backend; valid: "
                                                      "auto, nft, legacy"]),
])
def test_errors_name_the_role_variables(kwargs, messages):
    with pytest.raises(PolicyError) as caught:
        role_policy([OFFICE], **kwargs)
    assert len(caught.value.errors) == len(messages), caught.value.errors
    for message, error in zip(messages, caught.value.errors):
        assert error.startswith(message), (message, error)


def test_every_problem_of_every_input_at_once():
    bad_network = dict(OFFICE, subnet='192.168.10.1/24')
    with pytest.raises(PolicyError) as caught:
        role_policy([bad_network], ignoreip_extra=['nonsense'], docker_jails=['a b'], ipv6='maybe')
    found = [error.split(':')[0] for error in caught.value.errors]
    assert found == ["pbx_firewall_networks[0] ('Office LAN').subnet", 'pbx_firewall_ipv6',
                     'pbx_firewall_fail2ban_ignoreip_extra[0]', 'pbx_firewall_fail2ban_docker_jails[0]']


def test_the_standalone_filters_keep_their_option_names():
    """What the firewall_ruleset filter passes when no names are given: its own arguments."""
    with pytest.raises(PolicyError) as caught:
        firewall_ruleset([OFFICE], ipv6='maybe', names=filter_names(None, 'networks'))
    assert str(caught.value) == ("ipv6: must be true or false, got string 'maybe'; valid: true or "
                                 "false (from the command line also yes/no, on/off, 1/0)")


def test_logged_drops_and_the_metrics_refresher_give_their_files():
    from ansible_collections.pbxops.firewall.plugins.plugin_utils import _refresher
    from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import drops

    plain = role_policy([OFFICE])['files']
    assert (plain['fail2ban_filter'], plain['metrics_script'], plain['metrics_cron']) == ('', '', '')
    found = role_policy([OFFICE], log_drops=True, nflog_group=0, metrics_interval=5, backend='nft',
                        metrics_dir='/srv/textfile')['files']
    assert found['fail2ban_filter'] == drops.fail2ban_filter()
    assert found['fail2ban_jail'].endswith('\n[pbx-firewall-drops]\nenabled = true\nfilter = pbx-firewall-drops\n'
                                           'banaction = %(banaction_allports)s\nlogpath = /var/log/ulog/syslogemu.log\n')
    assert found['metrics_script'] == _refresher.script()
    assert found['metrics_cron'] == _refresher.cron_file(5, 'nft', '/srv/textfile')
