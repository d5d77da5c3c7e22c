# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role against a real Asterisk 22 (see conftest.py for the addresses), with real SIP.

Inventory A: "Local" (the PBX's own subnet, where the controller's phone is) and "VPN"
are local_network; "Internet" (the outside phone) is not. Inventory B turns Local's
local_network off. The tests share one PBX and run in file order; each first shows its
baseline (Asterisk answers SIP), then changes one thing and reads the live result:
``pjsip show transport`` and what Asterisk shows a phone (Contact, SDP ``c=``).
"""

from __future__ import annotations

import time

from ansible_collections.pbxops.firewall.tests.integration.asterisk import _support as sup

ROLE = 'pbxops.firewall.pbx_firewall'
VPN = '10.238.5.0/24'
PJSIP_FILE = '/etc/asterisk/pjsip_pbx_firewall.conf'
SIP_FILE = '/etc/asterisk/sip_pbx_firewall.conf'


def networks(local_office):
    return [
        {'name': 'Local', 'subnet': [sup.SUBNET4, sup.SUBNET6], 'services': ['sip', 'ssh'], 'never_block': True,
         'local_network': local_office},
        {'name': 'VPN', 'subnet': VPN, 'services': ['sip'], 'local_network': True},
        {'name': 'Internet', 'subnet': sup.OUTSIDE + '/32', 'services': ['sip']},
    ]


A = networks(True)
B = networks(False)


def converge(ansible, pbx, nets, check=False, diff=False, expect_rc=0, **extra):
    started = time.monotonic()
    results = ansible.wait(ansible.start([{'ansible.builtin.include_role': {'name': ROLE}}],
                                         pbx.host(pbx_firewall_networks=nets, **extra), check=check, diff=diff),
                           expect_rc=expect_rc)
    return results, time.monotonic() - started


def readback(results):
    """The result of the role's Asterisk handler (None when it did not run)."""
    found = [r for r in results if 'transports' in r or 'missing' in r]
    return found[-1] if found else None


def baseline(pbx, phone):
    """Asterisk runs and answers SIP from the Local phone."""
    assert phone(sup.GW4).options().status == 200
    assert 'Asterisk 22.' in pbx.cli('core show version')


def call_addresses(phone, local, pbx_address=sup.PBX4):
    """(Contact host, SDP c= address) Asterisk answers a call from LOCAL with."""
    caller = phone(local, pbx_address)
    answer = caller.invite('100')
    assert answer.status == 200, answer.raw
    assert caller.bye().status == 200
    return answer.contact_host, answer.sdp_connection


def test_converge_reads_back_the_desired_local_net(ansible, pbx, phone):
    baseline(pbx, phone)
    results, _took = converge(ansible, pbx, A)
    handler = readback(results)
    assert handler is not None and handler['_status'] == 'ok', results[-1]['_output']
    assert handler['restart'] == 'none' and handler['missing'] == {}
    live = pbx.local_nets()
    for name in sup.TRANSPORTS:
        assert sup.as_networks(live[name]) == sup.as_networks([sup.SUBNET4, sup.SUBNET6, VPN]), (name, live)
    assert sup.as_networks(handler['transports']['transport-udp']) == sup.as_networks([sup.SUBNET4, sup.SUBNET6, VPN])

    again, _took = converge(ansible, pbx, A)
    assert readback(again) is None
    assert not any(r.get('changed') for r in again), [r for r in again if r.get('changed')]


def test_phones_see_local_or_external_addresses(pbx, phone):
    baseline(pbx, phone)
    # a phone in a local_net subnet: Asterisk's own address
    assert call_addresses(phone, sup.GW4) == (sup.PBX4, sup.PBX4)
    # the outside phone: the external address, in Contact and (the PBX's own subnet is
    # local) in the SDP, so its audio goes to the public address
    assert call_addresses(phone, sup.OUTSIDE) == (sup.EXTERNAL4, sup.EXTERNAL4)
    # IPv6, over the IPv6 transport: the Local IPv6 subnet is local as well
    assert call_addresses(phone, sup.GW6, sup.PBX6)[0] == sup.PBX6


def test_check_mode_changes_nothing_and_shows_the_line(ansible, pbx, phone):
    baseline(pbx, phone)
    before = (pbx.file(PJSIP_FILE), pbx.local_nets(), pbx.pid())
    results, _took = converge(ansible, pbx, B, check=True, diff=True)
    assert (pbx.file(PJSIP_FILE), pbx.local_nets(), pbx.pid()) == before
    assert '-local_net=%s' % sup.SUBNET4 in results[-1]['_output']


