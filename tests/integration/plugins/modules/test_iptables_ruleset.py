# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pbxops.firewall.iptables_ruleset against the real kernel, one network namespace per test.

Every test runs the module through ansible-playbook (so the action plugin is in play)
and checks the real state: iptables-save / ip6tables-save of both backends, ipset save
and the persistence files.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from ansible_collections.pbxops.firewall.tests.integration.reliability._support import ipsets as sets

MODULE = 'pbxops.firewall.iptables_ruleset'

ESTABLISHED = ('-A PBX-FIREWALL -m conntrack --ctstate RELATED,ESTABLISHED '
               '-m comment --comment "pbx-firewall: established, related" -j ACCEPT')
LOOPBACK = '-A PBX-FIREWALL -i lo -j ACCEPT'
SSH_OFFICE = ('-A PBX-FIREWALL -s 192.168.10.0/24 -p tcp -m tcp --dport 22 '
              '-m comment --comment "Office LAN: allow ssh" -j ACCEPT')
TO_SIP = '-A PBX-FIREWALL -p udp -m udp --dport 5060 -j PBX-FW-SIP'
WEB = ('-A PBX-FIREWALL -p tcp -m multiport --dports 80,443 -m set --match-set pbxfw-web-a4-0001 src '
       '-m comment --comment "web: allow 3 subnets" -j ACCEPT')
DROP = '-A PBX-FIREWALL -m comment --comment "pbx-firewall: drop everything else" -j DROP'
SIP_SET = '-A PBX-FW-SIP -m set --match-set pbxfw-sip-a4-0001 src -j ACCEPT'
SIP_DROP = '-A PBX-FW-SIP -j DROP'
RULES = [ESTABLISHED, LOOPBACK, SSH_OFFICE, TO_SIP, WEB, DROP, SIP_SET, SIP_DROP]

WEB_SET = {'name': 'pbxfw-web-a4-0001', 'family': 'inet', 'maxelem': 65536,
           'entries': ['10.0.0.0/8', '10.1.0.0/16 nomatch', '10.1.2.3']}
SIP_SET_DEF = {'name': 'pbxfw-sip-a4-0001', 'family': 'inet', 'maxelem': 65536,
               'entries': ['172.16.0.0/12', '192.168.50.7']}
RULESET = {'ipv4': RULES, 'ipv6': [], 'ipsets': [SIP_SET_DEF, WEB_SET],
           'jumps': [{'chain': 'INPUT', 'target': 'PBX-FIREWALL'}]}

# what fail2ban, Docker and an administrator leave in the filter table
FOREIGN_SETUP = [
    '-N f2b-sshd',
    '-A f2b-sshd -s 10.99.0.7/32 -j REJECT --reject-with icmp-port-unreachable',
    '-A f2b-sshd -j RETURN',
    '-N f2b-asterisk',
    '-A f2b-asterisk -j RETURN',
    '-A INPUT -s 10.20.0.0/16 -p tcp -m tcp --dport 8080 -j ACCEPT',
    '-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd',
    '-A INPUT -p udp -m multiport --dports 5060 -j f2b-asterisk',
    '-A INPUT -s 10.30.0.1/32 -j ACCEPT',
    '-N DOCKER-USER',
    '-A DOCKER-USER -j RETURN',
    '-A FORWARD -j DOCKER-USER',
]


@pytest.fixture(params=['nft', 'legacy'])
def backend(request):
    return request.param


def task(args, **keywords):
    """One task calling the module; a failure is recorded, not fatal for the play."""
    entry = {MODULE: args, 'ignore_errors': True}
    entry.update(keywords)
    return entry


def with_backend(ruleset, backend, **extra):
    args = {'ruleset': ruleset, 'backend': backend, 'persist': False}
    args.update(extra)
    return args


def iptables(ns, backend, commands, family='ipv4'):
    tool = '%s-%s' % ('iptables' if family == 'ipv4' else 'ip6tables', backend)
    for command in commands:
        ns.sh('%s -w %s' % (tool, command))


def chains(save):
    """{chain: [rules]} of the filter table in an iptables-save text."""
    found = {}
    table = None
    for line in save.splitlines():
        if line.startswith('*'):
            table = line[1:]
        elif table == 'filter' and line.startswith(':'):
            found.setdefault(line[1:].split()[0], [])
        elif table == 'filter' and line.startswith('-A '):
            found.setdefault(line.split()[1], []).append(line)
    return found


def owned(save):
    return {c: r for c, r in chains(save).items() if c == 'PBX-FIREWALL' or c.startswith('PBX-FW-')}


def is_jump(rule):
    return ' -j PBX-' in rule or ' -g PBX-' in rule


def foreign(save):
    """The save text without owned chains, owned rules and jumps into owned chains."""
    keep = []
    for line in save.splitlines():
        if line.startswith(':PBX-') or line.startswith('-A PBX-') or is_jump(line):
            continue
        keep.append(line)
    return '\n'.join(keep)


