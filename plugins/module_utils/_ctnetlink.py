# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kernel's conntrack table over ctnetlink (private to this collection).

This file is private to the pbxops.firewall collection (no stable API). It owns the two
conversations with the kernel that ending flows needs, spoken over a netlink socket
(``NETLINK_NETFILTER``, the ``ctnetlink`` subsystem that the ``conntrack`` tool uses too):

* ``Table.dump(family)``: the TCP and UDP entries of one family, as ``Flow`` tuples
  (original direction and zone), and which of them have seen a reply. An entry whose
  replies come from another address than its original destination was destination-NATed
  (a published Docker port): it is forwarded, not a flow to this host, and left out;
* ``Table.delete(flows)``: delete entries by their original tuple, many requests per
  system call, each acknowledged; a missing entry (it ended meanwhile) is not an error.

One process and one socket for any number of flows: the ``conntrack`` tool deletes one
flow per run, and each run walks the whole table to find it, so ending N flows that way
costs N table walks. Standard library only; no Ansible imports. Errors are ``OSError``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import os
import socket
import struct
import time

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_GET = 1
IPCTNL_MSG_CT_DELETE = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3fff
# enum ctattr_type, ctattr_tuple, ctattr_ip, ctattr_l4proto (linux/netfilter/nfnetlink_conntrack.h)
CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_STATUS, CTA_ZONE = 1, 2, 3, 18
IPS_SEEN_REPLY = 1 << 1
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_IP_SRC = {socket.AF_INET: 1, socket.AF_INET6: 3}
CTA_IP_DST = {socket.AF_INET: 2, socket.AF_INET6: 4}
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3

FAMILIES = {'ipv4': socket.AF_INET, 'ipv6': socket.AF_INET6}
PROTOCOLS = {6: 'tcp', 17: 'udp'}
PROTOCOL_NUMBERS = {'tcp': 6, 'udp': 17}

HEADER = struct.Struct('=IHHII')      # struct nlmsghdr
NFGEN = struct.Struct('=BBH')         # struct nfgenmsg (res_id is big-endian; always 0 here)
ATTR = struct.Struct('=HH')           # struct nlattr
ERROR = struct.Struct('=i')
BYTE = struct.Struct('B')
PORT = struct.Struct('!H')
ZONE = struct.Struct('!H')
STATUS = struct.Struct('!I')
# delete requests sent per system call; their acknowledgements fit the receive buffer
BATCH = 512
RECEIVE_BUFFER = 1 << 22
TIMEOUT = 10.0


class Flow(tuple):
    """(family, proto, source, destination, sport, dport, zone): a conntrack entry's original tuple."""

    __slots__ = ()

    def __new__(cls, family, proto, source, destination, sport, dport, zone=0):
        return tuple.__new__(cls, (family, proto, source, destination, sport, dport, zone))

    family = property(lambda self: self[0])
    proto = property(lambda self: self[1])
    source = property(lambda self: self[2])
    destination = property(lambda self: self[3])
    sport = property(lambda self: self[4])
    dport = property(lambda self: self[5])
    zone = property(lambda self: self[6])

    def reverse(self):
        """The same flow as an entry opened from the other end (original tuple reversed)."""
        return Flow(self.family, self.proto, self.destination, self.source, self.dport, self.sport, self.zone)

    def describe(self):
        def host(address):
            return '[%s]' % address if ':' in address else address
        return '%s %s:%d -> %s:%d' % (self.proto, host(self.source), self.sport, host(self.destination), self.dport)


def _attr(kind, payload):
    length = ATTR.size + len(payload)
    return ATTR.pack(length, kind) + payload + b'\0' * (-length % 4)


def _nested(kind, payload):
    return _attr(kind | NLA_F_NESTED, payload)


def _attributes(buf, start, end):
    """{type: (start, end)} of the attributes in buf[start:end]."""
    found = {}
    while start + 4 <= end:
        length, kind = ATTR.unpack_from(buf, start)
        if length < 4:
            break
        found[kind & NLA_TYPE_MASK] = (start + 4, start + length)
        start += (length + 3) & ~3
    return found


