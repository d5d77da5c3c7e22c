# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ufw next to the PBX firewall (private to pbxops.firewall).

ufw keeps its rules in iptables chains of its own (``ufw-*``, ``ufw6-*``) and jumps to them
from ``INPUT``. Read from ufw 0.36.2's ``ufw-init``:

* start, reload and stop leave the other chains and the order of ``INPUT``'s jumps alone:
  the first start appends ufw's jumps, a reload only refills ufw's chains;
* ``MANAGE_BUILTINS=yes`` flushes the built-in chains and deletes every other chain on
  start and stop (``flush_builtins``): our chains, fail2ban's and Docker's go;
* ``IPV6=no`` restores the whole ip6 filter table without ``--noflush`` on start: our IPv6
  chains go.

With the default settings our jump sits before ufw's (first, or right after fail2ban's),
so our chain decides every new packet: ufw's rules no longer decide anything for input.
This file reads ufw's settings and its user rules (the ``### tuple ###`` lines of
``user.rules``/``user6.rules``) and names the rules whose verdict the policy overrides.

Standard library only; no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

CONF_PATH = '/etc/ufw/ufw.conf'
DEFAULTS_PATH = '/etc/default/ufw'
USER_RULES = collections.OrderedDict((('ipv4', '/etc/ufw/user.rules'), ('ipv6', '/etc/ufw/user6.rules')))
CHAIN_PREFIXES = ('ufw-', 'ufw6-')

Rule = collections.namedtuple('Rule', 'family action proto dport dst sport src direction text')


def is_yes(value):
    return (value or '').lower() == 'yes'


def parse_user_rules(text, family):
    """[Rule] of the ``### tuple ###`` lines of a user.rules file (input rules only).

    A tuple is ``action proto dport dst sport src direction`` (ufw's own record of
    ``ufw allow ...``), e.g. ``allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in``.
    """
    rules = []
    for line in (text or '').split('\n'):
        if not line.startswith('### tuple ### '):
            continue
        fields = line[len('### tuple ### '):].split()
        if len(fields) < 7 or fields[0].startswith('route:'):
            continue
        action, proto, dport, dst, sport, src, direction = fields[:7]
        if direction != 'in':
            continue
        rules.append(Rule(family, action.split('_')[0], proto, dport, dst, sport, src, direction,
                          describe(action.split('_')[0], proto, dport, src)))
    return rules


def describe(action, proto, dport, src):
    """``allow 8080/tcp from 0.0.0.0/0`` (ufw's own words, for warnings)."""
    port = 'any port' if dport == 'any' else dport.replace(':', '-')
    protos = '' if proto == 'any' or dport == 'any' else '/' + proto
    return '%s %s%s from %s' % (action, port, protos, 'anywhere' if src in ('0.0.0.0/0', '::/0') else src)


def _ranges(dport):
    """[(low, high)] of a ufw port field (``22``, ``5060:5061``, ``80,443``); None for ``any``."""
    if dport == 'any':
        return None
    out = []
    for part in dport.split(','):
        low, _sep, high = part.partition(':')
        out.append((int(low), int(high or low)))
    return out


def overridden(rules, accepts, drops_rest):
    """The ufw rules whose verdict the policy overrides, as text: ``allow`` rules for ports the
    policy accepts from no source (when our chain drops the rest), and ``deny``/``reject``/
    ``limit`` rules for ports the policy accepts from some source."""
    found = []
    for rule in rules:
        protos = ['tcp', 'udp'] if rule.proto == 'any' else [rule.proto]
        ranges = _ranges(rule.dport) or [(1, 65535)]
        if rule.action == 'allow':
            if drops_rest and not any(accepts.touches_port(p, lo, hi, rule.family) for p in protos for lo, hi in ranges):
                found.append('%s (%s): the policy drops it from every source' % (rule.text, rule.family))
        elif any(accepts.touches_port(p, lo, hi, rule.family) for p in protos for lo, hi in ranges):
            found.append('%s (%s): the policy accepts it from some networks first' % (rule.text, rule.family))
    return found


def jump_order_problem(input_rules):
    """The first ufw jump of INPUT that comes before the jump to PBX-FIREWALL, or None (also
    when there is no such jump yet: the module puts a new one first).

    ``input_rules``: the INPUT rules of iptables-save (``-A INPUT ...``), in order.
    """
    first = None
    for rule in input_rules:
        target = rule.split(' -j ', 1)[1].split()[0] if ' -j ' in rule else None
        if target == 'PBX-FIREWALL':
            return first
        if first is None and target and target.startswith(CHAIN_PREFIXES):
            first = rule
    return None
