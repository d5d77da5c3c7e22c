# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role on a Debian 12 host whose stock fail2ban fails its own configuration test.

The host is the lab's bookworm image (fail2ban 1.0.2) put back to Debian's stock fail2ban
configuration: the lab's jail.d/filter.d/fail2ban.d files removed, so the stock ``sshd``
jail (``jail.d/defaults-debian.conf``, backend auto) reads ``/var/log/auth.log``, and that
file removed (and sshd restarted without the lab's ``-E /var/log/auth.log``), as on a Debian 12
that logs to the journal only. fail2ban then cannot start.

The role must say what is wrong and still roll out: a warning with fail2ban's own error,
that the role's file is fine and the fix (``backend = systemd`` for sshd); the file written
with a note on top, fail2ban not reloaded; the firewall applied. Every rerun repeats the
warning and changes nothing; check mode changes nothing. After the fix the role rewrites
the file without the note and reloads fail2ban. The tests share one host and run in file
order.
"""

from __future__ import annotations

import ipaddress
import re

import pytest

from ansible_collections.pbxops.firewall.tests.integration.asterisk import _support as sup

ROLE = 'pbxops.firewall.pbx_firewall'
JAIL_FILE = '/etc/fail2ban/jail.d/pbx-firewall.local'
FIX_FILE = '/etc/fail2ban/jail.d/sshd-backend.local'
STOCK_ERROR = 'Have not found any log file for sshd jail'
VPN = '10.238.5.0/24'
NETWORKS = [
    {'name': 'Local', 'subnet': [sup.SUBNET4, sup.SUBNET6], 'services': ['sip', 'ssh'], 'never_block': True},
    {'name': 'Internet', 'subnet': sup.OUTSIDE + '/32', 'services': ['sip']},
]
WITH_VPN = NETWORKS + [{'name': 'VPN', 'subnet': VPN, 'services': ['sip'], 'never_block': True}]
# one task keeps the role's files; fail2ban's test runs inside it, before the jail.d file is written
FILES_TASK = 'Keep the fail2ban and Asterisk files'
RELOAD_TASK = 'Reload fail2ban and lift bans of never_block addresses'


def converge(ansible, host, nets, check=False, expect_rc=0):
    # no Asterisk on this host: the role's Asterisk part is off
    return ansible.wait(ansible.start([{'ansible.builtin.include_role': {'name': ROLE}}],
                                      host.host(pbx_firewall_networks=nets, pbx_firewall_asterisk=False),
                                      check=check), expect_rc=expect_rc)


def task(results, name):
    found = [r for r in results if r['_task'] == name]
    assert len(found) == 1, (name, [r['_task'] for r in results])
    return found[0]


def fail2ban(results):
    """The files task's report on the fail2ban part (verdict, reload, changed, files)."""
    return task(results, FILES_TASK)['parts']['fail2ban']


def warnings(result):
    """The warnings of a result as text (2.19+ records them as a WarningSummary repr)."""
    return ' '.join(str(w) for w in result['_warnings']).replace("\\'", "'")


def owned_state(host):
    """The role's file and the owned chains, as the host has them."""
    rules = host.sh('iptables-save | grep -v "^#" | grep PBX-FIREWALL || true', check=False)
    return host.file(JAIL_FILE), rules


def running(host):
    return host.sh('fail2ban-client ping >/dev/null 2>&1 && echo yes || echo no', check=False).strip() == 'yes'


def live_ignoreip(host):
    """What the running fail2ban ignores in its sshd jail, as networks ("|- ::1" lines)."""
    listed = re.findall(r'(?m)^\s*[|`]-\s*(\S+)', host.sh('fail2ban-client get sshd ignoreip'))
    return set(ipaddress.ip_network(item, strict=False) for item in listed)


def as_networks(*subnets):
    return set(ipaddress.ip_network(item) for item in subnets)


@pytest.fixture(scope='module')
def stock(debian12):
    """The Debian 12 host with Debian's stock fail2ban configuration, which fails its test."""
    # the lab's sshd logs to /var/log/auth.log (-E) and would create it at every login: Debian 12's
    # sshd logs to the journal (here: nowhere)
    debian12.sh('kill "$(cat /run/sshd.pid)" && while [ -e /run/sshd.pid ]; do sleep 0.1; done && /usr/sbin/sshd')
    debian12.sh('fail2ban-client -q stop || true; rm -f /etc/fail2ban/jail.d/lab.local /etc/fail2ban/filter.d/sshd.local '
                '/etc/fail2ban/fail2ban.d/lab.local /var/log/auth.log')
    return debian12


def test_the_stock_configuration_fails_its_own_test(stock):
    stock.sh('true')
    assert stock.file('/var/log/auth.log').strip() == 'ABSENT'
    assert stock.sh('ls /etc/fail2ban/jail.d').split() == ['defaults-debian.conf']
    assert stock.sh('cat /etc/fail2ban/jail.d/defaults-debian.conf').split() == ['[sshd]', 'enabled', '=', 'true']
    test = sup.run(['docker', 'exec', stock.container, 'fail2ban-client', '-t'], check=False)
    assert test.returncode != 0 and STOCK_ERROR in test.stderr, (test.stdout, test.stderr)
    assert not running(stock)


def test_check_mode_warns_and_changes_nothing(ansible, stock):
    before = owned_state(stock)
    results = converge(ansible, stock, NETWORKS, check=True)
    assert owned_state(stock) == before and before[0].strip() == 'ABSENT'
    assert fail2ban(results)['verdict'] == 'existing' and STOCK_ERROR in warnings(task(results, FILES_TASK))


def test_the_rollout_explains_writes_the_file_and_applies_the_firewall(ansible, stock):
    results = converge(ansible, stock, NETWORKS)
    check = fail2ban(results)
    text = warnings(task(results, FILES_TASK))
    for fragment in ("fail2ban's own configuration in /etc/fail2ban fails its configuration test even without "
                     "the role's file", STOCK_ERROR, "The role's file %s is fine" % JAIL_FILE,
                     'fail2ban is not reloaded', 'Debian 12', FIX_FILE, '"backend = systemd"',
                     'The firewall is applied'):
        assert fragment in text, (fragment, text)
    assert check['verdict'] == 'existing' and check['reload'] is False
    print('warning on a stock Debian 12: %s' % text)
    # the file is written (valid: same errors with and without it), with the note on top
    content = stock.file(JAIL_FILE)
    assert content.startswith('# NOT LOADED YET (pbxops.firewall):') and STOCK_ERROR in content
    assert 'ignoreip = 10.238.1.0/24 127.0.0.0/8 ::1/128 fd42:238:1::/64' in content
    assert check['changed'] and check['files'] == {JAIL_FILE: 'written'}
    # fail2ban is not reloaded into the failing configuration (it stays stopped)
    assert task(results, RELOAD_TASK)['_status'] == 'skipped'
    assert not running(stock)
    # the firewall part is applied
    rules = stock.sh('iptables-save')
    assert '-A INPUT -j PBX-FIREWALL' in rules and '"Local: allow sip,ssh"' in rules


def test_a_rerun_repeats_the_warning_and_changes_nothing(ansible, stock):
    before = owned_state(stock)
    results = converge(ansible, stock, NETWORKS)
    assert [r['_task'] for r in results if r.get('changed')] == []
    assert STOCK_ERROR in warnings(task(results, FILES_TASK))
    assert owned_state(stock) == before


def test_after_the_fix_the_role_converges_and_fail2ban_reloads(ansible, stock):
    # the fix the warning gives: sshd reads the journal
    stock.sh('printf "[sshd]\\nbackend = systemd\\n" > %s' % FIX_FILE)
    results = converge(ansible, stock, NETWORKS)
    check = fail2ban(results)
    assert (check['verdict'], check['reload'], task(results, FILES_TASK)['_warnings']) == ('ok', True, [])
    content = stock.file(JAIL_FILE)
    assert not content.startswith('#') or 'NOT LOADED YET' not in content
    assert 'ignoreip = 10.238.1.0/24 127.0.0.0/8 ::1/128 fd42:238:1::/64' in content
    assert check['changed'] and task(results, RELOAD_TASK)['_status'] == 'ok'
    assert sup.run(['docker', 'exec', stock.container, 'fail2ban-client', '-t'], check=False).returncode == 0
    again = converge(ansible, stock, NETWORKS)
    assert [r['_task'] for r in again if r.get('changed')] == []

    # This container has no journal for fail2ban to read: run it with the other fix, the log
    # file sshd's jail reads (rsyslog would write it), so that a running fail2ban is reloaded.
    stock.sh('rm %s && touch /var/log/auth.log && fail2ban-client -q start' % FIX_FILE)
    assert running(stock)
    pid = stock.sh('cat /var/run/fail2ban/fail2ban.pid').strip()
    assert live_ignoreip(stock) == as_networks('127.0.0.0/8', '::1/128', sup.SUBNET4, sup.SUBNET6)
    results = converge(ansible, stock, WITH_VPN)
    assert fail2ban(results)['verdict'] == 'ok'
    assert task(results, RELOAD_TASK)['_status'] == 'ok'
    assert live_ignoreip(stock) == as_networks('127.0.0.0/8', '::1/128', sup.SUBNET4, sup.SUBNET6, VPN)
    assert stock.sh('cat /var/run/fail2ban/fail2ban.pid').strip() == pid     # reloaded, not restarted
