# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The decision about the host's other firewall managers (private to pbxops.firewall).

``assess`` takes what ``probe.py`` read, the desired ruleset and the mode (the module's
``host_firewall``: ``auto``, ``refuse`` or ``ignore``) and returns an ``Assessment``: the
report the module returns as ``host_firewall`` (one summary line for the role to print),
a refusal (the task fails before anything changes), warnings, and for ``auto`` the
firewalld plan (``firewalld_plan.py``). What each manager gets under ``auto``:

* firewalld (running or enabled): the owned policy object lets through what the policy
  accepts; while firewalld flushes iptables on reload, the owned direct block puts our
  chains back. Refused when that cannot hold the policy: firewalld's iptables backend,
  Docker-host mode, a rule that accepts every protocol, a rule firewalld's direct
  interface cannot carry, another iptables backend than firewalld's;
* ufw (active): coexistence, our jump first; refused with ``MANAGE_BUILTINS=yes``, with
  ``IPV6=no`` when the policy has IPv6 rules, or when ufw's jumps come first; its rules
  that the policy overrides are named;
* nftables: a native input-hook chain that drops what the policy accepts is refused;
  ``nftables.service`` with a flushing ``/etc/nftables.conf`` gets a warning;
* netfilter-persistent: reported (our boot unit runs after it and replaces its copy);
* Docker (its chains in the filter table): reported; a warning when Docker runs but
  Docker-host mode is off.

``refuse`` refuses whenever one of the managers is active; ``ignore`` only warns. With
``state=absent`` nothing is refused and whatever the collection added to firewalld goes.

Standard library only; no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import accepts as acc
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import firewalld as fwd
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import firewalld_plan
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import nftables as nft
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import ufw as ufwm
from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import (
    FAMILIES,
    MAIN_CHAIN,
    parse_save,
    rule_chain,
    rule_target,
    split_rule,
)

MODES = ('auto', 'refuse', 'ignore')
VARIABLE = 'host_firewall (the role: pbx_firewall_host_firewall)'
IGNORE_HINT = 'To apply anyway, set %s to ignore.' % VARIABLE


class Assessment(object):
    def __init__(self, mode):
        self.mode = mode
        self.report = {'mode': mode}
        self.parts = []          # summary phrases, one per manager found
        self.problems = []       # what auto cannot make hold (refused under auto, warned under ignore)
        self.warnings = []
        self.active = []         # managers that count for ``refuse``
        self.firewalld = None    # firewalld_plan.Plan under auto (and for state=absent)
        self.refusal = None

    @property
    def changed(self):
        return self.firewalld is not None and self.firewalld.changed

    def summary(self):
        what = '; '.join(self.parts) if self.parts else 'no other firewall manager'
        return 'host firewall (%s): %s' % (self.mode, what)


def drops_rest(desired):
    """Whether an IPv4 or IPv6 main chain ends with a rule that drops everything else."""
    for family in FAMILIES:
        rules = desired.families[family].chains.get(MAIN_CHAIN) or []
        if rules and rule_target(rules[-1]) in ('DROP', 'REJECT'):
            tokens = split_rule(rules[-1])[2:]
            words = [t for t in tokens if t.startswith('-')]
            if set(words) <= set(['-m', '--comment', '-j']):
                return True
    return False


def assess(facts, mode, state, desired, ruleset, backend, default_backend, live_tables):
    """The Assessment for one host (see the module docstring)."""
    result = Assessment(mode)
    accepts = acc.from_ruleset(ruleset if state == 'present' else {})
    closing = drops_rest(desired) if state == 'present' else False
    _firewalld(result, facts.firewalld, mode, state, desired, accepts, closing, backend, default_backend)
    if state == 'present':
        _ufw(result, facts.ufw, desired, accepts, closing, live_tables)
        _nftables(result, facts, accepts)
        _persistent(result, facts.persistent)
        _docker(result, live_tables, desired)
        if mode == 'refuse' and result.active:
            result.refusal = ('host_firewall is refuse and this host runs another firewall manager: %s. Nothing '
                              'was changed. Fix: stop and disable it, or set %s to auto (the collection keeps '
                              'its policy in force next to it) or ignore.'
                              % (', '.join(result.active), VARIABLE))
        elif mode == 'auto' and result.problems:
            result.refusal = ('refused before any change (host_firewall: auto): %s. %s'
                              % ('; '.join(result.problems), IGNORE_HINT))
        elif mode == 'ignore':
            result.warnings = ['host_firewall is ignore: %s' % p for p in result.problems] + result.warnings
    else:
        _persistent(result, facts.persistent)
        holding = result.report['netfilter_persistent'].get('hold_owned_chains')
        if holding:
            result.warnings.append(
                'netfilter-persistent\'s %s hold%s a copy of the PBX firewall chains, which it restores at the next '
                'boot: run netfilter-persistent save now that they are gone' % (
                    ' and '.join(holding), 's' if len(holding) == 1 else ''))
    if result.refusal:
        result.firewalld = None
    result.report['summary'] = result.summary()
    return result


