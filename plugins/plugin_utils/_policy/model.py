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

import re

from ansible_collections.pbxops.firewall.plugins.module_utils._verdicts import ACCEPT, DROP
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.scalars import (
    parse_int,
    type_name,
)

try:
    import netaddr

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - exercised by the filters' error path
    netaddr = None
    HAS_NETADDR = False

# The oldest netaddr the collection supports and tests (Debian 12's python3-netaddr).
# Address parsing does not depend on it (addresses.py has its own strict parser);
# netaddr merges subnets for fail2ban and Asterisk.
NETADDR_MIN = (0, 8, 0)


COMMENT_MAX_BYTES = 255          # XT_MAX_COMMENT_LEN is 256 including the NUL
DEFAULT_IPSET_THRESHOLD = 16
# where the role installs the metrics refresher (plugin_utils/_refresher.py), by default
DEFAULT_METRICS_SCRIPT = '/usr/local/sbin/pbx-firewall-metrics'
# A service name becomes part of an ipset name: see chains.ipset_name, which asserts
# that the longest name this allows still fits IPSET_NAME_MAX.
SERVICE_NAME_MAX = 12

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

# TLS is encrypted: a User-Agent string can only be seen on plain SIP.
SIP_PLAINTEXT = (('udp', 'sip'), ('tcp', 'sip'))
PORT_RANGE_RE = re.compile(r'^ *([^ -]+) *- *([^ -]+) *$')
COMMENT_SAFE = frozenset('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-')
MAX_REPORTED_ERRORS = 25

# User-Agent strings of SIP scanners dropped on the plain SIP ports when the caller
# gives none (the filter without sip_scanner_agents, the role with its default null).
# The first four are the list the role shipped so far (MikoPBX's); the others are the
# defaults of later scanners
# (sippts: pplsip, and sipptk in its Perl versions; older kits common in honeypot
# logs: sundayddr, iWar, sip-scan).
# Left out on purpose: sipsak, "PortSIP VoIP SDK" and "Cisco-SIPGateway" are the
# User-Agents of legitimate tools and products as well.
DEFAULT_SIP_SCANNER_AGENTS = (
    'friendly-scanner',
    'sipcli',
    'sipvicious',
    'VaxSIPUserAgent',
    'pplsip',
    'sipptk',
    'sundayddr',
    'iWar',
    'sip-scan',
)

# How error messages name each input. The core's default names are the role's
# variables; the filters pass their own argument names unless the caller (the role)
# gives others with ``names``.
ROLE_NAMES = {
    'networks': 'pbx_firewall_networks',
    'ports': 'pbx_firewall_ports',
    'custom_services': 'pbx_firewall_custom_services',
    'trunks': 'pbx_firewall_trunks',
    'sip_rate_limit': 'pbx_firewall_sip_rate_limit',
    'sip_rate_limit_ipv6_prefix': 'pbx_firewall_sip_rate_limit_ipv6_prefix',
    'sip_scanner_agents': 'pbx_firewall_sip_scanner_agents',
    'custom_rules': 'pbx_firewall_custom_rules',
    'ipset_threshold': 'pbx_firewall_ipset_threshold',
    'ipv6': 'pbx_firewall_ipv6',
    'docker': 'pbx_firewall_docker',
    'extra': 'pbx_firewall_fail2ban_ignoreip_extra',
    'log_drops': 'pbx_firewall_log_drops',
    'log_rate': 'pbx_firewall_log_rate',
    'nflog_group': 'pbx_firewall_nflog_group',
    'geoip_db': 'pbx_firewall_geoip_db',
    'geoip_max_age_days': 'pbx_firewall_geoip_max_age_days',
    'blocklist': 'pbx_firewall_blocklist',
    'blocklist_files': 'pbx_firewall_blocklist_files',
    'addresses': 'addresses',
    'subnets': 'subnets',
}
NAME_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_.\[\]\'" -]{0,127}')


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


def netaddr_version(module=None):
    """The version of the installed netaddr as a tuple of ints ((0, 8, 0))."""
    text = getattr(module or netaddr, '__version__', '0')
    numbers = []
    for part in text.split('.')[:3]:
        digits = re.match(r'[0-9]*', part).group()
        numbers.append(int(digits) if digits else 0)
    return tuple(numbers + [0] * (3 - len(numbers)))


def require_netaddr():
    """Raise MissingDependency (one line) unless a supported netaddr is installed."""
    if not HAS_NETADDR:
        raise MissingDependency('the Python library netaddr is required: install it on the '
                                'controller (pip install netaddr)')
    if netaddr_version() < NETADDR_MIN:
        minimum = '.'.join(str(n) for n in NETADDR_MIN)
        raise MissingDependency('netaddr %s is too old: install netaddr >= %s on the controller '
                                '(pip install "netaddr>=%s")'
                                % (netaddr.__version__, minimum, minimum))


def message_names(names=None):
    """ROLE_NAMES updated with the caller's ``names`` (input keyword -> name in messages)."""
    result = dict(ROLE_NAMES)
    if names is None:
        return result
    errors = []
    if not isinstance(names, dict):
        raise PolicyError(['names: must be a mapping of input to the name used in messages '
                           '(e.g. {networks: pbx_firewall_networks}), got %s %r'
                           % (type_name(names), names)])
    for key in sorted(names, key=str):
        if key not in ROLE_NAMES:
            errors.append('names: unknown input %r; valid: %s' % (key, choices(ROLE_NAMES)))
        elif not isinstance(names[key], str) or not NAME_RE.fullmatch(names[key]):
            errors.append('names.%s: must be a variable name or path such as '
                          'pbx_firewall_networks, got %r' % (key, names[key]))
        else:
            result[key] = names[key]
    if errors:
        raise PolicyError(errors)
    return result


def key_path(base, key):
    """``base.key`` for a plain key, ``base['odd key']`` for any other."""
    if isinstance(key, str) and re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', key):
        return '%s.%s' % (base, key)
    return '%s[%r]' % (base, key)


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


def parse_port(value):
    """An integer port or a "FROM-TO" range -> (low, high). Raises ValueError."""
    valid = 'valid: an integer 1-65535 or a range "FROM-TO" with FROM <= TO, e.g. "10000-10200"'
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError('%r is not a port; %s' % (value, valid))
    match = PORT_RANGE_RE.match(value) if isinstance(value, str) else None
    try:
        if match:
            low, high = (parse_int(x) for x in match.groups())
        else:
            low = high = parse_int(value)
    except ValueError as exc:
        if str(exc).startswith('numbers are'):
            raise ValueError('%s is not a port: %s' % (repr(value), exc))
        raise ValueError('%s is not a port; %s' % (repr(value), valid))
    if low > high:
        raise ValueError('%r is a range written backwards; did you mean "%d-%d"?'
                         % (value, high, low))
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
        self.logging = None         # drops.Logging when drops are logged
        self.sets = None            # sets.Sets: country networks' and the blocklist's addresses
