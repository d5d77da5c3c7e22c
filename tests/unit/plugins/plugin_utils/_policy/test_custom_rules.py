# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The grammar of pbx_firewall_custom_rules: (rule, family) -> accepted, or the exact reason.

That whatever the grammar accepts really loads is held against the real kernel, both
backends, by tests/integration/plugins/plugin_utils/_policy/test_custom_rules_load.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import split_rule
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import custom_rules

ACCEPTED = [
    (4, '-s 198.51.100.7/32 -p tcp -m tcp --dport 8080 -j ACCEPT'),
    (6, '-s 2001:db8:9::/48 -p udp -m udp --dport 69 -j ACCEPT'),
    (4, '-p tcp -m tcp --dport 22 -m recent --name ssh --rcheck --seconds 60 --hitcount 4 -j DROP'),
    (4, '-p tcp -m tcp --dport 22 -m hashlimit --hashlimit-upto 3/min --hashlimit-burst 3 --hashlimit-mode srcip '
        '--hashlimit-name ssh -j ACCEPT'),
    (4, '-p icmp -m icmp --icmp-type 8 -m limit --limit 10/sec -j ACCEPT'),
    (6, '-p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT'),
    (4, '! -s 10.0.0.0/8 -p udp -m multiport --dports 5060,10000:10200 -j DROP'),
    (6, '-m set --match-set admins6 src -m comment --comment "site admins, \\"east\\"" -j ACCEPT'),
    (4, '-p tcp -m tcp --dport 5038 -j REJECT --reject-with tcp-reset'),
    (6, '-p udp -j REJECT --reject-with icmp6-adm-prohibited'),
    (4, '-m conntrack --ctstate INVALID -j LOG --log-prefix "pbx invalid: " --log-level 4'),
    (4, '-i eth1 -f -j DROP'),
    (6, '-m hl --hl-eq 255 -j NFLOG --nflog-group 5'),
    (4, '-p tcp -m tcp --syn -m connlimit --connlimit-above 20 --connlimit-mask 32 -j DROP'),
    (4, '-m iprange --src-range 192.0.2.1-192.0.2.9 -m addrtype --dst-type LOCAL -j RETURN'),
    (4, '-p udp -m udp --dport 5060 -m string --string "friendly-scanner" --algo bm --icase -j DROP'),
    (4, '-p tcp -m tcp --dport 80'),          # no target: a counting rule
]


@pytest.mark.parametrize('version, rule', ACCEPTED)
def test_rules_the_host_loads_are_accepted(version, rule):
    assert custom_rules.problem(split_rule(rule), version) is None