EXPECTED_OWNED = {
    'PBX-FIREWALL': [ESTABLISHED, LOOPBACK, SSH_OFFICE, TO_SIP, WEB, DROP],
    'PBX-FW-SIP': [SIP_SET, SIP_DROP],
}
EXPECTED_SETS = {
    'pbxfw-sip-a4-0001': ('hash:net', 'inet', 65536, sorted(['172.16.0.0/12', '192.168.50.7'])),
    'pbxfw-web-a4-0001': ('hash:net', 'inet', 65536, sorted(['10.0.0.0/8', '10.1.0.0/16 nomatch', '10.1.2.3'])),
}


def ok(result, changed):
    assert result['_status'] == 'ok', result.get('msg', result)
    assert result['changed'] is changed, result
    assert not [w for w in result['_warnings'] if 'stored as' in w], result['_warnings']
    return result


# ------------------------------------------------------------------------------------------
# apply, idempotence, check mode
# ------------------------------------------------------------------------------------------

def test_apply_is_exact_and_idempotent(netns, ansible, backend):
    args = with_backend(RULESET, backend)
    first, snap, second, check, snap2 = ansible.local(netns, [
        task(args), ansible.snapshot_task(), task(args), task(args, check_mode=True), ansible.snapshot_task()])
    ok(first, True)
    assert first['backend'] == backend
    assert first['rules'] == {'ipv4': 8, 'ipv6': 0}
    assert first['ipsets'] == 2
    assert first['rolled_back'] is False
    # confirmed by the action plugin: the watcher's markers are gone
    assert first['rollback_token'] and not [m for m in _markers() if first['rollback_token'] in m]
    assert 'rollback_token' not in second          # nothing changed, nothing armed
    state = ansible.state(snap)
    save = state[backend + '4']
    assert owned(save) == EXPECTED_OWNED
    assert chains(save)['INPUT'] == ['-A INPUT -j PBX-FIREWALL']
    assert sets(state['ipset']) == EXPECTED_SETS
    other = 'legacy' if backend == 'nft' else 'nft'
    assert 'PBX-' not in state[other + '4'] + state[other + '6'] + state[backend + '6']

    ok(second, False)
    ok(check, False)
    assert ansible.state(snap2) == state


def test_check_mode_predicts_first_apply_and_modification(netns, ansible, backend):
    args = with_backend(RULESET, backend)
    changed_rules = list(RULES)
    changed_rules[2] = SSH_OFFICE.replace('192.168.10.0/24', '192.168.11.0/24')
    web = dict(WEB_SET, entries=WEB_SET['entries'] + ['10.200.0.0/16'])
    modified = with_backend(dict(RULESET, ipv4=changed_rules, ipsets=[SIP_SET_DEF, web]), backend)
    snap0, check, snap1, _apply, snap2, check2, snap3 = ansible.local(netns, [
        ansible.snapshot_task(), task(args, check_mode=True, diff=True), ansible.snapshot_task(),
        task(args), ansible.snapshot_task(), task(modified, check_mode=True, diff=True), ansible.snapshot_task()])

    ok(check, True)
    assert ansible.state(snap1) == ansible.state(snap0)
    diff = check['diff']
    assert ESTABLISHED in diff['after'] and ESTABLISHED not in diff['before']
    assert '-A INPUT -j PBX-FIREWALL  # position 1 in INPUT' in diff['after']
    assert 'add pbxfw-web-a4-0001 10.1.0.0/16 nomatch' in diff['after']
    assert 'pbxfw-web' not in diff['before']

    ok(_apply, True)
    ok(check2, True)
    assert ansible.state(snap3) == ansible.state(snap2)
    diff = check2['diff']
    assert SSH_OFFICE in diff['before'] and SSH_OFFICE not in diff['after']
    assert changed_rules[2] in diff['after']
    assert 'add pbxfw-web-a4-0001 10.200.0.0/16' in diff['after']
    assert 'add pbxfw-web-a4-0001 10.200.0.0/16' not in diff['before']


# ------------------------------------------------------------------------------------------
# coexistence with fail2ban, Docker and the administrator
# ------------------------------------------------------------------------------------------

