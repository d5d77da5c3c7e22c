# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark policies in the inventory model, and the same rules in other shapes.

``networks(n)`` builds an inventory whose compiled IPv4 chain has exactly ``n`` rules
(with ``COMPILE_OPTIONS``: ipset_threshold 0, so every subnet is a real rule; no IPv6;
no SIP scanner rules):

- Management 10.202.0.0/24: ssh (the controller must keep reaching the host);
- Clients 10.202.10.0/24: sip allowed (service A), web and iax blocked (service B);
- filler networks, each one distinct /24 or /32 allowing one single-rule service;
- plus the fixed rules: established/related, loopback, the final drop.

The same rules are turned into ``ansible.builtin.iptables`` parameters, into an
``iptables-restore`` transaction and into one ``iptables`` command each (MikoPBX style).
"""

import shlex
import sys

from lab import REPO

sys.path.insert(0, '%s/.build' % REPO)
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy  # noqa: E402

CHAIN = 'PBX-FIREWALL'
COMPILE_OPTIONS = {'ipset_threshold': 0, 'ipv6': False, 'sip_scanner_agents': []}
# Services that compile to exactly one IPv4 rule for one subnet.
ONE_RULE_SERVICES = ('ssh', 'web', 'ami', 'ajam', 'cticlient', 'iax', 'icmp')

BASE = [
    {'name': 'Management', 'subnet': '10.202.0.0/24', 'services': ['ssh'], 'never_block': True},
    {'name': 'Clients', 'subnet': '10.202.10.0/24', 'services': ['sip'], 'block': ['web', 'iax'],
     'local_network': True},
]
# Service A (allowed from the client) and service B (blocked), as the client probes them.
ALLOWED = {'tcp': 5060, 'udp': 5060}      # sip
BLOCKED = {'tcp': 80, 'udp': 4569}        # web, iax


def filler(index):
    """A distinct subnet (alternately /24 and /32) allowing one single-rule service."""
    k = index // 2
    if index % 2 == 0:
        subnet = '10.%d.%d.0/24' % (64 + k // 256, k % 256)
    else:
        subnet = '10.%d.%d.%d' % (100 + k // 62500, (k // 250) % 250, k % 250 + 1)
    return {'name': 'Site %d' % index, 'subnet': subnet,
            'services': [ONE_RULE_SERVICES[index % len(ONE_RULE_SERVICES)]]}


def compile_rules(nets):
    return _policy.firewall_ruleset(nets, **COMPILE_OPTIONS)


def networks(n, extra=()):
    """An inventory that compiles to exactly n IPv4 rules (raises otherwise)."""
    base = BASE + list(extra)
    fixed = len(compile_rules(base)['ipv4'])
    if n < fixed:
        raise ValueError('at least %d rules' % fixed)
    nets = base + [filler(i) for i in range(n - fixed)]
    count = len(compile_rules(nets)['ipv4'])
    if count != n:
        raise AssertionError('compiled %d rules, wanted %d' % (count, n))
    return nets


def reload_pair(n):
    """Two n-rule inventories that differ only in an unrelated network (10.203.0/1.0/24)."""
    return [networks(n, extra=[{'name': 'Unrelated', 'subnet': '10.203.%d.0/24' % i, 'services': ['ssh']}])
            for i in (0, 1)]


# -- other shapes of the same rules ------------------------------------------------------------

def builtin_params(rule):
    """One compiled rule line -> ansible.builtin.iptables parameters giving the same rule."""
    words = shlex.split(rule)
    if words[:2] != ['-A', CHAIN]:
        raise ValueError('not a %s rule: %s' % (CHAIN, rule))
    params = {}
    i = 2
    while i < len(words):
        word = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else None
        if word == '-s':
            params['source'] = nxt
        elif word == '-i':
            params['in_interface'] = nxt
        elif word == '-p':
            params['protocol'] = nxt
        elif word == '-m' and nxt in ('tcp', 'udp', 'icmp', 'multiport', 'comment', 'conntrack'):
            pass    # the module adds each match itself, in iptables-save's order for these rules
        elif word == '--dport':
            params['destination_port'] = nxt
        elif word == '--dports':
            params['destination_ports'] = nxt.split(',')
        elif word == '--icmp-type':
            params['icmp_type'] = nxt
        elif word == '--ctstate':
            params['ctstate'] = nxt.split(',')
        elif word == '--comment':
            params['comment'] = nxt
        elif word == '-j':
            params['jump'] = nxt
        else:
            raise ValueError('bench converter does not know %r in %s' % (word, rule))
        i += 2
    return params


def restore_text(rules, chain=CHAIN):
    """One iptables-restore --noflush transaction: the chain, its rules, the INPUT jump."""
    lines = ['*filter', ':%s - [0:0]' % chain, '-F %s' % chain] + list(rules)
    lines += ['-A INPUT -j %s' % chain, 'COMMIT', '']
    return '\n'.join(lines)


def mikopbx_commands(rules):
    """The MikoPBX way: flush INPUT, then one iptables command per rule, in INPUT."""
    cmds = ['iptables -w -F INPUT']
    for rule in rules:
        cmds.append('iptables -w ' + rule.replace('-A %s ' % CHAIN, '-A INPUT ', 1))
    return cmds