# ------------------------------------------------------------------------------------------
# firewalld
# ------------------------------------------------------------------------------------------

def _firewalld(result, facts, mode, state, desired, accepts, closing, backend, default_backend):
    if facts is None:
        result.report['firewalld'] = {'installed': False}
        return
    conf = facts['conf']
    fw_backend = conf.get('FirewallBackend', 'nftables')
    version = facts['version']
    files = facts.get('files') or {}
    direct_text = (files.get(fwd.DIRECT_PATH) or {}).get('content')
    try:
        admin_direct = [e for e in fwd.parse_direct(direct_text) if not fwd.owned_entry(e)] if direct_text else []
        direct_error = None
    except ValueError as exc:
        admin_direct, direct_error = [], str(exc)
    owned_exists = bool((files.get(fwd.POLICY_PATH) or {}).get('content') is not None
                        or fwd.owned_in(direct_text if not direct_error else None)
                        or facts.get('record'))
    live = facts['running'] or facts['enabled']
    flushes = fwd.flushes_iptables(version, bool(admin_direct))
    zones = facts.get('zones') or {}
    arrival = sorted(z for z, e in zones.items() if e['flags'] & set(['active', 'default']))
    report = {'installed': True, 'running': facts['running'], 'enabled': facts['enabled'],
              'version': fwd.version_text(version), 'backend': fw_backend, 'zones': arrival,
              'direct_rules': len(admin_direct), 'reload_flushes_iptables': flushes}
    result.report['firewalld'] = report
    if not live and not owned_exists:
        return
    state_text = 'running' if facts['running'] else 'enabled, not running'
    head = 'firewalld %s %s (%s backend%s)' % (fwd.version_text(version), state_text, fw_backend,
                                               '; zones %s' % ', '.join(arrival) if arrival else '')
    if live:
        result.active.append('firewalld %s (%s)' % (fwd.version_text(version), state_text))
    entries = fwd.direct_entries(desired)
    passes = fwd.pass_list(accepts)
    keep = state == 'present' and mode == 'auto' and live
    if keep:
        problems = _firewalld_problems(fw_backend, flushes, desired, accepts, entries, backend, default_backend,
                                       direct_error, version)
        if problems:
            result.problems += problems
            result.parts.append('%s: refused' % head)
            return
        if closing and facts['running']:
            shadowed = _shadowed_zone_entries(zones, arrival, facts.get('services') or {}, accepts)
            if shadowed:
                result.warnings.append(
                    'firewalld lets in %s, but the PBX firewall policy drops them from every source (its chain ends '
                    'with a drop): list them in pbx_firewall_networks if this host needs them'
                    % '; '.join(shadowed))
    elif state == 'present' and live and mode != 'refuse':
        result.problems.append(
            'firewalld %s is %s: with its %s backend the effective policy is the intersection of its zones and the '
            'PBX firewall chain%s' % (fwd.version_text(version), state_text, fw_backend,
                                      ', and every firewall-cmd --reload, stop or start removes the chain'
                                      if flushes else ''))
    if direct_error and not keep:
        result.parts.append('%s: %s' % (head, direct_error))
        return
    plan = firewalld_plan.plan(facts, passes, entries, present=keep, use_direct=keep and flushes)
    result.firewalld = plan
    report['policy'] = passes.describe() if keep else None
    if keep:
        result.parts.append('%s: owned policy %s lets through %s%s' % (
            head, fwd.POLICY_NAME, _count(passes),
            ', owned direct rules put the chains back after its reloads' if flushes else ''))
    else:
        result.parts.append('%s: left as it is%s' % (head, ', owned additions removed' if plan.changed else ''))


