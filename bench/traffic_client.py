# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Steady stream of NEW connections for the reload-safety benchmark (python3 stdlib only).

Runs inside the client container (``pbxbench-client``), fed on stdin by bench/reload_safety.py:

    python3 - TARGET '{"allowed": {"tcp": 5060, "udp": 5060}, "blocked": {"tcp": 80, "udp": 4569}}' \\
        [--interval 0.01] [--stop-file /tmp/bench-stop] [--max-seconds 900] [--udp-base 10000]

Every ``interval`` seconds it opens one probe of each kind (allowed/blocked x tcp/udp). The
verdicts do not depend on how fast anything is scheduled on a busy machine:

- TCP: a new non-blocking socket connects (up to TCP_WAIT s). Once connected, TCP_INFO tells
  whether the kernel had to retransmit the SYN: ``first`` = the first SYN was answered (it passed
  the firewall), ``retry`` = only a retransmitted SYN was (the first one was dropped),
  ``timed_out`` = no SYN was answered. SYN-ACKs come from the host's kernel, not from a process.
- UDP: a new socket, bound to the next port of a per-kind range of UDP_BLOCK ports (a port comes
  back only after its conntrack entry has expired, so every datagram is a NEW connection), sends
  one datagram; the host's responder echoes it. UDP has no retransmission, so an echo arriving
  even late proves the datagram passed; waiting UDP_WAIT s makes a slow responder harmless.
  Give each run its own --udp-base so that runs close together share no source port.

