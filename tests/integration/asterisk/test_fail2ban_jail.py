# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fail2ban's stock Asterisk jail against real password guessing (see conftest.py for the addresses).

The sid lab image has Asterisk log security events to /var/log/asterisk/security and
fail2ban's stock ``asterisk`` filter and jail read it (lab/image/asterisk/). A guess is a
REGISTER for extension 101 answering the digest challenge with a wrong password, one
at a time from the test's own phone: Asterisk answers 401 and logs
ChallengeResponseFailed. "Internet" (198.51.100.7) is an untrusted source allowed to
SIP; "Local" (the PBX's subnet, where 10.238.1.1 is) is ``never_block``, so the role puts
it in fail2ban's ``ignoreip``. The tests share one PBX and run in file order.
"""

from __future__ import annotations

import re
import time

from ansible_collections.pbxops.firewall.tests.integration.asterisk import _sip
from ansible_collections.pbxops.firewall.tests.integration.asterisk import _support as sup
from ansible_collections.pbxops.firewall.tests.integration.asterisk._support import wait_for

ROLE = 'pbxops.firewall.pbx_firewall'
JAIL = 'asterisk'
CHAINS = ('f2b-asterisk-udp', 'f2b-asterisk-tcp')
USER, PASSWORD = '101', 'lab-secret-101'
NETWORKS = [
    {'name': 'Local', 'subnet': [sup.SUBNET4, sup.SUBNET6], 'services': ['sip', 'ssh'], 'never_block': True},
    {'name': 'Internet', 'subnet': sup.OUTSIDE + '/32', 'services': ['sip']},
]
# the re-apply changes both outputs: a new network in the ruleset and in ignoreip
REAPPLIED = NETWORKS + [{'name': 'VPN', 'subnet': '10.238.5.0/24', 'services': ['sip'], 'never_block': True}]


def converge(ansible, pbx, nets, **host_vars):
    return ansible.wait(ansible.start([{'ansible.builtin.include_role': {'name': ROLE}}],
                                      pbx.host(pbx_firewall_networks=nets, **host_vars)), expect_rc=0)


def jail(pbx):
    """(maxretry, total failed, banned addresses) of the running asterisk jail."""
    status = pbx.sh('fail2ban-client status %s' % JAIL)
    total = int(re.search(r'Total failed:\s*(\d+)', status).group(1))
    banned = re.search(r'Banned IP list:\s*(.*)', status).group(1).split()
    return int(pbx.sh('fail2ban-client get %s maxretry' % JAIL).strip()), total, banned


def chain_sources(pbx):
    """{chain: [-s address]} of fail2ban's asterisk chains, as iptables lists them."""
    found = {}
    for chain in CHAINS:
        rules = pbx.sh('iptables -S %s 2>/dev/null || true' % chain, check=False)
        found[chain] = re.findall(r'-s (\S+)/32 ', rules)
    return found


def guess(phone, local, attempt):
    """One wrong-password REGISTER from a new socket on LOCAL: the final status, or None if unanswered."""
    caller = phone(local)
    caller.sock.settimeout(2.0)
    try:
        return caller.register(USER, 'wrong-%d' % attempt).status
    except TimeoutError:
        return None


def ignored(pbx, address):
    """How many times fail2ban's log says it ignored ADDRESS in the asterisk jail."""
    log = pbx.sh('cat /var/log/fail2ban.log 2>/dev/null || true', check=False)
    return len(re.findall(r'\[%s\] Ignore %s by ' % (JAIL, re.escape(address)), log))


def test_guesses_reach_asterisk_without_the_jail(ansible, pbx, phone):
    converge(ansible, pbx, NETWORKS)
    maxretry = jail(pbx)[0]
    assert phone(sup.OUTSIDE).register(USER, PASSWORD).status == 200     # the account works
    pbx.sh('fail2ban-client stop %s' % JAIL)
    try:
        answers = [guess(phone, sup.OUTSIDE, n) for n in range(maxretry + 2)]
        assert answers == [401] * (maxretry + 2), answers
        logged = pbx.sh('grep -c \'ChallengeResponseFailed.*IPV4/UDP/%s/\' /var/log/asterisk/security' % sup.OUTSIDE)
        assert int(logged) == maxretry + 2
    finally:
        # the baseline's lines must not count once the jail reads the log again
        pbx.sh(': > /var/log/asterisk/security && fail2ban-client reload')
        wait_for('the asterisk jail', lambda: pbx.sh('fail2ban-client status %s' % JAIL, check=False) != '')
    assert jail(pbx)[2] == []
    print('baseline without the jail: %d wrong passwords from %s, all answered 401' % (maxretry + 2, sup.OUTSIDE))


def test_an_untrusted_guesser_is_banned_within_maxretry(pbx, phone):
    maxretry, total, banned = jail(pbx)
    assert banned == [] and sup.OUTSIDE not in sum(chain_sources(pbx).values(), [])
    answered = 0
    for attempt in range(maxretry + 3):
        status = guess(phone, sup.OUTSIDE, attempt)
        if status is None:
            break
        assert status == 401, status
        answered += 1
        # one failure per guess, read by the jail before the next guess
        wait_for('fail2ban to count guess %d' % answered, lambda: jail(pbx)[1] >= total + answered)
        wait_for('a ban or none', lambda: answered < maxretry or sup.OUTSIDE in jail(pbx)[2], timeout=5)
    assert answered == maxretry, (answered, maxretry)
    assert sup.OUTSIDE in jail(pbx)[2]
    assert all(sup.OUTSIDE in sources for sources in chain_sources(pbx).values()), chain_sources(pbx)
    assert guess(phone, sup.OUTSIDE, 99) is None
    # the ban is for the guesser only
    assert phone(sup.GW4).options().status == 200
    print('untrusted guesser: banned after %d wrong passwords (maxretry %d)' % (answered, maxretry))


def test_the_ban_holds_across_a_reapply(ansible, pbx, phone):
    assert sup.OUTSIDE in jail(pbx)[2]
    results = converge(ansible, pbx, REAPPLIED)
    changed = [r for r in results if r.get('changed')]
    assert changed, 'the re-apply changed nothing'
    assert '10.238.5.0/24' in pbx.file('/etc/fail2ban/jail.d/pbx-firewall.local')
    assert sup.OUTSIDE in jail(pbx)[2]
    assert all(sup.OUTSIDE in sources for sources in chain_sources(pbx).values()), chain_sources(pbx)
    assert guess(phone, sup.OUTSIDE, 100) is None
    assert phone(sup.GW4).options().status == 200
    print('ban after a re-apply (%d changed tasks): held' % len(changed))


def test_a_never_block_guesser_is_never_banned(pbx, phone):
    maxretry = jail(pbx)[0]
    runs = maxretry + 3
    before = ignored(pbx, sup.GW4)
    answers = []
    for attempt in range(runs):
        answers.append(guess(phone, sup.GW4, attempt))
        # the jail read the failure and ignored it (ignoreip), before the next guess
        wait_for('fail2ban to ignore guess %d' % (attempt + 1), lambda: ignored(pbx, sup.GW4) >= before + attempt + 1)
    assert answers == [401] * runs, answers
    assert sup.GW4 not in jail(pbx)[2]
    assert sup.GW4 not in sum(chain_sources(pbx).values(), [])
    caller = _sip.Phone(sup.GW4, sup.PBX4)
    try:
        assert caller.register(USER, PASSWORD).status == 200
    finally:
        caller.close()
    print('never_block guesser: %d wrong passwords, all answered, never banned' % runs)


# the SIP guards' request budget for the last test, per second (the burst allows twice as many at once)
RATE_LIMIT = 5
SECOND_OUTSIDE = '198.51.100.8'


def burst(ask, count):
    """(answered, elapsed seconds) of COUNT back-to-back asks; an unanswered ask returns None."""
    started = time.monotonic()
    answers = [ask(n) for n in range(count)]
    return answers, time.monotonic() - started


def test_a_never_block_guesser_is_never_throttled_by_the_sip_guards(ansible, pbx, phone):
    """With the SIP rate limit on, an untrusted source's burst is throttled (the baseline: OPTIONS,
    which fail2ban does not count); the never_block network's guessing run at the same pace
    is answered in full and still not banned."""
    sup.run(['ip', 'addr', 'add', SECOND_OUTSIDE + '/32', 'dev', sup.NETWORK])
    try:
        nets = NETWORKS + [{'name': 'Internet 2', 'subnet': SECOND_OUTSIDE + '/32', 'services': ['sip']}]
        converge(ansible, pbx, nets, pbx_firewall_sip_rate_limit=RATE_LIMIT)
        caller = phone(SECOND_OUTSIDE)
        caller.sock.settimeout(0.3)

        def options(_n):
            try:
                return caller.options().status
            except TimeoutError:
                return None

        count = 8 * RATE_LIMIT
        answers, elapsed = burst(options, count)
        assert None in answers, 'the baseline was not throttled: %d OPTIONS in %.1f s' % (count, elapsed)
        print('baseline: %d of %d OPTIONS from %s answered in %.1f s (limit %d/s)'
              % (count - answers.count(None), count, SECOND_OUTSIDE, elapsed, RATE_LIMIT))

        guesses = 4 * RATE_LIMIT
        answers, elapsed = burst(lambda n: guess(phone, sup.GW4, 200 + n), guesses)
        # two requests per guess (the REGISTER and its answer to the challenge)
        assert 2 * guesses > RATE_LIMIT * (elapsed + 2), 'the run was too slow to meet the limit: %.1f s' % elapsed
        assert answers == [401] * guesses, answers
        assert sup.GW4 not in jail(pbx)[2]
        print('never_block guesser: %d wrong passwords (%d requests) in %.2f s, all answered, never banned'
              % (guesses, 2 * guesses, elapsed))
    finally:
        sup.run(['ip', 'addr', 'del', SECOND_OUTSIDE + '/32', 'dev', sup.NETWORK], check=False)
