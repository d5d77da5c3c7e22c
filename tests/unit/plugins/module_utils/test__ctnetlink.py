# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The message formats and the batching of module_utils/_ctnetlink.py, with a stand-in for the
kernel's side of the socket (the real kernel: tests/integration/plugins/module_utils/)."""

from __future__ import annotations

import errno
import socket
import struct

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _ctnetlink as ctn

UDP = ctn.Flow('ipv4', 'udp', '203.0.113.9', '10.213.8.2', 5071, 5060)
TCP6 = ctn.Flow('ipv6', 'tcp', '2001:db8::9', 'fd15::1', 40000, 5038, 7)


def _tuple(af, source, destination, number, sport, dport):
    src, dst = (1, 2) if af == socket.AF_INET else (3, 4)
    return (ctn._nested(ctn.CTA_TUPLE_IP, ctn._attr(src, socket.inet_pton(af, source))
                        + ctn._attr(dst, socket.inet_pton(af, destination)))
            + ctn._nested(ctn.CTA_TUPLE_PROTO, ctn._attr(1, struct.pack('B', number))
                          + ctn._attr(2, struct.pack('!H', sport)) + ctn._attr(3, struct.pack('!H', dport))))


def entry_message(family, number, source, destination, sport, dport, answered_by=None, status=0, zone=0, seq=1):
    """A dump answer as the kernel writes it (attribute order as ctnetlink_fill_info)."""
    af = ctn.FAMILIES[family]
    body = (ctn.NFGEN.pack(af, 0, 0)
            + ctn._nested(ctn.CTA_TUPLE_ORIG, _tuple(af, source, destination, number, sport, dport))
            + ctn._nested(ctn.CTA_TUPLE_REPLY, _tuple(af, answered_by or destination, source, number, dport, sport))
            + ctn._attr(ctn.CTA_STATUS, struct.pack('!I', status)))
    if zone:
        body += ctn._attr(ctn.CTA_ZONE, struct.pack('!H', zone))
    return ctn.HEADER.pack(ctn.HEADER.size + len(body), (1 << 8) | 0, 2, seq, 0) + body


def control(kind, seq, code=0):
    body = struct.pack('=i', -code) + ctn.HEADER.pack(16, 0, 0, seq, 0) if kind == ctn.NLMSG_ERROR else b'\0' * 4
    return ctn.HEADER.pack(ctn.HEADER.size + len(body), kind, 0, seq, 0) + body


def decode(message):
    """(header fields, {path: value}) of a request, attributes by their nesting path."""
    length, kind, flags, seq, _pid = ctn.HEADER.unpack_from(message, 0)
    found = {}

    def walk(start, end, path):
        for key, (a, b) in ctn._attributes(message, start, end).items():
            if key in (ctn.CTA_TUPLE_ORIG, ctn.CTA_TUPLE_IP, ctn.CTA_TUPLE_PROTO) and path.count('/') < 2:
                walk(a, b, path + '/%d' % key)
            else:
                found[path + '/%d' % key] = bytes(message[a:b])
    walk(ctn.HEADER.size + ctn.NFGEN.size, length, '')
    return (length, kind, flags, seq, message[ctn.HEADER.size]), found


def test_a_delete_request_names_the_original_tuple():
    header, attrs = decode(ctn.delete_request(UDP, 41))
    assert header[1:] == ((1 << 8) | 2, ctn.NLM_F_REQUEST | ctn.NLM_F_ACK, 41, socket.AF_INET)
    assert attrs == {'/1/1/1': bytes([203, 0, 113, 9]), '/1/1/2': bytes([10, 213, 8, 2]),
                     '/1/2/1': b'\x11', '/1/2/2': struct.pack('!H', 5071), '/1/2/3': struct.pack('!H', 5060)}
    header, attrs = decode(ctn.delete_request(TCP6, 42, ack=False))
    assert header[2:] == (ctn.NLM_F_REQUEST, 42, socket.AF_INET6)
    assert attrs['/1/1/3'] == socket.inet_pton(socket.AF_INET6, '2001:db8::9')
    assert attrs['/1/2/1'] == b'\x06' and attrs['/18'] == struct.pack('!H', 7)


def test_flow_text_and_reverse():
    assert UDP.describe() == 'udp 203.0.113.9:5071 -> 10.213.8.2:5060'
    assert TCP6.describe() == 'tcp [2001:db8::9]:40000 -> [fd15::1]:5038'
    assert UDP.reverse() == ctn.Flow('ipv4', 'udp', '10.213.8.2', '203.0.113.9', 5060, 5071)


