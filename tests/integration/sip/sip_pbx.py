# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A PBX stand-in for the SIP guard tests (test harness only, not part of the collection).

Run inside a network namespace: ``python sip_pbx.py LOG [--originate HOST PORT COUNT RATE]``.
It answers SIP on UDP (IPv4 and IPv6) and TCP port 5060 like a small PBX: OPTIONS 200,
REGISTER and INVITE 401 for the extensions 100-109 and 404 for any other (so svwar has
something to find), BYE/CANCEL 200, nothing for ACK. Every SIP message it receives is
appended to LOG as one JSON line (kind ``req`` or ``resp``, source, transport, method,
User-Agent): counting at the receiver is the ground truth for "delivered". With
``--originate`` it also sends COUNT OPTIONS requests at RATE per second from its own
port 5060 to HOST:PORT, as a PBX checks its phones. It stops on SIGTERM.
"""

import json
import re
import select
import signal
import socket
import sys
import threading
import time

EXTENSIONS = set(str(n) for n in range(100, 110))
PORT = 5060


def header(text, name):
    match = re.search(r'^%s[ \t]*:[ \t]*(.*?)\r?$' % re.escape(name), text, re.M | re.I)
    return match.group(1) if match else ''


def reply(request, code, reason, extra=''):
    lines = request.split('\r\n')
    keep = [line for line in lines[1:] if re.match(r'(?i)(via|from|to|call-id|cseq)\s*:', line)]
    keep = [line + ';tag=pbx1' if re.match(r'(?i)to\s*:', line) and ';tag=' not in line
            else line for line in keep]
    return ('SIP/2.0 %d %s\r\n%s\r\n%sServer: pbx-stand-in\r\nContent-Length: 0\r\n\r\n'
            % (code, reason, '\r\n'.join(keep), extra)).encode()


def answer(text):
    method = text.split(' ', 1)[0]
    uri = text.split(' ', 2)[1] if text.count(' ') >= 2 else ''
    user = re.match(r'sips?:([^@;>]*)@', uri)
    ext = user.group(1) if user else re.sub(r'.*sips?:([^@;>]*)@.*', r'\1', header(text, 'To'))
    if method == 'ACK':
        return None
    if method in ('OPTIONS', 'BYE', 'CANCEL'):
        return reply(text, 200, 'OK')
    if ext in EXTENSIONS:
        return reply(text, 401, 'Unauthorized',
                     'WWW-Authenticate: Digest realm="pbx", nonce="abc"\r\n')
    return reply(text, 404, 'Not Found')


class Log(object):
    def __init__(self, path):
        self.out = open(path, 'a')
        self.lock = threading.Lock()

    def message(self, text, source, proto):
        first = text.split('\r\n', 1)[0]
        kind = 'resp' if first.startswith('SIP/2.0 ') else 'req'
        entry = {'kind': kind, 'src': source[0], 'sport': source[1], 'proto': proto,
                 'method': first.split(' ', 1)[0] if kind == 'req' else first[8:11],
                 'ua': header(text, 'User-Agent'), 'from': header(text, 'From'), 't': time.time()}
        with self.lock:
            self.out.write(json.dumps(entry) + '\n')
            self.out.flush()
        return kind


def split_stream(buffer):
    """Complete SIP messages at the start of a TCP stream buffer, and the rest."""
    messages = []
    while b'\r\n\r\n' in buffer:
        head, rest = buffer.split(b'\r\n\r\n', 1)
        if not head.strip():
            buffer = rest
            continue
        length = int(header(head.decode('latin-1'), 'Content-Length') or 0)
        if len(rest) < length:
            break
        messages.append(head.decode('latin-1') + '\r\n\r\n' + rest[:length].decode('latin-1'))
        buffer = rest[length:]
    return messages, buffer


def originate(sock, host, port, count, rate):
    local = sock.getsockname()
    for number in range(count):
        started = time.time()
        text = ('OPTIONS sip:phone@%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK-o%d\r\n'
                'From: <sip:pbx@%s>;tag=o%d\r\nTo: <sip:phone@%s>\r\nCall-ID: o%d@pbx\r\n'
                'CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: pbx-stand-in\r\n'
                'Content-Length: 0\r\n\r\n' % (host, port, local[0], local[1], number, local[0],
                                               number, host, number))
        sock.sendto(text.encode(), (host, port))
        time.sleep(max(0.0, 1.0 / rate - (time.time() - started)))


def main(argv):
    log = Log(argv[1])
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    udp4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp4.bind(('0.0.0.0', PORT))
    udp6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    udp6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    udp6.bind(('::', PORT))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(('0.0.0.0', PORT))
    tcp.listen(64)
    if len(argv) > 2 and argv[2] == '--originate':
        host, port, count, rate = argv[3], int(argv[4]), int(argv[5]), float(argv[6])
        threading.Thread(target=originate, args=(udp4, host, port, count, rate), daemon=True).start()
    streams = {}
    print('ready', flush=True)
    while running[0]:
        readable, _w, _x = select.select([udp4, udp6, tcp] + list(streams), [], [], 0.2)
        for sock in readable:
            if sock is tcp:
                conn, _addr = tcp.accept()
                streams[conn] = b''
            elif sock in streams:
                try:
                    data = sock.recv(65536)
                except OSError:     # reset by the peer, or closed here by ss -K
                    data = b''
                if not data:
                    sock.close()
                    del streams[sock]
                    continue
                messages, streams[sock] = split_stream(streams[sock] + data)
                for text in messages:
                    if log.message(text, sock.getpeername(), 'tcp') == 'req':
                        out = answer(text)
                        if out:
                            try:
                                sock.sendall(out)
                            except OSError:
                                pass        # the next recv sees the end
            else:
                data, source = sock.recvfrom(65536)
                text = data.decode('latin-1')
                if not text.strip():
                    continue
                if log.message(text, source, 'udp') == 'req':
                    out = answer(text)
                    if out:
                        sock.sendto(out, source)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
