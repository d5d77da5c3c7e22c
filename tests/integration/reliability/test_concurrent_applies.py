# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""20 pairs of concurrent applies on one host: two ansible-playbook runs started together.

Pairs alternate between two different rulesets and the same ruleset twice; half run
on the nft backend, half on legacy; the rulesets use ipsets that are created, swapped
in place (same name, new members) and destroyed, and foreign fail2ban/admin rules sit
in INPUT. After each pair: both runs succeeded without warnings (but the one that says a run
waited for the other's rollback window, as designed), the owned chains, ipsets and the single
jump are exactly one of the two desired rulesets, nothing else changed, and the changed flags
are the ones a serial order of the two runs gives.
"""

from __future__ import annotations

import re

import pytest

from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

PAIRS_PER_BACKEND = 10
WAITED = re.compile(r"waited \d+ s for the rollback window of another run on this host to close")

ESTABLISHED = ('-A PBX-FIREWALL -m conntrack --ctstate RELATED,ESTABLISHED '
               '-m comment --comment "pbx-firewall: established, related" -j ACCEPT')
DROP = '-A PBX-FIREWALL -m comment --comment "pbx-firewall: drop everything else" -j DROP'


def _ruleset(number):
    """Three rulesets: a shared set name with different members (swap), own sets (create/destroy)."""
    shared = {'name': 'pbxfw-shared', 'family': 'inet', 'maxelem': 65536,
              'entries': ['10.%d.0.0/16' % (10 + number), '10.%d.5.0/24 nomatch' % (10 + number), '192.0.2.%d' % number]}
    own = {'name': 'pbxfw-own-%d' % number, 'family': 'inet6', 'maxelem': 1024 * (number + 1),
           'entries': ['fd00:a%d::/64' % number, 'fd00:a%d::1' % number]}
    ipv4 = [ESTABLISHED,
            '-A PBX-FIREWALL -p udp -m udp --dport 5060 -m set --match-set pbxfw-shared src -j PBX-FW-SIP',
            '-A PBX-FIREWALL -s 192.168.%d.0/24 -p tcp -m tcp --dport 22 -j ACCEPT' % number,
            DROP,
            '-A PBX-FW-SIP -m comment --comment "ruleset %d" -j ACCEPT' % number]
    ipv6 = [ESTABLISHED,
            '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -m set --match-set pbxfw-own-%d src -j ACCEPT' % number,
            DROP] if number != 1 else []
    return {'ipv4': ipv4, 'ipv6': ipv6, 'ipsets': [shared] + ([own] if ipv6 else []),
            'jumps': [{'chain': 'INPUT', 'target': 'PBX-FIREWALL'}]}


RULESETS = [_ruleset(n) for n in range(3)]

FOREIGN = [
    '-N f2b-sshd', '-A f2b-sshd -s 10.99.0.7/32 -j REJECT --reject-with icmp-port-unreachable',
    '-A f2b-sshd -j RETURN', '-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd',
    '-A INPUT -s 10.30.0.1/32 -j ACCEPT',
]


def _current(ns, backend):
    matches = [n for n, rs in enumerate(RULESETS) if not sup.ruleset_mismatch(ns, backend, rs)]
    assert len(matches) <= 1
    return matches[0] if matches else None


@pytest.mark.parametrize('backend', ['nft', 'legacy'])
def test_concurrent_pairs_end_in_one_desired_state(netns, ansible, backend):
    for command in FOREIGN:
        netns.sh('iptables-%s -w %s' % (backend, command))
    netns.sh('ip6tables-%s -w -A INPUT -s fd00:99::/64 -j ACCEPT' % backend)
    foreign = {f: sup.foreign_part(sup.family_save(netns.name, backend, f)) for f in ('ipv4', 'ipv6')}
    other = 'legacy' if backend == 'nft' else 'nft'
    untouched = {f: sup.family_save(netns.name, other, f) for f in ('ipv4', 'ipv6')}

    state = None
    outcomes = []
    for pair in range(PAIRS_PER_BACKEND):
        candidates = [n for n in range(len(RULESETS)) if n != state]
        first, second = (candidates[0], candidates[1]) if pair % 2 == 0 else (candidates[pair // 2 % 2],) * 2
        runs = [ansible.start_local(netns, [{sup.MODULE: {'ruleset': RULESETS[n], 'backend': backend,
                                                          'persist': False, 'rollback_timeout': 30},
                                             'ignore_errors': True}])
                for n in (first, second)]
        results = [ansible.wait(run)[0] for run in runs]

        # no errors, no warnings, no rollback
        for result in results:
            assert result['_status'] == 'ok', (pair, result.get('msg'))
            assert result['rolled_back'] is False
            # the one warning a race may give: the later run waited for the earlier one's rollback
            # window (on a loaded machine that can pass the 1 s the warning starts at)
            assert [w for w in result['_warnings'] if not WAITED.search(w)] == [], result['_warnings']
        # exactly one of the two desired states, with one jump, placed after fail2ban's
        final = _current(netns.name, backend)
        assert final in (first, second), (pair, first, second, [sup.ruleset_mismatch(netns.name, backend, rs)
                                                                for rs in (RULESETS[first], RULESETS[second])])
        save = sup.family_save(netns.name, backend, 'ipv4')
        assert sup.filter_chains(save)['INPUT'] == [
            '-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd', '-A INPUT -j PBX-FIREWALL',
            '-A INPUT -s 10.30.0.1/32 -j ACCEPT']
        assert sup.ipsets(sup.ipset_save(netns.name), owned_only=False) == sup.expected_ipsets(RULESETS[final])
        for family in ('ipv4', 'ipv6'):
            assert sup.foreign_part(sup.family_save(netns.name, backend, family)) == foreign[family]
            assert sup.family_save(netns.name, other, family) == untouched[family]
        # the changed flags of a serial order: both change when the rulesets differ, one when equal
        changed = sorted(r['changed'] for r in results)
        assert changed == ([True, True] if first != second else [False, True]), (pair, changed)
        outcomes.append((first, second, final))
        state = final
    assert len(outcomes) == PAIRS_PER_BACKEND
    assert sum(1 for a, b, _f in outcomes if a != b) == PAIRS_PER_BACKEND // 2
