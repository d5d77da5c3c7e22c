# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""100 applies while a real fail2ban-server holds live bans in the same namespace.

fail2ban runs inside the test's network namespace (own socket, pid file, database and
log) with an ``iptables-multiport`` jail on a polled log file. Addresses are banned
before the applies and while they run (``banip`` and real log lines). One
ansible-playbook run loops 100 times over the module, alternating two compiled
rulesets so every apply changes the owned chains and ipsets. Afterwards: every ban is
still known to fail2ban and still in its ``f2b-`` chain, fail2ban's jump still comes
before ours, and fail2ban was never restarted (same PID, no restart in its log).
"""

from __future__ import annotations

import threading
import time

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

APPLIES = 100
JAIL_CHAIN = 'f2b-pbxrel'
F2B_JUMP = '-A INPUT -p udp -m multiport --dports 5060,5061 -j %s' % JAIL_CHAIN


def _rulesets():
    """Two real compiled policies that differ in rules and in ipset members (set names change)."""
    def networks(extra):
        sites = [{'name': 'site-%d' % i, 'subnet': '10.60.%d.0/24' % i, 'services': ['sip']}
                 for i in range(18 + extra)]
        return sites + [
            {'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['sip', 'ssh', 'web', 'icmp'],
             'never_block': True},
            {'name': 'Branch VPN', 'subnet': ['10.8.0.0/24', 'fd00:8::/64'], 'services': ['sip', 'web'],
             'block': ['ssh'] if extra else []},
            {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']},
        ]
    options = dict(sip_rate_limit=30, sip_scanner_agents=['friendly-scanner', 'sipvicious'])
    first = _policy.firewall_ruleset(networks(0), **options)
    second = _policy.firewall_ruleset(networks(1), **options)
    assert first['ipsets'] and second['ipsets'] and first != second
    assert {s['name'] for s in first['ipsets']} != {s['name'] for s in second['ipsets']}
    return first, second


def _f2b_rules(save):
    return sup.filter_chains(save).get(JAIL_CHAIN, [])


def test_hundred_applies_keep_every_ban_and_never_restart_fail2ban(netns, ansible, fail2ban):
    first, second = _rulesets()
    fail2ban.start()
    pid = fail2ban.pid()
    assert pid == fail2ban.proc.pid

    before_bans = ['10.250.0.%d' % n for n in range(1, 6)] + ['203.0.113.%d' % n for n in (7, 8)]
    fail2ban.ban(*before_bans)
    fail2ban.fail('10.250.1.1')                  # a ban fail2ban decides from its log
    deadline = time.time() + 15
    while '10.250.1.1' not in fail2ban.banned():
        assert time.time() < deadline, fail2ban.log.read_text()
        time.sleep(0.3)
    expected = set(before_bans) | {'10.250.1.1'}
    assert fail2ban.banned() == expected
    assert sup.filter_chains(netns.save('nft'))['INPUT'] == [F2B_JUMP]

    # more bans arrive while the applies run: fail2ban's iptables calls race our restores
    during = ['10.251.0.%d' % n for n in range(1, 13)]
    from_log = ['10.251.1.%d' % n for n in range(1, 4)]
    stop = threading.Event()
    errors = []

    def ban_while_applying():
        try:
            time.sleep(3)
            for index, address in enumerate(during):
                if stop.wait(2.5):
                    return
                fail2ban.ban(address)
                if index < len(from_log):
                    fail2ban.fail(from_log[index])
        except Exception as exc:   # reported by the test, not lost in the thread
            errors.append(exc)

    banner = threading.Thread(target=ban_while_applying, daemon=True)
    banner.start()
    try:
        results = ansible.local(netns, [
            {sup.MODULE: {'ruleset': '{{ pbxrel_rulesets[item % 2] }}', 'persist': False, 'rollback_timeout': 30},
             'vars': {'pbxrel_rulesets': [first, second]},
             'loop': '{{ range(%d) | list }}' % APPLIES},
            ansible.snapshot_task(),
        ])
    finally:
        stop.set()
        banner.join(timeout=30)
    assert not errors, errors
    loop, snap = results

    # every apply went through and changed the chains (alternating rulesets)
    assert loop['_status'] == 'ok', loop.get('msg', loop)
    items = loop['results']
    assert len(items) == APPLIES
    assert [i.get('failed', False) for i in items] == [False] * APPLIES, [i.get('msg') for i in items if i.get('failed')]
    assert [i['changed'] for i in items] == [True] * APPLIES
    assert [i['rolled_back'] for i in items] == [False] * APPLIES
    assert not [w for w in loop['_warnings'] if 'stored as' in w], loop['_warnings']

    # the owned state is the last ruleset applied (item 99 -> second), exactly
    assert sup.ruleset_mismatch(netns.name, 'nft', second) == []

    # no ban lost: fail2ban knows them, and its chain holds them
    expected |= set(during) | set(from_log)
    deadline = time.time() + 15
    while fail2ban.banned() != expected and time.time() < deadline:
        time.sleep(0.3)          # the last log-triggered ban may still be polled in
    assert fail2ban.banned() == expected
    save = sup.family_save(netns.name, 'nft', 'ipv4')
    rules = _f2b_rules(save)
    assert rules[-1] == '-A %s -j RETURN' % JAIL_CHAIN
    banned_in_chain = sorted(r.split()[3] for r in rules[:-1])
    assert banned_in_chain == sorted('%s/32' % a for a in expected), rules
    assert all(r.endswith('-j REJECT --reject-with icmp-port-unreachable') for r in rules[:-1]), rules
    assert ansible.state(snap)['nft4'].count(JAIL_CHAIN) == save.count(JAIL_CHAIN)

    # fail2ban's jump comes first, ours after it, one each
    inputs = sup.filter_chains(save)['INPUT']
    assert inputs == [F2B_JUMP, '-A INPUT -j PBX-FIREWALL'], inputs
    assert 'PBX-' not in sup.family_save(netns.name, 'legacy', 'ipv4')
    assert JAIL_CHAIN not in sup.family_save(netns.name, 'legacy', 'ipv4')

    # fail2ban was never restarted: same process, and its log shows one start, no stop/reload
    assert fail2ban.proc.poll() is None
    assert fail2ban.pid() == pid
    assert 'pbxrel' in fail2ban.client('status')
    log = fail2ban.log.read_text()
    assert log.count('Starting Fail2ban') == 1, log
    for sign in ('Stopping', 'Exiting Fail2ban', 'Reload', 'restart', 'Restart', 'Invariant check failed',
                 'sane environment', 'ERROR'):
        assert sign not in log, (sign, [line for line in log.splitlines() if sign in line])
    bans_logged = {line.rsplit(' ', 1)[1] for line in log.splitlines() if '] Ban ' in line}
    assert bans_logged == expected
    assert '] Unban ' not in log
