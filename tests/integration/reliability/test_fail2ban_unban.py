# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role's fail2ban handler against a real fail2ban-server: reload, not restart; bans of
addresses that became never_block are lifted, the others stay.

fail2ban runs in the test's namespace with its own configuration directory (its socket is
set there, in fail2ban.local). The role is pointed at that directory through
``pbx_firewall_fail2ban_jail_file``, so its jail.d file, fail2ban's configuration test and the
handler's ``fail2ban-client`` all act on that fail2ban. Two addresses are banned first; the
role then makes one network never_block. Checked: fail2ban's own list of bans and its
``f2b-`` chain, the jail's live ignoreip, and the server's PID (reloaded, not restarted). A
rerun with nothing to change runs no handler and keeps the other ban.
"""

from __future__ import annotations

from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

OFFICE = '192.168.10.0/24'
NETWORKS = [
    {'name': 'Office LAN', 'subnet': OFFICE, 'services': ['sip', 'ssh'], 'never_block': True},
    {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']},
]
RELOAD = 'Reload fail2ban and lift bans of never_block addresses'


def test_a_change_reloads_fail2ban_and_lifts_bans_now_never_block(netns, playbook, role_paths, fail2ban):
    fail2ban.start()
    pid = fail2ban.pid()
    fail2ban.ban('192.168.10.7', '10.250.0.1')
    assert fail2ban.banned() == {'192.168.10.7', '10.250.0.1'}
    host = sup.local_host(pbx_firewall_networks=NETWORKS, **dict(
        role_paths.role_vars(), pbx_firewall_fail2ban_jail_file=str(fail2ban.conf / 'jail.d' / 'pbx-firewall.local')))
    play = [{'hosts': 'all', 'gather_facts': False, 'module_defaults': role_paths.module_defaults(),
             'roles': [sup.ROLE]}]

    run = playbook.run(play, {'pbx': host}, netns=netns.name)
    assert run.rc == 0, run.output
    reload = run.one('pbx', RELOAD)
    assert reload['status'] == 'ok' and reload['result']['unbanned'] == {fail2ban.JAIL: ['192.168.10.7']}, reload
    assert fail2ban.banned() == {'10.250.0.1'}
    chain = '\n'.join(sup.filter_chains(netns.save('nft')).get('f2b-%s' % fail2ban.JAIL, []))
    assert '10.250.0.1' in chain and '192.168.10.7' not in chain, chain
    assert OFFICE in fail2ban.client('get', fail2ban.JAIL, 'ignoreip')
    assert fail2ban.pid() == pid

    again = playbook.run(play, {'pbx': host}, netns=netns.name)
    assert again.rc == 0 and 'changed=0' in again.output, again.output
    assert again.of('pbx', RELOAD) == []
    assert fail2ban.banned() == {'10.250.0.1'} and fail2ban.pid() == pid
