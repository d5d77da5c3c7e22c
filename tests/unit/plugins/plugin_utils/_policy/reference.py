# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A deliberately naive reference evaluator of docs/design.md "Policy semantics".

It knows nothing about iptables: given a (valid) inventory and one new packet it
answers what the packet gets, by following the numbered steps of docs/design.md
literally. It uses only the standard library (``ipaddress``), not netaddr and not
the compiler, so that it is an independent second opinion.

Not modelled: established/related traffic, loopback, the ICMPv6 types IPv6 needs,
SIP scanners and floods (the test packets are new, non-loopback, ordinary
packets), and custom rules (the property tests use none).

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


def verdict(networks, source, proto, port=None, ports=None, custom_services=None, trunks=None,
            ipv6=True):
    """What a new packet from ``source`` to (``proto``, ``port``) gets."""
    address = ipaddress.ip_address(source)
    if address.version == 6 and not ipv6:
        return None                      # no IPv6 rules at all: ip6tables is left alone
    table = service_table(ports, custom_services)
    service = service_of(table, proto, port)

    # 3. trunk hosts get everything the sip service covers
    if service == 'sip':
        for trunk in trunks or []:
            trunk_net = ipaddress.ip_network(trunk.strip())
            if trunk_net.version == address.version and address in trunk_net:
                return ACCEPT

    # 4. the longest prefix among the networks that contain the source and mention the service
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
        # 5. custom rules would go here (none in the property tests)
        # 4. (end) catch-all networks come last
        if catch_all:
            decided = {v for _length, v in catch_all}
            assert len(decided) == 1
            return decided.pop()

    # 6. everything else is dropped, but only when a network is defined
    if networks:
        return DROP
    return None