def _count(passes):
    parts = []
    for value, one, many in ((len(passes.ports), 'port', 'ports'), (len(passes.protocols), 'protocol', 'protocols'),
                             (len(passes.icmp), 'ICMP type', 'ICMP types')):
        if value:
            parts.append('%d %s' % (value, one if value == 1 else many))
    return ', '.join(parts) or 'nothing'


def _firewalld_problems(fw_backend, flushes, desired, accepts, entries, backend, default_backend, direct_error,
                        version):
    problems = []
    name = 'firewalld %s' % fwd.version_text(version)
    if fw_backend != 'nftables':
        problems.append(
            '%s runs with FirewallBackend=%s (%s); the collection keeps its policy in force next to firewalld\'s '
            'nftables backend only. Fix: set FirewallBackend=nftables there and reload firewalld'
            % (name, fw_backend, fwd.CONF_PATH))
    if direct_error:
        problems.append('%s: cannot add the owned block to %s: %s. Fix: repair the file (firewall-cmd '
                        '--check-config)' % (name, fwd.DIRECT_PATH, direct_error))
    for family, rule in accepts.unbounded:
        problems.append(
            '%s: the %s rule %r accepts every protocol, and firewalld can only be told to let through ports, '
            'protocols and ICMP types. Fix: give the rule a protocol (-p) and ports (--dport)' % (name, family, rule))
    if not flushes:
        return problems
    docker = [j for f in FAMILIES for j in desired.families[f].jumps if rule_chain(j) != 'INPUT']
    if docker:
        problems.append(
            '%s flushes every iptables table on each reload, start and stop, and Docker then recreates '
            'DOCKER-USER without the jump %r, so Docker-host mode cannot stay in force. Fix: set pbx_firewall_docker: '
            'false on this host, or use firewalld 2.0 or later without direct rules' % (name, docker[0]))
    if backend != default_backend:
        problems.append(
            '%s flushes every iptables table on each reload and puts the PBX firewall chains back from its direct '
            'configuration with iptables (the %s backend), but the chains are managed in the %s backend. '
            'Fix: set backend (pbx_firewall_backend) to %s' % (name, default_backend, backend, default_backend))
    bad = fwd.unportable(entries)
    if bad:
        entry, argument = bad[0]
        problems.append(
            '%s flushes every iptables table on each reload and puts the PBX firewall chains back from its direct '
            'configuration, which cannot carry the %s rule of %s with the argument %r intact (firewalld hands '
            'arguments to iptables-restore in double quotes without escaping " or \\). Fix: remove " and \\ from '
            'network names and custom rule comments' % (name, entry.ipv, entry.chain, argument))
    return problems


def _shadowed_zone_entries(zones, arrival, services, accepts):
    """``zone public: dhcpv6-client (546/udp)`` for zone services and ports the policy never accepts."""
    found = []
    for zone in arrival:
        entry = zones[zone]
        dead = []
        for service in fwd.words(entry, 'services'):
            ports, protocols = services.get(service) or ([], [])
            if (ports or protocols) and not any(accepts.touches_port(p, lo, hi) for p, lo, hi in ports) \
                    and not any(any(pr in accepts.protocols[f] for f in FAMILIES) for pr in protocols):
                dead.append('%s (%s)' % (service, ', '.join(
                    ['%s/%s' % (acc.port_text(lo, hi), p) for p, lo, hi in ports] + list(protocols))))
        for port in fwd.words(entry, 'ports'):
            number, _sep, proto = port.partition('/')
            low, _sep, high = number.partition('-')
            if low.isdigit() and not accepts.touches_port(proto, int(low), int(high or low)):
                dead.append(port)
        if dead:
            found.append('zone %s: %s' % (zone, ', '.join(dead)))
    return found


# ------------------------------------------------------------------------------------------
# ufw
# ------------------------------------------------------------------------------------------

