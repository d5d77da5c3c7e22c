# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Compiling the owned chains: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns the
translation of a validated ``Policy`` (validate.py) into the ruleset the
``iptables_ruleset`` module applies (docs/ruleset-format.md): the rules of the owned
chains, one per address family and hook, in exactly the text ``iptables-save`` prints,
and the ``hash:net`` ipsets they use. Names shared with the host side (chain and ipset
prefixes, limits, families) come from ``module_utils/_netfilter.py``. Pure Python, no
Ansible imports.

The semantics of docs/design.md ("Policy semantics") are kept with a first-match iptables chain:

1. loopback (the host talking to itself, from any of its addresses);
2. jumps to the SIP guard chains: ``PBX-FW-SIP`` for every packet to the plain SIP
   ports (UDP and TCP, whatever its conntrack state, so a scanner or a flood over one
   socket or one TCP connection is seen), ``PBX-FW-SIP-TLS`` for new connections to
   the TLS port. A guard chain returns at once for trunks and never_block subnets,
   drops a packet whose ``User-Agent`` header names a scanner (``"\nUser-Agent:"``,
   no or one space, the agent; case-insensitive) and a SIP request (a line ending
   ``" SIP/2.0" CR LF``) above the per-source rate (hashlimit, IPv4 address or IPv6
   prefix), and otherwise falls off its end back here: it never accepts;
3. the blocklist: one rule drops every packet (any state, so a newly listed source
   loses its flows at once) whose source is in the ``pbxfw-blocklist4``/``6`` set, which
   sets.py filled without the trunks and never_block subnets;
4. established/related, the ICMPv6 types IPv6 needs;
5. trunks (everything the ``sip`` service covers);
6. networks: for one service, the longest prefix that contains the source and
   mentions the service decides. Rules are emitted longest prefix first, so the
   first match *is* the longest prefix. Two services never share a port (that is
   a validation error), so rules of different services never compete and may be
   grouped into one multiport rule per subnet. A service with many subnets goes
   into hash:net ipsets instead: the kernel does longest-prefix matching inside
   a hash:net set, and entries of the opposite verdict are added as ``nomatch``
   exceptions, so "in the allow set" means "the longest prefix allows";
7. country networks, one set per covered address set (``pbxfw-cc4-<digest>``): their
   addresses never overlap where two of them disagree (validate.country_conflicts), so
   their order does not matter;
8. custom rules;
9. catch-all (/0) networks, then a final drop when any network exists.

The blocklist's and the country networks' sets keep their names when the database or a
feed changes (only their members do), so a refresh swaps the members in place and leaves
every rule as it is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import hashlib