def delete_request(flow, sequence, ack=True):
    """The IPCTNL_MSG_CT_DELETE message for one flow's original tuple.

    Without ``ack`` the kernel answers only a failure (a batch acknowledges its last request
    only: all requests of one system call are handled, in order, before it returns)."""
    af = FAMILIES[flow.family]
    addresses = (_attr(CTA_IP_SRC[af], socket.inet_pton(af, flow.source))
                 + _attr(CTA_IP_DST[af], socket.inet_pton(af, flow.destination)))
    proto = (_attr(CTA_PROTO_NUM, BYTE.pack(PROTOCOL_NUMBERS[flow.proto]))
             + _attr(CTA_PROTO_SRC_PORT, PORT.pack(flow.sport)) + _attr(CTA_PROTO_DST_PORT, PORT.pack(flow.dport)))
    body = NFGEN.pack(af, 0, 0) + _nested(CTA_TUPLE_ORIG, _nested(CTA_TUPLE_IP, addresses)
                                          + _nested(CTA_TUPLE_PROTO, proto))
    if flow.zone:
        body += _attr(CTA_ZONE, ZONE.pack(flow.zone))
    return HEADER.pack(HEADER.size + len(body), (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE,
                       NLM_F_REQUEST | (NLM_F_ACK if ack else 0), sequence, 0) + body


def dump_request(family, sequence):
    body = NFGEN.pack(FAMILIES[family], 0, 0)
    return HEADER.pack(HEADER.size + len(body), (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET,
                       NLM_F_REQUEST | NLM_F_DUMP, sequence, 0) + body


class Dump(object):
    """What one dump found: ``flows`` (list), ``answered`` (the flows that have seen a reply),
    ``complete`` (False: it was stopped before the end of the table)."""

    def __init__(self):
        self.flows = []
        self.answered = set()
        self.complete = False


class _Parser(object):
    """Turns ctnetlink messages of one family into Flows (addresses as text, cached)."""

    def __init__(self, family, dump):
        self.family = family
        self.af = FAMILIES[family]
        self.src, self.dst = CTA_IP_SRC[self.af], CTA_IP_DST[self.af]
        self.text = {}
        self.dump = dump

    def address(self, raw):
        text = self.text.get(raw)
        if text is None:
            text = self.text[raw] = str(ipaddress.ip_address(raw))
        return text

    def add(self, buf, start, end):
        """Add the Flow of one message body (after nfgenmsg) unless it is not TCP/UDP, DNATed or malformed."""
        top = _attributes(buf, start, end)
        if CTA_TUPLE_ORIG not in top or CTA_TUPLE_REPLY not in top:
            return
        orig = _attributes(buf, *top[CTA_TUPLE_ORIG])
        proto = _attributes(buf, *orig.get(CTA_TUPLE_PROTO, (0, 0)))
        number = proto.get(CTA_PROTO_NUM)
        name = PROTOCOLS.get(BYTE.unpack_from(buf, number[0])[0] if number else None)
        if name is None or CTA_PROTO_SRC_PORT not in proto or CTA_PROTO_DST_PORT not in proto:
            return
        ip = _attributes(buf, *orig.get(CTA_TUPLE_IP, (0, 0)))
        reply_ip = _attributes(buf, *_attributes(buf, *top[CTA_TUPLE_REPLY]).get(CTA_TUPLE_IP, (0, 0)))
        if self.src not in ip or self.dst not in ip or self.src not in reply_ip:
            return
        destination = bytes(buf[slice(*ip[self.dst])])
        if bytes(buf[slice(*reply_ip[self.src])]) != destination:
            return
        zone, status = top.get(CTA_ZONE), top.get(CTA_STATUS)
        flow = Flow(self.family, name, self.address(bytes(buf[slice(*ip[self.src])])), self.address(destination),
                    PORT.unpack_from(buf, proto[CTA_PROTO_SRC_PORT][0])[0],
                    PORT.unpack_from(buf, proto[CTA_PROTO_DST_PORT][0])[0],
                    ZONE.unpack_from(buf, zone[0])[0] if zone else 0)
        self.dump.flows.append(flow)
        if status and STATUS.unpack_from(buf, status[0])[0] & IPS_SEEN_REPLY:
            self.dump.answered.add(flow)


class Table(object):
    """One ctnetlink socket (``sock``: a given one, for tests); ``with Table() as table: ...`` closes it."""

    def __init__(self, sock=None, timeout=TIMEOUT):
        self.sock = sock
        if sock is None:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
                try:    # errors echo only the failed request's header, not its body
                    self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
                except (OSError, socket.error):
                    pass
                self.sock.settimeout(timeout)
                self.sock.bind((0, 0))
            except Exception:
                self.sock.close()
                raise
        self.sequence = int(time.time()) & 0xffffff

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def _messages(self):
        """(type, flags, sequence, buffer, body start, end) of each message of one receive."""
        buf = memoryview(self.sock.recv(1 << 20))
        offset = 0
        while offset + HEADER.size <= len(buf):
            length, kind, flags, sequence, _pid = HEADER.unpack_from(buf, offset)
            if length < HEADER.size:
                break
            yield kind, flags, sequence, buf, offset + HEADER.size, min(offset + length, len(buf))
            offset += (length + 3) & ~3

    def dump(self, family, stop=None):
        """The Dump of the TCP and UDP entries of ``family``; ``stop()`` true ends it early."""
        self.sequence += 1
        self.sock.send(dump_request(family, self.sequence))
        found = Dump()
        parser = _Parser(family, found)
        while True:
            for kind, _flags, sequence, buf, start, end in self._messages():
                if sequence != self.sequence:
                    continue
                if kind == NLMSG_DONE:
                    found.complete = True
                    return found
                if kind == NLMSG_ERROR:
                    code = -ERROR.unpack_from(buf, start)[0]
                    if code:
                        raise OSError(code, 'conntrack dump of %s: %s' % (family, os.strerror(code)))
                    continue
                parser.add(buf, start + NFGEN.size, end)
            if stop is not None and stop():
                return found

    def delete(self, flows, stop=None):
        """Delete entries by original tuple. Returns (how many were handled, {errno: [flows]}
        of the failures other than "no such entry"); ``stop()`` true ends it between batches."""
        failed = {}
        done = 0
        while done < len(flows):
            if stop is not None and stop():
                break
            batch = flows[done:done + BATCH]
            first, last = self.sequence + 1, self.sequence + len(batch)
            self.sequence = last
            self.sock.send(b''.join(delete_request(flow, first + n, ack=first + n == last)
                                    for n, flow in enumerate(batch)))
            acknowledged = False
            while not acknowledged:
                for kind, _flags, sequence, buf, start, _end in self._messages():
                    if kind != NLMSG_ERROR or not first <= sequence <= last:
                        continue
                    acknowledged = sequence == last
                    code = -ERROR.unpack_from(buf, start)[0]
                    if code and code != errno.ENOENT:
                        failed.setdefault(code, []).append(batch[sequence - first])
            done += len(batch)
        return done, failed
