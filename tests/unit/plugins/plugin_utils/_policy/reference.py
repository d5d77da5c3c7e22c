# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A deliberately naive reference evaluator of docs/design.md "Policy semantics".

It knows nothing about iptables: given a (valid) inventory and one new packet it
answers what the packet gets, by following the numbered steps of docs/design.md
literally. It uses only the standard library (``ipaddress``), not netaddr and not
the compiler, so that it is an independent second opinion.

Step 2 (the SIP guards) and step 3 (established/related) are modelled: a packet
has a conntrack ``state``, a ``payload`` (bytes after the TCP/UDP header, or None)
and ``over_limit`` (its source, an IPv4 address or an IPv6 prefix, has used up its
SIP budget; the bookkeeping of the budget is the kernel's). What the guards look
at is written out below in terms of SIP, not of iptables.

Step 1 is modelled for loopback sources (127.0.0.0/8, ::1: such a packet can only
have come over ``lo``); the host's other own addresses are not known here. Step 3 (the
blocklist) and the country networks of step 6 are modelled too: the caller gives the
blocklist's entries and a country database of its own, a mapping of country code to CIDRs
(the tests write the same data as a database file for the compiler). Not modelled: the
ICMPv6 types IPv6 needs, and custom rules (the property tests use none).

Verdicts: ``'ACCEPT'``, ``'DROP'`` or ``None`` (no decision: the packet leaves the
owned chain and the INPUT policy decides).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

ACCEPT = 'ACCEPT'
DROP = 'DROP'

# docs/design.md "Built-in services", copied from the table.
DEFAULT_PORTS = {
    'sip': 5060, 'tls': 5061, 'rtp': '10000-10200', 'iax': 4569,
    'web_http': 80, 'web_https': 443, 'ssh': 22, 'ami': 5038,
    'ajam': 8088, 'ajam_tls': 8089, 'cti_nats': 4222, 'cti_nats_web': 8222,
}
SERVICES = {
    'sip': [('udp', 'sip'), ('tcp', 'sip'), ('tcp', 'tls'), ('udp', 'rtp')],
    'iax': [('udp', 'iax')],
    'web': [('tcp', 'web_http'), ('tcp', 'web_https')],
    'ssh': [('tcp', 'ssh')],
    'ami': [('tcp', 'ami')],
    'ajam': [('tcp', 'ajam'), ('tcp', 'ajam_tls')],
    'icmp': [('icmp', None)],
    'cticlient': [('tcp', 'cti_nats'), ('tcp', 'cti_nats_web')],
}


def port_range(value):
    """22 -> (22, 22); "10000-10200" -> (10000, 10200)."""
    if isinstance(value, int):
        return (value, value)
    low, _sep, high = str(value).partition('-')
    return (int(low), int(high or low))


def service_table(ports=None, custom_services=None):
    """service -> list of (protocol, (low, high) or None)."""
    port_values = dict(DEFAULT_PORTS)
    port_values.update(ports or {})
    table = {}
    for name, parts in SERVICES.items():
        table[name] = [(proto, None if key is None else port_range(port_values[key]))
                       for proto, key in parts]
    for name, entries in (custom_services or {}).items():
        table[name] = [(entry['proto'], port_range(entry['port'])) for entry in entries]
    return table


def service_of(table, proto, port):
    """The one service a packet belongs to, or None. ``proto`` is tcp, udp or icmp."""
    found = set()
    for name, parts in table.items():
        for part_proto, ports in parts:
            if part_proto != proto:
                continue
            if proto == 'icmp' or ports[0] <= port <= ports[1]:
                found.add(name)
    assert len(found) <= 1, 'a valid inventory never has two services on one port: %r' % found
    return found.pop() if found else None


def subnets_of(network):
    raw = network['subnet']
    if isinstance(raw, str):
        raw = [raw]
    return [ipaddress.ip_network(text.strip()) for text in raw]


def _lines(payload):
    """The payload's lines, each with whether a line feed ends it."""
    parts = payload.split(b'\n')
    return [(part, index < len(parts) - 1) for index, part in enumerate(parts)]


def names_scanner(payload, agents):
    """A line (not the first) is a User-Agent header whose value starts with an agent.

    The header name is matched case-insensitively, then a colon, then no space or one
    space, then the agent, case-insensitively. Anything else (a From user, a display
    name, an agent later in the value, a first line) does not count.
    """
    lines = _lines(payload)
    for text, _ended in lines[1:]:
        lower = text.lower()
        if not lower.startswith(b'user-agent:'):
            continue
        value = lower[len(b'user-agent:'):]
        for agent in agents:
            wanted = agent.lower().encode('ascii')
            if value.startswith(wanted) or value.startswith(b' ' + wanted):
                return True
    return False


def is_sip_request(payload):
    """A line ending in " SIP/2.0" CR LF: a request line (a response starts with "SIP/2.0 ")."""
    return any(ended and text.endswith(b' SIP/2.0\r') for text, ended in _lines(payload))


