# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finding the controller's SSH connection in a fake /proc tree (files as the kernel writes them)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import sys

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _controller

TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'


def proc_hex(address):
    """An address as /proc/net/tcp prints it: 32-bit words in host byte order."""
    packed = ipaddress.ip_address(address).packed
    words = [packed[i:i + 4] for i in range(0, len(packed), 4)]
    if sys.byteorder == 'little':
        words = [w[::-1] for w in words]
    return ''.join(w.hex().upper() for w in words)


class FakeProc(object):
    def __init__(self, root):
        self.root = root
        (root / 'self' / 'net').mkdir(parents=True)
        self.sockets = {'tcp': [], 'tcp6': []}
        self.write_sockets()

    def process(self, pid, ppid, name, environ=None):
        path = self.root / str(pid)
        path.mkdir()
        (path / 'stat').write_text('%d (%s) S %d %d 0 0 -1 4194560 1 0 0 0\n' % (pid, name, ppid, pid))
        env = b''.join(b'%s=%s\0' % (k.encode(), v.encode()) for k, v in (environ or {}).items())
        (path / 'environ').write_bytes(env)

    def socket(self, local, lport, remote, rport, state='01', table=None):
        table = table or ('tcp' if ipaddress.ip_address(local).version == 4 else 'tcp6')
        self.sockets[table].append('%4d: %s:%04X %s:%04X %s 00000000:00000000 00:00000000 00000000     0        0 1 1'
                                   % (len(self.sockets[table]), proc_hex(local), lport, proc_hex(remote), rport, state))
        self.write_sockets()

    def write_sockets(self):
        for table, lines in self.sockets.items():
            (self.root / 'self' / 'net' / table).write_text(TCP_HEADER + ''.join(l + '\n' for l in lines))


@pytest.fixture
def proc(tmp_path):
    return FakeProc(tmp_path / 'proc')


CONN = '10.213.7.1 40022 10.213.7.2 22'


def test_own_environment(proc):
    proc.process(300, 200, 'python3')
    proc.process(200, 100, 'sh')
    proc.process(100, 1, 'sshd')
    proc.socket('10.213.7.2', 22, '10.213.7.1', 40022)
    conn, note = _controller.find({'SSH_CONNECTION': CONN}, str(proc.root), 300)
    assert conn.as_dict() == {'address': '10.213.7.1', 'port': 22, 'family': 'ipv4',
                              'server_address': '10.213.7.2', 'found_in': 'environment', 'local': False}
    assert note == 'found in environment'


def test_become_dropped_it_an_ancestor_has_it(proc):
    # python3 <- sh <- sudo <- sh (the SSH session's shell) <- sshd-session <- sshd
    proc.process(500, 400, 'python3', {'PATH': '/usr/bin', 'USER': 'root'})
    proc.process(400, 300, 'sh', {'USER': 'root'})
    proc.process(300, 200, 'sudo', {'SSH_CONNECTION': CONN, 'USER': 'deploy'})
    proc.process(200, 150, 'sh', {'SSH_CONNECTION': CONN})
    proc.process(150, 100, 'sshd-session', {})
    proc.process(100, 1, 'sshd', {'SSH_CONNECTION': '192.0.2.1 1 192.0.2.2 22'})   # never reached
    proc.socket('10.213.7.2', 22, '10.213.7.1', 40022)
    conn, note = _controller.find({'PATH': '/usr/bin'}, str(proc.root), 500)
    assert (str(conn.client), conn.server_port) == ('10.213.7.1', 22)
    assert note == 'found in process 300 (sudo)'


def test_the_walk_stops_at_sshd(proc):
    proc.process(300, 200, 'python3')
    proc.process(200, 100, 'sshd')
    proc.process(100, 1, 'bash', {'SSH_CONNECTION': CONN})     # sshd's parent: another login
    proc.socket('10.213.7.2', 22, '10.213.7.1', 40022)
    conn, note = _controller.find({}, str(proc.root), 300)
    assert conn is None
    assert note == 'no SSH connection found (connection local or not over SSH): nothing to check'