def test_foreign_rules_survive_and_jump_follows_fail2ban(netns, ansible, backend):
    iptables(netns, backend, FOREIGN_SETUP)
    before = netns.save(backend)
    ruleset = dict(RULESET, jumps=[{'chain': 'INPUT', 'target': 'PBX-FIREWALL'},
                                   {'chain': 'DOCKER-USER', 'target': 'PBX-FIREWALL'}])
    args = with_backend(ruleset, backend)
    ipt = 'iptables-%s -w ' % backend
    results = ansible.local(netns, [
        task(args), ansible.snapshot_task(),
        # fail2ban restarts and puts its jump first again: ours is still after every f2b jump
        ansible.shell_task(ipt + '-D INPUT -p tcp -m multiport --dports 22 -j f2b-sshd && '
                           + ipt + '-I INPUT 1 -p tcp -m multiport --dports 22 -j f2b-sshd'),
        ansible.snapshot_task(), task(args), ansible.snapshot_task(),
        # a new fail2ban jump lands after ours, and a stray duplicate sits first
        ansible.shell_task(ipt + '-N f2b-recidive && ' + ipt + '-A f2b-recidive -j RETURN && '
                           + ipt + '-A INPUT -j f2b-recidive && ' + ipt + '-I INPUT 1 -j PBX-FIREWALL'),
        task(args), ansible.snapshot_task(),
    ])
    first, snap1, _restart, snap2, unmoved, snap3, _recidive, moved, snap4 = results

    ok(first, True)
    save = ansible.state(snap1)[backend + '4']
    assert foreign(save) == foreign(before) == before.strip('\n')
    assert owned(save) == EXPECTED_OWNED
    assert chains(save)['INPUT'] == [
        '-A INPUT -s 10.20.0.0/16 -p tcp -m tcp --dport 8080 -j ACCEPT',
        '-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd',
        '-A INPUT -p udp -m multiport --dports 5060 -j f2b-asterisk',
        '-A INPUT -j PBX-FIREWALL',
        '-A INPUT -s 10.30.0.1/32 -j ACCEPT',
    ]
    assert chains(save)['DOCKER-USER'] == ['-A DOCKER-USER -j PBX-FIREWALL', '-A DOCKER-USER -j RETURN']

    ok(unmoved, False)
    assert ansible.state(snap3) == ansible.state(snap2)

    ok(moved, True)
    save = ansible.state(snap4)[backend + '4']
    assert chains(save)['INPUT'] == [
        '-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd',
        '-A INPUT -s 10.20.0.0/16 -p tcp -m tcp --dport 8080 -j ACCEPT',
        '-A INPUT -p udp -m multiport --dports 5060 -j f2b-asterisk',
        '-A INPUT -s 10.30.0.1/32 -j ACCEPT',
        '-A INPUT -j f2b-recidive',
        '-A INPUT -j PBX-FIREWALL',
    ]
    assert chains(save)['f2b-sshd'] == chains(before)['f2b-sshd']
    assert chains(save)['DOCKER-USER'] == ['-A DOCKER-USER -j PBX-FIREWALL', '-A DOCKER-USER -j RETURN']


def test_order_only_change_is_detected(netns, ansible, backend):
    swapped = list(RULES)
    swapped[1], swapped[2] = swapped[2], swapped[1]
    args = with_backend(dict(RULESET, ipv4=swapped), backend)
    first, check, applied, again, snap = ansible.local(netns, [
        task(with_backend(RULESET, backend)), task(args, check_mode=True), task(args), task(args),
        ansible.snapshot_task()])
    ok(first, True)
    ok(check, True)
    ok(applied, True)
    ok(again, False)
    assert owned(ansible.state(snap)[backend + '4'])['PBX-FIREWALL'] == [
        ESTABLISHED, SSH_OFFICE, LOOPBACK, TO_SIP, WEB, DROP]


# ------------------------------------------------------------------------------------------
# ipsets
# ------------------------------------------------------------------------------------------

def test_ipsets_are_swapped_by_name_and_in_place(netns, ansible, backend):
    # the compiler renames a set whose members change: new set first, rules switch, old one goes
    renamed = dict(WEB_SET, name='pbxfw-web-a4-0002', entries=['10.0.0.0/8', '10.3.0.0/16 nomatch', '10.4.0.0/24'])
    rules = [r.replace('pbxfw-web-a4-0001', 'pbxfw-web-a4-0002') for r in RULES]
    rename = with_backend(dict(RULESET, ipv4=rules, ipsets=[SIP_SET_DEF, renamed]), backend)
    # a hand-written set that keeps its name gets its new members by ipset swap; rules stay
    sip = dict(SIP_SET_DEF, entries=['172.16.0.0/12', '192.168.50.8', '192.168.60.0/24 nomatch'], maxelem=1024)
    in_place = with_backend(dict(RULESET, ipv4=rules, ipsets=[sip, renamed]), backend)
    first, snap1, second, snap2, third, fourth, snap3 = ansible.local(netns, [
        task(with_backend(RULESET, backend)), ansible.snapshot_task(),
        task(rename), ansible.snapshot_task(),
        task(in_place), task(in_place), ansible.snapshot_task()])

    ok(first, True)
    assert sets(ansible.state(snap1)['ipset']) == EXPECTED_SETS

    ok(second, True)
    state = ansible.state(snap2)
    assert sets(state['ipset']) == {
        'pbxfw-sip-a4-0001': EXPECTED_SETS['pbxfw-sip-a4-0001'],
        'pbxfw-web-a4-0002': ('hash:net', 'inet', 65536, sorted(renamed['entries'])),
    }
    assert WEB.replace('0001', '0002') in owned(state[backend + '4'])['PBX-FIREWALL']

    ok(third, True)
    ok(fourth, False)
    final = ansible.state(snap3)
    assert final[backend + '4'] == state[backend + '4']
    current = sets(final['ipset'])
    assert current['pbxfw-sip-a4-0001'] == ('hash:net', 'inet', 1024, sorted(sip['entries']))
    assert sorted(current) == ['pbxfw-sip-a4-0001', 'pbxfw-web-a4-0002']   # no temporary set left


