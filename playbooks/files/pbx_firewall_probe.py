# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The probe of the pbxops.firewall.verify playbook (ansible.builtin.script runs it on a probe host).

Private to the pbxops.firewall collection: its input and output are a contract with
playbooks/verify.yml and plugins/plugin_utils/_verify_report.py only. It sends real
traffic to the PBX addresses it is given, and nowhere else, and prints what came back.

Input: one argument, base64 of zlib-compressed JSON:
  {"timeout": 2.0, "parallel": 32, "deadline": 120, "max_probes": 5000,
   "probes": [[pbx, address, service, proto, port, kind], ...]}
with proto tcp | udp | icmp, port null for icmp, and kind one of
  tcp   TCP connect
  sip   SIP OPTIONS over UDP (a SIP server answers it)
  iax   IAX2 POKE over UDP (an IAX2 server answers PONG)
  udp   one datagram; a service may not answer ("no answer != blocked")
  icmp  ICMP / ICMPv6 echo request
Output (stdout, JSON): {"elapsed": s, "families": {"ipv4": bool, "ipv6": bool},
"results": [{"address", "source", "observed", "detail", "ms"}, ...]} in input order.
"source" is the address this host sends from to that address (the kernel's route choice,
what `ip route get ADDRESS` prints; null: no route). "families" says in which address
families this host has an address of its own other than loopback and link-local (null
when it cannot tell), so that "no route" can be told from "no such family here".
observed:
  open     the service answered (TCP connected, a UDP reply, an echo reply)
  closed   no answer where the protocol needs one (TCP, SIP, IAX2, ICMP echo) within
           the timeout, a local firewall refused to send, or a firewall on the way
           rejected it as prohibited (ICMP host/admin prohibited, e.g. firewalld's zones):
           the traffic is blocked
  refused  a TCP reset or an ICMP port unreachable came back: the packet reached a host
           or a firewall that rejected it; nothing listens there, or a REJECT rule
  unknown  a plain UDP port did not answer: many services never do (no answer != blocked)
  error    the probe could not run (no route, no address in that family, ...)
Standard library only, Python 3.6+.
"""

from __future__ import absolute_import, division, print_function

import base64
import errno
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

USER_AGENT = 'pbxops.firewall-verify'
REJECTED = (errno.ECONNREFUSED, errno.ECONNRESET, errno.ENETUNREACH,
            getattr(errno, 'EHOSTDOWN', -1))
LOCAL_BLOCK = (errno.EPERM, errno.EACCES)


def family_of(address):
    return socket.AF_INET6 if ':' in address else socket.AF_INET


def route_source(address):
    """The local address the kernel sends from to ``address`` (no packet is sent)."""
    sock = socket.socket(family_of(address), socket.SOCK_DGRAM)
    try:
        sock.connect((address, 9))
        return sock.getsockname()[0]
    except OSError:
        return None
    finally:
        sock.close()


def families_from_proc(trie, inet6):
    """{family: bool} from /proc/net/fib_trie and /proc/net/if_inet6 (their text)."""
    # fib_trie: "|-- ADDRESS" followed by "/32 host LOCAL" for each address of the host
    lines = trie.splitlines()
    ipv4 = any(lines[i + 1].strip().startswith('/32 host LOCAL') and not lines[i].split()[-1].startswith('127.')
               for i in range(len(lines) - 1) if lines[i].strip().startswith('|--'))
    # if_inet6: address, index, prefix, scope (00 global, 20 link, 10 host), flags, name
    ipv6 = any(len(fields) >= 4 and fields[3] == '00' for fields in (line.split() for line in inet6.splitlines()))
    return {'ipv4': ipv4, 'ipv6': ipv6}


def own_families():
    """In which families this host has an address other than loopback and link-local."""
    try:
        with open('/proc/net/fib_trie') as trie, open('/proc/net/if_inet6') as inet6:
            return families_from_proc(trie.read(), inet6.read())
    except (IOError, OSError):
        pass                     # not Linux, or no IPv6 at all: ask ip
    try:
        out = subprocess.run(['ip', '-o', 'addr', 'show'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             timeout=5, check=False).stdout.decode('utf-8', 'replace')
    except (OSError, subprocess.SubprocessError):
        return None
    words = [line.split() for line in out.splitlines()]
    return {'ipv4': any('inet' in w and w[w.index('inet') + 1].split('.')[0] != '127' for w in words),
            'ipv6': any('inet6' in w and 'global' in w for w in words)}


def error_result(exc, silent):
    """Map a socket error to (observed, detail); ``silent`` is what a timeout means."""
    if isinstance(exc, socket.timeout):
        return silent, 'no answer'
    code = getattr(exc, 'errno', None)
    text = os.strerror(code) if code else str(exc)
    if code in LOCAL_BLOCK:
        return 'closed', 'a firewall on the probe host refused to send (%s)' % text
    if code == errno.EHOSTUNREACH:
        # Within the probe's timeout only a "prohibited" ICMP error gives this: the kernel
        # reports a plain host unreachable (a soft error) only after its own retries.
        return 'closed', 'rejected by a firewall: ICMP host or admin prohibited (%s)' % text
    if code in REJECTED:
        return 'refused', text
    return 'error', text


def probe_tcp(address, port, timeout):
    sock = socket.socket(family_of(address), socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((address, port))
        return 'open', 'connected'
    except (OSError, socket.timeout) as exc:
        return error_result(exc, 'closed')
    finally:
        sock.close()


def sip_options(address, port, source, tag):
    host = '[%s]' % address if ':' in address else address
    via = '[%s]' % source if source and ':' in source else (source or '0.0.0.0')
    lines = [
        'OPTIONS sip:%s:%d SIP/2.0' % (host, port),
        'Via: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport' % (via, tag),
        'Max-Forwards: 70',
        'From: <sip:verify@%s>;tag=%s' % (via, tag),
        'To: <sip:%s:%d>' % (host, port),
        'Call-ID: %s@pbxops-verify' % tag,
        'CSeq: 1 OPTIONS',
        'Contact: <sip:verify@%s>' % via,
        'Accept: application/sdp',
        'User-Agent: %s' % USER_AGENT,
        'Content-Length: 0',
    ]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('ascii')


def iax_poke():
    # Full frame: source call number with the F bit, destination call 0, timestamp,
    # oseqno, iseqno, frame type 6 (IAX control), subclass 0x1e (POKE).
    return struct.pack('!HHIBBBB', 0x8000 | (os.getpid() & 0x7fff), 0, 0, 0, 0, 6, 0x1e)


def probe_udp(address, port, kind, timeout, source):
    tag = os.urandom(6).hex()
    if kind == 'sip':
        payload = sip_options(address, port, source, tag)
    elif kind == 'iax':
        payload = iax_poke()
    else:
        payload = ('pbxops.firewall-verify %s\n' % tag).encode('ascii')
    sock = socket.socket(family_of(address), socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        sock.connect((address, port))
        sock.send(payload)
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(65535)
            if kind == 'sip' and data.startswith(b'SIP/2.0 '):
                return 'open', data.split(b'\r\n', 1)[0].decode('ascii', 'replace')
            return 'open', 'answered (%d bytes)' % len(data)
    except (OSError, socket.timeout) as exc:
        observed, detail = error_result(exc, 'unknown' if kind == 'udp' else 'closed')
        if observed == 'unknown':
            detail = 'no answer (no answer != blocked: this service need not answer)'
        return observed, detail
    finally:
        sock.close()


def icmp_checksum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return ~total & 0xffff


_ICMP_SEQ = [0]
_ICMP_LOCK = threading.Lock()


def probe_icmp(address, timeout):
    """One echo request; raw socket (root / CAP_NET_RAW), else a ping socket, else ping(8)."""
    v6 = ':' in address
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    with _ICMP_LOCK:
        _ICMP_SEQ[0] = (_ICMP_SEQ[0] + 1) & 0xffff
        seq = _ICMP_SEQ[0]
    ident = os.getpid() & 0xffff
    for kind in (socket.SOCK_RAW, socket.SOCK_DGRAM):
        try:
            sock = socket.socket(family_of(address), kind, proto)
        except OSError:
            continue
        try:
            return icmp_exchange(sock, kind, v6, address, ident, seq, timeout)
        finally:
            sock.close()
    return ping_command(address, timeout)


def icmp_exchange(sock, kind, v6, address, ident, seq, timeout):
    request_type, reply_type = (128, 129) if v6 else (8, 0)
    body = b'pbxops.firewall-verify'
    header = struct.pack('!BBHHH', request_type, 0, 0, ident, seq)
    checksum = 0 if v6 else icmp_checksum(header + body)   # the kernel sums ICMPv6
    packet = struct.pack('!BBHHH', request_type, 0, checksum, ident, seq) + body
    deadline = time.monotonic() + timeout
    try:
        sock.connect((address, 0))
        sock.send(packet)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                return 'closed', 'no echo reply'
            data = sock.recv(65535)
            if kind == socket.SOCK_RAW and not v6:
                data = data[(data[0] & 0x0f) * 4:]          # skip the IPv4 header
            if len(data) < 8:
                continue
            rtype, _code, _sum, rid, rseq = struct.unpack('!BBHHH', data[:8])
            # A ping socket rewrites the identifier; the sequence number is ours.
            if rtype == reply_type and rseq == seq and (kind == socket.SOCK_DGRAM or rid == ident):
                return 'open', 'echo reply'
    except OSError as exc:
        return error_result(exc, 'closed')


def ping_command(address, timeout):
    cmd = ['ping', '-n', '-q', '-c', '1', '-W', str(max(1, int(round(timeout)))), address]
    try:
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=timeout + 5, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 'error', 'no raw or ping socket and no ping command (%s)' % exc
    if done.returncode == 0:
        return 'open', 'echo reply (ping)'
    if done.returncode == 1:
        return 'closed', 'no echo reply (ping)'
    return 'error', (done.stderr.decode('utf-8', 'replace').strip() or 'ping exit %d' % done.returncode)


def run_one(probe, timeout, deadline, sources):
    _pbx, address, _service, proto, port, kind = probe
    started = time.monotonic()
    source = sources.get(address)
    if started > deadline:
        observed, detail = 'error', 'not run: the probe run reached its deadline'
    elif source is None:
        observed, detail = 'error', 'no route from this host to %s' % address
    elif kind == 'tcp':
        observed, detail = probe_tcp(address, port, timeout)
    elif kind == 'icmp':
        observed, detail = probe_icmp(address, timeout)
    elif kind in ('sip', 'iax', 'udp'):
        observed, detail = probe_udp(address, port, kind, timeout, source)
    else:
        observed, detail = 'error', 'unknown probe kind %r' % (kind,)
    return {'address': address, 'source': source, 'observed': observed, 'detail': detail,
            'ms': int((time.monotonic() - started) * 1000)}


def main(argv):
    if len(argv) != 2:
        sys.stderr.write('usage: pbx_firewall_probe.py BASE64-ZLIB-JSON\n')
        return 2
    try:
        spec = json.loads(zlib.decompress(base64.b64decode(argv[1])).decode('utf-8'))
        probes = spec['probes']
        timeout = float(spec.get('timeout', 2.0))
        parallel = int(spec.get('parallel', 32))
        limit = int(spec.get('max_probes', 5000))
        run_for = float(spec.get('deadline', 120))
    except (ValueError, KeyError, TypeError, zlib.error) as exc:
        sys.stderr.write('pbx_firewall_probe.py: bad input: %s\n' % exc)
        return 2
    if len(probes) > limit:
        sys.stderr.write('pbx_firewall_probe.py: %d probes, more than max_probes %d\n' % (len(probes), limit))
        return 2
    started = time.monotonic()
    sources = {address: route_source(address) for address in {p[1] for p in probes}}
    deadline = started + run_for
    with ThreadPoolExecutor(max(1, min(parallel, len(probes) or 1))) as pool:
        results = list(pool.map(lambda p: run_one(p, timeout, deadline, sources), probes))
    json.dump({'elapsed': round(time.monotonic() - started, 3), 'families': own_families(), 'results': results},
              sys.stdout)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
