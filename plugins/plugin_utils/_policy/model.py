# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Model and parsing of the controller core: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns the
vocabulary the rest of the controller core shares: the built-in services and ports,
the verdicts, the parsed forms of an address (``Subnet``) and of a port, the text of
an iptables ``--comment``, the validated ``Policy`` record, and the error classes
(``PolicyError`` lists every problem of an inventory; ``MissingDependency`` says which
controller library to install). Pure Python, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import re
import socket

try:
    import netaddr
    from netaddr.strategy import ipv4 as _ipv4, ipv6 as _ipv6

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - exercised by the filters' error path
    netaddr = _ipv4 = _ipv6 = None
    HAS_NETADDR = False


COMMENT_MAX_BYTES = 255          # XT_MAX_COMMENT_LEN is 256 including the NUL
DEFAULT_IPSET_THRESHOLD = 16
# A service name becomes part of an ipset name: see chains.ipset_name, which asserts
# that the longest name this allows still fits IPSET_NAME_MAX.
SERVICE_NAME_MAX = 12

ACCEPT = 'ACCEPT'
DROP = 'DROP'
VERB = {ACCEPT: 'allow', DROP: 'block'}

BUILTIN_PORTS = {
    'sip': 5060,
    'tls': 5061,
    'rtp': '10000-10200',
    'iax': 4569,
    'web_http': 80,
    'web_https': 443,
    'ssh': 22,
    'ami': 5038,
    'ajam': 8088,
    'ajam_tls': 8089,
    'cti_nats': 4222,
    'cti_nats_web': 8222,
}

# service -> ((protocol, port key), ...); ICMP has no port.
BUILTIN_SERVICES = {
    'sip': (('udp', 'sip'), ('tcp', 'sip'), ('tcp', 'tls'), ('udp', 'rtp')),
    'iax': (('udp', 'iax'),),
    'web': (('tcp', 'web_http'), ('tcp', 'web_https')),
    'ssh': (('tcp', 'ssh'),),
    'ami': (('tcp', 'ami'),),
    'ajam': (('tcp', 'ajam'), ('tcp', 'ajam_tls')),
    'icmp': (('icmp', None),),
    'cticlient': (('tcp', 'cti_nats'), ('tcp', 'cti_nats_web')),
}

# SIP signalling ports (not RTP) that scanner and flood rules watch.
SIP_SIGNALLING = (('udp', 'sip'), ('tcp', 'sip'), ('tcp', 'tls'))
# TLS is encrypted: a User-Agent string can only be seen on plain SIP.
SIP_PLAINTEXT = (('udp', 'sip'), ('tcp', 'sip'))
PORT_RANGE_RE = re.compile(r'^\s*(\d+)\s*-\s*(\d+)\s*$')
COMMENT_SAFE = frozenset('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-')
MAX_REPORTED_ERRORS = 25


class PolicyError(ValueError):
    """Invalid inventory. ``errors`` holds one message per problem found."""

    def __init__(self, errors):
        self.errors = list(errors)
        shown = self.errors[:MAX_REPORTED_ERRORS]
        more = len(self.errors) - len(shown)
        text = '\n'.join(shown)
        if more > 0:
            text += '\n... and %d more problem(s)' % more
        super(PolicyError, self).__init__(text)


class MissingDependency(ImportError):
    """A controller-side library the filters need is not installed."""


def require_netaddr():
    if not HAS_NETADDR:
        raise MissingDependency('the Python library netaddr is required: install it on the '
                                'controller (pip install netaddr)')


def type_name(value):
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, int):
        return 'integer'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, (list, tuple)):
        return 'list'
    if isinstance(value, dict):
        return 'mapping'
    return type(value).__name__


def choices(values):
    return ', '.join(sorted(values))



def check_list(value, path, errors, allow_scalar=False):
    if isinstance(value, (list, tuple)):
        return list(value)
    if allow_scalar and isinstance(value, str):
        return [value]
    what = 'a string or a list' if allow_scalar else 'a list'
    errors.append('%s: must be %s, got %s %r' % (path, what, type_name(value), value))
    return []


class Subnet(tuple):
    """(version, first address as int, prefix length); sorts v4 before v6."""

    __slots__ = ()

    def __new__(cls, version, value, prefixlen):
        return tuple.__new__(cls, (version, value, prefixlen))

    @property
    def version(self):
        return self[0]

    @property
    def value(self):
        return self[1]

    @property
    def prefixlen(self):
        return self[2]

    @property
    def is_catch_all(self):
        return self[2] == 0

    @property
    def is_host(self):
        return self[2] == (32 if self[0] == 4 else 128)

    def address(self):
        return _address_text(self[0], self[1])

    def cidr(self):
        """As iptables-save prints a source: always with the prefix length."""
        return '%s/%d' % (self.address(), self[2])

    def ipset_entry(self):
        """As ipset save prints a hash:net member: hosts without the prefix length."""
        return self.address() if self.is_host else self.cidr()