# ------------------------------------------------------------------------------------------
# failures
# ------------------------------------------------------------------------------------------

def test_bad_rules_fail_with_the_line_and_change_nothing(netns, ansible, backend):
    iptables(netns, backend, FOREIGN_SETUP)
    bad = '-A PBX-FIREWALL -p tcp -m tcp --dport 99999 -j ACCEPT'
    rules = [r.replace('pbxfw-sip-a4-0001', 'pbxfw-sip-a4-0009') for r in RULES]
    rules.insert(3, bad)
    new_set = dict(SIP_SET_DEF, name='pbxfw-sip-a4-0009')
    args = with_backend(dict(RULESET, ipv4=rules, ipsets=[new_set, WEB_SET]), backend)
    invalid = with_backend({'ipv4': [ESTABLISHED, '-A INPUT -j ACCEPT']}, backend)
    snap0, refused, snap1, first, snap2, rejected, snap3 = ansible.local(netns, [
        ansible.snapshot_task(), task(invalid), ansible.snapshot_task(),
        task(with_backend(RULESET, backend)), ansible.snapshot_task(), task(args), ansible.snapshot_task()])

    # a ruleset that breaks the contract fails before anything is read or written
    assert refused['_status'] == 'failed'
    assert refused['msg'] == ("ruleset.ipv4[1]: must start with '-A PBX-FIREWALL ' or '-A PBX-FW-<NAME> ' (the chains "
                              "the module owns), got '-A INPUT -j ACCEPT'")
    assert ansible.state(snap1) == ansible.state(snap0)

    # a rule iptables-restore --test rejects fails the task with the tool's message and the line
    ok(first, True)
    assert rejected['_status'] == 'failed'
    assert 'ruleset.ipv4[3]' in rejected['msg']
    assert bad in rejected['msg']
    assert "invalid port/service `99999'" in rejected['msg']
    assert 'nothing was applied' in rejected['msg']
    assert ansible.state(snap3) == ansible.state(snap2)    # including the new set: created, then removed


# ------------------------------------------------------------------------------------------
# IPv6
# ------------------------------------------------------------------------------------------

def test_ipv6_rules_are_applied_and_removed(netns, ansible, backend):
    v6 = [
        '-A PBX-FIREWALL -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
        '-A PBX-FIREWALL -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT',
        '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -m set --match-set pbxfw-ssh-a6-0001 src -j ACCEPT',
        '-A PBX-FIREWALL -j DROP',
    ]
    v6_set = {'name': 'pbxfw-ssh-a6-0001', 'family': 'inet6', 'maxelem': 65536,
              'entries': ['fd00:10::/64', 'fd00:10::1/128', 'FD00:10::/80 nomatch']}
    iptables(netns, backend, ['-A INPUT -s fd00:99::/64 -j ACCEPT'], family='ipv6')
    args = with_backend(dict(RULESET, ipv6=v6, ipsets=[SIP_SET_DEF, WEB_SET, v6_set]), backend)
    first, snap1, second, snap2 = ansible.local(netns, [
        task(args), ansible.snapshot_task(), task(with_backend(RULESET, backend)), ansible.snapshot_task()])
    ok(first, True)
    assert first['rules'] == {'ipv4': 8, 'ipv6': 4}
    state = ansible.state(snap1)
    save6 = state[backend + '6']
    assert owned(save6) == {'PBX-FIREWALL': v6}
    assert chains(save6)['INPUT'] == ['-A INPUT -j PBX-FIREWALL', '-A INPUT -s fd00:99::/64 -j ACCEPT']
    assert sets(state['ipset'])['pbxfw-ssh-a6-0001'] == (
        'hash:net', 'inet6', 65536, sorted(['fd00:10::/64', 'fd00:10::1', 'fd00:10::/80 nomatch']))

    # an empty ipv6 list removes the owned IPv6 chain, jump and set, and nothing else
    ok(second, True)
    state = ansible.state(snap2)
    assert owned(state[backend + '6']) == {}
    assert chains(state[backend + '6'])['INPUT'] == ['-A INPUT -s fd00:99::/64 -j ACCEPT']
    assert owned(state[backend + '4']) == EXPECTED_OWNED
    assert 'pbxfw-ssh-a6-0001' not in sets(state['ipset'])


