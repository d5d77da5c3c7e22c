# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nftables.service and native nftables tables next to the PBX firewall, with real traffic.

The PBX ``hf-nft`` has Debian's nftables.service enabled with its stock /etc/nftables.conf,
which starts with ``flush ruleset``. In file order:

1. without the fix a restart (``nft -f /etc/nftables.conf``, what ``systemctl restart
   nftables`` runs) wipes our chains and every probe the policy blocks opens; the role
   warns what a restart does and how to fix the file, and with that fix a restart keeps the
   policy;
2. a native input chain with a drop policy drops what our chain accepts (the old behaviour:
   SIP from everywhere closes); ``auto`` refuses it before any change, naming table and chain.
"""

from __future__ import annotations

import pytest

from ansible_collections.pbxops.firewall.tests.integration.hostfw._support import mismatches, tally

NAME = 'hf-nft'
WARNING = (
    'nftables.service is enabled and /etc/nftables.conf runs `flush ruleset`: `systemctl restart nftables` (or nft -f '
    "/etc/nftables.conf) removes every table, iptables-nft's too, so the PBX firewall chains, fail2ban's and "
    "Docker's are gone until the role runs again (at boot pbx-firewall.service runs after nftables.service and puts "
    'them back). Fix: in /etc/nftables.conf flush only the tables the file defines (declare `table inet filter` and '
    '`flush table inet filter` before its definition) instead of `flush ruleset`')
# /etc/nftables.conf as the warning says to write it: the file replaces its own table only
FIXED_CONF = '''#!/usr/sbin/nft -f

table inet filter
flush table inet filter

table inet filter {
    chain input {
        type filter hook input priority filter;
    }
    chain forward {
        type filter hook forward priority filter;
    }
    chain output {
        type filter hook output priority filter;
    }
}
'''
DROPPING_TABLE = ('nft add table inet pbxadmin && '
                  "nft add chain inet pbxadmin input '{ type filter hook input priority 0; policy drop; }' && "
                  'nft add rule inet pbxadmin input ct state established,related accept && '
                  'nft add rule inet pbxadmin input iif lo accept && '
                  'nft add rule inet pbxadmin input tcp dport 22 accept')


@pytest.fixture(scope='module')
def nftpbx(hostfw_lab):
    pbx = hostfw_lab.fresh(NAME)
    pbx.sh('ln -sf /lib/systemd/system/nftables.service /etc/systemd/system/sysinit.target.wants/nftables.service')
    return pbx


def test_a_restart_of_nftables_service_wipes_the_chains_and_the_warning_says_how_to_fix_it(hostfw_lab, nftpbx):
    play = hostfw_lab.role(nftpbx, {'pbx_firewall_host_firewall': 'ignore'})
    assert play.rc == 0, play.output[-4000:]
    assert WARNING in play.firewall()['warnings'], play.firewall()['warnings']
    nftpbx.sh('nft -f /etc/nftables.conf')
    assert 'PBX-FIREWALL' not in nftpbx.sh('iptables-save')
    _play, report = hostfw_lab.verify(nftpbx, 'nft-restart')
    print('nftables.service, restart with flush ruleset: %s' % tally(report))
    assert ('hf-client-inet', 'ssh', 'tcp', 22, 'closed', 'open') in mismatches(report)

    play = hostfw_lab.role(nftpbx)
    assert play.rc == 0, play.output[-4000:]
    assert WARNING in play.firewall()['warnings'], play.firewall()['warnings']
    nftpbx.sh("cat > /etc/nftables.conf <<'EOF'\n%sEOF" % FIXED_CONF)
    nftpbx.sh('nft -f /etc/nftables.conf')
    _play, report = hostfw_lab.verify(nftpbx, 'nft-restart-fixed')
    print('nftables.service, restart after the fix: %s' % tally(report))
    assert mismatches(report) == [], report['message']
    play = hostfw_lab.role(nftpbx)
    assert play.rc == 0 and play.firewall()['result']['changed'] is False, play.output[-4000:]
    assert not [w for w in play.firewall()['warnings'] if 'nftables' in w]


def test_a_native_input_chain_that_drops_what_the_policy_accepts_is_refused(hostfw_lab, nftpbx):
    nftpbx.sh(DROPPING_TABLE)
    try:
        play = hostfw_lab.role(nftpbx, {'pbx_firewall_host_firewall': 'ignore'})
        assert play.rc == 0, play.output[-4000:]
        _play, report = hostfw_lab.verify(nftpbx, 'nft-native-drop')
        print('native input chain with policy drop, ignore: %s' % tally(report))
        bad = mismatches(report)
        assert ('hf-client-office', 'sip', 'udp', 5060, 'open', 'closed') in bad, bad
        assert ('hf-client-inet', 'sip', 'udp', 5060, 'open', 'closed') in bad, bad

        state = nftpbx.state()
        play = hostfw_lab.role(nftpbx)
        assert play.rc != 0
        task = play.firewall()
        assert task['status'] == 'failed' and task['result']['changed'] is False
        assert task['result']['msg'] == (
            'refused before any change (host_firewall: auto): nftables table inet pbxadmin, chain input (hook input, '
            'policy drop) does not certainly accept 80/tcp, 443/tcp, 5060-5061/tcp, 5060/udp, 10000-10200/udp, ICMP '
            'type 8, ICMPv6 types 1, 2, 3, 4, 133, 134, 135, 136, which the PBX firewall policy accepts; a drop in '
            'any input chain is final, whatever the PBX firewall chain accepts. Fix: accept those there (e.g. `tcp '
            'dport { 80, 443, 5060-5061 } accept; udp dport { 5060, 10000-10200 } accept; icmp type { 8 } accept; '
            'icmpv6 type { 1, 2, 3, 4, 133, 134, 135, 136 } accept`), or delete that table, then run again. To apply '
            'anyway, set host_firewall (the role: pbx_firewall_host_firewall) to ignore.'), task['result']['msg']
        assert nftpbx.state() == state, 'a refusal changed the netfilter state'
    finally:
        nftpbx.sh('nft delete table inet pbxadmin')
    assert hostfw_lab.remove(nftpbx).rc == 0
