# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the firewall stopped on one host (private to this collection).

Reads, and changes nothing: the packet and byte counters of every rule of the owned chains
that carries a drop reason (``_reasons.py``), summed per family, reason and deciding
network, with since when they count (``_counters.py``); the SIP rate limit's busiest
sources, from the kernel's hashlimit tables (``/proc/net/ipt_hashlimit/<name>``,
``/proc/net/ip6t_hashlimit/<name>``); fail2ban's banned addresses per jail
(``fail2ban-client banned``). The ``firewall_report`` module and the metrics refresher
both build their answer here. Pure parsing functions plus ``collect``, which runs
commands through a ``Host``. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import ipaddress
import os

from ansible_collections.pbxops.firewall.plugins.module_utils import _counters
from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf
from ansible_collections.pbxops.firewall.plugins.module_utils._reasons import (
    REASONS,
    is_log_chain,
    parse_comment,
)

HASHLIMIT_DIRS = {'ipv4': '/proc/net/ipt_hashlimit', 'ipv6': '/proc/net/ip6t_hashlimit'}
TOP_SOURCES = 10


# --------------------------------------------------------------------------------------
# the counters of the dropping rules
# --------------------------------------------------------------------------------------

def rule_reason(rule):
    """(reason, network) of a rule that drops, from its last comment that carries one; or None."""
    tokens = [nf.unquote(t) for t in nf.split_rule(rule)]
    found = None
    for index, token in enumerate(tokens[:-1]):
        if token == '--comment':
            found = parse_comment(tokens[index + 1]) or found
    return found


def dropping_rules(table, family, backend, state, boot):
    """One dict per rule of the owned chains that carries a drop reason, with its counters."""
    rows = []
    for chain, rules in table.owned_chains().items():
        if is_log_chain(chain):
            continue
        keys = _counters.rule_keys(backend, family, chain, rules)
        for rule, counters, since in zip(rules, table.rule_counters(chain), _counters.since(state, keys, boot)):
            reason = rule_reason(rule)
            if reason is None:
                continue
            packets, octets = counters or (0, 0)
            rows.append({'family': family, 'reason': reason[0], 'network': reason[1], 'packets': packets,
                         'bytes': octets, 'since': since, 'chain': chain, 'rule': rule})
    return rows


def _order(row):
    return (row['family'], list(REASONS).index(row['reason']), row['network'] or '')


def summarize(rules):
    """Sum per (family, reason, network): packets, bytes, rules, since (the earliest start)."""
    sums = {}
    for row in rules:
        key = (row['family'], row['reason'], row['network'])
        total = sums.setdefault(key, {'family': key[0], 'reason': key[1], 'network': key[2], 'packets': 0,
                                      'bytes': 0, 'rules': 0, 'since': row['since']})
        total['packets'] += row['packets']
        total['bytes'] += row['bytes']
        total['rules'] += 1
        if row['since'] is not None and (total['since'] is None or row['since'] < total['since']):
            total['since'] = row['since']
    return sorted(sums.values(), key=_order)


# --------------------------------------------------------------------------------------
# hashlimit: the SIP rate limit's sources
# --------------------------------------------------------------------------------------

def hashlimit_tables(table):
    """{hashlimit table name: source prefix length or None} of the flood rules of the owned chains."""
    names = {}
    for rules in table.owned_chains().values():
        for rule in rules:
            reason = rule_reason(rule)
            if reason is None or reason[0] != 'flood':
                continue
            tokens = [nf.unquote(t) for t in nf.split_rule(rule)]
            options = dict(zip(tokens[:-1], tokens[1:]))
            if '--hashlimit-name' in options:
                mask = options.get('--hashlimit-srcmask')
                names[options['--hashlimit-name']] = int(mask) if mask and mask.isdigit() else None
    return names