def _ufw(result, facts, desired, accepts, closing, live_tables):
    if facts is None:
        result.report['ufw'] = {'installed': False}
        return
    conf, defaults = facts['conf'], facts['defaults']
    active = ufwm.is_yes(conf.get('ENABLED'))
    manage = ufwm.is_yes(defaults.get('MANAGE_BUILTINS'))
    ipv6 = ufwm.is_yes(defaults.get('IPV6', 'yes'))
    rules = []
    for family, text in (facts.get('rules') or {}).items():
        rules += ufwm.parse_user_rules(text, family)
    result.report['ufw'] = {'installed': True, 'active': active, 'manage_builtins': manage, 'ipv6': ipv6,
                            'rules': len(rules)}
    if not active:
        return
    result.active.append('ufw (active)')
    problems = []
    if manage:
        problems.append(
            'ufw is active with MANAGE_BUILTINS=yes (%s): ufw enable, reload and disable flush every built-in chain '
            'and delete every other chain, the PBX firewall chains too. Fix: set MANAGE_BUILTINS=no there and run '
            'ufw reload' % ufwm.DEFAULTS_PATH)
    if not ipv6 and desired.families['ipv6'].chains:
        problems.append(
            'ufw is active with IPV6=no (%s): ufw enable and reload restore the whole ip6 filter table without '
            '--noflush, which deletes the PBX firewall IPv6 chains. Fix: set IPV6=yes there and run ufw reload, or '
            'set pbx_firewall_ipv6: false' % ufwm.DEFAULTS_PATH)
    table = (live_tables or {}).get('ipv4')
    first = ufwm.jump_order_problem(table.rules.get('INPUT', [])) if table is not None else None
    if first is not None:
        problems.append(
            'ufw\'s jump %r comes before the PBX firewall jump in INPUT, so ufw\'s allow rules accept packets before '
            'the policy sees them. Fix: iptables -D INPUT -j %s, then run again (the jump goes first)'
            % (first, MAIN_CHAIN))
    result.problems += problems
    overridden = ufwm.overridden(rules, accepts, closing)
    if overridden and not problems:
        result.warnings.append(
            'ufw is active; the PBX firewall chain comes first in INPUT and decides every new packet, so these ufw '
            'rules no longer decide anything: %s' % '; '.join(overridden))
    result.parts.append('ufw active%s: %s' % (
        '' if not rules else ' (%d rule%s)' % (len(rules), '' if len(rules) == 1 else 's'),
        ', '.join(s for s, bad in (('MANAGE_BUILTINS=yes', manage), ('IPV6=no', not ipv6)) if bad)
        or 'our chain first, ufw\'s rules after it'))


# ------------------------------------------------------------------------------------------
# nftables, netfilter-persistent, Docker
# ------------------------------------------------------------------------------------------

def _probes(accepts, family):
    """(description, nft expression, [nftables.Packet]) per thing the policy accepts in one
    family: a port range (tested at both ends), a protocol, an ICMP type."""
    probes = []
    for proto, ranges in sorted(accepts.ports[family].items()):
        for low, high in ranges:
            text = '%s/%s' % (acc.port_text(low, high), proto)
            probes.append((text, (proto, acc.port_text(low, high)),
                           [nft.Packet(family, proto, port) for port in sorted(set([low, high]))]))
    for proto in sorted(accepts.protocols[family]):
        probes.append((proto, ('meta l4proto', proto), [nft.Packet(family, proto)]))
    wire = 'icmp' if family == 'ipv4' else 'ipv6-icmp'
    for number in sorted(t for t in accepts.icmp[family] if t is not None):
        probes.append(('%s type %d' % ('ICMP' if family == 'ipv4' else 'ICMPv6', number),
                       ('icmp type' if family == 'ipv4' else 'icmpv6 type', str(number)),
                       [nft.Packet(family, wire, icmp_type=number)]))
    return probes


def _grouped(found):
    """(what, nft fix) for the things a chain does not let through: ``80/tcp, ICMPv6 types 1, 2``
    and ``tcp dport { 80 } accept; icmpv6 type { 1, 2 } accept``, in the order found."""
    texts, groups = [], collections.OrderedDict()
    for text, (key, value) in found:
        key = '%s dport' % key if key in acc.PORT_PROTOCOLS else key
        groups.setdefault(key, []).append(value)
        if key.endswith(' type'):
            name = 'ICMP' if key == 'icmp type' else 'ICMPv6'
            texts = [t for t in texts if not t.startswith(name + ' type')]
            values = groups[key]
            texts.append('%s type%s %s' % (name, 's' if len(values) > 1 else '', ', '.join(values)))
        else:
            texts.append(text)
    fix = '; '.join('%s { %s } accept' % (key, ', '.join(values)) for key, values in groups.items())
    return ', '.join(texts), fix