REFUSED = [
    # the cases: each would fail on the host (some only at the commit)
    (6, '-s 198.51.100.7/32 -p tcp -m tcp --dport 8080 -j ACCEPT', '-s 198.51.100.7/32 is an IPv4 subnet, not IPv6'),
    (6, '-p icmp -m icmp --icmp-type 8 -j ACCEPT',
     "-p 'icmp' is not a protocol name of IPv6 (ICMP in IPv6 is -p ipv6-icmp)"),
    (6, '-p ipv6-icmp -m icmp --icmp-type 8 -j ACCEPT', '-m icmp is IPv4 only; in IPv6 it is -m icmp6 --icmpv6-type'),
    (4, '-p tcp -j ACCEPT -j DROP', 'a rule has one target, this one has -j ACCEPT and -j DROP; give one -j'),
    (4, '-m set --match-set pbxfw-sip4-0a1b2c3d src -j DROP', 'ipsets named pbxfw-* belong to the collection'),
    (4, '-p tcp -m tcp --dport 22 -j INPUT', '-j INPUT: a custom rule may not jump to a built-in chain'),
    # what iptables-restore --test passes and the commit refuses
    (4, '-m tcp --dport 22 -j ACCEPT', '-m tcp needs -p tcp before it'),
    (4, '! -p tcp -m tcp --dport 22 -j ACCEPT', '-m tcp needs -p tcp before it'),
    (4, '-m icmp --icmp-type 8 -j ACCEPT', '-m icmp needs -p icmp before it'),
    (4, '-j REJECT --reject-with tcp-reset', '--reject-with tcp-reset needs -p tcp'),
    (4, '-m owner --uid-owner 0 -j ACCEPT', '-m owner is not a match custom rules take; valid: addrtype,'),
    (4, '-j DNAT --to-destination 10.0.0.1', '-j DNAT is not a target custom rules take'),
    (4, '-j TRACE', '-j TRACE is not a target custom rules take'),
    (4, '-p tcp -j f2b-sshd', '-j f2b-sshd is not a target custom rules take (a chain of the host'),
    (4, '-m addrtype --limit-iface-out --dst-type LOCAL -j ACCEPT', '-m addrtype does not take --limit-iface-out'),
    # names the collection owns
    (4, '-p tcp -m hashlimit --hashlimit-upto 1/sec --hashlimit-name pbxfw-sip -j ACCEPT',
     'tables named pbxfw-* belong to the collection'),
    (4, '-p tcp -j PBX-FW-SIP', "may not jump to 'PBX-FW-SIP'"),
    # written so that it never reads back as given
    (4, '-s 10.0.0.1/24 -j ACCEPT', "-s '10.0.0.1/24': write it as 10.0.0.0/24"),
    (4, '-s 10.0.0.1,10.0.0.2 -j ACCEPT', 'one address or CIDR per rule'),
    (4, '-p tcp --dport 22 -j ACCEPT', '--dport: write -m tcp --dport, as iptables-save prints it'),
    # values iptables refuses
    (4, '-p tcp -m multiport --dports %s -j ACCEPT' % ','.join(str(p) for p in range(1, 17)),
     'multiport takes at most 15'),
    (4, '-m limit --limit 20000/sec -j ACCEPT', 'must be a rate N/UNIT with N 1-10000'),
    (4, '-j LOG --log-level 9', "--log-level '9'; valid: 0, 1"),
    (4, '-j NFLOG --nflog-group 70000', "--nflog-group '70000' must be a number 0-65535"),
    (4, '-m hashlimit --hashlimit-upto 1/sec -j ACCEPT', '-m hashlimit needs --hashlimit-name'),
    (4, '-m string --string x -j DROP', '-m string needs --algo'),
    (4, '-m recent --name x --set --seconds 5 -j DROP', '-m recent: --seconds only go with --rcheck or --update'),
    (4, '-m state --state SNAT -j DROP', "--state 'SNAT' must be a comma-separated list of INVALID, NEW"),
    (4, '-o eth0 -j ACCEPT', '-o: packets to the PBX itself (INPUT) have no output interface'),
    (6, '-f -j DROP', '-f is IPv4 only'),
    (4, '-g f2b-sshd', '-g: a custom rule may not go to another chain'),
    (4, '-j ACCEPT -p tcp', '-p comes after the target -j ACCEPT'),
    (4, '-m tcp', '-m tcp needs -p tcp before it'),
    (4, '-p tcp -p udp -j ACCEPT', '-p is given twice'),
    # found by the property test: the kernel refuses them when the rules are loaded
    (6, '! -p all -j DROP', '! -p all matches no packet (nft refuses such a rule)'),
    (4, '! -s 0.0.0.0/0 -j DROP', '-s 0.0.0.0/0 matches every address: leave it out'),
    (4, '-m addrtype --limit-iface-in', '-m addrtype needs --src-type or --dst-type'),
    (4, '-m ttl --ttl-eq 5 --ttl-gt 3 -j DROP', '-m ttl needs exactly one of --ttl-eq, --ttl-gt, --ttl-lt'),
    (4, '-p tcp -m multiport --dports 22 --sports 80 -j DROP', '-m multiport needs exactly one of'),
    (4, '-m recent --name x --rcheck --rsource --rdest -j DROP', '-m recent takes one of --rsource, --rdest'),
    (4, '-m string --string x --algo bm --from 90 --to 20 -j DROP', '-m string: --from 90 comes after --to 20'),
    (6, '-m addrtype --src-type UNICAST,BROADCAST',
     "--src-type 'UNICAST,BROADCAST' must be a comma-separated list of UNSPEC, UNICAST, LOCAL, ANYCAST, "
     'MULTICAST, UNREACHABLE, each once (for IPv6)'),
    (4, '-p tcp -m tcp', '-m tcp without options matches nothing in particular'),
]


@pytest.mark.parametrize('version, rule, reason', REFUSED)
def test_rules_the_host_would_refuse_are_refused_with_the_reason(version, rule, reason):
    found = custom_rules.problem(split_rule(rule), version)
    assert found is not None and reason in found, found