# A private mount namespace whose /usr/sbin holds only iptables (nft) and ipset: a host
# without ip6tables. Nothing leaks out: unshare makes the mounts private.
WITHOUT_IP6TABLES = [
    'unshare', '-m', 'sh', '-ec',
    'stage=$(mktemp -d); cp /usr/sbin/xtables-nft-multi /usr/sbin/ipset "$stage"; '
    'mount -t tmpfs tmpfs /usr/sbin; cp "$stage"/* /usr/sbin; rm -r "$stage"; '
    'for name in iptables iptables-save iptables-restore iptables-nft iptables-nft-save iptables-nft-restore; '
    'do ln -s xtables-nft-multi /usr/sbin/$name; done; exec "$@"', 'sh',
]


def test_ipv6_rules_without_ip6tables_fail_clearly(netns, ansible):
    v6 = with_backend(dict(RULESET, ipv6=['-A PBX-FIREWALL -j ACCEPT']), 'auto')
    v4_only = with_backend(RULESET, 'auto')
    refused, applied = ansible.wait(ansible.start_local(netns, [task(v6), task(v4_only)], prefix=WITHOUT_IP6TABLES))
    assert refused['_status'] == 'failed'
    assert refused['msg'] == ('the ruleset has 1 IPv6 rules but ip6tables-restore/-save for the nft backend were not '
                              'found on the host; install ip6tables or leave ruleset.ipv6 empty')
    ok(applied, True)
    assert applied['backend'] == 'nft'
    assert owned(netns.save('nft')) == EXPECTED_OWNED
    assert 'PBX-' not in netns.save('nft', 'ipv6')


# ------------------------------------------------------------------------------------------
# state: absent
# ------------------------------------------------------------------------------------------

def test_absent_removes_exactly_what_is_owned(netns, ansible, backend, tmp_path):
    iptables(netns, backend, FOREIGN_SETUP)
    iptables(netns, backend, ['-A INPUT -s fd00:99::/64 -j ACCEPT'], family='ipv6')
    netns.sh('ipset create admin-blocklist hash:ip && ipset add admin-blocklist 10.66.0.1')
    before = netns.full_state()
    paths = {'persist_dir': str(tmp_path / 'etc'), 'unit_dir': str(tmp_path / 'systemd')}
    ruleset = dict(RULESET, ipv6=['-A PBX-FIREWALL -j ACCEPT'],
                   jumps=[{'chain': 'INPUT', 'target': 'PBX-FIREWALL'},
                          {'chain': 'DOCKER-USER', 'target': 'PBX-FIREWALL'}])
    absent = dict(state='absent', backend=backend, **paths)
    dropin = tmp_path / 'systemd' / 'docker.service.d' / 'pbx-firewall.conf'
    applied, snap1, dropin_applied, check, snap2, dropin_checked, first, second, snap3 = ansible.local(netns, [
        task(with_backend(ruleset, backend, persist=True, **paths)), ansible.snapshot_task(),
        ansible.shell_task('cat %s' % dropin),
        task(absent, check_mode=True), ansible.snapshot_task(), ansible.shell_task('cat %s' % dropin),
        task(absent), task(absent), ansible.snapshot_task()])
    ok(applied, True)
    assert any('DOCKER-USER does not exist' in w for w in applied['_warnings'])   # not in IPv6
    state = ansible.state(snap1)
    assert owned(state[backend + '6']) == {'PBX-FIREWALL': ['-A PBX-FIREWALL -j ACCEPT']}
    assert owned(state[backend + '4']) == EXPECTED_OWNED
    # a DOCKER-USER jump brings the docker.service drop-in that re-runs the restore script
    assert 'ExecStartPost=-%s' % (tmp_path / 'etc' / 'restore') in dropin_applied['stdout_lines']

    ok(check, True)
    assert ansible.state(snap2) == state
    assert dropin_checked['stdout'] == dropin_applied['stdout']

    ok(first, True)
    ok(second, False)
    after = ansible.state(snap3)
    for key in ('ipset', backend + '4', backend + '6'):
        assert after[key] == before[key]
    assert not os.path.exists(str(tmp_path / 'etc'))
    assert not os.path.lexists(str(tmp_path / 'systemd' / 'pbx-firewall.service'))
    assert not os.path.lexists(str(tmp_path / 'systemd' / 'multi-user.target.wants' / 'pbx-firewall.service'))
    assert not os.path.lexists(str(dropin.parent))
    # no empty directory the collection made is left behind
    assert os.listdir(str(tmp_path / 'systemd')) == []


# ------------------------------------------------------------------------------------------
# concurrency
# ------------------------------------------------------------------------------------------

