# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verify probe program (playbooks/files/pbx_firewall_probe.py) with real sockets.

Real servers on loopback: a TCP listener, a SIP server that answers OPTIONS, an IAX2
server that answers POKE, an echoing UDP port and a silent one, and ports nobody
listens on. The program runs as a subprocess, as ansible.builtin.script runs it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import errno
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import zlib

import pytest

PROBE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))), 'playbooks', 'files', 'pbx_firewall_probe.py')


class Servers(object):
    """Loopback servers on free ports; answer() decides what a UDP port sends back."""

    def __init__(self):
        self.sockets = []
        self.received = {}
        self.tcp = self._bind(socket.SOCK_STREAM)
        self.tcp.listen(8)
        self.sip = self._udp(lambda data: b'SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'
                             if data.startswith(b'OPTIONS sip:') else None)
        self.iax = self._udp(lambda data: data[:10] + bytes([6, 0x03]) if data[10:12] == bytes([6, 0x1e]) else None)
        self.echo = self._udp(lambda data: data)
        self.silent = self._udp(lambda data: None)
        self.closed = self._free_port(socket.SOCK_STREAM)
        self.closed_udp = self._free_port(socket.SOCK_DGRAM)
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _bind(self, kind):
        sock = socket.socket(socket.AF_INET, kind)
        sock.bind(('127.0.0.1', 0))
        self.sockets.append(sock)
        return sock

    def _udp(self, answer):
        sock = self._bind(socket.SOCK_DGRAM)
        port = sock.getsockname()[1]

        def serve():
            while True:
                try:
                    data, peer = sock.recvfrom(65535)
                except OSError:
                    return
                self.received.setdefault(port, []).append(data)
                reply = answer(data)
                if reply is not None:
                    sock.sendto(reply, peer)
        threading.Thread(target=serve, daemon=True).start()
        return sock

    def _accept(self):
        while True:
            try:
                conn, _peer = self.tcp.accept()
            except OSError:
                return
            conn.close()

    @staticmethod
    def _free_port(kind):
        sock = socket.socket(socket.AF_INET, kind)
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
        sock.close()
        return port

    def port(self, sock):
        return sock.getsockname()[1]

    def close(self):
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def servers():
    result = Servers()
    yield result
    result.close()


def probe(probes, **options):
    spec = dict({'timeout': 0.5, 'parallel': 8, 'probes': probes}, **options)
    arg = base64.b64encode(zlib.compress(json.dumps(spec).encode('utf-8'))).decode('ascii')
    done = subprocess.run([sys.executable, PROBE, arg], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60, check=False)
    return done


def test_every_kind_of_probe_against_real_servers(servers):
    table = [
        ('tcp', servers.port(servers.tcp), 'tcp', 'open', 'connected'),
        ('tcp', servers.closed, 'tcp', 'refused', 'Connection refused'),
        ('udp', servers.port(servers.sip), 'sip', 'open', 'SIP/2.0 200 OK'),
        ('udp', servers.port(servers.iax), 'iax', 'open', 'answered (12 bytes)'),
        ('udp', servers.port(servers.echo), 'udp', 'open', 'answered'),
        ('udp', servers.port(servers.silent), 'udp', 'unknown', 'no answer (no answer != blocked'),
        ('udp', servers.port(servers.silent), 'sip', 'closed', 'no answer'),   # a SIP server must answer
        ('udp', servers.closed_udp, 'udp', 'refused', 'Connection refused'),   # ICMP port unreachable
        ('icmp', None, 'icmp', 'open', 'echo reply'),
    ]
    probes = [['pbx', '127.0.0.1', 'svc', proto, port, kind] for proto, port, kind, _o, _d in table]
    done = probe(probes)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)['results']
    for (proto, port, kind, observed, detail), result in zip(table, results):
        assert (result['observed'], result['source'], result['address']) == (observed, '127.0.0.1', '127.0.0.1'), \
            (proto, port, kind, result)
        assert result['detail'].startswith(detail), (proto, port, kind, result)
    options = servers.received[servers.port(servers.sip)][0].decode('ascii')
    assert options.startswith('OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n' % servers.port(servers.sip))
    assert 'User-Agent: pbxops.firewall-verify\r\n' in options and options.endswith('\r\n\r\n')


