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

import ipaddress
import re
import socket
import unicodedata

from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import (
    FAMILIES,
    MAIN_CHAIN,
    split_rule,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import custom_rules
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.addresses import (
    Subnet,
    parse_subnet,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.drops import validate_logging
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.countries import country_code
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import (
    ACCEPT,
    BUILTIN_PORTS,
    BUILTIN_SERVICES,
    DEFAULT_IPSET_THRESHOLD,
    DEFAULT_SIP_SCANNER_AGENTS,
    DROP,
    SERVICE_NAME_MAX,
    Policy,
    PolicyError,
    check_list,
    choices,
    key_path,
    message_names,
    parse_port,
    port_text,
    require_netaddr,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.scalars import (
    BOOL_VALID,
    parse_bool,
    parse_int,
    text_error,
    text_problem,
    type_name,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.sets import Sets, load_sets

NETWORK_KEYS = ('name', 'subnet', 'countries', 'services', 'block', 'local_network', 'never_block',
                'description', 'tags')
# Why a country network may not carry these flags.
COUNTRY_FLAG_REASONS = {
    'local_network': 'a country is not a LAN or VPN: Asterisk would present its local address, not its '
                     'external one, to every address in it; put the subnets that are local in a network of '
                     'their own',
    'never_block': 'a country is not a LAN: fail2ban and the SIP guards would never ban anyone in it; '
                   'put the subnets you trust in a network of their own',
}
NETWORK_KEY_SET = frozenset(NETWORK_KEYS)
CUSTOM_RULE_FAMILIES = FAMILIES + ('both',)
SERVICE_NAME_RE = re.compile(r'[a-z][a-z0-9_]{0,%d}' % (SERVICE_NAME_MAX - 1))
SCANNER_AGENT_RE = re.compile(r'[A-Za-z0-9 ._/:()+-]{1,64}')
HOSTNAME_RE = re.compile(r'(?=.{1,253}\Z)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*'
                         r'[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?')
SIP_RATE_LIMIT_MAX = 1000          # exact in hashlimit's microsecond arithmetic
# The widest subnet a trunk entry may be: a SIP provider's hosts, not a region of the
# Internet (README, "SIP trunks").
TRUNK_MAX_WIDTH = {4: 16, 6: 48}


def _net_label(base, index, raw):
    """Path of one network in error messages: index plus its name when it has one."""
    name = raw.get('name') if isinstance(raw, dict) else None
    if isinstance(name, str) and name.strip():
        return '%s[%d] (%r)' % (base, index, name)
    return '%s[%d]' % (base, index)


def _flag(value, path, errors):
    """A boolean option: true/false, or its string form from the command line."""
    try:
        return parse_bool(value)
    except ValueError:
        errors.append('%s: must be true or false, got %s %r; %s'
                      % (path, type_name(value), value, BOOL_VALID))
        return None


def _normalize_network(index, raw, known_services, errors, base):
    label = _net_label(base, index, raw)
    if not isinstance(raw, dict):
        errors.append('%s: each network must be a mapping with name, subnet, services, ...; '
                      'got %s %r' % (label, type_name(raw), raw))
        return None
    if not raw.keys() <= NETWORK_KEY_SET:
        for key in sorted(set(raw) - NETWORK_KEY_SET, key=str):
            errors.append('%s: unknown key %r; valid keys: %s'
                          % (label, key, ', '.join(NETWORK_KEYS)))
    count_before = len(errors)

    name = raw.get('name')
    if name is None:
        errors.append('%s.name: required, a unique non-empty string' % label)
    elif not isinstance(name, str) or not name.strip():
        errors.append('%s.name: must be a non-empty string, got %s %r'
                      % (label, type_name(name), name))
        name = None
    elif text_problem(name) is not None:
        errors.append(text_error('%s.name' % label, name))

    countries = _countries(raw.get('countries'), label, errors)
    subnets = []
    if 'subnet' not in raw or raw['subnet'] in (None, '', []):
        if raw.get('countries') in (None, '', []):
            errors.append('%s.subnet: required, a CIDR or a list of CIDRs (e.g. 192.168.10.0/24), '
                          'unless the network gives countries' % label)
    else:
        items = raw['subnet']
        many = isinstance(items, (list, tuple))
        for pos, item in enumerate(items if many else
                                   check_list(items, '%s.subnet' % label, errors, True)):
            try:
                subnet = parse_subnet(item)
            except ValueError as exc:
                path = '%s.subnet[%d]' % (label, pos) if many else '%s.subnet' % label
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
        for pos, svc in enumerate(items if isinstance(items, (list, tuple)) else
                                  check_list(items, '%s.%s' % (label, field), errors)):
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
        flags[field] = False if value is None else _flag(value, '%s.%s' % (label, field), errors)
        if flags[field] and raw.get('countries') not in (None, '', []):
            errors.append('%s.%s: not on a network with countries: %s'
                          % (label, field, COUNTRY_FLAG_REASONS[field]))

    description = raw.get('description')
    if description is not None:
        if not isinstance(description, str):
            errors.append('%s.description: must be a string, got %s %r'
                          % (label, type_name(description), description))
        elif text_problem(description) is not None:
            errors.append(text_error('%s.description' % label, description))
    if 'tags' in raw and raw['tags'] is not None:
        check_list(raw['tags'], '%s.tags' % label, errors)

    if len(errors) > count_before:
        return None
    return {
        'index': index,
        'name': name.strip(),
        'label': label,
        'subnets': subnets,
        'countries': countries,
        'services': lists['services'],
        'block': lists['block'],
        'local_network': flags['local_network'],
        'never_block': flags['never_block'],
    }


def _countries(value, label, errors):
    """A network's ``countries``: upper-case ISO 3166-1 alpha-2 codes, deduplicated, sorted."""
    if value in (None, '', []):
        return []
    many = isinstance(value, (list, tuple))
    codes = []
    for pos, item in enumerate(value if many else check_list(value, '%s.countries' % label, errors, True)):
        try:
            code = country_code(item)
        except ValueError as exc:
            errors.append('%s: %s' % ('%s.countries[%d]' % (label, pos) if many else '%s.countries' % label,
                                      exc))
            continue
        if code not in codes:
            codes.append(code)
    return sorted(codes)


def validate_networks(networks, known_services=None, names=None):
    """Validate the network list; ``known_services`` None skips service-name checks.

    Returns the normalized networks or raises PolicyError.
    """
    require_netaddr()
    names = message_names(names)
    errors = []
    result = _networks(networks, known_services, errors, names['networks'])
    decisions_by_family(result, errors)
    country_conflicts(result, errors)
    if errors:
        raise PolicyError(errors)
    return result


def _networks(networks, known_services, errors, base):
    if networks is None:
        networks = []
    if not isinstance(networks, (list, tuple)):
        errors.append('%s: must be a list of networks, got %s %r'
                      % (base, type_name(networks), networks))
        return []
    result = []
    seen = {}
    for index, raw in enumerate(networks):
        net = _normalize_network(index, raw, known_services, errors, base)
        if net is None:
            continue
        key = net['name'].casefold()
        if key in seen:
            errors.append('%s.name: duplicate name %r (also %s[%d]); names must be unique'
                          % (net['label'], net['name'], base, seen[key]))
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
        if net['countries']:
            continue        # ranked on their own: see country_conflicts
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


def _overlap(first, second):
    """Whether two country networks' subnet lists (empty: the whole family) share an address."""
    if not first or not second:
        return True
    return any(a.version == b.version and a.value <= b.last and b.value <= a.last
               for a in first for b in second)


def country_conflicts(networks, errors):
    """Two country networks that cover the same country in one family, for one service, and
    disagree: an error, like one subnet that both allows and blocks a service."""
    users = [net for net in networks if net['countries']]
    for i, net in enumerate(users):
        for other in users[i + 1:]:
            shared = sorted(set(net['countries']) & set(other['countries']))
            if not shared:
                continue
            for version in (4, 6):
                mine = [s for s in net['subnets'] if s.version == version]
                theirs = [s for s in other['subnets'] if s.version == version]
                if (net['subnets'] and not mine) or (other['subnets'] and not theirs) \
                        or not _overlap(mine, theirs):
                    continue
                for allow, block in ((net, other), (other, net)):
                    for svc in sorted(set(allow['services']) & set(block['block'])):
                        errors.append('%s: country %s is given both "allow %s" (%s) and "block %s" (%s) '
                                      'for IPv%d; two country networks that cover one country must '
                                      'agree on each service'
                                      % (other['label'], shared[0], svc, allow['label'], svc, block['label'],
                                         version))
                break       # one message per pair of networks


def _validate_ports(ports, errors, base):
    result = {}
    for key, value in BUILTIN_PORTS.items():
        result[key] = parse_port(value)
    if ports is None:
        return result
    if not isinstance(ports, dict):
        errors.append('%s: must be a mapping of port name to port, got %s %r'
                      % (base, type_name(ports), ports))
        return result
    for key in sorted(ports, key=str):
        if key not in BUILTIN_PORTS:
            errors.append('%s: unknown port name %r; valid: %s'
                          % (key_path(base, key), key, choices(BUILTIN_PORTS)))
            continue
        try:
            result[key] = parse_port(ports[key])
        except ValueError as exc:
            errors.append('%s: %s' % (key_path(base, key), exc))
    return result


def _validate_custom_services(custom, ports, errors, base, ports_base):
    services = dict(BUILTIN_SERVICES)
    if custom is None:
        return services
    if not isinstance(custom, dict):
        errors.append('%s: must be a mapping of service name to a list of {proto, port}, '
                      'got %s %r' % (base, type_name(custom), custom))
        return services
    for name in sorted(custom, key=str):
        path = key_path(base, name)
        if name in BUILTIN_SERVICES:
            errors.append('%s: %r is a built-in service; change its ports with %s instead'
                          % (path, name, ports_base))
            continue
        if not isinstance(name, str) or not SERVICE_NAME_RE.fullmatch(name):
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


def _check_port_overlaps(services, ports, errors, names):
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
                path = ('%s[%s].port' % (key_path(names['custom_services'], custom.split('#')[0]),
                                         custom.split('#')[1])
                        if custom else names['ports'])
                errors.append(
                    '%s: %s port %s (%s, service %r) overlaps %s (%s, service %r); '
                    'a port can belong to one service only'
                    % (path, proto, port_text(port, '-'), _port_owner(key) if '#' in key else key, svc,
                       port_text(port2, '-'), _port_owner(key2) if '#' in key2 else key2, svc2))


def default_resolver(host):
    """Resolve a trunk host name to its addresses (on the controller)."""
    infos = socket.getaddrinfo(host, None, 0, socket.SOCK_DGRAM)
    return sorted({info[4][0] for info in infos})


def _resolved_subnet(address):
    """A resolver's answer as a host Subnet; an IPv4-mapped IPv6 answer is its IPv4 address."""
    ip = ipaddress.ip_address(str(address).partition('%')[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return Subnet(ip.version, int(ip), ip.max_prefixlen)


def _looks_like_address(text):
    return ('/' in text or ':' in text
            or all(char == '.' or unicodedata.digit(char, None) is not None for char in text))


def _trunk_hostname_error(path, item, text):
    message = '%s: %r is neither an address, a CIDR nor a host name' % (path, item)
    if any(ord(char) > 127 for char in text):
        try:
            ascii_name = text.encode('idna').decode('ascii')
        except UnicodeError:
            return message
        if HOSTNAME_RE.fullmatch(ascii_name):
            message += '; write an international name in its ASCII form: %s' % ascii_name
    return message


def _trunk_subnet_error(path, item, subnet):
    if subnet.is_catch_all:
        return ('%s: %r would trust the whole Internet as a SIP trunk; '
                'name the provider\'s hosts or subnets' % (path, item))
    if subnet.prefixlen < TRUNK_MAX_WIDTH[subnet.version]:
        return ('%s: %r is wider than a SIP trunk may be; valid: the provider\'s hosts or '
                'subnets, at most /%d for IPv4 and /%d for IPv6'
                % (path, item, TRUNK_MAX_WIDTH[4], TRUNK_MAX_WIDTH[6]))
    return None


def _covered_families(subnets):
    """The address families (4, 6) that ``subnets`` cover completely, together."""
    covered = []
    for version, width in ((4, 32), (6, 128)):
        reach = 0           # every address below ``reach`` is covered
        for subnet in sorted(s for s in subnets if s.version == version):
            if subnet.value > reach:
                break
            reach = max(reach, subnet.last + 1)
        if reach >= 1 << width:
            covered.append(version)
    return covered


def _validate_trunks(trunks, resolver, errors, base):
    result = []
    if trunks is None:
        return result
    for pos, item in enumerate(check_list(trunks, base, errors)):
        path = '%s[%d]' % (base, pos)
        if not isinstance(item, str) or not item.strip(' '):
            errors.append('%s: must be a host name, an address or a CIDR, got %s %r'
                          % (path, type_name(item), item))
            continue
        if text_error(path, item):
            errors.append(text_error(path, item))
            continue
        text = item.strip(' ')
        if _looks_like_address(text):
            try:
                subnet = parse_subnet(text)
            except ValueError as exc:
                errors.append('%s: %s' % (path, exc))
                continue
            problem = _trunk_subnet_error(path, item, subnet)
            if problem:
                errors.append(problem)
                continue
            result.append((text, subnet))
            continue
        if not HOSTNAME_RE.fullmatch(text):
            errors.append(_trunk_hostname_error(path, item, text))
            continue
        try:
            addresses = (resolver or default_resolver)(text)
        except (OSError, UnicodeError) as exc:
            errors.append('%s: cannot resolve %r on the controller: %s' % (path, item, exc))
            continue
        if not addresses:
            errors.append('%s: %r resolves to no address' % (path, item))
        for address in addresses:
            try:
                result.append((text, _resolved_subnet(address)))
            except ValueError:
                errors.append('%s: %r resolves to %r, which is not an IP address'
                              % (path, item, address))
    for version in _covered_families([subnet for _label, subnet in result]):
        errors.append('%s: together the entries cover every IPv%d address, which would trust '
                      'the whole Internet as a SIP trunk; name the provider\'s hosts or subnets'
                      % (base, version))
    return sorted(set(result), key=lambda t: (t[1], t[0]))


def _custom_rule_problems(tokens, family):
    """What the grammar of each family the rule is written for refuses (custom_rules.py), as
    message tails; one message when both families refuse it alike."""
    versions = [v for v, name in ((4, 'ipv4'), (6, 'ipv6')) if family in (name, 'both')]
    found = [(v, custom_rules.problem(tokens, v)) for v in versions]
    found = [(v, text) for v, text in found if text]
    if (found and family != 'both') or (len(found) == 2 and found[0][1] == found[1][1]):
        return [found[0][1]]
    return ['as an %s rule (family: both): %s; a rule that differs per family is given twice, with '
            'family: ipv4 and family: ipv6' % (custom_rules.FAMILY_NAMES[v], text) for v, text in found]


def _validate_custom_rules(rules, errors, base):
    result = {4: [], 6: []}
    if rules is None:
        return result
    origins = {4: [], 6: []}       # (path, rule) of each accepted rule, for restore_test
    for pos, item in enumerate(check_list(rules, base, errors)):
        path = '%s[%d]' % (base, pos)
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
                          '(e.g. %s), got %r' % (path, custom_rules.EXAMPLE, rule))
            continue
        if '\n' in rule or '\r' in rule:
            errors.append('%s.rule: must be one line, got %r' % (path, rule))
            continue
        if text_error('%s.rule' % path, rule):
            errors.append(text_error('%s.rule' % path, rule))
            continue
        try:
            tokens = split_rule(rule)
        except ValueError:
            errors.append('%s.rule: %r has an unbalanced double quote or a trailing backslash; '
                          'quote a value as iptables-save does: "text", with \\" and \\\\ '
                          'inside' % (path, rule))
            continue
        rule = ' '.join(tokens)
        if re.match(r'^-[AIDRNXFPZ]\b|^--(append|insert|delete|new|flush)', rule):
            errors.append('%s.rule: %r: give only the match and target; the collection adds '
                          '"-A %s" itself' % (path, rule, MAIN_CHAIN))
            continue
        problems = _custom_rule_problems(tokens, family)
        if problems:
            errors.extend('%s.rule: %r: %s' % (path, rule, text) for text in problems)
            continue
        for version, name in ((4, 'ipv4'), (6, 'ipv6')):
            if family in (name, 'both'):
                result[version].append(rule)
                origins[version].append((path, rule))
    # a second opinion on the values: the controller's own iptables-restore --test, when it can
    for (version, index), message in sorted((custom_rules.restore_test(result) or {}).items()):
        path, rule = origins[version][index]
        errors.append('%s.rule: %r: iptables-restore --test on the controller refuses it as an %s rule: %s'
                      % (path, rule, custom_rules.FAMILY_NAMES[version], message))
    return result


def _validate_int(value, path, minimum, errors, what):
    try:
        number = parse_int(value)
    except ValueError as exc:
        detail = ': %s' % exc if str(exc).startswith('numbers are') else ''
        errors.append('%s: must be an integer >= %d (%s), got %s %r%s'
                      % (path, minimum, what, type_name(value), value, detail))
        return None
    if number < minimum:
        errors.append('%s: must be an integer >= %d (%s), got %s %r'
                      % (path, minimum, what, type_name(value), value))
        return None
    return number


def _validate_scanner_agents(agents, errors, base):
    if agents is None:
        agents = list(DEFAULT_SIP_SCANNER_AGENTS)
    result = []
    for pos, agent in enumerate(check_list(agents, base, errors)):
        if not isinstance(agent, str) or not SCANNER_AGENT_RE.fullmatch(agent):
            errors.append('%s[%d]: %r must be 1-64 characters of letters, digits, space and '
                          '._/:()+-' % (base, pos, agent))
        elif agent not in result:
            result.append(agent)
    return sorted(result)


def load_policy(networks, ports=None, custom_services=None, trunks=None, sip_rate_limit=0,
                sip_scanner_agents=None, custom_rules=None, ipset_threshold=DEFAULT_IPSET_THRESHOLD,
                ipv6=True, docker=False, resolver=None, names=None, sip_rate_limit_ipv6_prefix=64,
                log_drops=False, log_rate=None, nflog_group=None, geoip_db=None, geoip_max_age_days=None,
                blocklist=None, blocklist_files=None, read_sets=True):
    """Validate and normalize the whole inventory. Raises PolicyError listing every problem.

    ``sip_scanner_agents`` None means DEFAULT_SIP_SCANNER_AGENTS (an empty list: none).
    ``names`` maps an input (networks, ports, ...) to the name error messages use for
    it; the default is the role's variables (model.ROLE_NAMES). ``log_drops``,
    ``log_rate`` (None: drops.DEFAULT_LOG_RATE) and ``nflog_group`` (None: LOG): drops.py.
    ``geoip_db`` None is Debian's tor-geoipdb files; the country database is read only when
    a network gives ``countries`` (sets.py). ``read_sets`` False reads neither the database
    nor the blocklist (a removal does not need them): the policy has no blocklist or country set.
    """
    require_netaddr()
    names = message_names(names)
    errors = []
    policy = Policy()
    policy.ports = _validate_ports(ports, errors, names['ports'])
    policy.services = _validate_custom_services(custom_services, policy.ports, errors,
                                                names['custom_services'], names['ports'])
    _check_port_overlaps(policy.services, policy.ports, errors, names)
    policy.networks = _networks(networks, frozenset(policy.services), errors, names['networks'])
    policy.decisions = decisions_by_family(policy.networks, errors)
    country_conflicts(policy.networks, errors)
    policy.trunks = _validate_trunks(trunks, resolver, errors, names['trunks'])
    policy.sip_rate_limit = _validate_int(
        0 if sip_rate_limit is None else sip_rate_limit, names['sip_rate_limit'], 0,
        errors, 'new SIP requests per second per source; 0 turns it off') or 0
    if policy.sip_rate_limit > SIP_RATE_LIMIT_MAX:
        # hashlimit keeps 1/rate in microseconds: above 1000/s iptables-save prints
        # another rate back (1032 -> 1033/sec) and the ruleset would never converge
        errors.append('%s: %d is too high; valid: 0 (off) to %d new SIP requests per second '
                      'per source' % (names['sip_rate_limit'], policy.sip_rate_limit,
                                      SIP_RATE_LIMIT_MAX))
    prefix = _validate_int(
        64 if sip_rate_limit_ipv6_prefix is None else sip_rate_limit_ipv6_prefix,
        names['sip_rate_limit_ipv6_prefix'], 1, errors,
        'the IPv6 prefix length (1-128) whose addresses share one SIP rate budget')
    if prefix is not None and prefix > 128:
        errors.append('%s: %d is out of range; valid: 1-128 (64 = one budget per /64, 128 = per '
                      'address)' % (names['sip_rate_limit_ipv6_prefix'], prefix))
    elif prefix is not None:
        policy.sip_rate_limit_ipv6_prefix = prefix
    policy.sip_scanner_agents = _validate_scanner_agents(sip_scanner_agents, errors,
                                                         names['sip_scanner_agents'])
    policy.custom_rules = _validate_custom_rules(custom_rules, errors, names['custom_rules'])
    policy.ipset_threshold = _validate_int(
        ipset_threshold, names['ipset_threshold'], 0, errors,
        'subnets per service above which an ipset is used; 0 never uses ipsets')
    policy.ipv6 = _flag(ipv6, names['ipv6'], errors) is not False
    policy.docker = _flag(docker, names['docker'], errors) is True
    policy.logging = validate_logging(log_drops, log_rate, nflog_group, names, errors)
    if errors:
        raise PolicyError(errors)
    if not read_sets:
        policy.sets = Sets()
        return policy
    policy.sets, problems = load_sets(policy, names, geoip_db=geoip_db, geoip_max_age_days=geoip_max_age_days,
                                      blocklist=blocklist, blocklist_files=blocklist_files)
    if problems:
        raise PolicyError(problems)
    return policy