class Kernel:
    """The kernel's end of a ctnetlink socket: a table of flows, dumps, deletions, acknowledgements."""

    def __init__(self, flows=(), per_receive=3, refuse=None):
        self.flows = list(flows)
        self.queue = []
        self.per_receive = per_receive
        self.refuse = refuse or {}      # flow -> errno
        self.sends = []
        self.closed = False

    def send(self, data):
        self.sends.append(data)
        offset = 0
        while offset < len(data):
            length, kind, flags, seq, _pid = ctn.HEADER.unpack_from(data, offset)
            message = data[offset:offset + length]
            offset += length
            if kind & 0xff == ctn.IPCTNL_MSG_CT_GET:
                family = 'ipv4' if message[ctn.HEADER.size] == socket.AF_INET else 'ipv6'
                for flow in self.flows:
                    if flow.family == family:
                        self.queue.append(entry_message(family, 6 if flow.proto == 'tcp' else 17, flow.source,
                                                        flow.destination, flow.sport, flow.dport, zone=flow.zone,
                                                        seq=seq))
                self.queue.append(control(ctn.NLMSG_DONE, seq))
                continue
            flow = next((f for f in self.flows if ctn.delete_request(f, seq, ack=bool(flags & ctn.NLM_F_ACK))
                         == bytes(message)), None)
            code = self.refuse.get(flow, 0) if flow is not None else errno.ENOENT
            if flow is not None and not code:
                self.flows.remove(flow)
            if code or flags & ctn.NLM_F_ACK:
                self.queue.append(control(ctn.NLMSG_ERROR, seq, code))
        return len(data)

    def recv(self, size):
        batch, self.queue = self.queue[:self.per_receive], self.queue[self.per_receive:]
        if not batch:
            raise socket.timeout('nothing to read')
        return b''.join(batch)

    def close(self):
        self.closed = True


def test_dump_parses_the_kernels_messages():
    kernel = Kernel()
    table = ctn.Table(sock=kernel)
    seq = table.sequence + 1
    kernel.queue = [
        entry_message('ipv4', 17, '203.0.113.9', '10.213.8.2', 5071, 5060, status=0x2, seq=seq),   # answered
        entry_message('ipv4', 6, '198.51.100.7', '10.213.8.2', 40000, 22, seq=seq),
        entry_message('ipv4', 1, '198.51.100.7', '10.213.8.2', 0, 0, seq=seq),                       # icmp
        entry_message('ipv4', 6, '198.51.100.8', '10.213.8.2', 40001, 8080, answered_by='172.17.0.2', seq=seq),
        entry_message('ipv4', 17, '198.51.100.9', '10.213.8.2', 1, 2, zone=3, seq=seq),
        entry_message('ipv4', 17, '192.0.2.1', '10.213.8.2', 1, 2, seq=seq - 1),                     # another request
        control(ctn.NLMSG_DONE, seq)]
    with table:
        dump = table.dump('ipv4')
    assert kernel.closed and dump.complete
    assert dump.flows == [UDP, ctn.Flow('ipv4', 'tcp', '198.51.100.7', '10.213.8.2', 40000, 22),
                          ctn.Flow('ipv4', 'udp', '198.51.100.9', '10.213.8.2', 1, 2, 3)]
    assert dump.answered == {UDP}


def test_a_dump_stops_when_told_and_says_so():
    kernel = Kernel([ctn.Flow('ipv4', 'udp', '10.0.0.%d' % n, '10.213.8.2', 1, 2) for n in range(1, 10)])
    dump = ctn.Table(sock=kernel).dump('ipv4', stop=lambda: True)
    assert not dump.complete and len(dump.flows) == 3


def test_a_dump_error_raises():
    kernel = Kernel()
    table = ctn.Table(sock=kernel)
    kernel.queue = [control(ctn.NLMSG_ERROR, table.sequence + 1, errno.EPERM)]
    with pytest.raises(OSError, match='conntrack dump of ipv4: Operation not permitted'):
        table.dump('ipv4')


def test_deletions_are_batched_and_only_the_last_of_a_batch_is_acknowledged(monkeypatch):
    monkeypatch.setattr(ctn, 'BATCH', 4)
    flows = [ctn.Flow('ipv4', 'udp', '10.0.0.%d' % n, '10.213.8.2', 1000 + n, 5060) for n in range(1, 11)]
    refused = flows[5]
    kernel = Kernel(flows, refuse={refused: errno.EPERM})
    gone = ctn.Flow('ipv4', 'udp', '10.9.9.9', '10.213.8.2', 1, 5060)     # ended meanwhile: no error
    done, failed = ctn.Table(sock=kernel).delete(flows[:9] + [gone])
    assert done == 10 and failed == {errno.EPERM: [refused]}
    assert kernel.flows == [refused, flows[9]]
    assert len(kernel.sends) == 3                         # 4 + 4 + 2 requests, one system call each
    acked = [[bool(ctn.HEADER.unpack_from(m, o)[2] & ctn.NLM_F_ACK) for o in range(0, len(m), len(m) // n)]
             for m, n in zip(kernel.sends, (4, 4, 2))]
    assert acked == [[False, False, False, True]] * 2 + [[False, True]]


def test_deletion_stops_between_batches(monkeypatch):
    monkeypatch.setattr(ctn, 'BATCH', 2)
    flows = [ctn.Flow('ipv4', 'udp', '10.0.0.%d' % n, '10.213.8.2', 1, 5060) for n in range(1, 6)]
    calls = []
    kernel = Kernel(flows)
    done, failed = ctn.Table(sock=kernel).delete(flows, stop=lambda: calls.append(1) or len(calls) > 2)
    assert (done, failed) == (4, {}) and kernel.flows == flows[4:]