def test_silence_on_tcp_is_closed():
    """A TCP SYN that nobody answers (a DROP) times out: closed. 192.0.2.0/24 (TEST-NET-1)
    is routed nowhere on a test machine, or unreachable: never open."""
    done = probe([['pbx', '192.0.2.1', 'ssh', 'tcp', 22, 'tcp']], timeout=0.3)
    result = json.loads(done.stdout)['results'][0]
    assert result['observed'] in ('closed', 'refused', 'error')
    assert result['observed'] != 'open'


def test_ipv6_probes_use_the_ipv6_family():
    port = Servers._free_port(socket.SOCK_STREAM)
    done = probe([['pbx', '::1', 'ssh', 'tcp', port, 'tcp'], ['pbx', '::1', 'icmp', 'icmp', None, 'icmp']])
    tcp, icmp = json.loads(done.stdout)['results']
    assert (tcp['source'], tcp['observed']) == ('::1', 'refused')
    assert (icmp['source'], icmp['observed'], icmp['detail']) == ('::1', 'open', 'echo reply')


def test_bounded_count_and_bad_input():
    done = probe([['pbx', '127.0.0.1', 'ssh', 'tcp', 22, 'tcp']] * 3, max_probes=2)
    assert done.returncode == 2 and '3 probes, more than max_probes 2' in done.stderr
    bad = subprocess.run([sys.executable, PROBE, 'not-base64!'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, timeout=60, check=False)
    assert bad.returncode == 2 and 'bad input' in bad.stderr


def test_deadline_stops_starting_probes(servers):
    probes = [['pbx', '127.0.0.1', 'rtp', 'udp', servers.port(servers.silent), 'udp']] * 4
    done = probe(probes, parallel=1, deadline=0.6, timeout=0.5)
    observed = [r['observed'] for r in json.loads(done.stdout)['results']]
    assert observed[:2] == ['unknown', 'unknown'] and observed[-1] == 'error'


FIB_TRIE = '''Main:
  +-- 0.0.0.0/0 3 0 4
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
%s'''
OWN_ADDRESS = '''     +-- 192.0.2.0/24 2 0 2
        +-- 192.0.2.0/30 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
'''
IF_INET6 = '00000000000000000000000000000001 01 80 10 80       lo\nfe80000000000000f4f39efffe327868 8c 40 20 80 veth0\n'
GLOBAL6 = 'fd000000000000000000000000000002 04 40 00 82     eth0\n'


def _program():
    spec = importlib.util.spec_from_file_location('pbx_firewall_probe', PROBE)
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)
    return program


@pytest.mark.parametrize('trie, inet6, families', [
    (FIB_TRIE % '', IF_INET6, {'ipv4': False, 'ipv6': False}),       # loopback and link-local only
    (FIB_TRIE % OWN_ADDRESS, IF_INET6, {'ipv4': True, 'ipv6': False}),
    (FIB_TRIE % '', IF_INET6 + GLOBAL6, {'ipv4': False, 'ipv6': True}),
])
def test_own_families_leave_out_loopback_and_link_local(trie, inet6, families):
    assert _program().families_from_proc(trie, inet6) == families


def test_the_output_says_in_which_families_the_host_has_an_address(servers):
    done = probe([['pbx', '127.0.0.1', 'ssh', 'tcp', servers.port(servers.tcp), 'tcp']])
    with open('/proc/net/fib_trie') as trie, open('/proc/net/if_inet6') as inet6:
        expected = _program().families_from_proc(trie.read(), inet6.read())
    assert json.loads(done.stdout)['families'] == expected


@pytest.mark.parametrize('code, observed', [
    # a firewall's reject as "prohibited" (firewalld's zones: icmpx admin-prohibited): blocked
    (errno.EHOSTUNREACH, 'closed'),
    # a TCP reset or an ICMP port unreachable: nothing listens, or a REJECT: not decided
    (errno.ECONNREFUSED, 'refused'),
    (errno.ENETUNREACH, 'refused'),
    (errno.EPERM, 'closed'),
])
def test_socket_errors(code, observed):
    result = _program().error_result(OSError(code, os.strerror(code)), 'closed')
    assert result[0] == observed, result
