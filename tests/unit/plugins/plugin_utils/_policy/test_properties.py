# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property tests: the compiled ruleset does what docs/design.md "Policy semantics" says.

Random inventories (subnets from a small address pool, so that networks nest and
overlap often; country networks over a small country database of the same pool; a
blocklist from the pool) are compiled; random packets are run through the compiled
rules by the collection's own ruleset evaluator (``_evaluate``, which the module uses for
its lockout check) and through a naive evaluator of the written semantics
(``reference``). Both must agree on every packet.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import ipaddress
import json
import os
import random
import re
import shutil
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.pbxops.firewall.plugins.module_utils import _evaluate
from ansible_collections.pbxops.firewall.plugins.module_utils import _verdicts
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy import reference
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy.support import members

EXAMPLES = 200
MULTIPORT_MAX_SLOTS = 15        # xt_multiport: 15 ports, a range takes two
COMMENT_MAX_BYTES = 255         # xt_comment
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Few base addresses and many prefix lengths: generated subnets nest and collide often.
V4_POOL = ('10.1.2.3', '10.1.2.200', '10.1.3.7', '10.2.0.1', '10.130.0.9', '192.168.10.66')
V6_POOL = ('2001:db8::1', '2001:db8::8000:5', '2001:db8:0:1::1', '2001:db8:1::1',
           '2001:db8:8000::7', 'fd00::1')
V4_PREFIXES = (1, 8, 9, 15, 16, 22, 23, 24, 25, 30, 31, 32)
V6_PREFIXES = (1, 16, 32, 33, 48, 63, 64, 96, 112, 120, 127, 128)

BUILTIN_SERVICES = ('sip', 'iax', 'web', 'ssh', 'ami', 'ajam', 'icmp', 'cticlient')
# Alternative port values that never collide with another built-in port.
PORT_CHOICES = {
    'ssh': (22, 2222),
    'rtp': ('10000-10200', '20000-20010', '30000-30000', 10001),
    'web_https': (443, 8443),
    'ajam_tls': (8089, 8090),
    'sip': (5060, '5060-5061'),   # overlaps tls: both belong to sip
}
NAME_STEMS = ('Office', 'VPN "east"', "Bob's lab", 'Zürich – Офис', 'x' * 120, 'ü' * 130,
              'back\\slash')

# The country database of these tests, around the pool's addresses: for the reference as
# CIDRs, for the compiler as a "first,last,CC" file (the DB-IP lite format), both families.
COUNTRY_DB = {
    'DE': ['10.1.2.0/25', '10.2.0.0/16', '2001:db8::/48'],
    'AT': ['10.1.2.128/25', '10.1.3.0/24', '2001:db8:8000::/33'],
    'CN': ['10.128.0.0/10', '192.168.10.64/26', '2001:db8:1::/48'],
    'RU': ['192.168.0.0/21', '192.168.8.0/23', 'fd00::/8'],
}
COUNTRIES = sorted(COUNTRY_DB)


def _write_country_db():
    directory = tempfile.mkdtemp(prefix='pbxfw-countries-')
    atexit.register(shutil.rmtree, directory, True)
    path = os.path.join(directory, 'countries.csv')
    with open(path, 'w') as handle:
        for country, cidrs in sorted(COUNTRY_DB.items()):
            for cidr in cidrs:
                net = ipaddress.ip_network(cidr)
                handle.write('%s,%s,%s\n' % (net.network_address, net.broadcast_address, country))
    return path


COUNTRY_DB_FILE = _write_country_db()

BOOLEANS = st.booleans()
VERSIONS = st.sampled_from((4, 6))
ONE_IN_16 = st.integers(0, 15)
V4_BASES, V6_BASES = st.sampled_from(V4_POOL), st.sampled_from(V6_POOL)
V4_LENGTHS, V6_LENGTHS = st.sampled_from(V4_PREFIXES), st.sampled_from(V6_PREFIXES)


# A trunk entry is at most /16 (IPv4) or /48 (IPv6) wide (validate.TRUNK_MAX_WIDTH).
TRUNK_V4_LENGTHS = st.sampled_from([p for p in V4_PREFIXES if p >= 16])
TRUNK_V6_LENGTHS = st.sampled_from([p for p in V6_PREFIXES if p >= 48])