def _nftables(result, facts, accepts):
    service = facts.nftables_service
    ruleset = facts.nft
    report = {'service_enabled': bool(service and service['enabled']), 'conf_flushes': [], 'native_tables': [],
              'input_chains': []}
    result.report['nftables'] = report
    if facts.nft_error:
        report['error'] = facts.nft_error
    if service is None and ruleset is None:
        return
    flushes = nft.flush_statements(service['conf']) if service else []
    report['conf_flushes'] = flushes
    parts = []
    if service and service['enabled']:
        result.active.append('nftables.service (enabled)')
        parts.append('nftables.service enabled')
        if flushes:
            result.warnings.append(
                'nftables.service is enabled and %s runs `%s`: `systemctl restart nftables` (or nft -f %s) removes '
                'every table, iptables-nft\'s too, so the PBX firewall chains, fail2ban\'s and Docker\'s are gone '
                'until the role runs again (at boot pbx-firewall.service runs after nftables.service and puts them '
                'back). Fix: in %s flush only the tables the file defines (declare `table inet filter` and '
                '`flush table inet filter` before its definition) instead of `%s`'
                % (nft.CONF_PATH, flushes[0], nft.CONF_PATH, nft.CONF_PATH, flushes[0]))
    if ruleset is not None:
        native = ruleset.native_tables()
        report['native_tables'] = ['%s %s' % t for t in native]
        for key in ruleset.input_chains():
            found = []
            for family in FAMILIES:
                if key[0] not in nft.FAMILY_OF[family]:
                    continue
                for text, fix, packets in _probes(accepts, family):
                    if any(ruleset.verdict(key, p) != 'accept' for p in packets):
                        found.append((text, fix))
            report['input_chains'].append({'table': '%s %s' % (key[0], key[1]), 'chain': key[2],
                                           'policy': ruleset.policy(key), 'drops': [t for t, _f in found]})
            if ruleset.has_drop(key):
                result.active.append('nftables table %s %s' % (key[0], key[1]))
            if found:
                what, fix = _grouped(found)
                result.problems.append(
                    'nftables table %s %s, chain %s (hook input, policy %s) does not certainly accept %s, which the PBX '
                    'firewall policy accepts; a drop in any input chain is final, whatever the PBX firewall chain '
                    'accepts. Fix: accept those there (e.g. `%s`), or delete that table, then run again'
                    % (key[0], key[1], key[2], ruleset.policy(key), what, fix))
        if native:
            parts.append('native table%s %s' % ('' if len(native) == 1 else 's', ', '.join('%s %s' % t for t in native)))
    if parts:
        result.parts.append('nftables: %s' % ', '.join(parts))


def _persistent(result, facts):
    if facts is None:
        result.report['netfilter_persistent'] = {'installed': False}
        return
    holding = []
    for path, text in sorted((facts.get('files') or {}).items()):
        try:
            tables = parse_save(text or '')
        except ValueError:
            continue
        table = tables.get('filter')
        if table is not None and (table.owned_chains() or table.owned_jumps()):
            holding.append(path)
    result.report['netfilter_persistent'] = {
        'installed': True, 'enabled': facts['enabled'], 'files': sorted(facts.get('files') or {}),
        'hold_owned_chains': holding}
    if facts['enabled'] and facts.get('files'):
        result.active.append('netfilter-persistent (enabled)')
    text = 'netfilter-persistent %s' % ('enabled' if facts['enabled'] else 'disabled')
    if holding:
        text += ', saved copy of the chains in %s (replaced at boot by pbx-firewall.service, which runs after it)' \
                % ', '.join(holding)
    result.parts.append(text)


def _docker(result, live_tables, desired):
    # Docker's own chains in this network namespace's filter table: Docker manages its firewall
    running = any('DOCKER' in t.chains or 'DOCKER-USER' in t.chains for t in (live_tables or {}).values())
    result.report['docker'] = {'running': running}
    if not running:
        return
    docker_mode = any(rule_chain(j) == 'DOCKER-USER' for f in FAMILIES for j in desired.families[f].jumps)
    result.parts.append('Docker running%s' % (' (Docker-host mode)' if docker_mode else ''))
    if not docker_mode and any(desired.families[f].chains for f in FAMILIES):
        result.warnings.append(
            'Docker runs on this host, but pbx_firewall_docker is false: ports Docker publishes go through FORWARD, '
            'not INPUT, so the policy does not cover them; Docker-host mode (pbx_firewall_docker: true) filters them '
            'in DOCKER-USER')
