# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading Asterisk's CLI output. The samples are what Asterisk 22.10.1 (Debian sid,
the lab image) printed; the live behaviour is tested in tests/integration/asterisk/."""

from __future__ import annotations

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _asterisk as ast

TRANSPORTS = '''
Transport:  <TransportId........>  <Type>  <cos>  <tos>  <BindAddress....................>
==========================================================================================

Transport:  transport-tcp             tcp      0      0  0.0.0.0:5060
Transport:  transport-udp             udp      0      0  0.0.0.0:5060
Transport:  transport-udp6            udp      0      0  [::]:5060

Objects found: 3
'''

TRANSPORT = '''
Transport:  <TransportId........>  <Type>  <cos>  <tos>  <BindAddress....................>
==========================================================================================

Transport:  transport-udp6            udp      0      0  [::]:5060

 ParameterName               : ParameterValue
 ============================================
 allow_reload                : false
 bind                        : [::]:5060
 ca_list_file                :$
 external_media_address      : 2001:db8::10
 external_signaling_address  : 2001:db8::10
 external_signaling_port     : 0
 local_net                   : 10.239.1.0/255.255.255.0
 local_net                   : fd42:239:1::/ffff:ffff:ffff:ffff::
 protocol                    : udp
'''.replace(':$', ': ')

NO_LOCALNET = '''
 ParameterName               : ParameterValue
 ============================================
 external_media_address      :$
 external_signaling_address  :$
 local_net                   :$
'''.replace(':$', ': ')


class FakeRun:
    """run_command stand-in: {command: (rc, output)}; records what was asked."""

    def __init__(self, answers):
        self.answers = answers
        self.asked = []

    def __call__(self, argv):
        self.asked.append(argv[-1])
        rc, out = self.answers[argv[-1]]
        return rc, out, ''


def test_transport_names_leave_out_the_header_row():
    assert ast.transport_names(TRANSPORTS) == ['transport-tcp', 'transport-udp', 'transport-udp6']


def test_transport_parameters_keep_every_local_net_line():
    params = ast.transport_parameters(TRANSPORT)
    assert params['local_net'] == ['10.239.1.0/255.255.255.0', 'fd42:239:1::/ffff:ffff:ffff:ffff::']
    assert ast.external_addresses(params) == {'external_media_address': '2001:db8::10',
                                              'external_signaling_address': '2001:db8::10'}
    assert 'Transport' not in params


def test_netmask_and_prefix_forms_are_the_same_networks():
    live = ast.transport_parameters(TRANSPORT)['local_net']
    assert ast.same_networks(live, ['fd42:239:1::/64', '10.239.1.0/24'])
    assert not ast.same_networks(live, ['10.239.1.0/24'])


def test_an_empty_local_net_is_no_network():
    params = ast.transport_parameters(NO_LOCALNET)
    assert params['local_net'] == ['']
    assert ast.networks(params['local_net']) == set()
    assert ast.external_addresses(params) == {}


@pytest.mark.parametrize('output, rc', [
    ("No such command 'sip reload' (type 'core show help sip reload' for other possible commands)", 0),
    ("No such module 'nonexist.so'", 0),
    ('Unable to find object transport-x.', 0),
    ('Unable to connect to remote asterisk (does /var/run/asterisk/asterisk.ctl exist?)', 1),
])
def test_a_failed_command_is_an_error_whatever_the_exit_status(output, rc):
    cli = ast.Cli(FakeRun({'x': (rc, output)}))
    with pytest.raises(ast.AsteriskError, match="asterisk -rx 'x' failed"):
        cli('x')


def test_running_reads_the_version_line_or_none():
    running = ast.Cli(FakeRun({'core show version': (0, 'Asterisk 22.10.1+dfsg built by nobody\n')}))
    assert running.running() == 'Asterisk 22.10.1+dfsg built by nobody'
    assert ast.major_version(running.running()) == 22
    down = ast.Cli(FakeRun({'core show version': (1, 'Unable to connect to remote asterisk (does ...)')}))
    assert down.running() is None


def test_module_loaded_reads_the_status_column():
    loaded = ('Module                         Description                              Use Count  Status      Support Level\n'
              'chan_sip.so                    Session Initiation Protocol (SIP)        0          Running          extended\n'
              '1 modules loaded\n')
    absent = ('Module                         Description                              Use Count  Status      Support Level\n'
              '0 modules loaded\n')
    assert ast.module_loaded(ast.Cli(FakeRun({'module show like chan_sip.so': (0, loaded)})), 'chan_sip.so')
    assert not ast.module_loaded(ast.Cli(FakeRun({'module show like chan_sip.so': (0, absent)})), 'chan_sip.so')


def test_host_addresses_leave_out_loopback_and_link_local():
    text = ('1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n'
            '1: lo    inet6 ::1/128 scope host\n'
            '61: eth0    inet 10.239.1.10/24 brd 10.239.1.255 scope global eth0\n'
            '61: eth0    inet6 fd42:239:1::2/64 scope global nodad\n'
            '61: eth0    inet6 fe80::42:aff:feef:10a/64 scope link\n')
    assert ast.host_addresses(text) == ['10.239.1.10', 'fd42:239:1::2']


def test_media_warning_only_when_no_own_address_is_local():
    transports = {'transport-udp': {'external_media_address': ['203.0.113.10']},
                  'transport-tcp': {'external_media_address': ['']}}
    assert ast.media_warning(transports, ['10.239.1.0/24'], ['10.239.1.10'], 'pbx') is None
    text = ast.media_warning(transports, ['10.5.0.0/24'], ['10.239.1.10'], 'pbx')
    assert 'transport-udp' in text and 'transport-tcp' not in text and 'local_network: true' in text
    assert ast.media_warning({'t': {'external_media_address': ['']}}, [], ['10.239.1.10'], 'pbx') is None


def test_fix_names_the_transport_and_the_template():
    assert ast.fix_for('transport-extra', 'pbx-firewall-localnet').startswith(
        '[transport-extra] does not inherit (pbx-firewall-localnet): write its section header as '
        '[transport-extra](pbx-firewall-localnet)')


@pytest.mark.parametrize('absent', [
    'Asterisk is not installed on this host (no asterisk binary in PATH)',
    "No Asterisk answers on this host (asterisk -rx 'core show version')",
])
def test_chan_sip_with_no_asterisk_says_why_and_that_nothing_is_written(absent):
    text = ast.chan_sip_unknown(absent, '/etc/asterisk')
    for fragment in (absent, 'whether it has chan_sip (removed in Asterisk 21) cannot be checked',
                     'nothing is written for chan_sip', '/etc/asterisk', 'no #include in sip.conf',
                     'pbx_firewall_asterisk_chan_sip: false'):
        assert fragment in text, (fragment, text)
