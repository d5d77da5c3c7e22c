# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The policy core of pbxops.firewall: validate, normalize and compile.

Pure Python: no Ansible imports. Every entry point takes plain dicts, lists,
strings and numbers (the inventory model of DESIGN.md) and either returns plain
data or raises PolicyError, a ValueError whose message names the inventory path,
the bad value and what would be valid. The filter plugins are thin wrappers.

Compilation keeps the DESIGN.md semantics with a first-match iptables chain:

1. established/related, loopback, the ICMPv6 types IPv6 needs;
2. SIP scanner User-Agents and the per-source SIP rate limit;
3. trunks (everything the ``sip`` service covers);
4. networks: for one service, the longest prefix that contains the source and
   mentions the service decides. Rules are emitted longest prefix first, so the
   first match *is* the longest prefix. Two services never share a port (that is
   a validation error), so rules of different services never compete and may be
   grouped into one multiport rule per subnet. A service with many subnets goes
   into hash:net ipsets instead: the kernel does longest-prefix matching inside
   a hash:net set, and entries of the opposite verdict are added as ``nomatch``
   exceptions, so "in the allow set" means "the longest prefix allows";
5. custom rules;
6. catch-all (/0) networks, then a final drop when any network exists.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import gc
import hashlib
import re
import socket

try:
    import netaddr
    from netaddr.strategy import ipv4 as _ipv4, ipv6 as _ipv6

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - exercised by the filters' error path
    netaddr = _ipv4 = _ipv6 = None
    HAS_NETADDR = False


MAIN_CHAIN = 'PBX-FIREWALL'
CHAIN_PREFIX = 'PBX-FW-'
IPSET_PREFIX = 'pbxfw-'
IPSET_NAME_MAX = 31
COMMENT_MAX_BYTES = 255          # XT_MAX_COMMENT_LEN is 256 including the NUL
MULTIPORT_MAX_SLOTS = 15         # a range takes two slots
DEFAULT_IPSET_THRESHOLD = 16
HASHLIMIT_NAME = 'pbxfw-sip'
SIP_RATE_LIMIT_MAX = 1000          # exact in hashlimit's microsecond arithmetic

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

# What IPv6 needs to work: errors, router and neighbour discovery.
ICMPV6_REQUIRED = (
    (1, 'destination-unreachable'),
    (2, 'packet-too-big'),
    (3, 'time-exceeded'),
    (4, 'parameter-problem'),
    (133, 'router-solicitation'),
    (134, 'router-advertisement'),
    (135, 'neighbour-solicitation'),
    (136, 'neighbour-advertisement'),
)

NETWORK_KEYS = ('name', 'subnet', 'services', 'block', 'local_network', 'never_block',
                'description', 'tags')
CUSTOM_RULE_FAMILIES = ('ipv4', 'ipv6', 'both')
SERVICE_NAME_RE = re.compile(r'^[a-z][a-z0-9_]{0,11}$')
PORT_RANGE_RE = re.compile(r'^\s*(\d+)\s*-\s*(\d+)\s*$')
SCANNER_AGENT_RE = re.compile(r'^[A-Za-z0-9 ._/:()+-]{1,64}$')
HOSTNAME_RE = re.compile(r'^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*'
                         r'[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$')
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


# --------------------------------------------------------------------------- helpers


def _type_name(value):
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


def _choices(values):
    return ', '.join(sorted(values))


def _net_label(index, raw):
    """Path of one network in error messages: index plus its name when it has one."""
    name = raw.get('name') if isinstance(raw, dict) else None
    if isinstance(name, str) and name.strip():
        return 'pbx_firewall_networks[%d] (%r)' % (index, name)
    return 'pbx_firewall_networks[%d]' % index


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
                         'got %s %r' % (_type_name(value), value))
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


def _port_text(port_range, sep=':'):
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


# --------------------------------------------------------------------------- validation


class Policy(object):
    """A validated, normalized inventory."""

    def __init__(self):
        self.networks = []          # list of dicts, see _normalize_network
        self.decisions = {4: {}, 6: {}}  # see decisions_by_family
        self.ports = {}             # port key -> (low, high)
        self.services = {}          # service -> tuple of (proto, port key)
        self.trunks = []            # list of (label, Subnet)
        self.sip_rate_limit = 0
        self.sip_scanner_agents = []
        self.custom_rules = {4: [], 6: []}
        self.ipset_threshold = DEFAULT_IPSET_THRESHOLD
        self.ipv6 = True
        self.docker = False