@st.composite
def subnets(draw, catch_all=True, trunk=False):
    version = draw(VERSIONS)
    if catch_all and draw(ONE_IN_16) == 0:
        return '0.0.0.0/0' if version == 4 else '::/0'
    base = draw(V4_BASES if version == 4 else V6_BASES)
    if trunk:
        length = draw(TRUNK_V4_LENGTHS if version == 4 else TRUNK_V6_LENGTHS)
    else:
        length = draw(V4_LENGTHS if version == 4 else V6_LENGTHS)
    net = ipaddress.ip_network('%s/%d' % (base, length), strict=False)
    if net.prefixlen == net.max_prefixlen and draw(BOOLEANS):
        return str(net.network_address)          # a bare address means /32 or /128
    return str(net)


SUBNETS = subnets()
TRUNK_LISTS = st.lists(subnets(catch_all=False, trunk=True), max_size=3)
SUBNET_LISTS = st.lists(SUBNETS, min_size=1, max_size=3)
PROTO_LISTS = st.lists(st.sampled_from(('tcp', 'udp')), min_size=1, max_size=2, unique=True)
RANGE_WIDTHS = st.sampled_from((0, 0, 3, 9))
CUSTOM_BASES = st.lists(st.integers(0, 99), max_size=10, unique=True)
NAME_STEM = st.sampled_from(NAME_STEMS)


@st.composite
def custom_services(draw):
    """Up to 10 services on disjoint ports 40000-40999; some are ranges (two multiport slots)."""
    result = {}
    for index, base in enumerate(draw(CUSTOM_BASES)):
        low = 40000 + base * 10
        entries = []
        for proto in draw(PROTO_LISTS):
            width = draw(RANGE_WIDTHS)
            entries.append({'proto': proto, 'port': low if not width else '%d-%d' % (low, low + width)})
        result['cs%d' % index] = entries
    return result


def _repair_conflicts(networks):
    """Drop verdicts that would give one subnet both allow and block for a service."""
    seen = {}
    for net in networks:
        subs = [str(ipaddress.ip_network(s)) for s in
                (net['subnet'] if isinstance(net['subnet'], list) else [net['subnet']])]
        for field, verdict in (('services', 'ACCEPT'), ('block', 'DROP')):
            keep = []
            for svc in net[field]:
                if all(seen.get((s, svc), verdict) == verdict for s in subs):
                    keep.append(svc)
            net[field] = keep
        for field, verdict in (('services', 'ACCEPT'), ('block', 'DROP')):
            for svc in net[field]:
                for s in subs:
                    seen[(s, svc)] = verdict
    return networks


@st.composite
def network_lists(draw, service_names, min_size=0, max_size=8):
    count = draw(st.integers(min_size, max_size))
    # sip and ssh are drawn more often, so that many networks mention the same service
    verdict_maps = st.dictionaries(st.sampled_from(list(service_names) + ['sip', 'ssh'] * 4),
                                   BOOLEANS, max_size=4)
    networks = []
    for index in range(count):
        subs = draw(SUBNET_LISTS)
        verdicts = draw(verdict_maps)
        if draw(ONE_IN_16) < 3:
            # everything at once: long multiport lists (chunking) and long comments
            verdicts = dict.fromkeys(service_names, draw(BOOLEANS))
        net = {
            'name': '%s %d' % (draw(NAME_STEM), index),
            'subnet': subs[0] if len(subs) == 1 and draw(BOOLEANS) else subs,
            'services': sorted(s for s, allow in verdicts.items() if allow),
            'block': sorted(s for s, allow in verdicts.items() if not allow),
        }
        for flag in ('never_block', 'local_network'):
            value = draw(FLAGS)
            if value is not None:
                net[flag] = value
        networks.append(net)
    return _repair_conflicts(networks)


def _repair_country_conflicts(networks):
    """Drop verdicts that would give one country both allow and block for a service."""
    seen = {}
    for net in networks:
        for field, verdict in (('services', 'ACCEPT'), ('block', 'DROP')):
            net[field] = [svc for svc in net[field]
                          if all(seen.get((c.upper(), svc), verdict) == verdict for c in net['countries'])]
            for svc in net[field]:
                for country in net['countries']:
                    seen[(country.upper(), svc)] = verdict
    return networks


