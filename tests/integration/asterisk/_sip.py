# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A tiny SIP-over-UDP phone for the Asterisk tests (tests only, standard library).

Enough SIP to ask a real Asterisk what it shows a client: OPTIONS, and a call
(INVITE with an SDP offer, ACK, BYE) whose 200 OK carries Asterisk's Contact and
its SDP ``c=`` line. The phone binds to one local address, so the test chooses which
of the lab's networks the request comes from.
"""

from __future__ import annotations

import os
import re
import socket
import time


class Response:
    """A parsed SIP response: status, headers (lower-case names, lists) and body."""

    def __init__(self, raw):
        text = raw.decode('utf-8', 'replace')
        head, _sep, self.body = text.partition('\r\n\r\n')
        lines = head.split('\r\n')
        self.status_line = lines[0]
        self.status = int(lines[0].split()[1]) if lines[0].startswith('SIP/2.0') else 0
        self.headers = {}
        for line in lines[1:]:
            name, _sep, value = line.partition(':')
            self.headers.setdefault(name.strip().lower(), []).append(value.strip())
        self.raw = text

    def header(self, name):
        return (self.headers.get(name.lower()) or [''])[0]

    @property
    def contact_host(self):
        """The host part of the Contact header's URI (IPv6 without brackets)."""
        match = re.search(r'sips?:(?:[^@>;]*@)?(\[[^\]]+\]|[^:;>]+)', self.header('contact'))
        return match.group(1).strip('[]') if match else None

    @property
    def sdp_connection(self):
        """The address of the SDP c= line, or None."""
        match = re.search(r'(?m)^c=IN IP[46] (\S+)', self.body)
        return match.group(1) if match else None


class Phone:
    """One UDP SIP phone bound to LOCAL (an address of this machine) talking to PBX:5060."""

    def __init__(self, local, pbx, port=5060, timeout=3.0):
        self.family = socket.AF_INET6 if ':' in local else socket.AF_INET
        self.sock = socket.socket(self.family, socket.SOCK_DGRAM)
        self.sock.bind((local, 0))
        self.sock.settimeout(timeout)
        self.local = local
        self.lport = self.sock.getsockname()[1]
        self.pbx = pbx
        self.port = port
        self.cseq = 0
        self.call = None

    def close(self):
        self.sock.close()

    def _host(self, address):
        return '[%s]' % address if ':' in address else address

    def _request(self, method, uri, call_id, tag, cseq, to_tag=None, body='', extra=()):
        branch = 'z9hG4bK' + os.urandom(6).hex()
        lines = [
            '%s %s SIP/2.0' % (method, uri),
            'Via: SIP/2.0/UDP %s:%d;branch=%s;rport' % (self._host(self.local), self.lport, branch),
            'Max-Forwards: 70',
            'From: <sip:phone@%s>;tag=%s' % (self._host(self.local), tag),
            'To: <%s>%s' % (uri, ';tag=%s' % to_tag if to_tag else ''),
            'Call-ID: %s' % call_id,
            'CSeq: %d %s' % (cseq, method),
            'Contact: <sip:phone@%s:%d>' % (self._host(self.local), self.lport),
            'User-Agent: pbxops-test-phone',
        ] + list(extra) + ['Content-Length: %d' % len(body.encode()), '', body]
        return '\r\n'.join(lines).encode()

    def _exchange(self, message, call_id, method, final=True):
        """Send MESSAGE; return the first (final, if FINAL) response for CALL_ID/METHOD."""
        self.sock.sendto(message, (self.pbx, self.port))
        deadline = time.time() + self.sock.gettimeout()
        while time.time() < deadline:
            data, _addr = self.sock.recvfrom(65535)
            response = Response(data)
            if response.header('call-id') != call_id:
                continue
            if not response.status:
                self._answer_request(response)
                continue
            if not response.header('cseq').endswith(method):
                continue
            if final and response.status < 200:
                continue
            return response
        raise TimeoutError('no %s response from %s' % (method, self.pbx))

    def _answer_request(self, request):
        """200 OK to a request Asterisk sends us inside the call (e.g. a BYE)."""
        headers = ['SIP/2.0 200 OK'] + ['%s: %s' % (name, value) for name in ('via', 'from', 'to', 'call-id', 'cseq')
                                        for value in request.headers.get(name, [])]
        self.sock.sendto(('\r\n'.join(headers + ['Content-Length: 0', '', ''])).encode(), (self.pbx, self.port))

    def uri(self, user):
        return 'sip:%s@%s:%d' % (user, self._host(self.pbx), self.port)

    def options(self, user='100'):
        call_id = os.urandom(8).hex()
        self.cseq += 1
        return self._exchange(self._request('OPTIONS', self.uri(user), call_id, os.urandom(4).hex(), self.cseq),
                              call_id, 'OPTIONS')

    def invite(self, user='100'):
        """Call USER with a G.711 offer; ACK the 200 OK and keep the call; return the 200."""
        call_id, tag, uri = os.urandom(8).hex(), os.urandom(4).hex(), self.uri(user)
        ip = 'IP6' if self.family == socket.AF_INET6 else 'IP4'
        sdp = '\r\n'.join(['v=0', 'o=phone 1 1 IN %s %s' % (ip, self.local), 's=test',
                           'c=IN %s %s' % (ip, self.local), 't=0 0', 'm=audio %d RTP/AVP 0' % (self.lport + 2),
                           'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''])
        self.cseq += 1
        response = self._exchange(self._request('INVITE', uri, call_id, tag, self.cseq, body=sdp,
                                                extra=['Content-Type: application/sdp']), call_id, 'INVITE')
        to_tag = re.search(r';tag=([^;>\s]+)', response.header('to'))
        self.call = (uri, call_id, tag, self.cseq, to_tag.group(1) if to_tag else None)
        ack = self._request('ACK', uri, call_id, tag, self.cseq, to_tag=self.call[4])
        self.sock.sendto(ack, (self.pbx, self.port))
        return response

    def bye(self):
        """End the call; the response (200 OK when Asterisk still had the call)."""
        uri, call_id, tag, _cseq, to_tag = self.call
        self.cseq += 1
        response = self._exchange(self._request('BYE', uri, call_id, tag, self.cseq, to_tag=to_tag), call_id, 'BYE')
        self.call = None
        return response