def _check_list(value, path, errors, allow_scalar=False):
    if isinstance(value, (list, tuple)):
        return list(value)
    if allow_scalar and isinstance(value, str):
        return [value]
    what = 'a string or a list' if allow_scalar else 'a list'
    errors.append('%s: must be %s, got %s %r' % (path, what, _type_name(value), value))
    return []


def _normalize_network(index, raw, known_services, errors):
    label = _net_label(index, raw)
    if not isinstance(raw, dict):
        errors.append('%s: each network must be a mapping with name, subnet, services, ...; '
                      'got %s %r' % (label, _type_name(raw), raw))
        return None
    for key in sorted(set(raw) - set(NETWORK_KEYS), key=str):
        errors.append('%s: unknown key %r; valid keys: %s' % (label, key, ', '.join(NETWORK_KEYS)))
    count_before = len(errors)

    name = raw.get('name')
    if name is None:
        errors.append('%s.name: required, a unique non-empty string' % label)
    elif not isinstance(name, str) or not name.strip():
        errors.append('%s.name: must be a non-empty string, got %s %r'
                      % (label, _type_name(name), name))
        name = None
    elif '\n' in name or '\r' in name:
        errors.append('%s.name: must be one line; got %r' % (label, name))

    subnets = []
    if 'subnet' not in raw or raw['subnet'] in (None, '', []):
        errors.append('%s.subnet: required, a CIDR or a list of CIDRs (e.g. 192.168.10.0/24)'
                      % label)
    else:
        items = raw['subnet']
        many = isinstance(items, (list, tuple))
        for pos, item in enumerate(_check_list(items, '%s.subnet' % label, errors, True)):
            path = '%s.subnet[%d]' % (label, pos) if many else '%s.subnet' % label
            try:
                subnet = parse_subnet(item)
            except ValueError as exc:
                errors.append('%s: %s' % (path, exc))
                continue
            if subnet not in subnets:
                subnets.append(subnet)

    lists = {}
    for field in ('services', 'block'):
        items = raw.get(field)
        if items is None:
            items = []
        found = []
        for pos, svc in enumerate(_check_list(items, '%s.%s' % (label, field), errors)):
            if not isinstance(svc, str):
                errors.append('%s.%s[%d]: must be a service name, got %s %r; valid: %s'
                              % (label, field, pos, _type_name(svc), svc,
                                 'a string' if known_services is None else _choices(known_services)))
            elif known_services is not None and svc not in known_services:
                errors.append('%s.%s[%d]: unknown service %r; valid: %s'
                              % (label, field, pos, svc, _choices(known_services)))
            elif svc not in found:
                found.append(svc)
        lists[field] = found
    for svc in sorted(set(lists['services']) & set(lists['block'])):
        errors.append('%s: service %r is both in services and in block; keep it in one of them'
                      % (label, svc))

    flags = {}
    for field in ('local_network', 'never_block'):
        value = raw.get(field, False)
        if value is None:
            value = False
        if not isinstance(value, bool):
            errors.append('%s.%s: must be true or false, got %s %r'
                          % (label, field, _type_name(value), value))
        flags[field] = value is True

    for field in ('description',):
        if field in raw and raw[field] is not None and not isinstance(raw[field], str):
            errors.append('%s.%s: must be a string, got %s %r'
                          % (label, field, _type_name(raw[field]), raw[field]))
    if 'tags' in raw and raw['tags'] is not None:
        _check_list(raw['tags'], '%s.tags' % label, errors)

    if len(errors) > count_before:
        return None
    return {
        'index': index,
        'name': name.strip(),
        'label': label,
        'subnets': subnets,
        'services': lists['services'],
        'block': lists['block'],
        'local_network': flags['local_network'],
        'never_block': flags['never_block'],
    }


def validate_networks(networks, known_services=None):
    """Validate the network list; ``known_services`` None skips service-name checks.

    Returns the normalized networks or raises PolicyError.
    """
    require_netaddr()
    errors = []
    result = _networks(networks, known_services, errors)
    decisions_by_family(result, errors)
    if errors:
        raise PolicyError(errors)
    return result


