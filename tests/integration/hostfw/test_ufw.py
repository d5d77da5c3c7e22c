# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ufw 0.36.2 (Debian 12) next to the PBX firewall, with real traffic.

The PBX ``hf-ufw`` runs ufw with its default settings and three rules of its own:
``allow 22/tcp``, ``allow 8088/tcp`` (ajam, which the policy gives nobody) and ``deny``
SIP (5060/udp) from the internet network (which the policy accepts). In file order:

1. without the fix (``ignore``, the old behaviour): with ``MANAGE_BUILTINS=yes`` a
   ``ufw reload`` deletes our chains (ufw alone decides: SSH from the internet opens, SIP
   from the office closes); with ``IPV6=no`` it deletes our IPv6 chains;
2. ``auto`` with the default settings: every probe matches, also after ``ufw reload`` and a
   disable/enable; the warning names the ufw rules the policy overrides; remove.yml leaves
   ``/etc/ufw`` and ``nft list ruleset`` as they were;
3. the refusals for ``MANAGE_BUILTINS=yes`` and ``IPV6=no``, each before any change.
"""

from __future__ import annotations

import pytest

from ansible_collections.pbxops.firewall.tests.integration.hostfw._support import mismatches, tally

NAME = 'hf-ufw'
DEFAULTS = '/etc/default/ufw'


@pytest.fixture(scope='module')
def ufw(hostfw_lab):
    pbx = hostfw_lab.fresh(NAME)
    pbx.sh('ln -sf /lib/systemd/system/ufw.service /etc/systemd/system/multi-user.target.wants/ufw.service; '
           'ufw allow 22/tcp && ufw allow 8088/tcp && ufw deny from 10.203.30.0/24 to any port 5060 proto udp && '
           'ufw --force enable')
    return pbx


def setting(pbx, key, value):
    pbx.sh("sed -i 's/^%s=.*/%s=%s/' %s" % (key, key, value, DEFAULTS))


def test_without_the_fix_ufw_deletes_our_chains(hostfw_lab, ufw):
    setting(ufw, 'MANAGE_BUILTINS', 'yes')
    try:
        play = hostfw_lab.role(ufw, {'pbx_firewall_host_firewall': 'ignore'})
        assert play.rc == 0, play.output[-4000:]
        assert 'host_firewall is ignore: ufw is active with MANAGE_BUILTINS=yes' in ' '.join(play.firewall()['warnings'])
        assert ufw.sh('ufw reload').strip() == 'Firewall reloaded'
        assert 'PBX-FIREWALL' not in ufw.sh('iptables-save; ip6tables-save')
        _play, report = hostfw_lab.verify(ufw, 'ufw-manage-builtins')
        print('ufw MANAGE_BUILTINS=yes, ignore, after ufw reload: %s' % tally(report))
        bad = mismatches(report)
        assert ('hf-client-inet', 'ssh', 'tcp', 22, 'closed', 'open') in bad, bad
        assert ('hf-client-office', 'sip', 'udp', 5060, 'open', 'closed') in bad, bad
    finally:
        setting(ufw, 'MANAGE_BUILTINS', 'no')
    # ufw itself drops its IPv6 rules from user6.rules while IPV6=no: keep a copy
    ufw.sh('cp -p /etc/ufw/user6.rules /tmp/user6.rules')
    setting(ufw, 'IPV6', 'no')
    try:
        play = hostfw_lab.role(ufw, {'pbx_firewall_host_firewall': 'ignore'})
        assert play.rc == 0, play.output[-4000:]
        assert 'PBX-FIREWALL' in ufw.sh('ip6tables-save')
        ufw.sh('ufw reload')
        assert 'PBX-FIREWALL' not in ufw.sh('ip6tables-save'), 'ufw with IPV6=no kept our IPv6 chains?'
    finally:
        setting(ufw, 'IPV6', 'yes')
        ufw.sh('cp -p /tmp/user6.rules /etc/ufw/user6.rules && ufw reload')
    assert hostfw_lab.remove(ufw).rc == 0


def test_auto_coexists_through_reload_and_remove_puts_ufw_back(hostfw_lab, ufw):
    saved = ufw.digests('/etc/ufw', '/etc/default')
    state = ufw.state()
    play = hostfw_lab.role(ufw)
    assert play.rc == 0, play.output[-4000:]
    warnings = ' '.join(play.firewall()['warnings'])
    assert ('ufw is active; the PBX firewall chain comes first in INPUT and decides every new packet, so these ufw '
            'rules no longer decide anything: allow 8088/tcp from anywhere (ipv4): the policy drops it from every '
            'source; deny 5060/udp from 10.203.30.0/24 (ipv4): the policy accepts it from some networks first; '
            'allow 22/tcp from anywhere (ipv6): the policy drops it from every source; allow 8088/tcp from anywhere '
            '(ipv6): the policy drops it from every source') in warnings, warnings
    summary = play.host_firewall_line(NAME)
    assert summary == ("%s: host firewall (auto): ufw active (5 rules): our chain first, ufw's rules after it"
                       % NAME), summary
    assert ufw.sh('iptables -S INPUT').split('\n')[1] == '-A INPUT -j PBX-FIREWALL'
    _play, report = hostfw_lab.verify(ufw, 'ufw-auto')
    print('ufw, auto, after the role: %s' % tally(report))
    assert mismatches(report) == [], report['message']
    for what, command in (('ufw reload', 'ufw reload'), ('ufw disable and enable', 'ufw disable; ufw --force enable')):
        ufw.sh(command)
        _play, report = hostfw_lab.verify(ufw, 'ufw-auto-%s' % what.replace(' ', '-'))
        print('ufw, auto, after %s: %s' % (what, tally(report)))
        assert mismatches(report) == [], report['message']
    play = hostfw_lab.remove(ufw)
    assert play.rc == 0, play.output[-4000:]
    assert ufw.digests('/etc/ufw', '/etc/default') == saved
    assert ufw.state() == state


@pytest.mark.parametrize('key, value, message', [
    ('MANAGE_BUILTINS', 'yes',
     'refused before any change (host_firewall: auto): ufw is active with MANAGE_BUILTINS=yes (/etc/default/ufw): '
     'ufw enable, reload and disable flush every built-in chain and delete every other chain, the PBX firewall '
     'chains too. Fix: set MANAGE_BUILTINS=no there and run ufw reload. To apply anyway, set host_firewall (the '
     'role: pbx_firewall_host_firewall) to ignore.'),
    ('IPV6', 'no',
     'refused before any change (host_firewall: auto): ufw is active with IPV6=no (/etc/default/ufw): ufw enable '
     'and reload restore the whole ip6 filter table without --noflush, which deletes the PBX firewall IPv6 chains. '
     'Fix: set IPV6=yes there and run ufw reload, or set pbx_firewall_ipv6: false. To apply anyway, set '
     'host_firewall (the role: pbx_firewall_host_firewall) to ignore.'),
])
def test_refusals_change_nothing(hostfw_lab, ufw, key, value, message):
    default = 'no' if key == 'MANAGE_BUILTINS' else 'yes'
    setting(ufw, key, value)
    try:
        state, files = ufw.state(), ufw.digests('/etc/pbx-firewall', '/etc/ufw')
        play = hostfw_lab.role(ufw)
        assert play.rc != 0
        task = play.firewall()
        assert task['status'] == 'failed' and task['result']['msg'] == message, task['result'].get('msg')
        assert ufw.state() == state, 'a refusal changed the netfilter state'
        assert ufw.digests('/etc/pbx-firewall', '/etc/ufw') == files, 'a refusal changed a file'
    finally:
        setting(ufw, key, default)
