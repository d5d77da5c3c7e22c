# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Services A and B on the benchmark host for the reload-safety benchmark (python3 stdlib only).

Runs inside ``pbxbench-host1`` (whose lab-listener is started without these ports), fed on
stdin by bench/reload_safety.py:

    python3 - '{"tcp": [5060, 80], "udp": [5060, 4569]}' [--stop-file F] [--max-seconds S]

TCP: listens with a deep backlog and closes what it accepts (the SYN-ACK that the client
counts comes from the kernel; the backlog only has to never fill up). UDP: echoes every
datagram, with an 8 MiB receive buffer (SO_RCVBUFFORCE, the container has NET_ADMIN), so a
few seconds without CPU on a busy machine lose nothing. Prints "ready" once every port is
bound, and at the end one JSON line with what it answered and the kernel's UDP receive errors
of the container's network namespace.
"""

import argparse
import json
import os
import selectors
import socket
import time

SO_RCVBUFFORCE = getattr(socket, 'SO_RCVBUFFORCE', 33)


def udp_errors():
    """RcvbufErrors and InErrors from /proc/net/snmp (this network namespace)."""
    with open('/proc/net/snmp') as handle:
        lines = [line.split() for line in handle if line.startswith('Udp:')]
    values = dict(zip(lines[0][1:], (int(v) for v in lines[1][1:])))
    return {'RcvbufErrors': values.get('RcvbufErrors', 0), 'InErrors': values.get('InErrors', 0)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('ports')
    parser.add_argument('--stop-file', default='/tmp/bench-responder-stop')
    parser.add_argument('--max-seconds', type=float, default=3600)
    args = parser.parse_args()
    ports = json.loads(args.ports)
    sel = selectors.DefaultSelector()
    for port in ports['tcp']:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('0.0.0.0', port))
        sock.listen(4096)
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, ('tcp', port))
    for port in ports['udp']:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.bind(('0.0.0.0', port))
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, ('udp', port))
    before = udp_errors()
    answered = {'tcp': 0, 'udp': 0}
    start = time.time()
    print('ready', flush=True)
    last_check = 0.0
    while True:
        now = time.time()
        if now - last_check > 0.2:
            last_check = now
            if os.path.exists(args.stop_file) or now - start > args.max_seconds:
                break
        for key, _events in sel.select(timeout=0.2):
            proto, _port = key.data
            try:
                if proto == 'tcp':
                    while True:
                        conn, _peer = key.fileobj.accept()
                        conn.close()
                        answered['tcp'] += 1
                else:
                    while True:
                        data, peer = key.fileobj.recvfrom(2048)
                        key.fileobj.sendto(data, peer)
                        answered['udp'] += 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                pass
    after = udp_errors()
    print(json.dumps({'answered': answered,
                      'udp_errors': {k: after[k] - before[k] for k in after}}), flush=True)


if __name__ == '__main__':
    main()