def _networks(networks, known_services, errors):
    if networks is None:
        networks = []
    if not isinstance(networks, (list, tuple)):
        errors.append('pbx_firewall_networks: must be a list of networks, got %s %r'
                      % (_type_name(networks), networks))
        return []
    result = []
    seen = {}
    for index, raw in enumerate(networks):
        net = _normalize_network(index, raw, known_services, errors)
        if net is None:
            continue
        key = net['name'].casefold()
        if key in seen:
            errors.append('%s.name: duplicate name %r (also pbx_firewall_networks[%d]); '
                          'names must be unique' % (net['label'], net['name'], seen[key]))
            continue
        seen[key] = index
        result.append(net)
    return result


def decisions_by_family(networks, errors):
    """{4: {service: {Subnet: (verdict, network, ...)}}, 6: {...}} in one pass.

    Also the conflict check: one subnet may not both allow and block one service.
    """
    result = {4: {}, 6: {}}
    for net in networks:
        for subnet in net['subnets']:
            per_service = result[subnet[0]]
            for field, verdict in (('services', ACCEPT), ('block', DROP)):
                for svc in net[field]:
                    subnets = per_service.setdefault(svc, {})
                    slot = subnets.get(subnet)
                    if slot is None:
                        subnets[subnet] = (verdict, net)   # tuples: 100k networks fit in memory
                        continue
                    if slot[0] == verdict:
                        subnets[subnet] = slot + (net,)
                        continue
                    allow, block = (slot[1], net) if slot[0] == ACCEPT else (net, slot[1])
                    errors.append(
                        '%s: subnet %s is given both "allow %s" (%s) and "block %s" (%s); '
                        'one subnet can have only one verdict per service'
                        % (net['label'], subnet.cidr(), svc, allow['label'], svc, block['label']))
    return result


def _validate_ports(ports, errors):
    result = {}
    for key, value in BUILTIN_PORTS.items():
        result[key] = parse_port(value)
    if ports is None:
        return result
    if not isinstance(ports, dict):
        errors.append('pbx_firewall_ports: must be a mapping of port name to port, got %s %r'
                      % (_type_name(ports), ports))
        return result
    for key in sorted(ports, key=str):
        if key not in BUILTIN_PORTS:
            errors.append('pbx_firewall_ports.%s: unknown port name %r; valid: %s'
                          % (key, key, _choices(BUILTIN_PORTS)))
            continue
        try:
            result[key] = parse_port(ports[key])
        except ValueError as exc:
            errors.append('pbx_firewall_ports.%s: %s' % (key, exc))
    return result


def _validate_custom_services(custom, ports, errors):
    services = dict(BUILTIN_SERVICES)
    if custom is None:
        return services
    if not isinstance(custom, dict):
        errors.append('pbx_firewall_custom_services: must be a mapping of service name to a '
                      'list of {proto, port}, got %s %r' % (_type_name(custom), custom))
        return services
    for name in sorted(custom, key=str):
        path = 'pbx_firewall_custom_services.%s' % (name,)
        if name in BUILTIN_SERVICES:
            errors.append('%s: %r is a built-in service; change its ports with '
                          'pbx_firewall_ports instead' % (path, name))
            continue
        if not isinstance(name, str) or not SERVICE_NAME_RE.match(name):
            errors.append('%s: service name %r must match [a-z][a-z0-9_]* and be at most '
                          '12 characters' % (path, name))
            continue
        entries = custom[name]
        if not isinstance(entries, (list, tuple)) or not entries:
            errors.append('%s: must be a non-empty list of {proto: tcp|udp, port: ...}, got %s %r'
                          % (path, _type_name(entries), entries))
            continue
        parts = []
        for pos, entry in enumerate(entries):
            epath = '%s[%d]' % (path, pos)
            if not isinstance(entry, dict) or set(entry) - {'proto', 'port'}:
                errors.append('%s: must be a mapping with keys proto and port, got %r'
                              % (epath, entry))
                continue
            proto = entry.get('proto')
            if proto not in ('tcp', 'udp'):
                errors.append('%s.proto: %r is not a protocol; valid: tcp, udp' % (epath, proto))
                continue
            try:
                port = parse_port(entry.get('port'))
            except ValueError as exc:
                errors.append('%s.port: %s' % (epath, exc))
                continue
            key = '%s#%d' % (name, pos)
            ports[key] = port
            parts.append((proto, key))
        services[name] = tuple(parts)
    return services


def _port_owner(key):
    return key.split('#')[0]


