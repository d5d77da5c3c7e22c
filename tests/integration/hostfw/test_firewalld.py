# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""firewalld 1.3.3 (Debian 12, nftables backend) next to the PBX firewall, with real traffic.

The PBX ``hf-firewalld`` runs firewalld with its stock configuration: every interface in
the default zone ``public`` (ssh, dhcpv6-client). The tests run in file order on one
container:

1. without the fix (``pbx_firewall_host_firewall: ignore``, the old behaviour): the zone
   and our chain intersect (SIP, web, ICMP from the office are rejected by the zone) and
   ``firewall-cmd --reload`` wipes our chains (then the zone alone decides: SSH from the
   internet opens); verify names the host and every mismatch;
2. ``auto``: ``--check --diff`` changes nothing and shows what would be added; the role
   makes every probe match, and they still match after ``firewall-cmd --reload`` and after
   a stop and start of firewalld; a second run changes nothing; the administrator's own
   direct rule stays; ``pbxops.firewall.remove`` leaves ``/etc/firewalld`` and
   ``nft list ruleset`` as they were;
3. refusals, each before any change (iptables-save, ip6tables-save and nft list ruleset
   byte-identical), with the message checked.
"""

from __future__ import annotations

import pytest

from ansible_collections.pbxops.firewall.tests.integration.hostfw import _support as sup
from ansible_collections.pbxops.firewall.tests.integration.hostfw._support import mismatches, tally

NAME = 'hf-firewalld'
ADMIN_DIRECT = '''<?xml version="1.0" encoding="utf-8"?>
<direct>
  <rule ipv="ipv4" table="filter" chain="FORWARD" priority="0">-s 192.0.2.0/24 -j DROP</rule>
</direct>
'''


@pytest.fixture(scope='module')
def fwd(hostfw_lab):
    pbx = hostfw_lab.fresh(NAME)
    pbx.start_firewalld()
    return pbx


def reload_firewalld(pbx):
    assert pbx.sh('firewall-cmd --reload').strip() == 'success'


def restart_firewalld(pbx):
    pbx.stop_firewalld()
    pbx.start_firewalld()


def test_without_the_fix_the_zone_intersects_and_a_reload_wipes(hostfw_lab, fwd):
    play = hostfw_lab.role(fwd, {'pbx_firewall_host_firewall': 'ignore'})
    assert play.rc == 0, play.output[-4000:]
    verify_play, report = hostfw_lab.verify(fwd, 'ignore-after-role')
    print('firewalld, ignore, after the role: %s' % tally(report))
    bad = mismatches(report)
    # the zone rejects what our chain accepts: SIP, RTP, web and ping from the office, SIP from the internet
    assert ('hf-client-office', 'sip', 'udp', 5060, 'open', 'closed') in bad, bad
    assert ('hf-client-inet', 'sip', 'udp', 5060, 'open', 'closed') in bad, bad
    assert ('hf-client-office', 'web', 'tcp', 80, 'open', 'closed') in bad, bad
    assert all(expected == 'open' for _p, _s, _pr, _port, expected, _o in bad), bad
    # verify names the host
    assert verify_play.rc != 0 and ('%s ' % NAME) in report['message'], report['message']

    reload_firewalld(fwd)
    assert 'PBX-FIREWALL' not in fwd.sh('iptables-save'), 'firewalld 1.3.3 no longer flushes iptables on reload?'
    _play, report = hostfw_lab.verify(fwd, 'ignore-after-reload')
    print('firewalld, ignore, after firewall-cmd --reload: %s' % tally(report))
    bad = mismatches(report)
    # our chain is gone: the zone alone decides, SSH from the internet is open
    assert ('hf-client-inet', 'ssh', 'tcp', 22, 'closed', 'open') in bad, bad
    play = hostfw_lab.remove(fwd, {'pbx_firewall_host_firewall': 'ignore'})
    assert play.rc == 0, play.output[-4000:]


def firewalld_files(pbx):
    """Digests of firewalld's saved configuration (every file below /etc/firewalld)."""
    return pbx.digests('/etc/firewalld')


