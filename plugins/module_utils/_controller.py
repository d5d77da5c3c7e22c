# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the controller is, seen from the managed host (private to pbxops.firewall).

This file is private to the ``pbxops.firewall`` collection; its interface may change
without notice. It owns one question: which address and port does the SSH connection
that runs this module come from and to? sshd puts ``SSH_CONNECTION`` ("client_ip
client_port server_ip server_port") into the environment of the session. The module
sees it in its own environment, or, when ``become`` (sudo, ``su -l``) dropped it, in the
environment of an ancestor process: the walk goes up the parent chain in ``/proc`` and
stops at the sshd process. A connection counts only when its TCP socket exists in this
network namespace (``/proc/self/net/tcp`` and ``tcp6``): an ``SSH_CONNECTION`` inherited
from a login to another namespace, or left over from a session that has ended, never
passes through this host's firewall. No SSH connection (Ansible's ``local``
connection, a container connection) means nothing to check.

A connection is *local* when the controller's end is on this host too: its address is
a loopback address or the server address itself, or its socket (the other direction of
the same four-tuple) is also one of this namespace's. That is a reverse tunnel,
cloudflared, an SSM- or Teleport-style agent, or a controller that SSHes to one of the
host's own addresses: its packets arrive on ``lo``, whatever the policy says about the
address.

Standard library only; no Ansible imports. Unreadable ``/proc`` entries are skipped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os
import sys

VARIABLE = 'SSH_CONNECTION'
SSHD_NAMES = ('sshd', 'sshd-session', 'sshd-auth')
MAX_ANCESTORS = 64
TCP_ESTABLISHED = '01'


class SshConnection(object):
    """The controller's SSH connection as the host sees it."""

    def __init__(self, client, client_port, server, server_port, found_in):
        self.client = client                  # ipaddress object (IPv4-mapped IPv6 unwrapped)
        self.client_port = client_port
        self.server = server
        self.server_port = server_port
        self.found_in = found_in              # 'environment' or 'process 123 (sh)'
        self.local = client.is_loopback or client == server   # refined by find()

    def key(self):
        return (self.client, self.client_port, self.server, self.server_port)

    @property
    def family(self):
        return 'ipv4' if self.client.version == 4 else 'ipv6'

    def as_dict(self):
        return {'address': str(self.client), 'port': self.server_port, 'family': self.family,
                'server_address': str(self.server), 'found_in': self.found_in, 'local': self.local}


def _plain(address):
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse(value, found_in='environment'):
    """An SshConnection from an ``SSH_CONNECTION`` value, or None when it is malformed."""
    parts = (value or '').split()
    if len(parts) != 4:
        return None
    try:
        client = _plain(ipaddress.ip_address(parts[0].partition('%')[0]))
        server = _plain(ipaddress.ip_address(parts[2].partition('%')[0]))
        client_port, server_port = int(parts[1]), int(parts[3])
    except ValueError:
        return None
    if not (0 < client_port < 65536 and 0 < server_port < 65536):
        return None
    return SshConnection(client, client_port, server, server_port, found_in)


def _read(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _environ_value(raw):
    for item in raw.split(b'\0'):
        if item.startswith(VARIABLE.encode('ascii') + b'='):
            return item.split(b'=', 1)[1].decode('ascii', 'replace')
    return None


def _parent(proc, pid):
    """(parent pid, command name) of a process, or None."""
    stat = _read(os.path.join(proc, str(pid), 'stat'))
    if stat is None:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    head, _sep, tail = stat.decode('utf-8', 'replace').rpartition(')')
    fields = tail.split()
    if not _sep or len(fields) < 2:
        return None
    name = head.partition('(')[2]
    try:
        return int(fields[1]), name
    except ValueError:
        return None


def _hex_address(text):
    """An address from /proc/net/tcp notation (32-bit words in host byte order)."""
    raw = bytes(bytearray.fromhex(text))
    words = [raw[i:i + 4] for i in range(0, len(raw), 4)]
    if sys.byteorder == 'little':
        words = [w[::-1] for w in words]
    return _plain(ipaddress.ip_address(b''.join(words)))


def established(proc='/proc'):
    """The established TCP connections of this network namespace: set of (local, lport, remote, rport)."""
    found = set()
    for name in ('tcp', 'tcp6'):
        raw = _read(os.path.join(proc, 'self', 'net', name))
        if raw is None:
            continue
        for line in raw.decode('ascii', 'replace').splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != TCP_ESTABLISHED:
                continue
            try:
                local, lport = fields[1].split(':')
                remote, rport = fields[2].split(':')
                found.add((_hex_address(local), int(lport, 16), _hex_address(remote), int(rport, 16)))
            except ValueError:
                continue
    return found


def _in_namespace(conn, sockets):
    client, client_port, server, server_port = conn.key()
    return (server, server_port, client, client_port) in sockets


def find(environ=None, proc='/proc', pid=None):
    """The SSH connection this process runs under, or None; also returns why not, as text.

    Returns (SshConnection or None, note). ``note`` says where it was found or why
    there is nothing to check.
    """
    environ = os.environ if environ is None else environ
    pid = os.getpid() if pid is None else pid
    candidates = []
    own = parse(environ.get(VARIABLE))
    if own is not None:
        candidates.append(own)
    for _step in range(MAX_ANCESTORS):
        info = _parent(proc, pid)
        if info is None:
            break
        ppid, name = info
        raw = _read(os.path.join(proc, str(pid), 'environ'))
        value = _environ_value(raw) if raw else None
        conn = parse(value, 'process %d (%s)' % (pid, name)) if value else None
        if conn is not None and conn.key() not in [c.key() for c in candidates]:
            candidates.append(conn)
        if name in SSHD_NAMES or ppid <= 1:
            break
        pid = ppid
    if not candidates:
        return None, 'no SSH connection found (connection local or not over SSH): nothing to check'
    sockets = established(proc)
    for conn in candidates:
        if _in_namespace(conn, sockets):
            # the controller's own end of the connection is a socket of this host too
            conn.local = conn.local or conn.key() in sockets
            return conn, 'found in %s' % conn.found_in
    first = candidates[0]
    return None, ('SSH_CONNECTION %s:%d -> %s:%d (%s) is not a connection of this network namespace: '
                  'nothing to check' % (first.client, first.client_port, first.server, first.server_port,
                                        first.found_in))
