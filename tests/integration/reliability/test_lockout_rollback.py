# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""10 applies that cut the controller off, over SSH, each rolled back by the host itself.

The lockout check is off in these applies (``lockout_check: false``): it would refuse them
before any change, and this test is about the rollback behind it.

Five PBX hosts, each an sshd in its own network namespace, are driven by one
ansible-playbook run (forks: the five hosts in parallel, as a fleet rollout would),
two lock-outs per host with ``rollback_timeout: 5``. The lock-outs are realistic
mistakes: the controller's network explicitly blocked for ssh, the controller's
network forgotten (final drop), an admin ipset that misses the controller, and a
hand-written drop of new connections from it. Persistence is on, so the boot files
must come back too.

A poller per host reads ``iptables-save`` in the namespace every 0.1 s while the
playbook runs; from it: the time from the apply (the lock-out rules appear) to the
restore (the previous rules are back) is at most timeout + 5 s, and no other state is
ever seen (atomic apply and revert). Afterwards every host takes a brand-new SSH
login, its owned state, ipsets and boot files are exactly what they were.
"""

from __future__ import annotations

import json
import os
import threading
import time

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

HOSTS = 5
ROUNDS = 2
TIMEOUT = 5
RUN_DIR = '/run/pbx-firewall'
OFFICE = {'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['ssh', 'sip', 'web'], 'never_block': True}
INTERNET = {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']}


def _allow(host):
    return _policy.firewall_ruleset([
        OFFICE, INTERNET, {'name': 'Controller', 'subnet': host.controller, 'services': ['ssh', 'web']}])


def _lockouts(host, index):
    """ROUNDS lock-out rulesets for the host with the given index (variants rotate over the fleet)."""
    controller = host.controller
    established = ('-A PBX-FIREWALL -m conntrack --ctstate RELATED,ESTABLISHED '
                   '-m comment --comment "pbx-firewall: established, related" -j ACCEPT')
    variants = [
        # the controller's network says block: [ssh]
        lambda: _policy.firewall_ruleset([OFFICE, INTERNET, {'name': 'Controller', 'subnet': controller,
                                                             'services': ['web'], 'block': ['ssh']}]),
        # the controller's network was forgotten: the final drop catches it
        lambda: _policy.firewall_ruleset([OFFICE, INTERNET]),
        # an admin set that misses the controller (the set is created, then must be gone again)
        lambda: {'ipv4': [established,
                          '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -m set --match-set pbxfw-admins-lock src -j ACCEPT',
                          '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -j DROP'],
                 'ipv6': [],
                 'ipsets': [{'name': 'pbxfw-admins-lock', 'family': 'inet', 'maxelem': 65536,
                             'entries': ['192.168.10.0/24', '10.0.0.0/8', '10.213.0.0/16 nomatch']}]},
        # a hand-written drop of new connections from the controller
        lambda: {'ipv4': [established,
                          '-A PBX-FIREWALL -s %s/32 -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j DROP'
                          % controller],
                 'ipv6': []},
    ]
    return [variants[(index * ROUNDS + r) % len(variants)]() for r in range(ROUNDS)]


class Poller(threading.Thread):
    """Classifies the host's owned IPv4 state every 0.1 s: 'allow', 'lockout-N' or 'other'."""

    def __init__(self, host, known):
        super().__init__(daemon=True)
        self.host = host
        self.known = known          # [(label, {chain: rules})]
        self.seen = []              # [(monotonic time, label)] on every change of label
        self.others = []
        self.stop = threading.Event()

    def classify(self):
        have = sup.owned_chains(sup.family_save(self.host.ns, 'nft', 'ipv4'))
        for label, want in self.known:
            if have == want:
                return label
        self.others.append(have)
        return 'other'

    def run(self):
        while not self.stop.is_set():
            now = time.monotonic()
            label = self.classify()
            if not self.seen or self.seen[-1][1] != label:
                self.seen.append((now, label))
            self.stop.wait(0.1)


def _rollback_windows(seen, lockout_labels):
    """[(label, seconds from its apply to the restore)] from a poller's history."""
    windows = []
    for index, (when, label) in enumerate(seen):
        if label in lockout_labels:
            restored = next((t for t, l in seen[index + 1:] if l == 'allow'), None)
            windows.append((label, None if restored is None else restored - when))
    return windows