@functools.lru_cache(maxsize=1 << 16)
def _address_text(version, value):
    """An address as iptables and ipset print it (inet_ntop: RFC 5952 for IPv6)."""
    if version == 4:
        return socket.inet_ntoa(value.to_bytes(4, 'big'))
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, 'big'))


def parse_subnet(value):
    """Parse one CIDR (or bare address) strictly. Raises ValueError with the reason.

    netaddr's address parsers do the conversion (strict inet_pton rules: no
    "127.1", no leading zeros); the prefix and host-bit checks are integer
    arithmetic, which keeps 100k networks within seconds.
    """
    require_netaddr()
    if not isinstance(value, str):
        raise ValueError('must be a CIDR string such as 192.168.10.0/24 or 2001:db8::/32, '
                         'got %s %r' % (type_name(value), value))
    address, slash, length = value.strip().partition('/')
    version, width = (6, 128) if ':' in address else (4, 32)
    if slash and not length.isdigit():
        raise ValueError('%r: write the mask as a prefix length '
                         '(e.g. 192.168.10.0/24, 2001:db8::/48)' % (value,))
    try:
        number = (_ipv6 if version == 6 else _ipv4).str_to_int(address)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ValueError('%r is not a valid IPv4 or IPv6 address or CIDR '
                         '(e.g. 192.168.10.0/24, 203.0.113.5, 2001:db8::/32)' % (value,))
    prefixlen = int(length) if slash else width
    if prefixlen > width:
        raise ValueError('%r: prefix length %d is out of range for IPv%d (0-%d)'
                         % (value, prefixlen, version, width))
    if version == 6 and prefixlen >= 96 and number >> 32 == 0xffff:
        raise ValueError('%r is an IPv4-mapped IPv6 subnet; write the IPv4 subnet instead'
                         % (value,))
    host_bits = (1 << (width - prefixlen)) - 1
    if number & host_bits:
        network = Subnet(version, number & ~host_bits, prefixlen)
        raise ValueError('%r has host bits set; did you mean %s?' % (value, network.cidr()))
    return Subnet(version, number, prefixlen)


def parse_port(value):
    """An integer port or a "FROM-TO" range -> (low, high). Raises ValueError."""
    valid = 'valid: an integer 1-65535 or a range "FROM-TO" with FROM <= TO, e.g. "10000-10200"'
    if isinstance(value, bool):
        raise ValueError('%r is not a port; %s' % (value, valid))
    if isinstance(value, int):
        low = high = value
    elif isinstance(value, str) and value.strip().isdigit():
        low = high = int(value)
    elif isinstance(value, str) and PORT_RANGE_RE.match(value):
        low, high = (int(x) for x in PORT_RANGE_RE.match(value).groups())
        if low > high:
            raise ValueError('%r is a range written backwards; did you mean "%d-%d"?'
                             % (value, high, low))
    else:
        raise ValueError('%r is not a port; %s' % (value, valid))
    for port in (low, high):
        if not 1 <= port <= 65535:
            raise ValueError('%r: port %d is out of range; %s' % (value, port, valid))
    return (low, high)


def port_text(port_range, sep=':'):
    low, high = port_range
    return str(low) if low == high else '%d%s%d' % (low, sep, high)


def comment_arg(text):
    """``--comment`` argument exactly as iptables-save prints it back.

    Control characters become spaces, the text is cut to what the kernel keeps
    (255 bytes, on a UTF-8 character boundary), and quoting follows xtables:
    bare when only [A-Za-z0-9_-], otherwise in double quotes with " \\ ' escaped.
    """
    text = ''.join(' ' if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)
    raw = text.encode('utf-8')
    if len(raw) > COMMENT_MAX_BYTES:
        text = raw[:COMMENT_MAX_BYTES].decode('utf-8', 'ignore')
    if text and all(ch in COMMENT_SAFE for ch in text):
        return text
    escaped = re.sub(r'(["\\\'])', r'\\\1', text)
    return '"%s"' % escaped


class Policy(object):
    """A validated, normalized inventory."""

    def __init__(self):
        self.networks = []          # list of dicts, see _normalize_network
        self.decisions = {4: {}, 6: {}}  # see decisions_by_family
        self.ports = {}             # port key -> (low, high)
        self.services = {}          # service -> tuple of (proto, port key)
        self.trunks = []            # list of (label, Subnet)
        self.sip_rate_limit = 0
        self.sip_rate_limit_ipv6_prefix = 64   # IPv6 sources sharing one budget: a /64
        self.sip_scanner_agents = []
        self.custom_rules = {4: [], 6: []}
        self.ipset_threshold = DEFAULT_IPSET_THRESHOLD
        self.ipv6 = True
        self.docker = False