def parse_hashlimit(text, family, name, prefix=None):
    """Entries of ``/proc/net/ip(6)t_hashlimit/<name>``: how much of its burst each source used.

    A line is ``expires src:port->dst:port credit credit_cap cost``; a request costs ``cost``
    credits, the bucket holds ``credit_cap`` (the burst) and refills at the rate limit. So
    ``(credit_cap - credit) / cost`` is how many requests of its burst the source has used
    right now, and a source whose credit is below one request's cost is over the limit.
    """
    entries = []
    for line in text.split('\n'):
        fields = line.split()
        if len(fields) != 5 or '->' not in fields[1]:
            continue
        source = fields[1].split('->', 1)[0].rsplit(':', 1)[0]
        try:
            address = ipaddress.ip_address(source)
            credit, cap, cost = (int(f) for f in fields[2:])
        except ValueError:
            continue
        if cost <= 0 or cap <= 0:
            continue
        width = 32 if family == 'ipv4' else 128
        entries.append({
            'family': family, 'table': name,
            'source': '%s/%d' % (address, prefix or width) if (prefix or width) != width else str(address),
            'used': round(max(cap - credit, 0) / float(cost), 1), 'burst': int(round(cap / float(cost))),
            'over_limit': credit < cost,
        })
    return entries


def top_sources(entries, count=TOP_SOURCES):
    """The ``count`` sources that used most of their burst (over the limit first)."""
    ranked = sorted(entries, key=lambda e: (-e['used'] / max(e['burst'], 1), e['family'], e['source']))
    return ranked[:count]


def read_hashlimit(family, names, read=None):
    """Entries of the named hashlimit tables of one family (a table not there yet: none)."""
    read = read or _read_text
    entries = []
    for name in sorted(names):
        text = read(os.path.join(HASHLIMIT_DIRS[family], name))
        if text is not None:
            entries += parse_hashlimit(text, family, name, names[name])
    return entries


def _read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


# --------------------------------------------------------------------------------------
# fail2ban
# --------------------------------------------------------------------------------------

def parse_banned(text):
    """``fail2ban-client banned`` output (``[{'sshd': ['192.0.2.7']}, ...]``) -> {jail: [addresses]}."""
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        raise ValueError('fail2ban-client banned printed %r, not a list of jails' % text.strip()[:200])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError('fail2ban-client banned printed %r, not a list of jails' % text.strip()[:200])
    bans = {}
    for item in value:
        for jail, addresses in item.items():
            bans[str(jail)] = sorted(str(a) for a in (addresses or []))
    return bans


def read_bans(host):
    """({jail: [addresses]} or None, note or None)."""
    client = host.module.get_bin_path('fail2ban-client')
    if not client:
        return None, 'fail2ban-client not found'
    rc, out, err = host.module.run_command([client, 'banned'])
    if rc != 0:
        return None, 'fail2ban-client banned failed (rc=%d): %s' % (rc, (err or out).strip()[:300])
    try:
        return parse_banned(out), None
    except ValueError as exc:
        return None, str(exc)


# --------------------------------------------------------------------------------------
# one host
# --------------------------------------------------------------------------------------

def collect(host, top=TOP_SOURCES, state_path=None, read=None):
    """The report of one host: drops per family, reason and network, the busiest SIP sources,
    fail2ban's bans, rule counts, last apply. ``host``: a ``_host.Host``."""
    state = _counters.load(state_path or _counters.state_path())
    boot = _counters.boot_time()
    rules = []
    counts = {}
    sources = []
    for family in nf.FAMILIES:
        if family not in host.saves:
            continue
        table = host.read_family(family, required=False)
        if table is None:
            continue
        counts[family] = sum(len(r) for r in table.owned_chains().values())
        rules += dropping_rules(table, family, host.backend, state, boot)
        sources += read_hashlimit(family, hashlimit_tables(table), read)
    bans, note = read_bans(host)
    notes = list(host.warnings) + ([note] if note else [])
    applied = [t for t in (state['applied'], state['reset']) if t is not None]
    return {
        'backend': host.backend,
        'drops': summarize(rules),
        'rules': rules,
        'rule_count': counts,
        'sip_sources': top_sources(sources, top),
        'bans': bans,
        'last_apply': max(applied) if applied else None,
        'boot': boot,
        'notes': notes,
    }