@st.composite
def country_network_lists(draw, service_names, max_size=3):
    """Networks with countries (any case), sometimes narrowed by a subnet."""
    networks = []
    for index in range(draw(st.integers(0, max_size))):
        countries = draw(st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=2, unique=True))
        verdicts = draw(st.dictionaries(st.sampled_from(list(service_names) + ['sip', 'ssh'] * 4), BOOLEANS,
                                        min_size=1, max_size=3))
        net = {'name': 'Countries %d' % index,
               'countries': [c.lower() if draw(BOOLEANS) else c for c in countries],
               'services': sorted(s for s, allow in verdicts.items() if allow),
               'block': sorted(s for s, allow in verdicts.items() if not allow)}
        if draw(ONE_IN_16) < 4:
            net['subnet'] = draw(SUBNET_LISTS)
        networks.append(net)
    return _repair_country_conflicts(networks)


# Blocklist entries: at most a /8 (IPv4) or a /32 (IPv6).
BLOCKLIST_V4 = st.builds(lambda base, length: str(ipaddress.ip_network('%s/%d' % (base, length), strict=False)),
                         V4_BASES, st.sampled_from([p for p in V4_PREFIXES if p >= 8]))
BLOCKLIST_V6 = st.builds(lambda base, length: str(ipaddress.ip_network('%s/%d' % (base, length), strict=False)),
                         V6_BASES, st.sampled_from([p for p in V6_PREFIXES if p >= 32]))
BLOCKLISTS = st.one_of(st.just([]), st.lists(st.one_of(BLOCKLIST_V4, BLOCKLIST_V6), max_size=3))

FLAGS = st.sampled_from((None, True, False))
PORT_OVERRIDES = {key: st.sampled_from((None,) + choices) for key, choices in PORT_CHOICES.items()}
OPTIONS = st.fixed_dictionaries({
    'sip_rate_limit': st.sampled_from((0, 0, 1, 50)),
    'sip_rate_limit_ipv6_prefix': st.sampled_from((64, 48, 128)),
    'sip_scanner_agents': st.sampled_from(([], ['friendly-scanner'], ['sipvicious', 'VaxSIPUserAgent'],
                                           ['Friendly-Scanner', 'friendly-scanner', 'sipcli'])),
    'ipset_threshold': st.sampled_from((0, 1, 1, 2, 3, 16)),
    'ipv6': st.sampled_from((True, True, True, False)),
})
CUSTOM_SERVICES = custom_services()


@st.composite
def inventories(draw):
    customs = draw(CUSTOM_SERVICES)
    names = list(BUILTIN_SERVICES) + sorted(customs)
    ports = {}
    for key in sorted(PORT_OVERRIDES):
        value = draw(PORT_OVERRIDES[key])
        if value is not None:
            ports[key] = value
    inventory = {
        'networks': draw(network_lists(names)) + draw(country_network_lists(names)),
        'ports': ports,
        'custom_services': customs,
        'trunks': draw(TRUNK_LISTS),
        'blocklist': draw(BLOCKLISTS),
    }
    inventory.update(draw(OPTIONS))
    return inventory


def _subnets_of(net):
    """A network's subnets, or for a country network its countries' blocks."""
    if net.get('countries') and not net.get('subnet'):
        return [ipaddress.ip_network(c) for country in net['countries'] for c in COUNTRY_DB[country.upper()]]
    return [ipaddress.ip_network(s) for s in (net['subnet'] if isinstance(net['subnet'], list) else [net['subnet']])]


def _all_subnets(inventory):
    result = []
    for net in inventory['networks']:
        result += _subnets_of(net)
    result += [ipaddress.ip_network(t) for t in inventory['trunks'] + inventory.get('blocklist', [])]
    return result


def address_near(rng, inventory):
    """A source inside, at the edge of or just outside one of the inventory's subnets."""
    subs = [s for s in _all_subnets(inventory) if s.prefixlen > 0]
    if subs and rng.random() < 0.7:
        net = rng.choice(subs)
        first, last = int(net.network_address), int(net.broadcast_address)
        top = (1 << net.max_prefixlen) - 1
        value = rng.choice((first, last, max(first - 1, 0), min(last + 1, top),
                            rng.randint(first, last)))
        return str(type(net.network_address)(value))
    base = ipaddress.ip_address(rng.choice(rng.choice((V4_POOL, V6_POOL))))
    return str(type(base)(int(base) ^ (1 << rng.randrange(base.max_prefixlen))))


