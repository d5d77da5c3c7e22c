# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A block stays in force under a flood: ending flows never counts against the rollback window.

The scenario of issue 19: a PBX allows ``Internet 0.0.0.0/0 [sip]``, and one client keeps
3,000 UDP flows to port 5060 busy (one datagram per flow per second, each answered by the
PBX, so every flow is ESTABLISHED). The policy changes to ``Internet [web]`` over SSH with
``rollback_timeout: 10``. Every one of the 3,000 flows lost access and is ended; the
controller confirms over a new connection, so the block stays: the owned rules are the new
ones once the confirmation window is over, and the PBX receives nothing more from the
client.

Before the fix the module ended the flows one ``conntrack -D`` at a time after the window
had started, took longer than the window, and the host put "Internet: allow sip" back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

FLOWS = 3000
TIMEOUT = 10
RUN_DIR = '/run/pbx-firewall'

# the PBX stand-in: answers every datagram, writes (count, time of the last one) from the client
RECEIVER = r'''
import json, os, socket, sys, time
client, state = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
s.bind(('0.0.0.0', 5060))
s.settimeout(0.2)
count, last, flushed = 0, 0.0, 0.0
print('ready', flush=True)
while True:
    try:
        data, peer = s.recvfrom(2048)
        if peer[0] == client:
            count, last = count + 1, time.time()
        s.sendto(b'SIP/2.0 200 OK\r\n\r\n', peer)
    except socket.timeout:
        pass
    if time.time() - flushed > 0.2:
        with open(state + '.tmp', 'w') as handle:
            json.dump({'count': count, 'last': last}, handle)
        os.rename(state + '.tmp', state)
        flushed = time.time()
'''

# the client: FLOWS sockets, one datagram each per second; counts the flows that got an answer
SENDER = r'''
import json, os, select, socket, sys, time
source, target, flows, state = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
poller, socks = select.epoll(), {}
for _n in range(flows):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.setblocking(False)
    socks[s.fileno()] = s
    poller.register(s.fileno(), select.EPOLLIN)
answered = set()
print('ready', flush=True)
while True:
    started = time.time()
    for s in socks.values():
        try:
            s.sendto(b'OPTIONS sip:pbx SIP/2.0\r\n\r\n', (target, 5060))
        except OSError:
            pass
    while time.time() - started < 1.0:
        for fd, _event in poller.poll(0.1):
            try:
                while socks[fd].recv(2048):
                    answered.add(fd)
            except OSError:
                pass
    with open(state + '.tmp', 'w') as handle:
        json.dump({'answered': len(answered)}, handle)
    os.rename(state + '.tmp', state)
'''


def _start(argv):
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line == 'ready', (line, proc.stderr.read() if proc.poll() is not None else '')
    return proc


def _read(path):
    try:
        with open(str(path)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _established(ns, source):
    out = sup.run(sup.ns_argv(ns, 'conntrack', '-L', '-p', 'udp', '-s', source, '--dport', '5060'),
                  check=False).stdout
    return sum(1 for line in out.splitlines() if 'UNREPLIED' not in line and 'dport=5060' in line)


def test_a_block_under_flood_stays_in_force(ssh_host, client, ansible, tmp_path, needs):
    needs(shutil.which('conntrack'), 'conntrack is not installed')
    controller = {'name': 'Controller', 'subnet': ssh_host.controller, 'services': ['ssh']}
    internet = {'name': 'Internet', 'subnet': '0.0.0.0/0'}
    sip = _policy.firewall_ruleset([controller, dict(internet, services=['sip'])], ipv6=False)
    web = _policy.firewall_ruleset([controller, dict(internet, services=['web'])], ipv6=False)
    args = {'backend': 'nft', 'rollback_timeout': TIMEOUT, 'persist': False}
    first, = ansible.run([{sup.MODULE: dict(args, ruleset=sip)}], ssh_host.inventory)
    assert first['_status'] == 'ok' and first['rolled_back'] is False, first.get('msg')

    flooder = client.addresses[0]
    received, answered = tmp_path / 'received.json', tmp_path / 'answered.json'
    receiver = _start(sup.ns_argv(ssh_host.netns.name, sup.PYTHON, '-c', RECEIVER, flooder, str(received)))
    sender = None
    try:
        sender = _start(sup.ns_argv(client.ns, sup.PYTHON, '-c', SENDER, flooder, client.host_address,
                                    str(FLOWS), str(answered)))
        # every flow answered by the PBX: ESTABLISHED, and so passed by the old rules' accept
        sup.wait_for('%d answered flows' % FLOWS, lambda: (_read(answered) or {}).get('answered') == FLOWS,
                     interval=0.2)
        sup.wait_for('%d established entries' % FLOWS, lambda: _established(ssh_host.netns.name, flooder) >= FLOWS,
                     interval=0.2)

        started = time.time()
        block, = ansible.run([{sup.MODULE: dict(args, ruleset=web), 'ignore_errors': True}], ssh_host.inventory)
        returned = time.time()
        print('the blocking apply took %.1f s; flows_ended: %s' % (
            returned - started, {k: v for k, v in (block.get('flows_ended') or {}).items() if k != 'flows'}))

        # confirmed over a new connection: not rolled back, and the window is closed
        assert block['_status'] == 'ok', block.get('msg')
        assert block['rolled_back'] is False
        assert not os.path.exists(os.path.join(RUN_DIR, 'pending-%s' % block['rollback_token']))
        assert block['flows_ended']['count'] == FLOWS, block['flows_ended']
        assert sup.ruleset_mismatch(ssh_host.netns.name, 'nft', web) == []

        # the client keeps sending: nothing of it reaches the PBX any more
        seen = _read(received)
        time.sleep(3)
        after = _read(received)
        assert after['count'] == seen['count'], (seen, after)
        assert after['last'] < returned, (after['last'] - returned)
    finally:
        if sender is not None:
            sup.stop(sender)
        sup.stop(receiver)
    # the owned rules are still the blocking ones
    assert sup.ruleset_mismatch(ssh_host.netns.name, 'nft', web) == []