It stops when the stop file exists (or after max-seconds), waits for the probes in flight, and
prints one JSON object: per kind, sent / first / retry / answered / timed_out, plus the times of
the first anomalies (allowed not answered at once, blocked answered).
"""

import argparse
import errno
import heapq
import json
import os
import resource
import selectors
import socket
import struct
import sys
import time

# Source ports per kind: at 100 datagrams/s a port comes back after 35 s, when its conntrack entry
# (30 s for UDP) is gone. Keep every range below 32768: the ephemeral range is where Docker's embedded
# DNS server binds its UDP port inside the container.
UDP_BLOCK = 3500
TCP_WAIT = 3.5       # covers the SYN retransmissions at 1 s and 3 s
UDP_WAIT = 5.0
TCP_INFO_TOTAL_RETRANS = 100   # offset of tcpi_total_retrans in struct tcp_info


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('target')
    parser.add_argument('services')
    parser.add_argument('--interval', type=float, default=0.01)
    parser.add_argument('--stop-file', default='/tmp/bench-stop')
    parser.add_argument('--max-seconds', type=float, default=900)
    parser.add_argument('--udp-base', type=int, default=10000,
                        help='allowed probes use UDP source ports from base, blocked ones from base + UDP_BLOCK')
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    services = json.loads(args.services)
    kinds = [(verdict, proto) for verdict in ('allowed', 'blocked') for proto in ('tcp', 'udp')]
    stats = {'%s_%s' % kind: {'sent': 0, 'first': 0, 'retry': 0, 'answered': 0, 'timed_out': 0, 'errors': 0}
             for kind in kinds}
    anomalies = []
    udp_next = {'allowed': 0, 'blocked': 0}
    udp_first = {'allowed': args.udp_base, 'blocked': args.udp_base + UDP_BLOCK}
    sel = selectors.DefaultSelector()
    deadlines = []           # (deadline, seq, sock)
    pending = {}             # sock -> (kind key, verdict, sent at)
    seq = 0
    linger = struct.pack('ii', 1, 0)

    def note(key, sent, what):
        if sum(1 for a in anomalies if a['what'] == what) < 20:      # the first 20 of each
            anomalies.append({'kind': key, 'at': round(sent, 3), 'what': what})

    def finish(sock, outcome):
        """outcome: 'first', 'retry', 'timed_out' or 'errors'."""
        key, verdict, sent = pending.pop(sock)
        sel.unregister(sock)
        sock.close()
        bucket = stats[key]
        bucket[outcome] += 1
        if outcome in ('first', 'retry'):
            bucket['answered'] += 1
            if verdict == 'blocked':
                note(key, sent, 'blocked answered')
        if verdict == 'allowed' and outcome in ('retry', 'timed_out'):
            note(key, sent, 'allowed ' + outcome)

    def launch(verdict, proto):
        nonlocal seq
        key = '%s_%s' % (verdict, proto)
        port = services[verdict][proto]
        now = time.time()
        if proto == 'tcp':
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)   # close = RST, no TIME_WAIT
            sock.setblocking(False)
            rc = sock.connect_ex((args.target, port))
            if rc not in (0, errno.EINPROGRESS):
                sock.close()
                stats[key]['errors'] += 1
                return
            sel.register(sock, selectors.EVENT_WRITE, 'tcp')
            wait = TCP_WAIT
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            for _attempt in range(10):       # a port something else holds is skipped
                port_src = udp_first[verdict] + udp_next[verdict] % UDP_BLOCK
                udp_next[verdict] += 1
                try:
                    sock.bind(('0.0.0.0', port_src))
                    break
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        raise
            else:
                sock.close()
                stats[key]['errors'] += 1
                return
            sock.setblocking(False)
            sock.connect((args.target, port))
            try:
                sock.send(b'bench %s %d' % (key.encode(), stats[key]['sent']))
            except OSError:
                sock.close()
                stats[key]['errors'] += 1
                return
            sel.register(sock, selectors.EVENT_READ, 'udp')
            wait = UDP_WAIT
        stats[key]['sent'] += 1
        pending[sock] = (key, verdict, now)
        seq += 1
        heapq.heappush(deadlines, (now + wait, seq, sock))

    start = time.time()
    stopped_at = None
    next_round = start
    stopping = False
    print('traffic_client: streaming to %s' % args.target, file=sys.stderr, flush=True)
    last_stop_check = 0.0
    while True:
        now = time.time()
        if not stopping and now - last_stop_check > 0.05:
            last_stop_check = now
            if os.path.exists(args.stop_file) or now - start > args.max_seconds:
                stopping = True
                stopped_at = now
        if not stopping and now >= next_round:
            for verdict, proto in kinds:
                launch(verdict, proto)
            next_round += args.interval
            if next_round < now:          # never burst to catch up: keep the rate steady
                next_round = now + args.interval
        if stopping and not pending:
            break
        wake = now + 0.05 if stopping else next_round
        if deadlines:
            wake = min(wake, deadlines[0][0])
        for key, _events in sel.select(timeout=max(0.0, wake - time.time())):
            sock = key.fileobj
            if sock not in pending:
                continue
            if key.data == 'tcp':
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err in (0, errno.ECONNREFUSED):     # SYN-ACK or RST: a SYN went through the firewall
                    retrans = 0
                    if err == 0:
                        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
                        retrans = struct.unpack_from('I', info, TCP_INFO_TOTAL_RETRANS)[0]
                    finish(sock, 'retry' if retrans else 'first')
                elif err == errno.ETIMEDOUT:
                    finish(sock, 'timed_out')
                else:
                    finish(sock, 'errors')
            else:
                try:
                    sock.recv(2048)
                    finish(sock, 'first')
                except ConnectionRefusedError:     # ICMP port unreachable: passed the firewall
                    finish(sock, 'first')
                except OSError:
                    finish(sock, 'errors')
        now = time.time()
        while deadlines and deadlines[0][0] <= now:
            _deadline, _seq, sock = heapq.heappop(deadlines)
            if sock in pending:
                finish(sock, 'timed_out')
    print(json.dumps({'seconds': stopped_at - start, 'interval': args.interval, 'tcp_wait': TCP_WAIT,
                      'udp_wait': UDP_WAIT, 'stats': stats, 'anomalies': anomalies}))


if __name__ == '__main__':
    main()
