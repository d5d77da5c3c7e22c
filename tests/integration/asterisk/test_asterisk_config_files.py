# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role against a real Asterisk 22 whose configuration files are written the way people write them.

``pjsip.conf`` starts with a comment in Latin-1 (``; Telefonanlage B\\xfc``: not UTF-8, which
Asterisk reads without a second thought) and includes ``pjsip.d/*.conf`` (Asterisk expands
the glob), where one more transport inherits the role's template. The role must read these
files as Asterisk does, before it reloads anything: its read-back then covers the transport
of the included file, and nothing fails after Asterisk has reloaded. The administrator's file
keeps its bytes. The tests share one PBX and run in file order.
"""

from __future__ import annotations

import time

import pytest

from ansible_collections.pbxops.firewall.tests.integration.asterisk import _support as sup

ROLE = 'pbxops.firewall.pbx_firewall'
PJSIP = '/etc/asterisk/pjsip.conf'
LATIN1 = b'; Telefonanlage B\xfcro\n'
EXTRA = ('[transport-extra](pbx-firewall-localnet)\ntype=transport\nprotocol=udp\nbind=0.0.0.0:5070\n'
         'external_signaling_address=203.0.113.10\n')
VPN = '10.238.5.0/24'


def networks(vpn):
    nets = [{'name': 'Local', 'subnet': [sup.SUBNET4, sup.SUBNET6], 'services': ['sip', 'ssh'],
             'never_block': True, 'local_network': True}]
    if vpn:
        nets.append({'name': 'VPN', 'subnet': VPN, 'services': ['sip'], 'local_network': True})
    return nets


def converge(ansible, pbx, nets, **extra):
    return ansible.wait(ansible.start([{'ansible.builtin.include_role': {'name': ROLE}}],
                                      pbx.host(pbx_firewall_networks=nets, **extra)), expect_rc=0)


def handler(results):
    found = [r for r in results if r['_task'] == 'Reload Asterisk and read back local_net']
    assert len(found) == 1, [r['_task'] for r in results]
    return found[0]


def first_bytes(pbx):
    """The first line of pjsip.conf as bytes (hex through od, so no decoding is involved)."""
    text = pbx.sh("head -n 1 %s | od -An -v -tx1" % PJSIP)
    return bytes(bytearray(int(byte, 16) for byte in text.split()))


@pytest.fixture(scope='module')
def written(pbx):
    """The lab PBX with the Latin-1 comment on top of pjsip.conf and the pjsip.d glob include."""
    pbx.sh("printf '%s' | cat - %s > /tmp/pjsip.conf && cat /tmp/pjsip.conf > %s"
           % (''.join('\\%03o' % byte for byte in LATIN1), PJSIP, PJSIP))
    pbx.sh("mkdir -p /etc/asterisk/pjsip.d && printf '%s' > /etc/asterisk/pjsip.d/extra.conf"
           % EXTRA.replace('\n', '\\n'))
    pbx.sh("printf '\\n#include \"pjsip.d/*.conf\"\\n' >> %s" % PJSIP)
    assert first_bytes(pbx) == LATIN1
    # a new transport needs a start of Asterisk (a reload does not create it)
    pbx.sh("asterisk -rx 'core stop now'")
    sup.wait_for('Asterisk to stop', lambda: 'Unable to connect' in pbx.sh(
        "asterisk -rx 'core show version' 2>&1", check=False), timeout=30)
    sup.run(['docker', 'exec', '-d', pbx.container, 'sh', '-c', 'asterisk -f >>/var/log/asterisk/lab-console.log 2>&1'])
    sup.wait_for('Asterisk to start again', lambda: 'fully booted' in pbx.sh(
        "asterisk -rx 'core waitfullybooted' 2>&1", check=False), timeout=60, interval=0.5)
    sup.wait_for('transport-extra', lambda: 'transport-extra' in pbx.sh(
        "asterisk -rx 'pjsip show transports' 2>&1", check=False), timeout=30, interval=0.5)
    return pbx


def test_the_module_reads_the_files_before_it_reloads(ansible, written):
    """The handler's module on its own: the Latin-1 comment and the glob are read, then PJSIP reloads."""
    # before any rollout the lab's template holds no local_net: ask for none, so nothing is stale
    task = {'pbxops.firewall.asterisk_localnet_apply': {'local_net': [], 'restart': 'never'}, 'ignore_errors': True}
    result = ansible.wait(ansible.start([task], written.host()))[0]
    assert result['_status'] == 'ok', result.get('msg')
    assert result['changed'] is True and result['restart'] == 'none' and result['missing'] == {}
    # every transport that inherits the template is read back, the globbed include's too
    assert set(result['transports']) == {'transport-udp', 'transport-udp6', 'transport-tcp', 'transport-extra'}
    assert first_bytes(written) == LATIN1


def test_a_file_that_is_not_utf8_is_read_and_keeps_its_bytes(ansible, written):
    pid, started = written.pid(), time.monotonic()
    uptime = written.uptime()
    results = converge(ansible, written, networks(False), pbx_firewall_asterisk_pjsip_transports=['transport-udp'])
    reload = handler(results)
    assert reload['_status'] == 'ok' and reload['missing'] == {}, reload
    assert written.pid() == pid and written.uptime() >= uptime + int(time.monotonic() - started) - 1
    assert sup.as_networks(written.local_nets()['transport-udp']) == sup.as_networks([sup.SUBNET4, sup.SUBNET6])
    # the role's own edits (the #include line, the named transport's block) kept the administrator's bytes
    assert first_bytes(written) == LATIN1
    assert written.sh("grep -c '^; BEGIN pbxops.firewall local_net for transport-udp$' %s" % PJSIP).strip() == '1'


def test_a_transport_of_a_globbed_include_is_read_back(ansible, written):
    results = converge(ansible, written, networks(True))
    reload = handler(results)
    assert reload['_status'] == 'ok' and reload['missing'] == {}, reload
    desired = sup.as_networks([sup.SUBNET4, sup.SUBNET6, VPN])
    assert 'transport-extra' in reload['transports'], sorted(reload['transports'])
    assert sup.as_networks(reload['transports']['transport-extra']) == desired
    live = sup.live_local_net(written.cli('pjsip show transport transport-extra'))
    assert sup.as_networks(live) == desired
    assert first_bytes(written) == LATIN1