def _service_ports(inventory):
    table = reference.service_table(inventory['ports'], inventory['custom_services'])
    ports = {1, 65535}
    for parts in table.values():
        for _proto, rng in parts:
            if rng is not None:
                ports.update((rng[0], rng[1], rng[0] - 1, rng[1] + 1, (rng[0] + rng[1]) // 2))
    return sorted(ports)


def _mentioned(inventory):
    """(network subnets, services the network mentions) for the networks that mention any."""
    result = []
    for net in inventory['networks']:
        mentioned = net['services'] + net['block']
        if mentioned:
            result.append((_subnets_of(net), mentioned))
    # trunks and never_block subnets, to the services a country blocks: they are exempt
    exempt = [ipaddress.ip_network(t) for t in inventory['trunks']]
    exempt += [s for net in inventory['networks'] if net.get('never_block') for s in _subnets_of(net)]
    blocked = sorted({svc for net in inventory['networks'] if net.get('countries') for svc in net['block']})
    if exempt and blocked:
        result.append((exempt, blocked))
    return result


def _packet_to(rng, table, service):
    proto, rng_ports = rng.choice(table[service])
    if rng_ports is None:
        return proto, None
    return proto, rng.choice((rng_ports[0], rng_ports[1], rng.randint(*rng_ports)))


# SIP payloads around the guards' edges: requests and responses, scanner User-Agents in
# other cases, with and without the space, the agent in a From user, a display name or a
# body, a request line without CR LF, a bare keep-alive.
SIP_UAS = ('friendly-scanner', 'FRIENDLY-Scanner', 'sipvicious', 'VaxSIPUserAgent/3.1',
           'Yealink SIP-T46S', 'sipcliente', 'x friendly-scanner')


def sip_payload(rng):
    kind = rng.randrange(8)
    if kind == 0:
        return None                                   # a SYN, an empty datagram
    if kind == 1:
        return b'\r\n\r\n'                           # keep-alive
    ua = rng.choice(SIP_UAS).encode('ascii')
    header = rng.choice((b'User-Agent: ', b'User-Agent:', b'user-agent: ', b'User-Agent:  ',
                         b'X-User-Agent: ', b'Server: '))
    first = rng.choice((b'OPTIONS sip:100@pbx SIP/2.0\r\n', b'INVITE sip:1@pbx SIP/2.0\r\n',
                        b'SIP/2.0 200 OK\r\n', b'SIP/2.0 401 Unauthorized\r\n',
                        b'REGISTER sip:pbx SIP/2.0\n'))
    lines = [b'Via: SIP/2.0/UDP 10.0.0.9:5060', b'From: "%s" <sip:%s@pbx>;tag=1' % (ua, ua)]
    if rng.random() < 0.8:
        lines.insert(rng.randrange(len(lines) + 1), header + ua)
    body = b'v=0\r\ns=%s\r\n' % ua if rng.random() < 0.3 else b''
    return first + b'\r\n'.join(lines) + b'\r\n\r\n' + body


def packets(rng, inventory, count=30):
    """Random packets; sources and ports cluster where the decisions change.

    Each is (source, proto, port, state, payload, over_limit): mostly new, sometimes
    established; a payload that may be a SIP request or response; and whether the
    source is over its SIP budget.
    """
    ports = _service_ports(inventory)
    table = reference.service_table(inventory['ports'], inventory['custom_services'])
    mentioned = _mentioned(inventory)
    result = []
    for _packet in range(count):
        if mentioned and rng.random() < 0.6:
            # aimed: from (or next to) a network, to a service it mentions
            subs, services = rng.choice(mentioned)
            net = rng.choice(subs)
            proto, port = _packet_to(rng, table, rng.choice(services))
            if net.prefixlen and rng.random() < 0.8:
                source = str(type(net.network_address)(
                    rng.randint(int(net.network_address), int(net.broadcast_address))))
            else:
                source = address_near(rng, inventory)
        else:
            proto = rng.choice(('tcp', 'udp', 'tcp', 'udp', 'icmp'))
            port = None
            if proto != 'icmp':
                port = rng.choice(ports) if rng.random() < 0.8 else rng.randint(1, 65535)
            source = address_near(rng, inventory)
        state = 'NEW' if rng.random() < 0.7 else rng.choice(('ESTABLISHED', 'RELATED'))
        payload = sip_payload(rng) if proto != 'icmp' else None
        result.append((source, proto, port, state, payload, rng.random() < 0.5))
    return result


def _family(source):
    return 'ipv4' if ipaddress.ip_address(source).version == 4 else 'ipv6'


def _verdict(evaluator, source, proto, port, state='NEW', payload=None, over=False):
    """The evaluator's target; the compiler's rules must never leave it uncertain."""
    result = evaluator.evaluate(_family(source), source, proto, port, state=state, payload=payload,
                                over_limit=over)
    assert result.target != _verdicts.UNKNOWN and not result.uncertain, result.as_dict()
    return result.target


def _compile(inventory):
    return _policy.firewall_ruleset(
        inventory['networks'], ports=inventory['ports'],
        custom_services=inventory['custom_services'], trunks=inventory['trunks'],
        sip_rate_limit=inventory['sip_rate_limit'],
        sip_rate_limit_ipv6_prefix=inventory['sip_rate_limit_ipv6_prefix'],
        sip_scanner_agents=inventory['sip_scanner_agents'],
        ipset_threshold=inventory['ipset_threshold'], ipv6=inventory['ipv6'],
        blocklist=inventory.get('blocklist'), geoip_db=COUNTRY_DB_FILE, geoip_max_age_days=0)


@st.composite
def scenarios(draw):
    inventory = draw(inventories())
    return inventory, packets(draw(st.randoms(use_true_random=False)), inventory)


@SETTINGS
@given(scenarios())
def test_compiled_rules_agree_with_the_reference_semantics(scenario):
    inventory, traffic = scenario
    chains = _evaluate.Evaluator(_compile(inventory))
    for source, proto, port, state, payload, over in traffic:
        expected = reference.verdict(
            inventory['networks'], source, proto, port, ports=inventory['ports'],
            custom_services=inventory['custom_services'], trunks=inventory['trunks'],
            ipv6=inventory['ipv6'], sip_rate_limit=inventory['sip_rate_limit'],
            sip_scanner_agents=inventory['sip_scanner_agents'], state=state, payload=payload,
            over_limit=over, blocklist=inventory['blocklist'], country_db=COUNTRY_DB)
        got = _verdict(chains, source, proto, port, state, payload, over)
        assert got == expected, (source, proto, port, state, payload, over)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from((4, 6)), st.integers(0, 6), st.integers(0, 9999)),
                max_size=12))
