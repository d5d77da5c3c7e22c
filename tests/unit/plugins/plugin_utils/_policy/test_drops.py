# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dropping rules: reasons in the compiled chains, log chains, logging options."""

from __future__ import annotations

import re

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _evaluate, _reasons
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import PolicyError, drops
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.chains import firewall_ruleset

NETWORKS = [
    {'name': 'Office LAN', 'subnet': '10.0.0.0/24', 'services': ['sip', 'ssh'], 'block': ['web']},
    {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip'], 'block': ['web']},
]
POLICY = dict(sip_rate_limit=20, sip_scanner_agents=['friendly-scanner'],
              custom_rules=['-p tcp -m tcp --dport 8080 -j DROP',
                            '-p tcp -m tcp --dport 8081 -j REJECT --reject-with tcp-reset',
                            '-p tcp -m tcp --dport 8082 -j ACCEPT'])


def comment(rule):
    return re.findall(r'--comment ("(?:[^"\\]|\\.)*"|\S+)', rule)[-1].strip('"')


def reasons(rules):
    """{reason: [network, ...]} of the rules that carry a reason."""
    found = {}
    for rule in rules:
        parsed = _reasons.parse_comment(comment(rule)) if '--comment' in rule else None
        if parsed:
            found.setdefault(parsed[0], []).append(parsed[1])
    return found


def test_every_dropping_rule_carries_its_reason_and_deciding_network():
    ruleset = firewall_ruleset(NETWORKS, **POLICY)
    assert reasons(ruleset['ipv4']) == {
        'scanner': [None, None],                 # "\nUser-Agent:" with and without a space
        'flood': [None, None],                   # plain SIP requests, new SIP-TLS connections
        'block': ['Office LAN', 'Internet'],
        'custom': [None, None],                  # DROP and REJECT, not the ACCEPT
        'default': [None],
    }
    for rule in ruleset['ipv4'] + ruleset['ipv6']:
        assert (' -j DROP' in rule or ' -j REJECT' in rule) == ('pbxfw:' in rule), rule


def test_a_custom_rule_keeps_its_comment_and_gets_the_reason_before_its_target():
    ruleset = firewall_ruleset(NETWORKS, custom_rules=[
        '-p udp -m udp --dport 69 -m comment --comment "no tftp" -j REJECT --reject-with icmp-port-unreachable'])
    assert ('-A PBX-FIREWALL -p udp -m udp --dport 69 -m comment --comment "no tftp" -m comment --comment '
            '"pbxfw:custom" -j REJECT --reject-with icmp-port-unreachable') in ruleset['ipv4']


def test_ipset_rules_name_the_service_and_the_set_size():
    many = [{'name': 'n%d' % i, 'subnet': '10.9.%d.0/24' % i, 'block': ['ssh']} for i in range(3)]
    ruleset = firewall_ruleset(many + NETWORKS, ipset_threshold=2)
    assert [r for r in ruleset['ipv4'] if 'ssh from' in r] == [
        '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -m set --match-set %s src -m comment --comment '
        '"pbxfw:block ssh from 3 subnets" -j DROP' % [s['name'] for s in ruleset['ipsets'] if '-ssh-d4-' in s['name']][0]]


def test_logging_off_adds_no_chain():
    ruleset = firewall_ruleset(NETWORKS, **POLICY)
    assert not [r for r in ruleset['ipv4'] + ruleset['ipv6'] if 'LOG' in r]


@pytest.mark.parametrize('group, log', [
    (None, '-j LOG --log-prefix "pbxfw %s "'),
    (0, '-j NFLOG --nflog-prefix "pbxfw %s "'),            # group 0 is not printed back
    (5, '-j NFLOG --nflog-prefix "pbxfw %s " --nflog-group 5'),
])
def test_logged_drops_jump_to_one_rate_limited_chain_per_reason(group, log):
    ruleset = firewall_ruleset(NETWORKS, log_drops=True, nflog_group=group, **POLICY)
    rules = ruleset['ipv4']
    for reason in ('scanner', 'flood', 'block', 'custom', 'default'):
        chain = 'PBX-FW-LOG-%s' % reason.upper()
        assert [r for r in rules if r.startswith('-A %s ' % chain)] == [
            '-A %s -m limit --limit 10/min --limit-burst 10 -m comment --comment "pbx-firewall: log %s drops" %s'
            % (chain, reason, log % reason),
            '-A %s -m comment --comment "pbx-firewall: drop (%s)" -j DROP' % (chain, reason)]
        tagged = [r for r in rules if 'pbxfw:%s' % reason in r]
        assert tagged and all(r.endswith(' -j ' + chain) or r.endswith(' -j REJECT --reject-with tcp-reset')
                              for r in tagged), tagged
    assert not [r for r in rules if r.endswith(' -j DROP') and 'pbxfw:' in r]
    # IPv6 has no custom rule (custom rules default to ipv4): no custom log chain there
    assert {r.split()[1] for r in ruleset['ipv6'] if 'LOG-' in r.split()[1]} == {
        'PBX-FW-LOG-SCANNER', 'PBX-FW-LOG-FLOOD', 'PBX-FW-LOG-BLOCK', 'PBX-FW-LOG-DEFAULT'}


def test_only_the_log_chains_a_family_uses_exist():
    ruleset = firewall_ruleset([NETWORKS[0]], sip_scanner_agents=[], ipv6=False, log_drops=True)
    assert sorted({r.split()[1] for r in ruleset['ipv4'] if 'PBX-FW-LOG' in r.split()[1]}) == [
        'PBX-FW-LOG-BLOCK', 'PBX-FW-LOG-DEFAULT']


def test_the_evaluator_names_the_rule_that_jumped_to_the_log_chain():
    """verify and the lockout check name the reason and the network, not the log chain."""
    for log_drops in (False, True):
        ruleset = firewall_ruleset(NETWORKS, log_drops=log_drops, **POLICY)
        web = _evaluate.evaluate(ruleset, 'ipv4', '10.0.0.5', 'tcp', 80)
        assert (web.target, web.comment) == ('DROP', 'pbxfw:block web network=Office LAN')
        other = _evaluate.evaluate(ruleset, 'ipv4', '10.0.0.5', 'tcp', 25)
        assert (other.target, other.comment) == ('DROP', 'pbxfw:default everything else')


@pytest.mark.parametrize('rate, text', [
    ('10/minute', '-m limit --limit 10/min --limit-burst 10'),
    ('5/min', '-m limit --limit 5/min'),                      # 5 is limit's default burst
    ('60/m', '-m limit --limit 1/sec --limit-burst 60'),      # iptables prints 60/min as 1/sec
    ('1/s', '-m limit --limit 1/sec --limit-burst 1'),
    ('7/hour', '-m limit --limit 7/hour --limit-burst 7'),
    ('24 / day', '-m limit --limit 1/hour --limit-burst 24'),
    ('100/day', '-m limit --limit 100/day --limit-burst 100'),
    ('10000/second', '-m limit --limit 10000/sec --limit-burst 10000'),
])
def test_limit_text_is_what_iptables_save_prints(rate, text):
    assert drops.limit_text(*drops.parse_log_rate(rate)) == text


@pytest.mark.parametrize('options, message', [
    (dict(log_drops='maybe'), "pbx_firewall_log_drops: must be true or false, got string 'maybe'"),
    (dict(log_rate='10'), "pbx_firewall_log_rate: '10' is not a log rate; valid: a count per second, minute, "
                          'hour or day such as "10/minute", the count 1-10000'),
    (dict(log_rate='10/fortnight'), "pbx_firewall_log_rate: '10/fortnight' is not a log rate"),
    (dict(log_rate='0/minute'), "pbx_firewall_log_rate: '0/minute' is not a log rate"),
    (dict(log_rate='20000/minute'), "pbx_firewall_log_rate: '20000/minute' is not a log rate"),
    (dict(log_rate='١٠/minute'), "pbx_firewall_log_rate: '١٠/minute' is not a log rate"),
    (dict(log_rate=10), "pbx_firewall_log_rate: 10 is not a log rate"),
    (dict(nflog_group=70000), 'pbx_firewall_nflog_group: must be null (log with LOG) or an NFLOG group 0-65535, '
                              'got integer 70000'),
    (dict(nflog_group='five'), "pbx_firewall_nflog_group: must be null (log with LOG) or an NFLOG group 0-65535, "
                               "got string 'five'"),
])
def test_bad_logging_options_name_the_variable_and_what_is_valid(options, message):
    with pytest.raises(PolicyError) as info:
        firewall_ruleset(NETWORKS, log_drops=options.pop('log_drops', True), **options)
    assert message in str(info.value)


def test_logging_options_are_checked_when_logging_is_off_too():
    with pytest.raises(PolicyError, match='pbx_firewall_log_rate'):
        firewall_ruleset(NETWORKS, log_drops=False, log_rate='often')


def test_the_role_call_logs_drops_and_names_the_role_variables():
    policy = _policy.role_policy(NETWORKS, log_drops=True, log_rate='3/hour', nflog_group=0)
    assert '-A PBX-FW-LOG-DEFAULT -m limit --limit 3/hour --limit-burst 3 -m comment --comment ' \
           '"pbx-firewall: log default drops" -j NFLOG --nflog-prefix "pbxfw default "' in policy['ruleset']['ipv4']
    with pytest.raises(PolicyError, match=r"^pbx_firewall_nflog_group: must be null"):
        _policy.role_policy(NETWORKS, log_drops=True, nflog_group=-1)


def test_the_fail2ban_filter_matches_the_scanner_and_flood_lines_of_log_and_ulogd():
    regex = [line for line in drops.fail2ban_filter().splitlines() if line.startswith('failregex = ')]
    assert regex == [r'failregex = \bpbxfw (?:scanner|flood) +IN=\S* OUT=\S* .*?\bSRC=<ADDR>\s']
    pattern = re.compile(regex[0].split(' = ', 1)[1].replace('<ADDR>', r'(?P<addr>\S+)'))
    kernel = 'kernel: [  12.3] pbxfw scanner IN=eth0 OUT= MAC=00:16 SRC=203.0.113.9 DST=198.51.100.1 LEN=433 '
    ulogd = 'Dec  7 05:05:56 pbx1 pbxfw flood  IN=eth0 OUT= MAC=00:16 SRC=2001:0db8:0000:0000:0000:0000:0000:0009 DST= '
    assert pattern.search(kernel).group('addr') == '203.0.113.9'
    assert pattern.search(ulogd).group('addr') == '2001:0db8:0000:0000:0000:0000:0000:0009'
    for reason in ('block', 'default', 'custom', 'blocklist', 'country'):
        assert not pattern.search(kernel.replace('scanner', reason))


@pytest.mark.parametrize('group, log_file, where', [
    (0, None, 'logpath = /var/log/ulog/syslogemu.log'),
    (None, None, 'backend = systemd'),
    (5, '/var/log/pbx-drops.log', 'logpath = /var/log/pbx-drops.log'),
])
def test_the_jail_reads_where_the_lines_go(group, log_file, where):
    assert drops.fail2ban_jail(drops.Logging((10, 60), group), log_file) == [
        '', '# pbx_firewall_log_drops: ban the sources of repeated scanner and flood drops, on every port',
        '[pbx-firewall-drops]', 'enabled = true', 'filter = pbx-firewall-drops',
        'banaction = %(banaction_allports)s', where]