def test_ten_lockouts_are_rolled_back_by_the_hosts(ssh_fleet, playbook, tmp_path):
    fleet = ssh_fleet(HOSTS)
    allow, lockouts, inventory = {}, {}, {}
    for index, host in enumerate(fleet):
        allow[host.name] = _allow(host)
        lockouts[host.name] = _lockouts(host, index)
        inventory[host.name] = host.inventory_vars(
            pbxrel_allow=allow[host.name], pbxrel_lockouts=lockouts[host.name],
            pbxrel_persist_dir=str(tmp_path / host.name / 'persist'),
            pbxrel_unit_dir=str(tmp_path / host.name / 'systemd'))
    # lockout_check: false. The lockout check (the first line of defence) refuses every one of
    # these lock-outs before it touches the host (tests/integration/plugins/modules/
    # test_lockout_check.py); it is off here so that the second line of defence, the host's
    # own rollback, is what this test exercises.
    args = {'persist': True, 'persist_dir': '{{ pbxrel_persist_dir }}', 'unit_dir': '{{ pbxrel_unit_dir }}',
            'rollback_timeout': TIMEOUT, 'backend': 'nft', 'lockout_check': False}

    # the starting point: a policy that keeps the controller in, confirmed over a new connection
    setup = playbook.run([{'hosts': 'all', 'gather_facts': False, 'tasks': [
        {'name': 'allow', sup.MODULE: dict(args, ruleset='{{ pbxrel_allow }}')}]}], inventory)
    assert setup.rc == 0, setup.output
    for host in fleet:
        result = setup.one(host.name, 'allow')['result']
        assert result['changed'] is True and result['rolled_back'] is False, result
        assert sup.ruleset_mismatch(host.ns, 'nft', allow[host.name]) == []
    boot_files = {h.name: sup.tree_digests(tmp_path / h.name) for h in fleet}
    sets_before = {h.name: sup.ipset_save(h.ns) for h in fleet}
    assert all(len(files) == 6 for files in boot_files.values()), boot_files

    pollers = {}
    for host in fleet:
        known = [('allow', sup.expected_owned(allow[host.name]['ipv4']))]
        known += [('lockout-%d' % r, sup.expected_owned(rs['ipv4'])) for r, rs in enumerate(lockouts[host.name])]
        pollers[host.name] = Poller(host, known)
        pollers[host.name].start()

    tasks = []
    for r in range(ROUNDS):
        tasks += [
            {'name': 'lockout %d' % r, sup.MODULE: dict(args, ruleset='{{ pbxrel_lockouts[%d] }}' % r),
             'ignore_errors': True},
            {'name': 'after lockout %d' % r, 'ansible.builtin.command': 'iptables-nft-save', 'changed_when': False},
        ]
    try:
        run = playbook.run([{'hosts': 'all', 'gather_facts': False, 'tasks': tasks}], inventory)
    finally:
        for poller in pollers.values():
            poller.stop.set()
            poller.join(timeout=10)

    tokens = []
    try:
        for host in fleet:
            for r in range(ROUNDS):
                result = run.one(host.name, 'lockout %d' % r)
                outcome = result['result']
                tokens.append(outcome.get('rollback_token'))
                # the task fails and says the host restored the previous ruleset by itself
                assert result['status'] == 'failed', outcome
                assert outcome['rolled_back'] is True, outcome
                assert outcome['rollback_verified'] is True, outcome
                assert 'restored the previous ruleset by itself after rollback_timeout=%ds' % TIMEOUT in outcome['msg']
                assert 'rolled_back: true' in outcome['msg']
                # the next task logged in again and found the previous rules
                after = run.one(host.name, 'after lockout %d' % r)
                assert after['status'] == 'ok', after
                assert sup.owned_chains(after['result']['stdout']) == sup.expected_owned(allow[host.name]['ipv4'])
                # the host's own timing: the restore finished within timeout + 5 s of the apply's end
                with open(os.path.join(RUN_DIR, 'rollback-%s.window' % outcome['rollback_token'])) as handle:
                    window = json.load(handle)
                with open(outcome['rollback_report']) as handle:
                    report = json.load(handle)
                assert report['ok'] is True, report
                applied_at = window['deadline'] - TIMEOUT
                assert TIMEOUT <= report['time'] - applied_at <= TIMEOUT + 5, (report['time'], applied_at)

            # seen from outside: every lock-out was replaced by the previous rules within timeout + 5 s,
            # and nothing but the two complete states was ever visible
            poller = pollers[host.name]
            assert poller.others == [], poller.others[:3]
            windows = _rollback_windows(poller.seen, {'lockout-%d' % r for r in range(ROUNDS)})
            assert [label for label, _s in windows] == ['lockout-%d' % r for r in range(ROUNDS)], poller.seen
            for label, seconds in windows:
                assert seconds is not None and TIMEOUT - 0.5 <= seconds <= TIMEOUT + 5, (host.name, label, seconds)
            assert poller.seen[-1][1] == 'allow'

            # reachable: a brand-new SSH login works, and everything owned is as before
            login = host.login('iptables-nft-save')
            assert login.returncode == 0, login.stderr
            assert sup.ruleset_mismatch(host.ns, 'nft', allow[host.name]) == []
            assert sup.ipset_save(host.ns) == sets_before[host.name]
            assert sup.tree_digests(tmp_path / host.name) == boot_files[host.name]
    finally:
        for token in tokens:
            for name in ('rolled-back-%s' % token, 'rollback-%s.json' % token, 'rollback-%s.window' % token):
                if token and os.path.exists(os.path.join(RUN_DIR, name)):
                    os.unlink(os.path.join(RUN_DIR, name))