def _check_port_overlaps(services, ports, errors):
    """Two services may not share a port: a packet must belong to one service only."""
    claims = []
    for svc in sorted(services):
        for proto, key in services[svc]:
            if key is not None:
                claims.append((proto, ports[key], svc, key))
    claims.sort()
    for i, (proto, port, svc, key) in enumerate(claims):
        for proto2, port2, svc2, key2 in claims[i + 1:]:
            if proto2 != proto or port2[0] > port[1]:
                break
            if svc2 != svc:
                # blame a custom service entry when one takes part: that is where to fix it
                custom = key2 if '#' in key2 else key if '#' in key else None
                path = ('pbx_firewall_custom_services.%s[%s].port' % tuple(custom.split('#'))
                        if custom else 'pbx_firewall_ports')
                errors.append(
                    '%s: %s port %s (%s, service %r) overlaps %s (%s, service %r); '
                    'a port can belong to one service only'
                    % (path, proto, _port_text(port, '-'), _port_owner(key) if '#' in key else key, svc,
                       _port_text(port2, '-'), _port_owner(key2) if '#' in key2 else key2, svc2))


def default_resolver(host):
    """Resolve a trunk host name to its addresses (on the controller)."""
    infos = socket.getaddrinfo(host, None, 0, socket.SOCK_DGRAM)
    return sorted({info[4][0] for info in infos})


def _validate_trunks(trunks, resolver, errors):
    result = []
    if trunks is None:
        return result
    for pos, item in enumerate(_check_list(trunks, 'pbx_firewall_trunks', errors)):
        path = 'pbx_firewall_trunks[%d]' % pos
        if not isinstance(item, str) or not item.strip():
            errors.append('%s: must be a host name, an address or a CIDR, got %s %r'
                          % (path, _type_name(item), item))
            continue
        text = item.strip()
        looks_like_address = '/' in text or ':' in text or re.match(r'^[\d.]+$', text)
        if looks_like_address:
            try:
                subnet = parse_subnet(text)
            except ValueError as exc:
                errors.append('%s: %s' % (path, exc))
                continue
            if subnet.is_catch_all:
                errors.append('%s: %r would trust the whole Internet as a SIP trunk; '
                              'name the provider\'s hosts or subnets' % (path, item))
                continue
            result.append((text, subnet))
            continue
        if not HOSTNAME_RE.match(text):
            errors.append('%s: %r is neither an address, a CIDR nor a host name' % (path, item))
            continue
        try:
            addresses = (resolver or default_resolver)(text)
        except (OSError, UnicodeError) as exc:
            errors.append('%s: cannot resolve %r on the controller: %s' % (path, item, exc))
            continue
        if not addresses:
            errors.append('%s: %r resolves to no address' % (path, item))
        for address in addresses:
            result.append((text, parse_subnet(address.split('%')[0])))
    return sorted(set(result), key=lambda t: (t[1], t[0]))


def _validate_custom_rules(rules, errors):
    result = {4: [], 6: []}
    if rules is None:
        return result
    for pos, item in enumerate(_check_list(rules, 'pbx_firewall_custom_rules', errors)):
        path = 'pbx_firewall_custom_rules[%d]' % pos
        if isinstance(item, str):
            item = {'rule': item}
        if not isinstance(item, dict) or set(item) - {'rule', 'family'}:
            errors.append('%s: must be a rule string or a mapping with keys rule and family, '
                          'got %r' % (path, item))
            continue
        rule = item.get('rule')
        family = item.get('family', 'ipv4')
        if family not in CUSTOM_RULE_FAMILIES:
            errors.append('%s.family: %r; valid: %s' % (path, family, ', '.join(CUSTOM_RULE_FAMILIES)))
            continue
        if not isinstance(rule, str) or not rule.strip():
            errors.append('%s.rule: must be a non-empty string in iptables-save form '
                          '(e.g. "-s 198.51.100.7/32 -p tcp -m tcp --dport 8080 -j ACCEPT"), got %r'
                          % (path, rule))
            continue
        if '\n' in rule or '\r' in rule:
            errors.append('%s.rule: must be one line, got %r' % (path, rule))
            continue
        rule = ' '.join(rule.split())
        if re.match(r'^-[AIDRNXFPZ]\b|^--(append|insert|delete|new|flush)', rule):
            errors.append('%s.rule: %r: give only the match and target; the collection adds '
                          '"-A %s" itself' % (path, rule, MAIN_CHAIN))
            continue
        for version, name in ((4, 'ipv4'), (6, 'ipv6')):
            if family in (name, 'both'):
                result[version].append(rule)
    return result


