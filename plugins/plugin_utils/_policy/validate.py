# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Validation of the controller core: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns the
check of every inventory input (networks, ports, custom services, trunks, custom
rules, SIP guards, options) and its normalization into a ``Policy`` (see model.py).
``load_policy`` collects every problem before raising one ``PolicyError`` whose lines
name the inventory path, the bad value and what would be valid. Trunk host names are
resolved here, on the controller. Pure Python, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import socket

from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import FAMILIES, MAIN_CHAIN
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import (
    ACCEPT,
    BUILTIN_PORTS,
    BUILTIN_SERVICES,
    DEFAULT_IPSET_THRESHOLD,
    DROP,
    SERVICE_NAME_MAX,
    Policy,
    PolicyError,
    check_list,
    choices,
    parse_port,
    parse_subnet,
    port_text,
    require_netaddr,
    type_name,
)

NETWORK_KEYS = ('name', 'subnet', 'services', 'block', 'local_network', 'never_block',
                'description', 'tags')
CUSTOM_RULE_FAMILIES = FAMILIES + ('both',)
SERVICE_NAME_RE = re.compile(r'^[a-z][a-z0-9_]{0,%d}$' % (SERVICE_NAME_MAX - 1))
SCANNER_AGENT_RE = re.compile(r'^[A-Za-z0-9 ._/:()+-]{1,64}$')
HOSTNAME_RE = re.compile(r'^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*'
                         r'[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$')
SIP_RATE_LIMIT_MAX = 1000          # exact in hashlimit's microsecond arithmetic


def _net_label(index, raw):
    """Path of one network in error messages: index plus its name when it has one."""
    name = raw.get('name') if isinstance(raw, dict) else None
    if isinstance(name, str) and name.strip():
        return 'pbx_firewall_networks[%d] (%r)' % (index, name)
    return 'pbx_firewall_networks[%d]' % index


def _normalize_network(index, raw, known_services, errors):
    label = _net_label(index, raw)
    if not isinstance(raw, dict):
        errors.append('%s: each network must be a mapping with name, subnet, services, ...; '
                      'got %s %r' % (label, type_name(raw), raw))
        return None
    for key in sorted(set(raw) - set(NETWORK_KEYS), key=str):
        errors.append('%s: unknown key %r; valid keys: %s' % (label, key, ', '.join(NETWORK_KEYS)))
    count_before = len(errors)

    name = raw.get('name')
    if name is None:
        errors.append('%s.name: required, a unique non-empty string' % label)
    elif not isinstance(name, str) or not name.strip():
        errors.append('%s.name: must be a non-empty string, got %s %r'
                      % (label, type_name(name), name))
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
        for pos, item in enumerate(check_list(items, '%s.subnet' % label, errors, True)):
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
        for pos, svc in enumerate(check_list(items, '%s.%s' % (label, field), errors)):
            if not isinstance(svc, str):
                errors.append('%s.%s[%d]: must be a service name, got %s %r; valid: %s'
                              % (label, field, pos, type_name(svc), svc,
                                 'a string' if known_services is None else choices(known_services)))
            elif known_services is not None and svc not in known_services:
                errors.append('%s.%s[%d]: unknown service %r; valid: %s'
                              % (label, field, pos, svc, choices(known_services)))
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
                          % (label, field, type_name(value), value))
        flags[field] = value is True

    for field in ('description',):
        if field in raw and raw[field] is not None and not isinstance(raw[field], str):
            errors.append('%s.%s: must be a string, got %s %r'
                          % (label, field, type_name(raw[field]), raw[field]))
    if 'tags' in raw and raw['tags'] is not None:
        check_list(raw['tags'], '%s.tags' % label, errors)

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
                      % (type_name(networks), networks))
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
                      % (type_name(ports), ports))
        return result
    for key in sorted(ports, key=str):
        if key not in BUILTIN_PORTS:
            errors.append('pbx_firewall_ports.%s: unknown port name %r; valid: %s'
                          % (key, key, choices(BUILTIN_PORTS)))
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
                      'list of {proto, port}, got %s %r' % (type_name(custom), custom))
        return services
    for name in sorted(custom, key=str):
        path = 'pbx_firewall_custom_services.%s' % (name,)
        if name in BUILTIN_SERVICES:
            errors.append('%s: %r is a built-in service; change its ports with '
                          'pbx_firewall_ports instead' % (path, name))
            continue
        if not isinstance(name, str) or not SERVICE_NAME_RE.match(name):
            errors.append('%s: service name %r must match [a-z][a-z0-9_]* and be at most '
                          '%d characters' % (path, name, SERVICE_NAME_MAX))
            continue
        entries = custom[name]
        if not isinstance(entries, (list, tuple)) or not entries:
            errors.append('%s: must be a non-empty list of {proto: tcp|udp, port: ...}, got %s %r'
                          % (path, type_name(entries), entries))
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
                    % (path, proto, port_text(port, '-'), _port_owner(key) if '#' in key else key, svc,
                       port_text(port2, '-'), _port_owner(key2) if '#' in key2 else key2, svc2))