def firewalld_table(pbx):
    """firewalld's own nftables table. (The rest of ``nft list ruleset`` holds iptables-nft's
    tables, which firewalld's reload and stop empty and the next iptables command fills with
    empty base chains again: not firewalld's state.)"""
    return pbx.sh('nft list table inet firewalld')


def test_auto_holds_through_reload_and_restart_and_remove_puts_firewalld_back(hostfw_lab, fwd):
    fwd.sh("cat > /etc/firewalld/direct.xml <<'EOF'\n%sEOF" % ADMIN_DIRECT)
    # let firewalld's file watcher take the administrator's direct.xml into its permanent configuration
    fwd.sh('i=0; until firewall-cmd --permanent --direct --get-all-rules | grep -q 192.0.2.0; do i=$((i+1)); '
           '[ $i -gt 100 ] && exit 1; sleep 0.1; done')
    saved = firewalld_files(fwd)
    state = fwd.state()

    # --check --diff: nothing changes, the diff shows what would be added to firewalld
    play = hostfw_lab.role(fwd, check=True, diff=True)
    assert play.rc == 0, play.output[-4000:]
    firewall = play.firewall()['result']
    assert firewall['changed'] is True
    after = firewall['diff']['after']
    assert 'firewalld policy pbx-firewall: 22/tcp 80/tcp 443/tcp 5060-5061/tcp 5060/udp 10000-10200/udp' in after, after
    assert 'firewalld direct.xml, owned block: 4 chains, 63 rules, 2 jumps' in after, after
    assert 'firewalld runtime pass, zone public: 22/tcp' in after, after
    assert 'firewalld policy pbx-firewall: absent' in firewall['diff']['before']
    assert fwd.state() == state, 'check mode changed the netfilter state'
    assert firewalld_files(fwd) == saved, 'check mode changed firewalld\'s configuration'
    summary = play.host_firewall_line(NAME)
    assert summary == ('%s: host firewall (auto): firewalld 1.3.3 running (nftables backend; zones public): owned '
                       'policy pbx-firewall lets through 6 ports, 9 ICMP types, owned direct rules put the chains '
                       'back after its reloads' % NAME), summary

    # the role, then its removal without a firewalld reload in between: firewalld exactly as before
    play = hostfw_lab.role(fwd)
    assert play.rc == 0, play.output[-4000:]
    warnings = ' '.join(play.firewall()['warnings'])
    assert 'firewalld lets in zone public: dhcpv6-client (546/udp), but the PBX firewall policy drops them' \
        in warnings, warnings
    _play, report = hostfw_lab.verify(fwd, 'auto')
    print('firewalld, auto, after the role: %s' % tally(report))
    assert mismatches(report) == [] and report['counts']['match'] >= 30, report['message']
    again = hostfw_lab.role(fwd)
    assert again.rc == 0 and again.firewall()['result']['changed'] is False, again.output[-4000:]
    play = hostfw_lab.remove(fwd)
    assert play.rc == 0, play.output[-4000:]
    assert firewalld_files(fwd) == saved, 'remove.yml left firewalld\'s configuration changed'
    assert sup.ruleset_as_configured(fwd.state()['nft list ruleset']) == \
        sup.ruleset_as_configured(state['nft list ruleset']), 'remove.yml left nft list ruleset changed'

    # once more, now through firewalld's own reload and restart
    table = firewalld_table(fwd)
    play = hostfw_lab.role(fwd)
    assert play.rc == 0, play.output[-4000:]
    reload_firewalld(fwd)
    _play, report = hostfw_lab.verify(fwd, 'auto-reload')
    print('firewalld, auto, after firewall-cmd --reload: %s' % tally(report))
    assert mismatches(report) == [], report['message']
    restart_firewalld(fwd)
    _play, report = hostfw_lab.verify(fwd, 'auto-restart')
    print('firewalld, auto, after a stop and start of firewalld: %s' % tally(report))
    assert mismatches(report) == [], report['message']
    assert '-A FORWARD -s 192.0.2.0/24 -j DROP' in fwd.sh('iptables-save'), 'the administrator\'s direct rule'
    # firewalld now runs the owned policy itself (the runtime pass in the zone went with the reload)
    again = hostfw_lab.role(fwd)
    assert again.rc == 0 and again.firewall()['result']['changed'] is False, again.output[-4000:]
    play = hostfw_lab.remove(fwd)
    assert play.rc == 0, play.output[-4000:]
    assert firewalld_files(fwd) == saved, 'remove.yml left firewalld\'s configuration changed'
    assert firewalld_table(fwd) == table, 'remove.yml left firewalld\'s nftables table changed'
    assert 'PBX-FIREWALL' not in fwd.sh('iptables-save; ip6tables-save')


