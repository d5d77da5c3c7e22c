# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which TCP sessions an apply ends, with real listeners, clients and the administrator's rules.

A stand-in for AMI listens on port 5038 of the host namespace and sends every client an
event line ten times a second (as Asterisk does to a logged-in AMI client); clients in a
second namespace read them. Then the policy takes ``ami`` away from the clients' network:

* a client of a dual-stack listener (``[::]:5038`` with ``IPV6_V6ONLY=0``, where an IPv4
  peer is ``::ffff:a.b.c.d``) is cut off: its connection is reset and it receives nothing
  more (before the fix ``ss -4`` never saw the socket, and the host's next event opened the
  flow again: the client kept receiving);
* a client the administrator's own rule before the jump to the owned chains still accepts
  (``iptables -I INPUT 1 -s B -p tcp --dport 5038 -j ACCEPT``) keeps its session (before
  the fix it was reset); one that an interface rule may accept (``-i IFACE``, which the
  module cannot evaluate) is left alone too, and the result and a warning say so.
"""

from __future__ import annotations

import json
import subprocess
import time

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

AMI = 5038

SERVER = r'''
import socket, sys, threading, time
dual = sys.argv[1] == 'dual'
s = socket.socket(socket.AF_INET6 if dual else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if dual:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(('::' if dual else '0.0.0.0', %d))
s.listen(16)
print('ready', flush=True)

def events(conn):
    try:
        while True:
            conn.sendall(b'Event: PeerStatus\r\n')
            time.sleep(0.1)
    except OSError:
        conn.close()

while True:
    conn, _peer = s.accept()
    threading.Thread(target=events, args=(conn,), daemon=True).start()
''' % AMI

CLIENT = r'''
import json, os, socket, sys, time
source, host, state = sys.argv[1], sys.argv[2], sys.argv[3]
c = socket.socket()
c.bind((source, 0))
c.connect((host, %d))
info = {'received': 0, 'last': None, 'closed': None, 'error': None}

def save():
    with open(state + '.tmp', 'w') as handle:
        json.dump(info, handle)
    os.rename(state + '.tmp', state)

save()
print('ready', flush=True)
c.settimeout(0.5)
while info['closed'] is None:
    try:
        data = c.recv(4096)
        if not data:
            info['closed'], info['error'] = time.time(), 'EOF'
        else:
            info['received'] += data.count(b'\n')
            info['last'] = time.time()
    except socket.timeout:
        pass
    except OSError as exc:
        info['closed'], info['error'] = time.time(), type(exc).__name__
    save()
time.sleep(3600)
''' % AMI


class Session:
    """A client's AMI session, read in the client namespace."""

    def __init__(self, client, source, state):
        self.state = state
        self.proc = subprocess.Popen(sup.ns_argv(client.ns, sup.PYTHON, '-c', CLIENT, source, client.host_address,
                                                 str(state)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline().strip()
        assert line == 'ready', (line, self.proc.stderr.read() if self.proc.poll() is not None else '')

    def info(self):
        with open(str(self.state)) as handle:
            return json.load(handle)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def _start_server(netns, mode):
    proc = subprocess.Popen(netns.argv(sup.PYTHON, '-c', SERVER, mode), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line == 'ready', (line, proc.stderr.read() if proc.poll() is not None else '')
    return proc


def _rulesets(client):
    """The clients' network has ami, then loses it (ssh stays: something must stay allowed)."""
    lan = {'name': 'Client LAN', 'subnet': client.addresses[0].rsplit('.', 1)[0] + '.0/24'}
    return (_policy.firewall_ruleset([dict(lan, services=['ami', 'ssh'])], ipv6=False),
            _policy.firewall_ruleset([dict(lan, services=['ssh'])], ipv6=False))


def _apply(ansible, netns, ruleset):
    result, = ansible.local(netns, [{sup.MODULE: {'ruleset': ruleset, 'backend': 'nft', 'persist': False,
                                                  'rollback_timeout': 5}}])
    assert result['_status'] == 'ok' and result['rolled_back'] is False, result.get('msg')
    return result


def _sessions(client, tmp_path, sources):
    sessions = {}
    for source in sources:
        sessions[source] = Session(client, source, tmp_path / ('session-%s.json' % source))
    sup.wait_for('events in every session', lambda: all(s.info()['received'] >= 3 for s in sessions.values()), timeout=10)
    return sessions


def _cut_off(session, applied):
    """The session was reset and received nothing after the apply (allowing 1 s for what was under way)."""
    sup.wait_for('the session to end', lambda: session.info()['closed'] is not None, timeout=5)
    info = session.info()
    assert info['error'] in ('ConnectionResetError', 'EOF'), info
    assert info['last'] is None or info['last'] < applied + 1, (info['last'] - applied, info)


def _kept(session, applied):
    """Still open and receiving events well after the apply."""
    sup.wait_for('events after the apply', lambda: (session.info()['last'] or 0) > applied + 2, timeout=5)
    assert session.info()['closed'] is None, session.info()


def test_an_ipv4_client_of_a_dual_stack_listener_is_cut_off(netns, client, ansible, tmp_path):
    allow, block = _rulesets(client)
    _apply(ansible, netns, allow)
    server = _start_server(netns, 'dual')
    sessions = {}
    try:
        sessions = _sessions(client, tmp_path, client.addresses[:1])
        # the host sees the IPv4 client on an IPv6 socket
        assert '[::ffff:%s]' % client.addresses[0] in netns.sh('ss -t -n state established')
        result = _apply(ansible, netns, block)
        applied = time.time()
        assert result['flows_ended']['count'] == 1, result['flows_ended']
        assert result['flows_ended']['flows'][0].startswith('tcp %s:' % client.addresses[0])
        _cut_off(sessions[client.addresses[0]], applied)
        assert '::ffff:%s' % client.addresses[0] not in netns.sh('ss -t -n state established')
    finally:
        for session in sessions.values():
            session.stop()
        server.kill()
        server.wait()


def test_a_client_that_inputs_own_rules_still_accept_keeps_its_session(netns, client, ansible, tmp_path):
    lost, admin, interface = client.addresses
    allow, block = _rulesets(client)
    _apply(ansible, netns, allow)
    # the administrator's rules before the jump: one that keeps an address's AMI, one that
    # depends on the interface a packet arrives on (the module cannot tell)
    iface = netns.sh("ip -o addr show to %s | awk '{print $2}'" % client.host_address).strip()
    netns.sh('iptables-nft -w -I INPUT 1 -s %s/32 -p tcp -m tcp --dport %d -j ACCEPT' % (admin, AMI))
    netns.sh('iptables-nft -w -I INPUT 2 -s %s/32 -i %s -p tcp -m tcp --dport %d -j ACCEPT' % (interface, iface, AMI))
    server = _start_server(netns, 'ipv4')
    sessions = {}
    try:
        sessions = _sessions(client, tmp_path, client.addresses)
        result = _apply(ansible, netns, block)
        applied = time.time()
        _cut_off(sessions[lost], applied)
        _kept(sessions[admin], applied)
        _kept(sessions[interface], applied)
        ended = result['flows_ended']
        assert (ended['count'], ended['undecided'], ended['left']) == (1, 1, 0), ended
        assert ended['flows'][0].startswith('tcp %s:' % lost), ended
        warning, = [w for w in result['_warnings'] if 'left alone' in w]
        assert '1 flows that may have lost access were left alone' in warning, warning
        assert '-i %s' % iface in warning and interface in warning, warning
    finally:
        for session in sessions.values():
            session.stop()
        server.kill()
        server.wait()