def test_no_ssh_anywhere_is_nothing_to_check(proc):
    proc.process(300, 200, 'python3')
    proc.process(200, 1, 'ansible-playboo')
    conn, note = _controller.find({}, str(proc.root), 300)
    assert conn is None and 'nothing to check' in note


def test_a_connection_of_another_network_namespace_does_not_count(proc):
    # e.g. tests in a namespace started from an SSH login to the machine, or a stale variable
    proc.process(300, 1, 'python3')
    proc.socket('10.213.7.2', 22, '10.213.7.1', 40023)               # another client port
    proc.socket('10.213.7.2', 22, '10.213.7.1', 40022, state='06')   # TIME_WAIT
    conn, note = _controller.find({'SSH_CONNECTION': CONN}, str(proc.root), 300)
    assert conn is None
    assert note == ('SSH_CONNECTION 10.213.7.1:40022 -> 10.213.7.2:22 (environment) is not a connection '
                    'of this network namespace: nothing to check')


def test_a_stale_own_value_falls_back_to_the_live_ancestor(proc):
    proc.process(300, 200, 'python3')
    proc.process(200, 1, 'sh', {'SSH_CONNECTION': CONN})
    proc.socket('10.213.7.2', 22, '10.213.7.1', 40022)
    conn, note = _controller.find({'SSH_CONNECTION': '10.9.9.9 1234 10.213.7.2 22'}, str(proc.root), 300)
    assert str(conn.client) == '10.213.7.1' and note == 'found in process 200 (sh)'


def test_ipv6_connection(proc):
    proc.process(300, 1, 'python3')
    proc.socket('fd00:213:7::2', 2222, 'fd00:213:7::1', 51000)
    conn, _note = _controller.find({'SSH_CONNECTION': 'fd00:213:7::1 51000 fd00:213:7::2 2222'}, str(proc.root), 300)
    assert conn.as_dict()['family'] == 'ipv6'
    assert (str(conn.client), conn.server_port) == ('fd00:213:7::1', 2222)


def test_ipv4_on_a_dual_stack_socket(proc):
    # sshd listening on :: sees IPv4 clients as IPv4-mapped addresses in tcp6
    proc.process(300, 1, 'python3')
    proc.socket('::ffff:10.213.7.2', 22, '::ffff:10.213.7.1', 40022, table='tcp6')
    conn, _note = _controller.find({'SSH_CONNECTION': '::ffff:10.213.7.1 40022 ::ffff:10.213.7.2 22'},
                                   str(proc.root), 300)
    assert conn.family == 'ipv4' and str(conn.client) == '10.213.7.1'


def test_process_names_with_spaces_and_parentheses(proc):
    proc.process(300, 200, 'python3')
    proc.process(200, 1, 'odd (name) x', {'SSH_CONNECTION': CONN})
    proc.socket('10.213.7.2', 22, '10.213.7.1', 40022)
    conn, note = _controller.find({}, str(proc.root), 300)
    assert conn is not None and note == 'found in process 200 (odd (name) x)'


def test_unreadable_entries_are_skipped(proc):
    proc.process(300, 200, 'python3')
    proc.process(200, 100, 'sh')
    (proc.root / '200' / 'environ').unlink()          # vanished or not readable
    proc.process(100, 1, 'sh', {'SSH_CONNECTION': CONN})
    proc.socket('10.213.7.2', 22, '10.213.7.1', 40022)
    conn, _note = _controller.find({}, str(proc.root), 300)
    assert str(conn.client) == '10.213.7.1'


@pytest.mark.parametrize('value', ['', '10.0.0.1 22', 'a b c d', '10.0.0.1 0 10.0.0.2 22',
                                   '10.0.0.1 1 10.0.0.2 65536', '10.0.0.1 x 10.0.0.2 22'])
def test_malformed_values_are_ignored(value):
    assert _controller.parse(value) is None


def test_link_local_zone_is_dropped():
    conn = _controller.parse('fe80::1%eth0 5000 fe80::2%eth0 22')
    assert str(conn.client) == 'fe80::1' and conn.family == 'ipv6'


def test_real_proc_of_this_process():
    # the real /proc parses; whatever this test runs under, the answer is well formed
    conn, note = _controller.find({})
    assert conn is None or conn.server_port > 0
    assert note
