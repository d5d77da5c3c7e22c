# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two plays race on one host: a rollback watcher only ever reverts the state it armed.

Play A applies, over SSH, rules that cut its controller off (``lockout_check: false``), so
nobody confirms it and its watcher rolls it back at the deadline. While A's window is open,
play B, from another controller that reaches the host (here: on the host), applies rules
that do not let A's controller in either, and confirms them. Before the fix B's rules went live at once, and A's watcher then
put back the state from before A: B's confirmed rules were gone. Now B waits until A's
window is closed (A rolled back), then applies: B's rules stay, and B says it waited.
"""

from __future__ import annotations

import time

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

TIMEOUT = 6


def test_a_watcher_reverts_only_the_state_it_armed(ssh_host, ansible):
    controller = {'name': 'Controller', 'subnet': ssh_host.controller, 'services': ['ssh']}
    office = {'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['sip']}
    before = _policy.firewall_ruleset([controller, office], ipv6=False)
    lockout = _policy.firewall_ruleset([office], ipv6=False)
    # B's controller is another one: A's controller stays locked out, so A is never confirmed
    later = _policy.firewall_ruleset([dict(office, services=['sip', 'web']),
                                      {'name': 'Other controller', 'subnet': '10.99.0.7', 'services': ['ssh']}],
                                     ipv6=False)
    args = {'backend': 'nft', 'persist': False, 'rollback_timeout': TIMEOUT, 'lockout_check': False}
    first, = ansible.run([{sup.MODULE: dict(args, ruleset=before)}], ssh_host.inventory)
    assert first['_status'] == 'ok' and first['rolled_back'] is False, first.get('msg')

    play_a = ansible.start([{sup.MODULE: dict(args, ruleset=lockout), 'ignore_errors': True}], ssh_host.inventory)
    deadline = time.time() + 60
    while sup.ruleset_mismatch(ssh_host.netns.name, 'nft', lockout):
        assert time.time() < deadline and play_a[0].poll() is None, 'play A did not apply'
        time.sleep(0.1)
    started = time.time()
    play_b, = ansible.local(ssh_host.netns, [{sup.MODULE: dict(args, ruleset=later)}])
    play_b_took = time.time() - started
    a_result, = ansible.wait(play_a)

    assert a_result['_status'] == 'failed' and a_result['rolled_back'] is True, a_result.get('msg')
    assert play_b['_status'] == 'ok' and play_b['rolled_back'] is False, play_b.get('msg')
    assert play_b['changed'] is True
    # B's confirmed rules are the host's rules once both plays are done
    assert sup.ruleset_mismatch(ssh_host.netns.name, 'nft', later) == []
    # B applied after A's window had closed, and says it waited
    assert play_b_took >= 1, play_b_took
    assert [w for w in play_b['_warnings'] if 'waited' in w and 'rollback window of another run' in w], \
        play_b['_warnings']