def test_both_ipset_and_direct_modes_agree(spec):
    """Many subnets of one service around one address: ipset (threshold 1) == direct (0)."""
    networks = []
    for index, (version, shift, seed) in enumerate(spec):
        base = ipaddress.ip_address('10.20.30.40' if version == 4 else '2001:db8::2:40')
        length = base.max_prefixlen - shift * (2 if version == 4 else 8)
        net = ipaddress.ip_network('%s/%d' % (base, length), strict=False)
        verdict = 'services' if seed % 3 else 'block'
        networks.append({'name': 'n%d' % index, 'subnet': str(net), verdict: ['ssh']})
    networks = _repair_conflicts([dict(n, services=n.get('services', []), block=n.get('block', []))
                                  for n in networks])
    direct = _evaluate.Evaluator(_policy.firewall_ruleset(networks, ipset_threshold=0))
    via_set = _evaluate.Evaluator(_policy.firewall_ruleset(networks, ipset_threshold=1))
    rng = random.Random(repr(spec))
    for version, base in ((4, '10.20.30.40'), (6, '2001:db8::2:40')):
        for _packet in range(40):
            value = int(ipaddress.ip_address(base)) ^ rng.getrandbits(rng.choice((1, 4, 8, 16, 24)))
            source = str(type(ipaddress.ip_address(base))(value))
            expected = reference.verdict(networks, source, 'tcp', 22)
            assert _verdict(direct, source, 'tcp', 22) == expected == _verdict(via_set, source, 'tcp', 22), source


def _covered(cidrs):
    """The address set as a canonical list: the unique minimal CIDR cover, per family."""
    nets = [ipaddress.ip_network(c) for c in cidrs]
    result = []
    for version in (4, 6):
        result += [str(n) for n in ipaddress.collapse_addresses(n for n in nets if n.version == version)]
    return result


