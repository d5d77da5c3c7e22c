# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Flows that lost access with an apply: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns one
part of "a block takes effect at once" (docs/design.md): after an apply, which conntrack
entries must go so that an address that lost access to a service cannot keep using a
flow it opened before, while every other flow stays. Which verdict a new packet gets
from the old and from the new ruleset is the evaluator's question; this file asks it
through two callables and keeps the rest pure:

* ``parse_entries``: ``conntrack -L -o extended`` output -> ``Flow`` (original tuple);
* ``parse_local_addresses``: ``ip -o addr show`` output -> the host's own addresses;
* ``lost_access``: the inbound TCP/UDP flows to this host (original destination one of
  its addresses, source not) that the old ruleset accepted and the new one denies. A
  flow the old ruleset never accepted (an administrator's own INPUT rule let it in, or
  nothing did) is not ours to judge and stays;
* ``delete_argv``: the ``conntrack -D`` arguments that delete exactly one flow.

Forwarded flows (Docker-host mode, ``DOCKER-USER``) are not handled here. The module does
not call this file yet: wiring it into the apply (after the commit, only when the rules
changed) and its real-traffic test are the open part of that issue.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

FAMILY_OF = {'ipv4': 'ipv4', 'ipv6': 'ipv6'}
PROTOCOLS = ('tcp', 'udp')


class Flow(tuple):
    """(family, proto, source, destination, sport, dport) of a flow's original direction."""

    __slots__ = ()

    def __new__(cls, family, proto, source, destination, sport, dport):
        return tuple.__new__(cls, (family, proto, source, destination, sport, dport))

    family = property(lambda self: self[0])
    proto = property(lambda self: self[1])
    source = property(lambda self: self[2])
    destination = property(lambda self: self[3])
    sport = property(lambda self: self[4])
    dport = property(lambda self: self[5])

    def describe(self):
        return '%s %s:%d -> %s:%d' % (self.proto, self.source, self.sport, self.destination, self.dport)


def parse_entries(text):
    """TCP and UDP flows of ``conntrack -L -o extended`` (other protocols are skipped)."""
    flows = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 4 or words[0] not in FAMILY_OF or words[2] not in PROTOCOLS:
            continue
        fields = {}
        for word in words:
            key, sep, value = word.partition('=')
            if sep and key not in fields:       # the first of each: the original direction
                fields[key] = value
        try:
            flows.append(Flow(words[0], words[2], str(ipaddress.ip_address(fields['src'])),
                              str(ipaddress.ip_address(fields['dst'])), int(fields['sport']),
                              int(fields['dport'])))
        except (KeyError, ValueError):
            continue
    return flows


def parse_local_addresses(text):
    """Addresses of ``ip -o addr show`` (``inet``/``inet6`` lines)."""
    found = set()
    for line in text.splitlines():
        words = line.split()
        for index, word in enumerate(words[:-1]):
            if word in ('inet', 'inet6'):
                try:
                    found.add(str(ipaddress.ip_interface(words[index + 1]).ip))
                except ValueError:
                    pass
    return found


def lost_access(flows, local, allowed_before, allowed_after):
    """Flows to this host that the old ruleset accepted and the new one does not.

    ``allowed_before(flow)`` / ``allowed_after(flow)``: does a new packet of the flow's
    original direction get ACCEPT from the old / new owned chains (True or False).
    """
    result = []
    for flow in flows:
        if flow.destination not in local or flow.source in local:
            continue
        if allowed_before(flow) and not allowed_after(flow):
            result.append(flow)
    return sorted(set(result))


def delete_argv(flow):
    """``conntrack -D`` arguments for exactly this flow (its original tuple)."""
    return ['-D', '-f', flow.family, '-p', flow.proto, '-s', flow.source, '-d', flow.destination,
            '--sport', str(flow.sport), '--dport', str(flow.dport)]


def drop_lost_flows(run, conntrack, local, allowed_before, allowed_after, check_mode):
    """The thin runner: list, decide, delete. Returns (flows that lost access, warnings).

    ``run(argv)`` -> (rc, stdout, stderr); ``conntrack`` the tool's path or None. Check
    mode lists and decides but deletes nothing. Without the tool nothing can be listed:
    one warning says that flows opened before the apply keep passing until they end.
    """
    if conntrack is None:
        return [], ['conntrack (the conntrack tool) is not installed on the host: flows opened '
                    'before this apply by addresses that lost access keep passing until they end; '
                    'install conntrack to end them at once']
    lost = []
    warnings = []
    for family in ('ipv4', 'ipv6'):
        rc, out, err = run([conntrack, '-L', '-f', family, '-o', 'extended'])
        if rc != 0:
            warnings.append('conntrack -L -f %s failed (%s): flows that lost access keep passing'
                            % (family, err.strip() or rc))
            continue
        lost += lost_access(parse_entries(out), local, allowed_before, allowed_after)
    if not check_mode:
        for flow in lost:
            rc, _out, err = run([conntrack] + delete_argv(flow))
            if rc != 0 and 'not found' not in err.lower() and '0 flow entries' not in err:
                warnings.append('conntrack could not delete %s: %s' % (flow.describe(), err.strip()))
    return lost, warnings