def sip_guard_verdict(networks, address, proto, port, ports, trunks, sip_rate_limit,
                      sip_scanner_agents, state, payload, over_limit):
    """Step 2: DROP, or None when the SIP guards let the packet on."""
    values = dict(DEFAULT_PORTS)
    values.update(ports or {})
    plain = [('udp', port_range(values['sip'])), ('tcp', port_range(values['sip']))]
    tls = ('tcp', port_range(values['tls']))
    on_plain = any(proto == p and r[0] <= port <= r[1] for p, r in plain)
    on_tls = proto == tls[0] and tls[1][0] <= port <= tls[1][1] and state == 'NEW'
    if port is None or not (sip_scanner_agents or sip_rate_limit) or not (on_plain or on_tls):
        return None
    exempt = [ipaddress.ip_network(t.strip()) for t in trunks or []]
    for network in networks:
        if network.get('never_block'):
            exempt += subnets_of(network)
    if any(net.version == address.version and address in net for net in exempt):
        return None
    if on_plain and payload:
        if names_scanner(payload, sip_scanner_agents or []):
            return DROP
        if sip_rate_limit and over_limit and is_sip_request(payload):
            return DROP
    if on_tls and sip_rate_limit and over_limit:
        return DROP      # TLS: every new connection counts, nothing is inspected
    return None


def _in_any(address, cidrs):
    return any(net.version == address.version and address in net
               for net in (ipaddress.ip_network(text.strip()) for text in cidrs))


def exempt(networks, trunks, address):
    """Trunks and never_block networks: the blocklist and blocked countries never drop them."""
    never_block = [s for network in networks if network.get('never_block') for s in subnets_of(network)]
    return _in_any(address, list(trunks or []) + [str(s) for s in never_block])


def in_countries(network, country_db, address):
    """A country network holds ``address``: in one of its countries, and in its subnet if it has one."""
    countries = [c.upper() for c in network.get('countries') or []]
    if not _in_any(address, [cidr for country in countries for cidr in country_db.get(country, ())]):
        return False
    return not network.get('subnet') or any(
        s.version == address.version and address in s for s in subnets_of(network))


def verdict(networks, source, proto, port=None, ports=None, custom_services=None, trunks=None,
            ipv6=True, sip_rate_limit=0, sip_scanner_agents=(), state='NEW', payload=None,
            over_limit=False, blocklist=(), country_db=None):
    """What a packet from ``source`` to (``proto``, ``port``) gets."""
    address = ipaddress.ip_address(source)
    if address.version == 6 and not ipv6:
        return None                      # no IPv6 rules at all: ip6tables is left alone
    table = service_table(ports, custom_services)
    service = service_of(table, proto, port)
    countries = [n for n in networks if n.get('countries')]
    networks = [n for n in networks if not n.get('countries')]

    # 1. loopback is accepted, before anything else looks at the packet
    if address.is_loopback:
        return ACCEPT

    # 2. the SIP guards see every packet to the SIP ports, whatever its state
    if sip_guard_verdict(networks, address, proto, port, ports, trunks, sip_rate_limit,
                         sip_scanner_agents, state, payload, over_limit) == DROP:
        return DROP

    # 3. the blocklist: every packet, whatever its state; trunks and never_block are exempt
    if _in_any(address, blocklist) and not exempt(networks, trunks, address):
        return DROP

    # 4. established and related traffic
    if state != 'NEW':
        return ACCEPT

    # 5. trunk hosts get everything the sip service covers
    if service == 'sip':
        for trunk in trunks or []:
            trunk_net = ipaddress.ip_network(trunk.strip())
            if trunk_net.version == address.version and address in trunk_net:
                return ACCEPT

    # 6. the longest prefix among the networks that contain the source and mention the service
    if service is not None:
        specific = []
        catch_all = []
        for network in networks:
            if service in (network.get('services') or []):
                this = ACCEPT
            elif service in (network.get('block') or []):
                this = DROP
            else:
                continue
            for subnet in subnets_of(network):
                if subnet.version != address.version or address not in subnet:
                    continue
                (catch_all if subnet.prefixlen == 0 else specific).append((subnet.prefixlen, this))
        if specific:
            longest = max(length for length, _v in specific)
            decided = {v for length, v in specific if length == longest}
            assert len(decided) == 1, 'a valid inventory has one verdict per subnet and service'
            return decided.pop()
        # 6. (next) the country networks; a blocked country never drops trunks and never_block
        decided = set()
        for network in countries:
            if not in_countries(network, country_db or {}, address):
                continue
            if service in (network.get('services') or []):
                decided.add(ACCEPT)
            elif service in (network.get('block') or []) and not exempt(networks, trunks, address):
                decided.add(DROP)
        if decided:
            assert len(decided) == 1, 'a valid inventory has one verdict per country and service'
            return decided.pop()
        # 6. (next) custom rules would go here (none in the property tests)
        # 6. (end) catch-all networks come last
        if catch_all:
            decided = {v for _length, v in catch_all}
            assert len(decided) == 1
            return decided.pop()

    # 7. everything else is dropped, but only when a network is defined
    if networks or countries:
        return DROP
    return None