def test_concurrent_applies_end_in_the_desired_state(netns, ansible, backend):
    iptables(netns, backend, FOREIGN_SETUP)
    args = with_backend(RULESET, backend)
    runs = [ansible.start_local(netns, [task(args)]) for _n in range(2)]
    results = [ansible.wait(run)[0] for run in runs]
    assert all(r['_status'] == 'ok' for r in results), results
    assert sorted(r['changed'] for r in results) == [False, True]
    save = netns.save(backend)
    assert owned(save) == EXPECTED_OWNED
    assert [r for r in chains(save)['INPUT'] if is_jump(r)] == ['-A INPUT -j PBX-FIREWALL']
    assert chains(save)['INPUT'].index('-A INPUT -j PBX-FIREWALL') == 3
    assert sets(netns.ipset_save()) == EXPECTED_SETS


# ------------------------------------------------------------------------------------------
# persistence
# ------------------------------------------------------------------------------------------

def test_persistence_files_restore_the_ruleset(netns, ansible, backend, tmp_path):
    iptables(netns, backend, FOREIGN_SETUP)
    persist_dir, unit_dir = tmp_path / 'etc', tmp_path / 'systemd'
    script = persist_dir / 'restore'
    args = with_backend(RULESET, backend, persist=True, persist_dir=str(persist_dir), unit_dir=str(unit_dir))
    ipt = 'iptables-%s -w ' % backend
    commands = ['-D INPUT -j PBX-FIREWALL', '-F PBX-FIREWALL', '-F PBX-FW-SIP', '-X PBX-FIREWALL', '-X PBX-FW-SIP']
    lose_everything = ' && '.join([ipt + c for c in commands]
                                  + ['ipset destroy pbxfw-web-a4-0001', 'ipset destroy pbxfw-sip-a4-0001'])
    first, snap1, _lose, snap2, _restore, snap3, again = ansible.local(netns, [
        task(args), ansible.snapshot_task(),
        # lose everything owned (as after a reboot), keep the foreign rules, run the script twice
        ansible.shell_task(lose_everything), ansible.snapshot_task(),
        ansible.shell_task('%s && %s' % (script, script)), ansible.snapshot_task(),
        task(args)])
    ok(first, True)

    rules_v4 = (persist_dir / 'rules.v4').read_text()
    assert '\n'.join(['*filter', ':PBX-FIREWALL - [0:0]', ':PBX-FW-SIP - [0:0]'] + RULES + ['COMMIT']) in rules_v4
    assert '*filter' not in (persist_dir / 'rules.v6').read_text()
    ipsets = (persist_dir / 'ipsets').read_text()
    assert 'create pbxfw-web-a4-0001 hash:net family inet maxelem 65536\n' in ipsets
    assert 'add pbxfw-web-a4-0001 10.1.0.0/16 nomatch\n' in ipsets
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.read_text().startswith('#!/bin/sh\n')
    assert 'iptables-%s-restore -w --noflush' % backend in script.read_text()
    unit = (unit_dir / 'pbx-firewall.service').read_text()
    for line in ('Type=oneshot', 'RemainAfterExit=yes', 'DefaultDependencies=no', 'Wants=network-pre.target',
                 'Before=network-pre.target fail2ban.service', 'After=netfilter-persistent.service',
                 'WantedBy=multi-user.target', 'ExecStart=%s' % script):
        assert line in unit.splitlines() or any(l.startswith(line) for l in unit.splitlines()), line
    link = unit_dir / 'multi-user.target.wants' / 'pbx-firewall.service'
    assert os.readlink(str(link)) == str(unit_dir / 'pbx-firewall.service')
    # no DOCKER-USER jump in this ruleset: no docker.service drop-in
    assert not (unit_dir / 'docker.service.d').exists()

    applied = ansible.state(snap1)
    lost = ansible.state(snap2)
    assert 'PBX-' not in lost[backend + '4'] and 'pbxfw-' not in lost['ipset']
    restored = ansible.state(snap3)
    for key in ('nft4', 'nft6', 'legacy4', 'legacy6'):
        assert restored[key] == applied[key]
    assert sets(restored['ipset']) == sets(applied['ipset']) == EXPECTED_SETS
    ok(again, False)


# ------------------------------------------------------------------------------------------
# backend detection
# ------------------------------------------------------------------------------------------

def test_auto_backend_follows_the_backend_that_holds_rules(netns, ansible):
    iptables(netns, 'legacy', ['-N f2b-sshd', '-A f2b-sshd -j RETURN', '-A INPUT -j f2b-sshd'])
    args = {'ruleset': RULESET, 'persist': False}
    result, = ansible.local(netns, [task(args)])
    ok(result, True)
    assert result['backend'] == 'legacy'
    assert chains(netns.save('legacy'))['INPUT'] == ['-A INPUT -j f2b-sshd', '-A INPUT -j PBX-FIREWALL']
    assert 'PBX-' not in netns.save('nft')


# ------------------------------------------------------------------------------------------
# rollback over SSH
# ------------------------------------------------------------------------------------------

def _markers(prefixes=('pending-', 'claimed-', 'rollback-', 'rolled-back-')):
    try:
        return {n for n in os.listdir('/run/pbx-firewall') if n.startswith(prefixes)}
    except OSError:
        return set()