def _errors(rules):
    with pytest.raises(_policy.PolicyError) as exc:
        _policy.firewall_ruleset([], custom_rules=rules)
    return exc.value.errors


def test_the_error_names_the_variable_the_family_and_what_is_valid():
    errors = _errors(['-p tcp -m tcp --dport 22 -j ACCEPT',
                      {'rule': '-s 198.51.100.7/32 -p tcp -m tcp --dport 8080 -j ACCEPT', 'family': 'both'},
                      {'rule': '-p tcp -j INPUT', 'family': 'both'}])
    assert errors == [
        "pbx_firewall_custom_rules[1].rule: '-s 198.51.100.7/32 -p tcp -m tcp --dport 8080 -j ACCEPT': as an IPv6 "
        "rule (family: both): -s 198.51.100.7/32 is an IPv4 subnet, not IPv6; a rule that differs per family is "
        "given twice, with family: ipv4 and family: ipv6",
        "pbx_firewall_custom_rules[2].rule: '-p tcp -j INPUT': -j INPUT: a custom rule may not jump to a built-in "
        "chain (from PBX-FIREWALL, reached from INPUT, that is a loop the kernel refuses when the rules are "
        "loaded); valid targets: ACCEPT, DROP, REJECT, RETURN, LOG, NFLOG",
    ]


def test_what_the_controllers_restore_test_refuses_is_named(monkeypatch):
    monkeypatch.setattr(custom_rules, 'restore_test',
                        lambda rules: {(6, 0): 'ip6tables-restore v1.8.9: something Error occurred at line: 3'})
    errors = _errors(['-p tcp -m tcp --dport 22 -j ACCEPT', {'rule': '-p udp -j DROP', 'family': 'ipv6'}])
    assert errors == ["pbx_firewall_custom_rules[1].rule: '-p udp -j DROP': iptables-restore --test on the "
                      "controller refuses it as an IPv6 rule: ip6tables-restore v1.8.9: something Error occurred "
                      "at line: 3"]


class FakeRestore(object):
    """iptables-restore --test that refuses the rules holding BAD, one at a time, as the real one does."""

    def __init__(self, bad):
        self.bad = bad
        self.runs = []

    def __call__(self, argv, data):
        self.runs.append((argv, data))
        for number, line in enumerate(data.splitlines(), 1):
            if self.bad in line:
                return 2, ("%s v1.8.9 (nf_tables): Couldn't load match `%s'\nError occurred at line: %d\n"
                           "Try `%s -h' for more information.\n" % (argv[3], self.bad, number, argv[3]))
        return 0, ''


def test_restore_test_finds_every_refused_rule_and_leaves_out_set_matches():
    fake = FakeRestore('-m nosuch')
    rules = {4: ['-p tcp -j ACCEPT', '-m nosuch -j DROP', '-m set --match-set x src -j DROP', '-m nosuch --x -j DROP'],
             6: ['-p udp -j ACCEPT']}
    refused = custom_rules.restore_test(rules, runner=fake)
    assert refused == {
        (4, 1): "iptables-restore v1.8.9 (nf_tables): Couldn't load match `-m nosuch' Error occurred at line: 4",
        (4, 3): "iptables-restore v1.8.9 (nf_tables): Couldn't load match `-m nosuch' Error occurred at line: 4",
    }
    assert [argv for argv, _data in fake.runs] == [
        ['unshare', '--net', '--', 'iptables-restore', '--test']] * 3 + [
        ['unshare', '--net', '--', 'ip6tables-restore', '--test']]
    assert fake.runs[0][1] == ('*filter\n:PBX-FIREWALL - [0:0]\n-A PBX-FIREWALL -p tcp -j ACCEPT\n'
                               '-A PBX-FIREWALL -m nosuch -j DROP\n-A PBX-FIREWALL -m nosuch --x -j DROP\nCOMMIT\n')


@pytest.mark.parametrize('rc, err', [(1, 'unshare: unshare failed: Operation not permitted'),
                                     (1, 'iptables-restore: line 9 failed'),
                                     (4, 'iptables-restore v1.8.9: Could not fetch rule set generation id')])
def test_restore_test_gives_no_opinion_when_it_cannot_run_here(rc, err):
    assert custom_rules.restore_test({4: ['-j ACCEPT']}, runner=lambda argv, data: (rc, err)) is None