def refused(hostfw_lab, pbx, host_vars):
    """Run the role, expect the firewall task to refuse; return its message after checking that
    nothing changed (iptables-save, ip6tables-save, nft list ruleset, /etc/firewalld)."""
    state, saved, boot = pbx.state(), firewalld_files(pbx), pbx.digests('/etc/pbx-firewall')
    play = hostfw_lab.role(pbx, host_vars)
    assert play.rc != 0, play.output[-4000:]
    task = play.firewall()
    assert task['status'] == 'failed' and task['result']['changed'] is False, task
    assert play.host_firewall_line(pbx.name), 'no line about the host firewall on a refusal'
    assert pbx.state() == state, 'a refusal changed the netfilter state'
    assert firewalld_files(pbx) == saved, 'a refusal changed firewalld\'s configuration'
    assert pbx.digests('/etc/pbx-firewall') == boot, 'a refusal changed the boot files'
    return task['result']['msg']


def test_refusals_change_nothing(hostfw_lab, fwd):
    msg = refused(hostfw_lab, fwd, {'pbx_firewall_host_firewall': 'refuse'})
    assert msg == ('host_firewall is refuse and this host runs another firewall manager: firewalld 1.3.3 (running). '
                   'Nothing was changed. Fix: stop and disable it, or set host_firewall (the role: '
                   'pbx_firewall_host_firewall) to auto (the collection keeps its policy in force next to it) or '
                   'ignore.'), msg

    # what firewalld's direct interface cannot carry, Docker-host mode, a rule without a protocol
    networks = [dict(n) for n in sup.POLICY['pbx_firewall_networks']]
    networks[1]['name'] = 'Office "LAN"'
    msg = refused(hostfw_lab, fwd, {'pbx_firewall_networks': networks, 'pbx_firewall_docker': True,
                                    'pbx_firewall_custom_rules': ['-s 10.203.10.5/32 -j ACCEPT']})
    assert msg.startswith('refused before any change (host_firewall: auto): firewalld 1.3.3: the ipv4 rule '
                          "'-A PBX-FIREWALL -s 10.203.10.5/32 -j ACCEPT' accepts every protocol, and firewalld can only "
                          'be told to let through ports, protocols and ICMP types. Fix: give the rule a protocol (-p) '
                          'and ports (--dport); firewalld 1.3.3 flushes every iptables table on each reload, start '
                          'and stop, and Docker then recreates DOCKER-USER without the jump '), msg
    assert ("so Docker-host mode cannot stay in force. Fix: set pbx_firewall_docker: false on this host, or use "
            'firewalld 2.0 or later without direct rules; ') in msg, msg
    assert ("which cannot carry the ipv4 rule of PBX-FIREWALL with the argument 'Office \"LAN\": allow "
            "icmp,sip,ssh,web' intact (firewalld hands arguments to iptables-restore in double quotes without "
            'escaping " or \\). Fix: remove " and \\ from network names and custom rule comments') in msg, msg
    assert msg.endswith('. To apply anyway, set host_firewall (the role: pbx_firewall_host_firewall) to ignore.'), msg

    # firewalld's iptables backend
    fwd.sh("sed -i 's/^FirewallBackend=.*/FirewallBackend=iptables/' /etc/firewalld/firewalld.conf")
    restart_firewalld(fwd)
    try:
        msg = refused(hostfw_lab, fwd, {})
    finally:
        fwd.sh("sed -i 's/^FirewallBackend=.*/FirewallBackend=nftables/' /etc/firewalld/firewalld.conf")
        restart_firewalld(fwd)
    assert msg == ('refused before any change (host_firewall: auto): firewalld 1.3.3 runs with '
                   "FirewallBackend=iptables (/etc/firewalld/firewalld.conf); the collection keeps its policy in force "
                   "next to firewalld's nftables backend only. Fix: set FirewallBackend=nftables there and reload "
                   'firewalld. To apply anyway, set host_firewall (the role: pbx_firewall_host_firewall) to '
                   'ignore.'), msg