def _validate_int(value, path, minimum, errors, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        errors.append('%s: must be an integer >= %d (%s), got %s %r'
                      % (path, minimum, what, _type_name(value), value))
        return None
    return value


def load_policy(networks, ports=None, custom_services=None, trunks=None, sip_rate_limit=0,
                sip_scanner_agents=None, custom_rules=None, ipset_threshold=DEFAULT_IPSET_THRESHOLD,
                ipv6=True, docker=False, resolver=None):
    """Validate and normalize the whole inventory. Raises PolicyError listing every problem."""
    require_netaddr()
    errors = []
    policy = Policy()
    policy.ports = _validate_ports(ports, errors)
    policy.services = _validate_custom_services(custom_services, policy.ports, errors)
    _check_port_overlaps(policy.services, policy.ports, errors)
    policy.networks = _networks(networks, frozenset(policy.services), errors)
    policy.decisions = decisions_by_family(policy.networks, errors)
    policy.trunks = _validate_trunks(trunks, resolver, errors)
    policy.sip_rate_limit = _validate_int(
        0 if sip_rate_limit is None else sip_rate_limit, 'pbx_firewall_sip_rate_limit', 0,
        errors, 'new SIP requests per second per source; 0 turns it off') or 0
    if policy.sip_rate_limit > SIP_RATE_LIMIT_MAX:
        # hashlimit keeps 1/rate in microseconds: above 1000/s iptables-save prints
        # another rate back (1032 -> 1033/sec) and the ruleset would never converge
        errors.append('pbx_firewall_sip_rate_limit: %d is too high; valid: 0 (off) to %d new SIP '
                      'requests per second per source' % (policy.sip_rate_limit, SIP_RATE_LIMIT_MAX))
    for pos, agent in enumerate(_check_list(sip_scanner_agents or [],
                                            'pbx_firewall_sip_scanner_agents', errors)):
        if not isinstance(agent, str) or not SCANNER_AGENT_RE.match(agent):
            errors.append('pbx_firewall_sip_scanner_agents[%d]: %r must be 1-64 characters of '
                          'letters, digits, space and ._/:()+-' % (pos, agent))
        elif agent not in policy.sip_scanner_agents:
            policy.sip_scanner_agents.append(agent)
    policy.sip_scanner_agents.sort()
    policy.custom_rules = _validate_custom_rules(custom_rules, errors)
    policy.ipset_threshold = _validate_int(
        ipset_threshold, 'ipset_threshold', 0, errors,
        'subnets per service above which an ipset is used; 0 never uses ipsets')
    if not isinstance(ipv6, bool):
        errors.append('ipv6: must be true or false, got %s %r' % (_type_name(ipv6), ipv6))
    policy.ipv6 = ipv6 is not False
    if not isinstance(docker, bool):
        errors.append('docker: must be true or false, got %s %r' % (_type_name(docker), docker))
    policy.docker = docker is True
    if errors:
        raise PolicyError(errors)
    return policy


# --------------------------------------------------------------------------- compilation


class Hook(tuple):
    """Where a compiled chain hangs: its name, what "allow" means there, and how ports match.

    INPUT: packets to the PBX itself; allowed ones are accepted, ports are the
    packet's destination ports. Docker-host mode: packets forwarded to published
    container ports (DOCKER-USER); the port is conntrack's *original* destination
    port (the published host port, before Docker's DNAT), and allowed packets
    RETURN to Docker's own chains instead of being accepted outright.
    """

    __slots__ = ()

    def __new__(cls, chain, allow, forwarded):
        return tuple.__new__(cls, (chain, allow, forwarded))

    chain = property(lambda self: self[0])
    allow = property(lambda self: self[1])
    forwarded = property(lambda self: self[2])

    def target(self, verdict):
        return self.allow if verdict == ACCEPT else verdict


DOCKER_CHAIN = CHAIN_PREFIX + 'DOCKER'
INPUT_HOOK = Hook(MAIN_CHAIN, ACCEPT, False)
DOCKER_HOOK = Hook(DOCKER_CHAIN, 'RETURN', True)


def _port_matches(proto, ports, version, hook):
    """Match texts for one protocol and its sorted, merged port ranges."""
    if proto == 'icmp':
        if hook.forwarded:   # echo requests to the host never cross DOCKER-USER
            return []
        if version == 4:
            return ['-p icmp -m icmp --icmp-type 8']
        return ['-p ipv6-icmp -m icmp6 --icmpv6-type 128']
    if hook.forwarded:       # conntrack takes one port or range per match
        return ['-p %s -m conntrack --ctorigdstport %s' % (proto, _port_text(p)) for p in ports]
    matches = []
    for chunk in _port_chunks(ports):
        if len(chunk) == 1:
            matches.append('-p %s -m %s --dport %s' % (proto, proto, _port_text(chunk[0])))
        else:
            matches.append('-p %s -m multiport --dports %s'
                           % (proto, ','.join(_port_text(p) for p in chunk)))
    return matches


def _port_chunks(ports):
    """Split sorted port ranges into groups that fit one multiport match."""
    chunk, slots = [], 0
    for port in ports:
        need = 1 if port[0] == port[1] else 2
        if chunk and slots + need > MULTIPORT_MAX_SLOTS:
            yield chunk
            chunk, slots = [], 0
        chunk.append(port)
        slots += need
    if chunk:
        yield chunk


def _merge_ports(ports):
    """Sort port ranges and merge the ones that touch or overlap."""
    merged = []
    for low, high in sorted(set(ports)):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return merged


def _matches_by_proto(policy, services, version, hook, parts=None):
    """Match texts for a set of services, grouped per protocol in a stable order."""
    by_proto = {}
    for svc in services:
        for proto, key in (parts or policy.services[svc]):
            by_proto.setdefault(proto, [])
            if key is not None:
                by_proto[proto].append(policy.ports[key])
    result = []
    for proto in sorted(by_proto):
        result += _port_matches(proto, _merge_ports(by_proto[proto]), version, hook)
    return result


def _rule(chain, comment, target, source=None, match=None, extra=None):
    parts = ['-A', chain]
    if source is not None:
        parts += ['-s', source]
    if match:
        parts.append(match)
    if extra:
        parts.append(extra)
    parts += ['-m', 'comment', '--comment', comment_arg(comment), '-j', target]
    return ' '.join(parts)


def _names(nets):
    return ', '.join(sorted(set(nets)))


def _prelude(version, hook):
    if hook.forwarded:
        return [
            _rule(hook.chain, 'pbx-firewall: established, related', 'RETURN',
                  match='-m conntrack --ctstate RELATED,ESTABLISHED'),
            _rule(hook.chain, 'pbx-firewall: not to a published port', 'RETURN',
                  match='-m conntrack ! --ctstate DNAT'),
        ]
    rules = [
        _rule(hook.chain, 'pbx-firewall: established, related', ACCEPT,
              match='-m conntrack --ctstate RELATED,ESTABLISHED'),
        '-A %s -i lo -m comment --comment %s -j ACCEPT'
        % (hook.chain, comment_arg('pbx-firewall: loopback')),
    ]
    if version == 6:
        for icmp_type, label in ICMPV6_REQUIRED:
            rules.append(_rule(hook.chain, 'pbx-firewall: IPv6 needs %s' % label, ACCEPT,
                               match='-p ipv6-icmp -m icmp6 --icmpv6-type %d' % icmp_type))
    return rules


def _sip_guard(policy, version, hook):
    rules = []
    if 'sip' not in policy.services:
        return rules
    for agent in policy.sip_scanner_agents:
        for match in _matches_by_proto(policy, ['sip'], version, hook, SIP_PLAINTEXT):
            rules.append(_rule(hook.chain, 'SIP scanner %s: block' % agent, DROP, match=match,
                               extra='-m string --string "%s" --algo bm' % agent))
    if policy.sip_rate_limit:
        rate = policy.sip_rate_limit
        limit = ('-m hashlimit --hashlimit-above %d/sec --hashlimit-burst %d '
                 '--hashlimit-mode srcip --hashlimit-name %s' % (rate, 2 * rate, HASHLIMIT_NAME))
        for match in _matches_by_proto(policy, ['sip'], version, hook, SIP_SIGNALLING):
            rules.append(_rule(hook.chain, 'SIP flood above %d/s per source: block' % rate, DROP,
                               match=match, extra=limit))
    return rules


def _ipset(name_hint, version, entries):
    family = 'inet' if version == 4 else 'inet6'
    digest = hashlib.sha1('\n'.join(entries).encode('ascii')).hexdigest()[:8]
    maxelem = 65536
    while maxelem < len(entries):
        maxelem *= 2
    name = '%s%s%d-%s' % (IPSET_PREFIX, name_hint, version, digest)
    return {'name': name, 'family': family, 'maxelem': maxelem, 'entries': entries}


def _set_entries(positive, negative):
    """hash:net members; ``negative`` subnets become nomatch exceptions."""
    entries = [(s, s.ipset_entry()) for s in positive]
    entries += [(s, s.ipset_entry() + ' nomatch') for s in negative]
    entries.sort(key=lambda item: (item[0].value, item[0].prefixlen))
    return [text for _subnet, text in entries]


def _trunk_rules(policy, version, hook, ipsets):
    trunks = [(label, subnet) for label, subnet in policy.trunks if subnet.version == version]
    if not trunks or 'sip' not in policy.services:
        return []
    matches = _matches_by_proto(policy, ['sip'], version, hook)
    allow = hook.target(ACCEPT)
    subnets = sorted({subnet for _label, subnet in trunks})
    if policy.ipset_threshold and len(subnets) > policy.ipset_threshold:
        ipset = _ipset('trunk', version, _set_entries(subnets, []))
        ipsets.append(ipset)
        comment = 'SIP trunks: allow sip (%d addresses)' % len(subnets)
        extra = '-m set --match-set %s src' % ipset['name']
        return [_rule(hook.chain, comment, allow, match=m, extra=extra) for m in matches]
    rules = []
    for subnet in subnets:
        labels = sorted({label for label, s in trunks if s == subnet})
        comment = 'trunk %s: allow sip' % ', '.join(labels)
        rules += [_rule(hook.chain, comment, allow, source=subnet.cidr(), match=m)
                  for m in matches]
    return rules


def _network_rules(policy, version, hook, ipsets):
    """Rules for specific networks (longest prefix first) and for catch-all networks."""
    decisions = policy.decisions[version]
    direct = {}      # Subnet -> verdict -> ([services], [names])
    via_set = []
    catch_all = {}   # verdict -> ([services], [names])
    for svc in sorted(decisions):
        specific = {s: d for s, d in decisions[svc].items() if not s.is_catch_all}
        for subnet, decision in decisions[svc].items():
            if subnet.is_catch_all:
                slot = catch_all.setdefault(decision[0], ([], []))
                slot[0].append(svc)
                slot[1].extend(net['name'] for net in decision[1:])
        if policy.ipset_threshold and len(specific) > policy.ipset_threshold:
            via_set.append((svc, specific))
            continue
        for subnet, decision in specific.items():
            slot = direct.setdefault(subnet, {}).setdefault(decision[0], ([], []))
            slot[0].append(svc)
            slot[1].extend(net['name'] for net in decision[1:])

    rules = []
    for subnet in sorted(direct, key=lambda s: (-s.prefixlen, s.value)):
        for verdict in (ACCEPT, DROP):
            if verdict not in direct[subnet]:
                continue
            services, names = direct[subnet][verdict]
            comment = '%s: %s %s' % (_names(names), VERB[verdict], ','.join(services))
            for match in _matches_by_proto(policy, services, version, hook):
                rules.append(_rule(hook.chain, comment, hook.target(verdict),
                                   source=subnet.cidr(), match=match))

    for svc, specific in via_set:
        by_verdict = {ACCEPT: [], DROP: []}
        for subnet, decision in specific.items():
            by_verdict[decision[0]].append(subnet)
        for verdict, hint in ((ACCEPT, 'a'), (DROP, 'd')):
            own = by_verdict[verdict]
            if not own:
                continue
            other = by_verdict[DROP if verdict == ACCEPT else ACCEPT]
            ipset = _ipset('%s-%s' % (svc, hint), version, _set_entries(own, other))
            ipsets.append(ipset)
            comment = '%s: %s %d subnet%s' % (svc, VERB[verdict], len(own), '' if len(own) == 1 else 's')
            extra = '-m set --match-set %s src' % ipset['name']
            for match in _matches_by_proto(policy, [svc], version, hook):
                rules.append(_rule(hook.chain, comment, hook.target(verdict), match=match,
                                   extra=extra))

    tail = []
    for verdict in (ACCEPT, DROP):
        if verdict in catch_all:
            services, names = catch_all[verdict]
            comment = '%s: %s %s' % (_names(names), VERB[verdict], ','.join(services))
            for match in _matches_by_proto(policy, services, version, hook):
                tail.append(_rule(hook.chain, comment, hook.target(verdict), match=match))
    return rules, tail


def compile_chain(policy, version, hook, ipsets):
    """One owned chain for one address family, as iptables-save prints it."""
    rules = _prelude(version, hook)
    rules += _sip_guard(policy, version, hook)
    rules += _trunk_rules(policy, version, hook, ipsets)
    specific, catch_all = _network_rules(policy, version, hook, ipsets)
    rules += specific
    if not hook.forwarded:   # custom rules are written for INPUT
        rules += ['-A %s %s' % (hook.chain, rule) for rule in policy.custom_rules[version]]
    rules += catch_all
    if policy.networks:
        rules.append(_rule(hook.chain, 'pbx-firewall: drop everything else', DROP))
    return rules


def compile_policy(policy):
    """Policy -> the ruleset dict the iptables_ruleset module applies (docs/ruleset-format.md).

    Docker-host mode adds the chain behind DOCKER-USER for IPv4 (Docker publishes
    ports with IPv4 NAT by default); a family's jump exists only where that family
    defines the target chain.
    """
    ipsets = []
    ruleset = {'ipv4': compile_chain(policy, 4, INPUT_HOOK, ipsets), 'ipv6': []}
    jumps = [{'chain': 'INPUT', 'target': MAIN_CHAIN}]
    if policy.docker:
        ruleset['ipv4'] += compile_chain(policy, 4, DOCKER_HOOK, ipsets)
        jumps.append({'chain': 'DOCKER-USER', 'target': DOCKER_CHAIN})
    if policy.ipv6:
        ruleset['ipv6'] = compile_chain(policy, 6, INPUT_HOOK, ipsets)
    ruleset['ipsets'] = sorted({s['name']: s for s in ipsets}.values(), key=lambda s: s['name'])
    ruleset['jumps'] = jumps
    return ruleset


def firewall_ruleset(networks, **options):
    """Inventory -> ruleset dict. ``options`` are load_policy's keywords."""
    # Compiling allocates millions of small acyclic objects for a large fleet;
    # the cyclic collector would rescan all of them again and again (quadratic).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return compile_policy(load_policy(networks, **options))
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------- fail2ban / Asterisk


def merge_subnets(subnets):
    """Merge subnets into the fewest covering CIDRs, sorted (IPv4 first)."""
    require_netaddr()
    nets = [netaddr.IPNetwork('%s/%d' % (s.address(), s.prefixlen)) for s in subnets]
    merged = netaddr.cidr_merge(nets)
    return sorted((Subnet(n.version, int(n.network), n.prefixlen) for n in merged))


LOOPBACK = ('127.0.0.0/8', '::1/128')


def fail2ban_ignoreip(networks, extra=None):
    """Loopback + every never_block subnet + ``extra``, merged and sorted, as CIDR strings."""
    nets = validate_networks(networks)
    subnets = [parse_subnet(text) for text in LOOPBACK]
    subnets += [s for net in nets if net['never_block'] for s in net['subnets']]
    errors = []
    for pos, item in enumerate(_check_list(extra or [], 'pbx_firewall_fail2ban_ignoreip_extra',
                                           errors)):
        try:
            subnets.append(parse_subnet(item))
        except ValueError as exc:
            errors.append('pbx_firewall_fail2ban_ignoreip_extra[%d]: %s' % (pos, exc))
    if errors:
        raise PolicyError(errors)
    return [s.cidr() for s in merge_subnets(subnets)]


def asterisk_localnet(networks):
    """Every local_network subnet, merged and sorted, as CIDR strings."""
    nets = validate_networks(networks)
    subnets = [s for net in nets if net['local_network'] for s in net['subnets']]
    return [s.cidr() for s in merge_subnets(subnets)]


def addresses_in(addresses, cidrs):
    """The addresses (strings) that fall in any of ``cidrs``, deduplicated and sorted."""
    require_netaddr()
    errors = []
    covered = netaddr.IPSet()
    for pos, text in enumerate(_check_list(cidrs, 'subnets', errors)):
        try:
            subnet = parse_subnet(text)
        except ValueError as exc:
            errors.append('subnets[%d]: %s' % (pos, exc))
            continue
        covered.add(netaddr.IPNetwork(subnet.cidr()))
    found = set()
    for pos, text in enumerate(_check_list(addresses, 'addresses', errors)):
        try:
            address = parse_subnet(text)
        except ValueError as exc:
            errors.append('addresses[%d]: %s' % (pos, exc))
            continue
        if not address.is_host:
            errors.append('addresses[%d]: %r is a subnet, not an address' % (pos, text))
        elif netaddr.IPAddress(address.value, address.version) in covered:
            found.add(address)
    if errors:
        raise PolicyError(errors)
    return [subnet.address() for subnet in sorted(found)]