from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import (
    CHAIN_PREFIX,
    DEFAULT_JUMPS,
    HASHLIMIT_PREFIX,
    IPSET_NAME_MAX,
    IPSET_PREFIX,
    MAIN_CHAIN,
    chain_sort_key,
    rule_target,
    split_rule,
)
from ansible_collections.pbxops.firewall.plugins.module_utils._reasons import FINAL_DROP_COMMENT, drop_comment
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import drops
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import (
    ACCEPT,
    DROP,
    SERVICE_NAME_MAX,
    SIP_PLAINTEXT,
    VERB,
    comment_arg,
    port_text,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.sets import definition_digest
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.validate import load_policy

MULTIPORT_MAX_SLOTS = 15         # a range takes two slots
HASHLIMIT_NAME = HASHLIMIT_PREFIX + 'sip'

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
        return ['-p %s -m conntrack --ctorigdstport %s' % (proto, port_text(p)) for p in ports]
    matches = []
    for chunk in _port_chunks(ports):
        if len(chunk) == 1:
            matches.append('-p %s -m %s --dport %s' % (proto, proto, port_text(chunk[0])))
        else:
            matches.append('-p %s -m multiport --dports %s'
                           % (proto, ','.join(port_text(p) for p in chunk)))
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


def _prelude(version, hook, guard_jumps, blocklist=()):
    """The rules before any network's: loopback first (a packet from the host's own
    addresses, such as a SIP proxy on the same host, is never guarded: semantics step 1),
    then the SIP guard jumps and the blocklist before the established accept, so that every
    SIP request passes the guards, not only a flow's first packet, and a blocklisted source
    loses its flows at once."""
    if hook.forwarded:
        return [
            _rule(hook.chain, 'pbx-firewall: not to a published port', 'RETURN',
                  match='-m conntrack ! --ctstate DNAT'),
        ] + guard_jumps + list(blocklist) + [
            _rule(hook.chain, 'pbx-firewall: established, related', 'RETURN',
                  match='-m conntrack --ctstate RELATED,ESTABLISHED'),
        ]
    rules = ['-A %s -i lo -m comment --comment %s -j ACCEPT'
             % (hook.chain, comment_arg('pbx-firewall: loopback'))] + guard_jumps + list(blocklist) + [
        _rule(hook.chain, 'pbx-firewall: established, related', ACCEPT,
              match='-m conntrack --ctstate RELATED,ESTABLISHED'),
    ]
    if version == 6:
        for icmp_type, label in ICMPV6_REQUIRED:
            rules.append(_rule(hook.chain, 'pbx-firewall: IPv6 needs %s' % label, ACCEPT,
                               match='-p ipv6-icmp -m icmp6 --icmpv6-type %d' % icmp_type))
    return rules


SIP_CHAIN = CHAIN_PREFIX + 'SIP'
SIP_TLS_CHAIN = CHAIN_PREFIX + 'SIP-TLS'
HASHLIMIT_TLS_NAME = HASHLIMIT_PREFIX + 'sip-tls'
# A SIP request line ends "SIP/2.0" CRLF ("INVITE sip:100@pbx SIP/2.0"); a response
# line starts with it ("SIP/2.0 200 OK"), and the Via header carries "SIP/2.0/UDP".
# So " SIP/2.0" CRLF occurs in requests only: the rate limit counts those packets.
SIP_REQUEST_MARK = b' SIP/2.0\r\n'
# The User-Agent header at the start of a line, with no space or one space after the
# colon (RFC 3261 allows more, nobody sends it): "\nUser-Agent:" + [" "] + agent.
SIP_UA_HEADER = b'\nUser-Agent:'


def hex_string(data):
    """``--hex-string`` argument as iptables-save prints it (every byte in hex)."""
    return '"|%s|"' % ''.join('%02x' % byte for byte in bytearray(data))


def scanner_patterns(agent):
    """The byte strings one scanner User-Agent is matched by (case-insensitively)."""
    raw = agent.encode('ascii')
    return [SIP_UA_HEADER + raw, SIP_UA_HEADER + b' ' + raw]


def _sip_exemptions(policy, version, ipsets):
    """Trunk and never_block subnets of one family, minimal (no subnet inside another)."""
    subnets = {subnet for _label, subnet in policy.trunks if subnet.version == version}
    for net in policy.networks:
        if net['never_block']:
            subnets.update(s for s in net['subnets'] if s.version == version)
    if any(s.is_catch_all for s in subnets):
        return [None]
    kept = []
    for subnet in sorted(subnets, key=lambda s: (s.prefixlen, s.value)):
        if not any(_contains(outer, subnet) for outer in kept):
            kept.append(subnet)
    kept.sort(key=lambda s: (s.value, s.prefixlen))
    if policy.ipset_threshold and len(kept) > policy.ipset_threshold:
        ipset = _ipset('sipx', version, _set_entries(kept, []))
        ipsets.append(ipset)
        return [ipset['name']]
    return kept


def _contains(outer, inner):
    width = 32 if outer.version == 4 else 128
    shift = width - outer.prefixlen
    return inner.prefixlen >= outer.prefixlen and (inner.value >> shift) == (outer.value >> shift)


def _exemption_rules(chain, exemptions):
    comment = 'trunks, never_block: no SIP guards'
    rules = []
    for item in exemptions:
        if item is None:
            rules.append(_rule(chain, comment, 'RETURN'))
        elif isinstance(item, str):
            rules.append(_rule(chain, comment, 'RETURN', extra='-m set --match-set %s src' % item))
        else:
            rules.append(_rule(chain, comment, 'RETURN', source=item.cidr()))
    return rules


def _hashlimit(rate, name, version, ipv6_prefix):
    text = ('-m hashlimit --hashlimit-above %d/sec --hashlimit-burst %d --hashlimit-mode srcip '
            '--hashlimit-name %s' % (rate, 2 * rate, name))
    if version == 6 and ipv6_prefix != 128:
        text += ' --hashlimit-srcmask %d' % ipv6_prefix
    return text


def sip_guard_chains(policy, version, ipsets):
    """The owned guard chains {name: rules} of one family ({} when there is nothing to guard).

    ``PBX-FW-SIP`` sees every packet to the plain SIP ports (UDP and TCP, any conntrack
    state); ``PBX-FW-SIP-TLS`` sees new connections to the TLS port. Both return early
    for trunks and never_block subnets, never accept, and drop only: in PBX-FW-SIP a
    packet with a scanner User-Agent header or a SIP request above the rate; in
    PBX-FW-SIP-TLS a new connection above the rate. Anything else falls off the end
    back to the hook chain.
    """
    if 'sip' not in policy.services:
        return {}
    agents = []
    for agent in policy.sip_scanner_agents:
        if agent.lower() not in [a.lower() for a in agents]:
            agents.append(agent)
    rate = policy.sip_rate_limit
    if not agents and not rate:
        return {}
    exemptions = _sip_exemptions(policy, version, ipsets)
    chains = {SIP_CHAIN: _exemption_rules(SIP_CHAIN, exemptions)}
    for agent in agents:
        for pattern in scanner_patterns(agent):
            chains[SIP_CHAIN].append(_rule(
                SIP_CHAIN, drop_comment('scanner', 'User-Agent %s' % agent), drops.target(policy, 'scanner'),
                match='-m string --hex-string %s --algo bm --icase' % hex_string(pattern)))
    if rate:
        prefix = policy.sip_rate_limit_ipv6_prefix
        per = 'address' if version == 4 else ('/%d' % prefix)
        chains[SIP_CHAIN].append(_rule(
            SIP_CHAIN, drop_comment('flood', 'SIP requests above %d/s per %s' % (rate, per)),
            drops.target(policy, 'flood'),
            match='-m string --hex-string %s --algo bm' % hex_string(SIP_REQUEST_MARK),
            extra=_hashlimit(rate, HASHLIMIT_NAME, version, prefix)))
        chains[SIP_TLS_CHAIN] = _exemption_rules(SIP_TLS_CHAIN, exemptions) + [_rule(
            SIP_TLS_CHAIN, drop_comment('flood', 'SIP-TLS connections above %d/s per %s' % (rate, per)),
            drops.target(policy, 'flood'),
            match=_hashlimit(rate, HASHLIMIT_TLS_NAME, version, prefix))]
    return chains


def _sip_guard_jumps(policy, version, hook, guards):
    """Jumps from the hook chain into the guard chains, before the established accept.

    In Docker-host mode only packets of flows to a published port, in the direction
    the client sent them (not the PBX container's own traffic), are guarded.
    """
    rules = []
    # Docker-host mode: the chain has returned packets of flows not to a published
    # port already; a reply of the PBX container has the published port as its
    # original destination port too, hence the direction.
    state = '-m conntrack --ctdir ORIGINAL' if hook.forwarded else None
    if SIP_CHAIN in guards:
        for match in _matches_by_proto(policy, ['sip'], version, hook, SIP_PLAINTEXT):
            rules.append(_rule(hook.chain, 'pbx-firewall: SIP guards', SIP_CHAIN,
                               match=match, extra=state))
    if SIP_TLS_CHAIN in guards:
        new = '-m conntrack --ctstate NEW'
        for match in _matches_by_proto(policy, ['sip'], version, hook, (('tcp', 'tls'),)):
            rules.append(_rule(hook.chain, 'pbx-firewall: SIP-TLS guard (new connections)',
                               SIP_TLS_CHAIN, match=match, extra=new))
    return rules


IPSET_DIGEST_LEN = 8


def ipset_name(name_hint, version, entries):
    """``pbxfw-`` + what the set holds + family + a digest of its members.

    The host side (module_utils/_netfilter.py) refuses ipset names longer than
    IPSET_NAME_MAX (31, the kernel's IPSET_MAXNAMELEN 32 minus the NUL). The longest
    hint is a service name plus ``-a``/``-d`` (allow/block set), so a name is
    IPSET_PREFIX (6) + service + 2 + family digit (1) + ``-`` (1) + digest (8)
    = 18 + len(service) characters. That is why validation limits service names to
    SERVICE_NAME_MAX (12) characters: the longest name is 30 and fits, and the
    check below the function (and a unit test) keeps the two limits together.
    """
    digest = hashlib.sha1('\n'.join(entries).encode('ascii')).hexdigest()[:IPSET_DIGEST_LEN]
    return '%s%s%d-%s' % (IPSET_PREFIX, name_hint, version, digest)


LONGEST_IPSET_NAME = ipset_name('%s-a' % ('x' * SERVICE_NAME_MAX), 6, [])
if len(LONGEST_IPSET_NAME) > IPSET_NAME_MAX:   # the two limits must move together
    raise ImportError('a %d-character service name gives the %d-character ipset name %r; the '
                      'host side accepts at most %d' % (SERVICE_NAME_MAX, len(LONGEST_IPSET_NAME),
                                                        LONGEST_IPSET_NAME, IPSET_NAME_MAX))


def _maxelem(count):
    """The kernel's default (65536), doubled until ``count`` members fit."""
    maxelem = 65536
    while maxelem < count:
        maxelem *= 2
    return maxelem


def _ipset(name_hint, version, entries):
    return {'name': ipset_name(name_hint, version, entries), 'family': 'inet' if version == 4 else 'inet6',
            'maxelem': _maxelem(len(entries)), 'entries': entries}


# Sets the kernel keeps at about four members per hash bucket: created that large, a set of
# 300,000 members is not rehashed over and over while ``ipset restore`` fills it.
MEMBERS_PER_BUCKET = 4
MIN_HASHSIZE = 1024


def _large_ipset(name, version, entries, source):
    """A set that keeps its name while its members change (a country, the blocklist), sized
    to fit: maxelem the next power of two that holds the members (at least the kernel's
    default), hashsize about a quarter of that; ``source`` says where the members come from
    (shown by --diff). Its members are one string, a member per line: Ansible handles one
    string of 5 MB in a blink, and 300,000 strings in a list in seconds per task."""
    hashsize = MIN_HASHSIZE
    while hashsize * MEMBERS_PER_BUCKET < len(entries):
        hashsize *= 2
    return {'name': name, 'family': 'inet' if version == 4 else 'inet6', 'maxelem': _maxelem(len(entries)),
            'hashsize': hashsize, 'entries': '\n'.join(entries), 'source': source}


def country_comment(net, verdict, services):
    """The comment of a country network's rule: ``Scanners (CN,RU): allow web`` when it
    accepts, ``pbxfw:country CN,RU sip network=Scanners`` (a drop reason) when it drops."""
    if verdict == DROP:
        return drop_comment('country', '%s %s' % (','.join(net['countries']), ','.join(services)),
                            network=net['name'])
    return '%s (%s): %s %s' % (net['name'], ','.join(net['countries']), VERB[verdict], ','.join(services))


def blocklist_set_name(version):
    return '%sblocklist%d' % (IPSET_PREFIX, version)


def country_set_name(version, definition):
    """``pbxfw-cc4-<digest>``: the digest of what the set covers (its countries, subnets and
    exemptions), so networks that cover the same addresses share one set, and a new database
    changes the members, not the name."""
    return '%scc%d-%s' % (IPSET_PREFIX, version, definition_digest(definition))


def _blocklist_rules(policy, version, hook, ipsets):
    blocked = policy.sets.blocklist if policy.sets is not None else None
    if blocked is None or version not in blocked:
        return []
    ipset = _large_ipset(blocklist_set_name(version), version, blocked[version],
                         'blocklist: %s' % policy.sets.blocklist_source)
    ipsets.append(ipset)
    return [_rule(hook.chain, drop_comment('blocklist', 'source in %s' % ipset['name']),
                  drops.target(policy, 'blocklist'), extra='-m set --match-set %s src' % ipset['name'])]


def _country_rules(policy, version, hook, ipsets):
    """The rules of the country networks: after every subnet narrower than /0."""
    rules = []
    for item in policy.sets.countries if policy.sets is not None else ():
        if version not in item.members:
            continue
        net = item.net
        for verdict, field, kind in ((ACCEPT, 'services', 'accept'), (DROP, 'block', 'drop')):
            if not net[field]:
                continue
            ipset = _large_ipset(country_set_name(version, item.definition[version][kind]), version,
                                 item.members[version][kind],
                                 'countries %s from %s' % (','.join(net['countries']), policy.sets.geoip_source))
            ipsets.append(ipset)
            services = sorted(net[field])
            comment = country_comment(net, verdict, services)
            target = hook.allow if verdict == ACCEPT else drops.target(policy, 'country')
            for match in _matches_by_proto(policy, services, version, hook):
                rules.append(_rule(hook.chain, comment, target, match=match,
                                   extra='-m set --match-set %s src' % ipset['name']))
    return rules


def _set_entries(positive, negative):
    """hash:net members; ``negative`` subnets become nomatch exceptions.

    Sorted by address, then prefix length: the Subnet tuples' own order, since the
    members of one set are all of one family.
    """
    if not negative:
        return [subnet.ipset_entry() for subnet in sorted(positive)]
    nomatch = frozenset(negative)
    return [subnet.ipset_entry() + ' nomatch' if subnet in nomatch else subnet.ipset_entry()
            for subnet in sorted(list(positive) + list(negative))]


def _trunk_rules(policy, version, hook, ipsets):
    trunks = [(label, subnet) for label, subnet in policy.trunks if subnet.version == version]
    if not trunks or 'sip' not in policy.services:
        return []
    matches = _matches_by_proto(policy, ['sip'], version, hook)
    allow = hook.allow
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


def _decision(policy, hook, verdict, services, names):
    """(comment, target) of a rule by which the networks ``names`` allow or block ``services``."""
    if verdict == ACCEPT:
        return '%s: %s %s' % (names, VERB[ACCEPT], services), hook.allow
    return drop_comment('block', services, names), drops.target(policy, 'block')


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
            comment, target = _decision(policy, hook, verdict, ','.join(services), _names(names))
            for match in _matches_by_proto(policy, services, version, hook):
                rules.append(_rule(hook.chain, comment, target, source=subnet.cidr(), match=match))

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
            subnets = '%d subnet%s' % (len(own), '' if len(own) == 1 else 's')
            if verdict == ACCEPT:
                comment, target = '%s: %s %s' % (svc, VERB[ACCEPT], subnets), hook.allow
            else:
                comment = drop_comment('block', '%s from %s' % (svc, subnets))
                target = drops.target(policy, 'block')
            extra = '-m set --match-set %s src' % ipset['name']
            for match in _matches_by_proto(policy, [svc], version, hook):
                rules.append(_rule(hook.chain, comment, target, match=match, extra=extra))

    tail = []
    for verdict in (ACCEPT, DROP):
        if verdict in catch_all:
            services, names = catch_all[verdict]
            comment, target = _decision(policy, hook, verdict, ','.join(services), _names(names))
            for match in _matches_by_proto(policy, services, version, hook):
                tail.append(_rule(hook.chain, comment, target, match=match))
    return rules, tail


def compile_chain(policy, version, hook, ipsets, guards=None):
    """One hook's owned chain for one address family, as iptables-save prints it.

    ``guards``: the family's SIP guard chains (sip_guard_chains), which the rules jump to.
    """
    rules = _prelude(version, hook, _sip_guard_jumps(policy, version, hook, guards or {}),
                     _blocklist_rules(policy, version, hook, ipsets))
    rules += _trunk_rules(policy, version, hook, ipsets)
    specific, catch_all = _network_rules(policy, version, hook, ipsets)
    rules += specific
    rules += _country_rules(policy, version, hook, ipsets)
    if not hook.forwarded:   # custom rules are written for INPUT
        rules += [_custom_rule(policy, hook.chain, rule) for rule in policy.custom_rules[version]]
    rules += catch_all
    if policy.networks:
        rules.append(_rule(hook.chain, FINAL_DROP_COMMENT, drops.target(policy, 'default')))
    return rules


def _custom_rule(policy, chain, rule):
    """A custom rule in the owned chain; one that drops or rejects gets the reason ``custom``
    (a comment match right before its target, where iptables-save prints it), and one that
    drops jumps to the log chain when drops are logged (a REJECT keeps its own target)."""
    line = '-A %s %s' % (chain, rule)
    target = rule_target(line)
    if target not in (DROP, 'REJECT'):
        return line
    tokens = split_rule(line)
    at = max(i for i, token in enumerate(tokens) if token in ('-j', '--jump'))
    tokens[at:at] = ['-m', 'comment', '--comment', comment_arg(drop_comment('custom'))]
    if target == DROP:
        tokens[at + 5] = drops.target(policy, 'custom')
    return ' '.join(tokens)


def compile_policy(policy):
    """Policy -> the ruleset dict the iptables_ruleset module applies (docs/ruleset-format.md).

    Docker-host mode adds the chain behind DOCKER-USER for IPv4 (Docker publishes
    ports with IPv4 NAT by default); a family's jump exists only where that family
    defines the target chain.
    """
    ipsets = []
    guards = {4: sip_guard_chains(policy, 4, ipsets)}
    ruleset = {'ipv4': compile_chain(policy, 4, INPUT_HOOK, ipsets, guards[4]), 'ipv6': []}
    jumps = [dict(jump) for jump in DEFAULT_JUMPS]
    if policy.docker:
        ruleset['ipv4'] += compile_chain(policy, 4, DOCKER_HOOK, ipsets, guards[4])
        jumps.append({'chain': 'DOCKER-USER', 'target': DOCKER_CHAIN})
    if policy.ipv6:
        guards[6] = sip_guard_chains(policy, 6, ipsets)
        ruleset['ipv6'] = compile_chain(policy, 6, INPUT_HOOK, ipsets, guards[6])
    for version, key in ((4, 'ipv4'), (6, 'ipv6')):
        for chain in (SIP_CHAIN, SIP_TLS_CHAIN):
            ruleset[key] += guards.get(version, {}).get(chain, [])
        ruleset[key] += drops.log_chains(policy, ruleset[key])
        # chains in iptables-save's order (PBX-FIREWALL, then by name), each chain's rules in order
        ruleset[key].sort(key=lambda rule: chain_sort_key(rule.split(None, 2)[1]))
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
