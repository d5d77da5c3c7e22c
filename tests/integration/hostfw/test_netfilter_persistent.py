# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""netfilter-persistent (iptables-persistent 1.0.20, Debian 12) next to the PBX firewall.

The administrator saved the rules (``netfilter-persistent save``) while an older policy was
in force: its ``rules.v4``/``rules.v6`` hold a copy of our chains, among them one the current
policy no longer has (``PBX-FW-SIP-TLS``, from a SIP rate limit since taken out). A simulated
boot runs the units in their order, on empty tables: netfilter-persistent restores its whole
saved tables, then pbx-firewall.service (``After=netfilter-persistent.service``) runs the
restore script. Afterwards there is exactly one jump and one copy of each chain the
current policy has, nothing else of ours, and every probe matches. (The old restore script
left the stale chain, with its rules, next to ours.)
"""

from __future__ import annotations

import pytest

from ansible_collections.pbxops.firewall.tests.integration.hostfw._support import mismatches, tally

NAME = 'hf-nft'
# everything the kernel holds at boot before any unit ran: no table at all
EMPTY_KERNEL = 'nft flush ruleset'


@pytest.fixture(scope='module')
def persistent(hostfw_lab):
    pbx = hostfw_lab.fresh(NAME)
    # ufw's package Breaks iptables-persistent: swap them (the image keeps the .debs)
    pbx.sh('dpkg --purge ufw >/dev/null && dpkg -i /opt/lab-debs/*persistent_*.deb >/dev/null && '
           'ln -sf /lib/systemd/system/netfilter-persistent.service '
           '/etc/systemd/system/multi-user.target.wants/netfilter-persistent.service')
    return pbx


def owned(save):
    """(owned chain declarations, jumps into owned chains) of an iptables-save text."""
    lines = save.splitlines()
    chains = sorted(line.split()[0][1:] for line in lines if line.startswith((':PBX-FIREWALL ', ':PBX-FW-')))
    jumps = [line for line in lines if line.startswith('-A ') and not line.startswith(('-A PBX-FIREWALL ', '-A PBX-FW-'))
             and line.split()[-1].startswith(('PBX-FIREWALL', 'PBX-FW-'))]
    return chains, jumps


def owned_state(pbx):
    return dict((family, owned(pbx.sh(tool))) for family, tool in (('ipv4', 'iptables-save'),
                                                                   ('ipv6', 'ip6tables-save')))


def test_after_a_simulated_boot_one_jump_and_one_copy_of_each_chain(hostfw_lab, persistent):
    play = hostfw_lab.role(persistent, {'pbx_firewall_sip_rate_limit': 20})
    assert play.rc == 0, play.output[-4000:]
    assert 'PBX-FW-SIP-TLS' in persistent.sh('iptables-save')
    persistent.sh('netfilter-persistent save 2>/dev/null')
    play = hostfw_lab.role(persistent)
    assert play.rc == 0, play.output[-4000:]
    report = play.firewall()['result']['host_firewall']['netfilter_persistent']
    assert report == {'installed': True, 'enabled': True, 'files': ['/etc/iptables/rules.v4', '/etc/iptables/rules.v6'],
                      'hold_owned_chains': ['/etc/iptables/rules.v4', '/etc/iptables/rules.v6']}, report
    summary = play.host_firewall_line(NAME)
    assert ('netfilter-persistent enabled, saved copy of the chains in /etc/iptables/rules.v4, /etc/iptables/rules.v6 '
            '(replaced at boot by pbx-firewall.service, which runs after it)') in summary, summary
    live = owned_state(persistent)
    assert live['ipv4'] == (['PBX-FIREWALL', 'PBX-FW-SIP'], ['-A INPUT -j PBX-FIREWALL']), live
    unit = persistent.sh('cat /etc/systemd/system/pbx-firewall.service')
    assert 'netfilter-persistent.service' in [line for line in unit.splitlines() if line.startswith('After=')][0]

    # the simulated boot, units in their order
    persistent.sh(EMPTY_KERNEL)
    persistent.sh('netfilter-persistent start 2>/dev/null')
    assert 'PBX-FW-SIP-TLS' in persistent.sh('iptables-save'), 'netfilter-persistent restored no saved copy?'
    persistent.sh('/etc/pbx-firewall/restore')
    booted = owned_state(persistent)
    assert booted == live, 'after the simulated boot: %r, before it: %r' % (booted, live)
    _play, report = hostfw_lab.verify(persistent, 'persistent-boot')
    print('netfilter-persistent, after a simulated boot: %s' % tally(report))
    assert mismatches(report) == [], report['message']
    # the next run finds nothing to do
    play = hostfw_lab.role(persistent)
    assert play.rc == 0 and play.firewall()['result']['changed'] is False, play.output[-4000:]