def test_rollback_over_ssh(ssh_host, ansible, backend):
    allow = dict(RULESET, ipv4=[
        ESTABLISHED,
        '-A PBX-FIREWALL -s %s/32 -p tcp -m tcp --dport 22 -j ACCEPT' % ssh_host.controller,
        DROP,
    ], ipsets=[])
    # drops new connections from the controller; the running session would survive it
    lockout = dict(allow, ipv4=[
        ESTABLISHED,
        '-A PBX-FIREWALL -s %s/32 -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j DROP' % ssh_host.controller,
    ])
    timeout = 8
    # The lockout check (first line of defence) would refuse this apply before it touches the
    # host; it is off here so that the second line of defence, the rollback, is what is tested.
    confirmed, snap1, clock, result, snap2 = ansible.run([
        task(with_backend(allow, backend, rollback_timeout=timeout)), ansible.snapshot_task(),
        {'ansible.builtin.raw': 'date +%s.%N', 'changed_when': False},
        task(with_backend(lockout, backend, rollback_timeout=timeout, lockout_check=False)), ansible.snapshot_task(),
    ], ssh_host.inventory)

    # an apply that keeps the controller reachable is confirmed over a new connection
    ok(confirmed, True)
    assert confirmed['rolled_back'] is False
    assert confirmed['lockout_check']['checked'] is True, confirmed['lockout_check']
    assert confirmed['lockout_check']['verdict']['target'] == 'ACCEPT'
    assert result['lockout_check'] == {'checked': False, 'note': 'lockout_check is false'}
    token = confirmed['rollback_token']
    assert token and not [m for m in _markers() if token in m]
    kept = ansible.state(snap1)
    assert owned(kept[backend + '4'])['PBX-FIREWALL'] == allow['ipv4']

    # an apply that cuts the controller off is rolled back by the host itself
    assert result['_status'] == 'failed', result
    assert result['rolled_back'] is True
    assert result['rollback_verified'] is True
    assert 'connection to the host was lost after the apply' in result['msg']
    assert 'restored the previous ruleset' in result['msg']
    assert ansible.state(snap2) == kept      # read over SSH again: the host is reachable
    assert ssh_host.netns.save(backend) == kept[backend + '4']
    assert ssh_host.reachable()
    token = result['rollback_token']
    assert result['rollback_report'] == '/run/pbx-firewall/rolled-back-%s' % token
    with open(result['rollback_report']) as handle:
        report = json.load(handle)
    assert report['ok'] is True, report
    # the previous rules, then the mark that every rule's counters count from the revert on
    restore, reset = [step['argv'][0] for step in report['results']]
    assert restore == '/usr/sbin/iptables-%s-restore' % backend and os.path.basename(reset) == 'sh'
    assert report['time'] - float(clock['stdout'].strip()) <= timeout + 5
    for name in ('rolled-back-%s' % token, 'rollback-%s.json' % token, 'rollback-%s.window' % token):
        os.unlink(os.path.join('/run/pbx-firewall', name))
    assert not [m for m in _markers() if token in m]


def test_module_without_action_plugin_is_not_armed(netns, backend):
    """Direct module execution (no action plugin, no token) applies without a watcher."""
    payload = json.dumps({'ANSIBLE_MODULE_ARGS': with_backend(RULESET, backend, rollback_timeout=5)})
    proc = subprocess.run(netns.argv(sys.executable, '-m', 'ansible_collections.pbxops.firewall.plugins.modules'
                                     '.iptables_ruleset'), input=payload, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False)
    result = json.loads(proc.stdout)
    assert result['changed'] is True, result
    assert 'without its action plugin' in json.dumps(result.get('warnings'))
    assert '_pbxfw_rollback' not in result
    assert owned(netns.save(backend)) == EXPECTED_OWNED


# ------------------------------------------------------------------------------------------
# hostile input on the host side
# ------------------------------------------------------------------------------------------

def raw_save(ns, backend):
    """iptables-save bytes, lines split at b'\\n' only, without the timestamped comments."""
    out = subprocess.run(ns.argv('iptables-%s-save' % backend), stdout=subprocess.PIPE, check=True).stdout
    return [line for line in out.split(b'\n') if not line.startswith((b'# Generated by', b'# Completed on'))]


def foreign_lines(lines):
    return [line for line in lines if not line.startswith((b':PBX-', b'-A PBX-'))
            and b' -j PBX-' not in line and not line.startswith(b':') and line != b'']