def default_resolver(host):
    """Resolve a trunk host name to its addresses (on the controller)."""
    infos = socket.getaddrinfo(host, None, 0, socket.SOCK_DGRAM)
    return sorted({info[4][0] for info in infos})


def _validate_trunks(trunks, resolver, errors):
    result = []
    if trunks is None:
        return result
    for pos, item in enumerate(check_list(trunks, 'pbx_firewall_trunks', errors)):
        path = 'pbx_firewall_trunks[%d]' % pos
        if not isinstance(item, str) or not item.strip():
            errors.append('%s: must be a host name, an address or a CIDR, got %s %r'
                          % (path, type_name(item), item))
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
    for pos, item in enumerate(check_list(rules, 'pbx_firewall_custom_rules', errors)):
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
                      % (path, minimum, what, type_name(value), value))
        return None
    return value


# The names error messages give the options that are not role variables already; a caller
# passes its own (the role: pbx_firewall_ipv6, ...) with load_policy's ``names``.
OPTION_NAMES = {'ipset_threshold': 'ipset_threshold', 'ipv6': 'ipv6', 'docker': 'docker'}


def load_policy(networks, ports=None, custom_services=None, trunks=None, sip_rate_limit=0,
                sip_scanner_agents=None, custom_rules=None, ipset_threshold=DEFAULT_IPSET_THRESHOLD,
                ipv6=True, docker=False, resolver=None, names=None, sip_rate_limit_ipv6_prefix=64):
    """Validate and normalize the whole inventory. Raises PolicyError listing every problem.

    ``names`` maps keys of OPTION_NAMES to the names messages use for those options.
    """
    require_netaddr()
    names = dict(OPTION_NAMES, **(names or {}))
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
    prefix = _validate_int(
        64 if sip_rate_limit_ipv6_prefix is None else sip_rate_limit_ipv6_prefix,
        'pbx_firewall_sip_rate_limit_ipv6_prefix', 1, errors,
        'the IPv6 prefix length (1-128) whose addresses share one SIP rate budget')
    if prefix is not None and prefix > 128:
        errors.append('pbx_firewall_sip_rate_limit_ipv6_prefix: %d is out of range; valid: 1-128 '
                      '(64 = one budget per /64, 128 = per address)' % prefix)
    elif prefix is not None:
        policy.sip_rate_limit_ipv6_prefix = prefix
    for pos, agent in enumerate(check_list(sip_scanner_agents or [],
                                            'pbx_firewall_sip_scanner_agents', errors)):
        if not isinstance(agent, str) or not SCANNER_AGENT_RE.match(agent):
            errors.append('pbx_firewall_sip_scanner_agents[%d]: %r must be 1-64 characters of '
                          'letters, digits, space and ._/:()+-' % (pos, agent))
        elif agent not in policy.sip_scanner_agents:
            policy.sip_scanner_agents.append(agent)
    policy.sip_scanner_agents.sort()
    policy.custom_rules = _validate_custom_rules(custom_rules, errors)
    policy.ipset_threshold = _validate_int(
        ipset_threshold, names['ipset_threshold'], 0, errors,
        'subnets per service above which an ipset is used; 0 never uses ipsets')
    if not isinstance(ipv6, bool):
        errors.append('%s: must be true or false, got %s %r' % (names['ipv6'], type_name(ipv6), ipv6))
    policy.ipv6 = ipv6 is not False
    if not isinstance(docker, bool):
        errors.append('%s: must be true or false, got %s %r' % (names['docker'], type_name(docker), docker))
    policy.docker = docker is True
    if errors:
        raise PolicyError(errors)
    return policy