def owned_rules(pbx):
    """The owned chains and rules of both families as iptables-save prints them."""
    return [line for line in pbx.sh('iptables-save -t filter; ip6tables-save -t filter').splitlines()
            if line.startswith((':PBX-', '-A PBX-'))]


def test_logged_drops_and_their_reasons_come_back_after_a_reload(hostfw_lab, fwd):
    """The log chain of each reason and the reason comments are in firewalld's direct block:
    firewalld's reload puts back every owned rule as the role applied it. First, on this image
    (fail2ban without python3-systemd, as --no-install-recommends leaves it), the role refuses
    the drops jail that would read the kernel's LOG lines from the journal: fail2ban's reload
    would fail on its whole configuration ("Failed to initialize any backend")."""
    logged = {'pbx_firewall_log_drops': True}
    jail = '/etc/fail2ban/jail.d/pbx-firewall.local'
    assert fwd.sh('test -e %s && echo present || echo absent' % jail).strip() == 'absent'
    refused = hostfw_lab.role(fwd, logged)
    assert refused.rc != 0, refused.output[-4000:]
    message = refused.task('Keep the fail2ban and Asterisk files')['result']['msg']
    assert "jail pbx-firewall-drops reads the journal (backend = systemd), but the Python that runs " \
        "fail2ban-server (/usr/bin/python3) cannot load the journal reader" in message, message
    assert 'install python3-systemd' in message and 'pbx_firewall_nflog_group: 0' in message, message
    assert fwd.sh('test -e %s && echo present || echo absent' % jail).strip() == 'absent'
    assert fwd.sh('fail2ban-client ping').strip() == 'Server replied: pong'
    fwd.sh('dpkg -i /opt/lab-debs/python3-systemd_*.deb >/dev/null')
    play = hostfw_lab.role(fwd, logged)
    assert play.rc == 0, play.output[-4000:]
    applied = owned_rules(fwd)
    assert '-A PBX-FIREWALL -s 10.203.30.0/24 -p tcp -m multiport --dports 80,443 -m comment --comment ' \
        '"pbxfw:block web network=Internet" -j PBX-FW-LOG-BLOCK' in applied, applied
    assert ':PBX-FW-LOG-DEFAULT - [0:0]' in applied and any(
        r.startswith('-A PBX-FW-LOG-DEFAULT ') and '-j LOG --log-prefix "pbxfw default "' in r for r in applied), applied
    reload_firewalld(fwd)
    assert 'pbx-firewall-drops' in fwd.sh('fail2ban-client status')
    assert owned_rules(fwd) == applied
    _play, report = hostfw_lab.verify(fwd, 'auto-logged')
    assert mismatches(report) == [], report['message']
    again = hostfw_lab.role(fwd, logged)
    assert again.rc == 0 and again.firewall()['result']['changed'] is False, again.output[-4000:]
    play = hostfw_lab.remove(fwd)
    assert play.rc == 0, play.output[-4000:]
    assert 'PBX-FIREWALL' not in fwd.sh('iptables-save; ip6tables-save')