def test_foreign_rule_with_a_line_separator_never_stops_the_collection(netns, ansible, backend):
    # U+2028 (and U+0085) in a foreign comment: str.splitlines() would cut the rule in two
    comment = 'admin\u2028rule\u0085here'
    netns.sh("iptables-%s -w -A INPUT -s 10.20.0.1/32 -m comment --comment \"$(printf 'admin\\342\\200\\250rule"
             "\\302\\205here')\" -j ACCEPT" % backend)
    before = raw_save(netns, backend)
    odd = [line for line in before if comment.encode('utf-8') in line]
    assert len(odd) == 1, before
    args = with_backend(RULESET, backend)
    absent = {'state': 'absent', 'backend': backend, 'persist': False}
    for step, (task_args, changed) in enumerate([(args, True), (args, False), (absent, True), (absent, False)]):
        result, = ansible.local(netns, [task(task_args)])
        ok(result, changed)
        save = raw_save(netns, backend)
        assert foreign_lines(save) == foreign_lines(before), step
        if step < 2:
            assert owned(b'\n'.join(save).decode('utf-8')) == EXPECTED_OWNED
            input_rules = [line for line in save if line.startswith(b'-A INPUT ')]
            assert input_rules == [b'-A INPUT -j PBX-FIREWALL', odd[0]]
    assert raw_save(netns, backend) == before


BAD_JUMPS = ['f2b-sshd', 'OUTPUT', 'FORWARD', 'INPUT\n']


def run_module(ns, args):
    """The module run directly (no action plugin), as a host would run it; its JSON result."""
    payload = json.dumps({'ANSIBLE_MODULE_ARGS': args})
    proc = subprocess.run(ns.argv(sys.executable, '-m', 'ansible_collections.pbxops.firewall.plugins.modules'
                                  '.iptables_ruleset'), input=payload, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False)
    return json.loads(proc.stdout)


@pytest.mark.parametrize('chain', BAD_JUMPS, ids=[repr(c) for c in BAD_JUMPS])
def test_jumps_from_chains_the_collection_does_not_hook_are_refused(netns, backend, chain):
    iptables(netns, backend, FOREIGN_SETUP)
    assert run_module(netns, with_backend(RULESET, backend, rollback_timeout=0))['changed'] is True
    before = raw_save(netns, backend), netns.ipset_save()
    bad = dict(RULESET, jumps=[{'chain': 'INPUT', 'target': 'PBX-FIREWALL'}, {'chain': chain, 'target': 'PBX-FIREWALL'}])
    result = run_module(netns, with_backend(bad, backend, rollback_timeout=0))
    assert result.get('failed') is True, result
    assert result['msg'] == ('ruleset.jumps[1].chain: a jump into an owned chain comes only from INPUT or DOCKER-USER '
                             '(DOCKER-USER in Docker-host mode), got %r' % chain)
    assert (raw_save(netns, backend), netns.ipset_save()) == before


# A private mount namespace with an empty tmpfs on /run: every file a run creates there shows.
PRIVATE_RUN = ['unshare', '-m', 'sh', '-ec', 'mount -t tmpfs tmpfs /run; exec "$@"', 'sh']


def test_check_mode_creates_no_file_on_the_host(netns, ansible, backend, tmp_path):
    paths = {'persist_dir': str(tmp_path / 'etc' / 'pbx-firewall'), 'unit_dir': str(tmp_path / 'systemd')}
    args = with_backend(RULESET, backend, persist=True, **paths)
    # everything below /run and whatever exists of the persistence directories
    listing = {'ansible.builtin.raw': '{ find /run -mindepth 1; find %s %s 2>/dev/null; true; } | sort'
               % (tmp_path / 'etc', tmp_path / 'systemd'), 'changed_when': False}
    check, files_after_check, snap, applied, files_after_apply = ansible.wait(ansible.start_local(netns, [
        task(args, check_mode=True, diff=True), listing, ansible.snapshot_task(), task(args), listing],
        prefix=PRIVATE_RUN))
    ok(check, True)
    assert files_after_check['stdout'] == ''           # no lock file, no run or persistence directory
    assert 'PBX-' not in ansible.state(snap)[backend + '4']
    # the same listing sees what a real run creates
    ok(applied, True)
    assert '/run/pbx-firewall.lock' in files_after_apply['stdout_lines']
    assert str(tmp_path / 'etc' / 'pbx-firewall' / 'restore') in files_after_apply['stdout_lines']


def test_the_rollback_token_is_internal(netns, ansible):
    """Not a documented option: a task cannot set it, under the old name or the internal one."""
    args = with_backend(RULESET, 'nft')
    snap0, old_name, internal, snap1 = ansible.local(netns, [
        ansible.snapshot_task(), task(dict(args, rollback_token='abc')),
        task(dict(args, _pbxfw_rollback_token='abc')), ansible.snapshot_task()])
    assert old_name['_status'] == internal['_status'] == 'failed'
    assert old_name['msg'] == 'rollback_token is internal: the action plugin sets it'
    assert internal['msg'] == '_pbxfw_rollback_token is internal: the action plugin sets it'
    assert ansible.state(snap1) == ansible.state(snap0)
    # run without the action plugin, the module does not know the old option at all
    result = run_module(netns, dict(args, rollback_token='abc'))
    assert result.get('failed') is True and 'rollback_token' in result['msg']
    assert 'PBX-' not in netns.save('nft')
