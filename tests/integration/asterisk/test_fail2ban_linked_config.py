# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role on a Debian 12 host whose fail2ban ``jail.d`` is a symbolic link, with fail2ban running.

The lab's bookworm image (fail2ban 1.0.2 running its ``sshd`` jail) with ``/etc/fail2ban/jail.d``
moved to ``/srv/fail2ban-site/jail.d`` and a link in its place, as where a site keeps
its fail2ban configuration in a directory of its own. fail2ban's configuration test runs on a
scratch copy; it must never write through the link: the drift playbook (check mode) leaves every
file byte-identical, and a real run writes the role's file (through the link, as the
administrator's layout says), sees the change and reloads fail2ban, whose
running jail then ignores the new subnet. The tests share one host and run in file order.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess

import pytest

from ansible_collections.pbxops.firewall.tests.integration.asterisk import _support as sup

ROLE = 'pbxops.firewall.pbx_firewall'
SITE = '/srv/fail2ban-site'
LIVE_FILE = SITE + '/jail.d/pbx-firewall.local'
LIVE_FILE_AS_NAMED = '/etc/fail2ban/jail.d/pbx-firewall.local'     # the path the role is given
NETWORKS = [
    {'name': 'Local', 'subnet': [sup.SUBNET4, sup.SUBNET6], 'services': ['sip', 'ssh'], 'never_block': True},
    {'name': 'Internet', 'subnet': sup.OUTSIDE + '/32', 'services': ['sip']},
]
VPN = '10.238.5.0/24'
WITH_VPN = NETWORKS + [{'name': 'VPN', 'subnet': VPN, 'services': ['sip'], 'never_block': True}]
HOST_VARS = {'pbx_firewall_asterisk': False}       # no Asterisk on this host
FILES_TASK = 'Keep the fail2ban and Asterisk files'
RELOAD_TASK = 'Reload fail2ban and lift bans of never_block addresses'


def converge(ansible, host, nets, expect_rc=0):
    return ansible.wait(ansible.start([{'ansible.builtin.include_role': {'name': ROLE}}],
                                      host.host(pbx_firewall_networks=nets, **HOST_VARS)), expect_rc=expect_rc)


def drift(ansible, host, nets):
    """The pbxops.firewall.drift playbook (the role in check mode) against the host."""
    run_dir, argv = ansible.prepare([], host.host(pbx_firewall_networks=nets, **HOST_VARS))
    argv[-1] = 'pbxops.firewall.drift'
    env = ansible.env({'PBXFW_RESULTS': str(run_dir / 'results.json')})
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=str(run_dir))
    return ansible.wait((proc, run_dir))


def task(results, name):
    found = [r for r in results if r['_task'] == name]
    assert len(found) == 1, (name, [r['_task'] for r in results])
    return found[0]


def fail2ban(results):
    """The files task's report on the fail2ban part (verdict, reload, changed, files)."""
    return task(results, FILES_TASK)['parts']['fail2ban']


def files(host):
    """Every entry under /etc/fail2ban and the site directory: type, link target, content digest."""
    return host.sh('find /etc/fail2ban %s -printf "%%p %%y %%l\\n" | sort; '
                   'find /etc/fail2ban/ %s -type f -exec sha256sum {} + | sort' % (SITE, SITE))


def live_ignoreip(host):
    listed = re.findall(r'(?m)^\s*[|`]-\s*(\S+)', host.sh('fail2ban-client get sshd ignoreip'))
    return set(ipaddress.ip_network(item, strict=False) for item in listed)


def as_networks(*subnets):
    return set(ipaddress.ip_network(item) for item in subnets)


def fail2ban_pid(host):
    return host.sh('cat /var/run/fail2ban/fail2ban.pid').strip()


@pytest.fixture(scope='module')
def linked(debian12):
    debian12.sh('mkdir -p %s && mv /etc/fail2ban/jail.d %s/jail.d && ln -s %s/jail.d /etc/fail2ban/jail.d'
                % (SITE, SITE, SITE))
    debian12.sh('fail2ban-client reload')
    assert debian12.sh('readlink /etc/fail2ban/jail.d').strip() == '%s/jail.d' % SITE
    return debian12


def test_the_role_writes_through_the_link_and_reloads(ansible, linked):
    pid = fail2ban_pid(linked)
    results = converge(ansible, linked, NETWORKS)
    assert fail2ban(results)['files'] == {LIVE_FILE_AS_NAMED: 'written'}
    assert task(results, RELOAD_TASK)['_status'] == 'ok'
    assert 'ignoreip = 10.238.1.0/24 127.0.0.0/8 ::1/128 fd42:238:1::/64' in linked.file(LIVE_FILE)
    assert linked.sh('readlink /etc/fail2ban/jail.d').strip() == '%s/jail.d' % SITE
    assert live_ignoreip(linked) == as_networks('127.0.0.0/8', '::1/128', sup.SUBNET4, sup.SUBNET6)
    assert fail2ban_pid(linked) == pid


def test_drift_writes_nothing_through_the_link(ansible, linked):
    before, ignored = files(linked), live_ignoreip(linked)
    results = drift(ansible, linked, WITH_VPN)
    check = fail2ban(results)
    assert (check['verdict'], check['changed']) == ('ok', True), check   # the drift it reports
    assert [r for r in results if r['_task'] == 'Fail when any host drifts'][0]['_status'] == 'failed'
    assert files(linked) == before
    assert live_ignoreip(linked) == ignored


def test_the_next_run_writes_the_change_and_reloads_fail2ban(ansible, linked):
    pid = fail2ban_pid(linked)
    results = converge(ansible, linked, WITH_VPN)
    assert fail2ban(results)['files'] == {LIVE_FILE_AS_NAMED: 'written'}
    assert task(results, RELOAD_TASK)['_status'] == 'ok'
    assert 'ignoreip = 10.238.1.0/24 10.238.5.0/24 127.0.0.0/8 ::1/128 fd42:238:1::/64' in linked.file(LIVE_FILE)
    assert live_ignoreip(linked) == as_networks('127.0.0.0/8', '::1/128', sup.SUBNET4, sup.SUBNET6, VPN)
    assert fail2ban_pid(linked) == pid                                     # reloaded, not restarted
    assert linked.sh('readlink /etc/fail2ban/jail.d').strip() == '%s/jail.d' % SITE