@SETTINGS
@given(network_lists(list(BUILTIN_SERVICES), max_size=10))
def test_merging_keeps_exactly_the_covered_addresses(networks):
    def picked(flag):
        found = []
        for net in networks:
            if net.get(flag):
                found += net['subnet'] if isinstance(net['subnet'], list) else [net['subnet']]
        return found

    ignoreip = _policy.fail2ban_ignoreip(networks)
    localnet = _policy.asterisk_localnet(networks)
    assert ignoreip == _covered(picked('never_block') + ['127.0.0.0/8', '::1/128'])
    assert localnet == _covered(picked('local_network'))
    for output in (ignoreip, localnet):
        # sorted IPv4 first, strict CIDRs, pairwise disjoint
        nets = [ipaddress.ip_network(c) for c in output]
        assert [n.version for n in nets] == sorted(n.version for n in nets)
        assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])


@st.composite
def shuffled_inventories(draw):
    inventory = draw(inventories())
    shuffled = dict(inventory)
    rng = draw(st.randoms(use_true_random=False))
    nets = []
    for net in inventory['networks']:
        copy = dict(net)
        for key in ('services', 'block', 'countries'):
            if key in net:
                copy[key] = rng.sample(net[key], len(net[key]))
        if isinstance(net.get('subnet'), list):
            copy['subnet'] = rng.sample(net['subnet'], len(net['subnet']))
        nets.append(copy)
    rng.shuffle(nets)
    shuffled['networks'] = nets
    shuffled['trunks'] = rng.sample(inventory['trunks'], len(inventory['trunks']))
    shuffled['blocklist'] = rng.sample(inventory['blocklist'], len(inventory['blocklist']))
    shuffled['custom_services'] = dict(rng.sample(sorted(inventory['custom_services'].items()),
                                                  len(inventory['custom_services'])))
    return inventory, shuffled


@SETTINGS
@given(shuffled_inventories())
def test_output_is_deterministic(pair):
    inventory, shuffled = pair
    first = _compile(inventory)
    assert _compile(shuffled) == first
    assert json.dumps(_compile(shuffled)) == json.dumps(first)      # byte for byte, key order too
    assert _policy.fail2ban_ignoreip(shuffled['networks']) == _policy.fail2ban_ignoreip(inventory['networks'])
    assert _policy.asterisk_localnet(shuffled['networks']) == _policy.asterisk_localnet(inventory['networks'])


# each owned chain and the targets its rules may have: the SIP guard chains are called from
# PBX-FIREWALL and give back what they do not drop
GUARD_TARGETS = {'PBX-FIREWALL': ('PBX-FW-SIP', 'PBX-FW-SIP-TLS'), 'PBX-FW-SIP': ('RETURN',),
                 'PBX-FW-SIP-TLS': ('RETURN',)}


@SETTINGS
@given(inventories())
def test_kernel_limits_are_respected(inventory):
    compiled = _compile(inventory)
    chains = _evaluate.Evaluator(compiled)     # parses every line
    used = set()
    for rule in chains.rules():
        # only syntax the evaluator decides (docker mode aside, which these inventories lack)
        assert rule.uncertain == [], (rule.line, rule.uncertain)
        assert rule.chain in GUARD_TARGETS and rule.target in ('ACCEPT', 'DROP') + GUARD_TARGETS[
            rule.chain], rule.line
        for module, options in rule.modules:
            if module == 'multiport':
                (ports,) = [value for name, value in options if name == '--dports']
                slots = [1 if ':' not in part else 2 for part in ports.split(',')]
                # one port is written -m tcp/udp --dport; at most 15 slots per match
                assert len(slots) >= 2 and sum(slots) <= MULTIPORT_MAX_SLOTS, rule.line
        if rule.comment is not None:
            assert len(rule.comment.encode('utf-8')) <= COMMENT_MAX_BYTES
        used.update(rule.set_names)
    names = [s['name'] for s in compiled['ipsets']]
    assert names == sorted(set(names))
    assert set(names) == used                 # every set is used, every used set exists
    for spec in compiled['ipsets']:
        assert spec['name'].startswith('pbxfw-') and len(spec['name']) <= 31
        # pbxfw-<what><family>-<digest>, or pbxfw-blocklist<family>
        version = re.fullmatch(r'pbxfw-[a-z0-9_-]*?([46])(?:-[0-9a-f]{8})?', spec['name']).group(1)
        assert spec['family'] == {'4': 'inet', '6': 'inet6'}[version]
        assert len(members(spec)) <= spec['maxelem']
    if not inventory['ipv6']:
        assert compiled['ipv6'] == []
    assert compiled['jumps'] == [{'chain': 'INPUT', 'target': 'PBX-FIREWALL'}]