def test_local_network_off_applies_without_restart(ansible, pbx, phone):
    baseline(pbx, phone)
    pid, uptime, started = pbx.pid(), pbx.uptime(), time.monotonic()
    results, took = converge(ansible, pbx, B)
    handler = readback(results)
    assert handler['restart'] == 'none' and handler['missing'] == {}, handler
    assert pbx.pid() == pid
    assert pbx.uptime() >= uptime + int(time.monotonic() - started) - 1
    for name, values in pbx.local_nets().items():
        assert sup.as_networks(values) == sup.as_networks([VPN]), (name, values)
    # the Local phone is now outside local_net: it is shown the external address
    assert call_addresses(phone, sup.GW4)[0] == sup.EXTERNAL4
    assert call_addresses(phone, sup.GW6, sup.PBX6)[0] == sup.EXTERNAL6
    # and the PBX's own address is in no local_net subnet: Asterisk keeps its private
    # media address in the outside phone's SDP; the role warned about exactly that
    assert call_addresses(phone, sup.OUTSIDE) == (sup.EXTERNAL4, sup.PBX4)
    assert any('external_media_address' in w and 'local_network' in w for w in handler['_warnings']), handler
    print('local_net change without restart: converge %.1f s, Asterisk pid %d kept' % (took, pid))


def test_a_long_call_does_not_hold_the_play(ansible, pbx, phone):
    baseline(pbx, phone)
    caller = phone(sup.GW4)
    # B is live: the Local phone is outside local_net; A brings it back
    assert caller.invite('100').status == 200
    assert '1 active call' in pbx.cli('core show channels count')
    results, took = converge(ansible, pbx, A)
    assert readback(results)['restart'] == 'none'
    assert took < 120, took
    assert '1 active call' in pbx.cli('core show channels count')
    assert caller.bye().status == 200       # the call was still up
    print('local_net change with a call up: converge %.1f s, call kept' % took)
    for name, values in pbx.local_nets().items():
        assert sup.as_networks(values) == sup.as_networks([sup.SUBNET4, sup.SUBNET6, VPN]), (name, values)


def test_chan_sip_on_asterisk_22_is_a_clear_error_before_writing(ansible, pbx, phone):
    baseline(pbx, phone)
    before = pbx.file(PJSIP_FILE)
    results, _took = converge(ansible, pbx, B, expect_rc=2, pbx_firewall_asterisk_chan_sip=True)
    failed = [r for r in results if r['_status'] == 'failed']
    assert len(failed) == 1 and 'chan_sip' in failed[0]['msg'] and 'Asterisk 22' in failed[0]['msg'], failed
    assert pbx.file(SIP_FILE).strip() == 'ABSENT'
    assert pbx.file(PJSIP_FILE) == before


def test_a_transport_without_the_template_is_named(ansible, pbx, phone):
    baseline(pbx, phone)
    pbx.sh("printf '\\n[transport-extra]\\ntype=transport\\nprotocol=udp\\nbind=0.0.0.0:5070\\n"
           "external_signaling_address=203.0.113.10\\n' >> /etc/asterisk/pjsip.conf")
    try:
        results, _took = converge(ansible, pbx, B)
        handler = readback(results)
        assert set(handler['missing']) == {'transport-extra'}, handler
        assert '[transport-extra](pbx-firewall-localnet)' in handler['missing']['transport-extra']
        assert any('transport-extra' in w for w in handler['_warnings'])
        results, _took = converge(ansible, pbx, A, expect_rc=2, pbx_firewall_asterisk_required=True)
        assert 'transport-extra' in readback(results)['msg']
    finally:
        pbx.sh("sed -i '/^\\[transport-extra\\]/,$d' /etc/asterisk/pjsip.conf")


def test_chan_sip_with_no_asterisk_running_writes_nothing_for_chan_sip(ansible, pbx, phone):
    baseline(pbx, phone)
    sip_conf = '/etc/asterisk/sip.conf'
    before = (pbx.file(SIP_FILE), pbx.file(sip_conf))
    assert before[0].strip() == 'ABSENT'
    pbx.sh("asterisk -rx 'core stop now'")
    sup.wait_for('Asterisk to stop',
                 lambda: 'Unable to connect' in pbx.sh("asterisk -rx 'core show version' 2>&1", check=False), timeout=30)
    try:
        for check in (True, False):
            results, _took = converge(ansible, pbx, A, check=check, pbx_firewall_asterisk_chan_sip=True)
            [files] = [r for r in results if r['_task'] == 'Keep the fail2ban and Asterisk files']
            asterisk = files['parts']['asterisk']
            assert asterisk['running'] is False and asterisk['chan_sip'] is False, files
            said = ' '.join(str(w) for w in files['_warnings'])
            assert 'No Asterisk answers on this host' in said and 'nothing is written for chan_sip' in said, said
            assert not [path for path in asterisk['files'] if path.endswith(('/sip.conf', SIP_FILE))], asterisk
            assert (pbx.file(SIP_FILE), pbx.file(sip_conf)) == before
    finally:
        sup.run(['docker', 'exec', '-d', sup.CONTAINER, 'sh', '-c',
                 'asterisk -f >>/var/log/asterisk/lab-console.log 2>&1'])
        sup.wait_for('Asterisk to start again',
                     lambda: 'fully booted' in pbx.sh("asterisk -rx 'core waitfullybooted' 2>&1", check=False),
                     timeout=60, interval=0.5)
    baseline(pbx, phone)
