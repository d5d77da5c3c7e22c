# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Flows that lost access with an apply: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns one
part of "a block takes effect at once" (docs/design.md): after an apply, which conntrack
entries must go so that an address that lost access to a service cannot keep using a
flow it opened before, while every other flow stays. Which verdict a new packet gets
from the old and from the new ruleset is the evaluator's question (``_evaluate``):

* ``parse_entries``: ``conntrack -L -o extended`` output -> ``Flow`` (original tuple);
* ``parse_local_addresses``: ``ip -o addr show`` output -> the host's own addresses;
* ``Judge``: the old and the new owned rulesets; a flow lost access when a new packet
  of its original direction was accepted by the old owned chains and is dropped or
  rejected by the new ones. Anything less certain (no verdict of the owned chains, a
  custom rule the evaluator cannot decide) keeps the flow: ending a flow is only done
  when the new rules certainly refuse it;
* ``lost_access``: the inbound TCP/UDP flows to this host (original destination one of
  its addresses, source not) that lost access, except the ones the caller keeps (the
  controller's own SSH connection, so the module's answer still gets home);
* ``delete_argv`` / ``close_argv``: the ``conntrack -D`` arguments that delete exactly one
  flow, the ``ss -K`` arguments that close this host's socket of a TCP flow;
* ``end_lost_flows``: the thin runner (list, decide, end; check mode changes nothing).

Why more than ``conntrack -D``: netfilter accepts the packets of a flow this host opened
as answers (RELATED,ESTABLISHED). Once the entry is gone, whoever sends first opens the
flow anew: the address, and the new rules drop it; or this host, and the address's
packets pass as answers. A TCP connection is therefore also closed on this host, and the
host's own answers that were already on their way are looked for and deleted. A UDP flow
the host keeps sending on by itself (the media of a call in progress) is opened again by
every packet it sends: it ends when the host stops (docs/design.md).
* ``after_apply``: what the module calls, with the host (``_host.Host``) and the owned
  rulesets before and after.

Forwarded flows (Docker-host mode, ``DOCKER-USER``) are not handled here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import time

from ansible_collections.pbxops.firewall.plugins.module_utils import _controller, _evaluate

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
    """TCP and UDP flows of ``conntrack -L -o extended`` (other protocols are skipped).

    A flow whose answers come from another address than the one it was sent to was
    destination-NATed (a published Docker port): it is forwarded, not this host's, and
    skipped.
    """
    flows = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 4 or words[0] not in FAMILY_OF or words[2] not in PROTOCOLS:
            continue
        original, reply = {}, {}
        for word in words:
            key, sep, value = word.partition('=')
            if sep:
                # the first of each key is the original direction, the second the reply
                (reply if key in original else original).setdefault(key, value)
        try:
            flow = Flow(words[0], words[2], str(ipaddress.ip_address(original['src'])),
                        str(ipaddress.ip_address(original['dst'])), int(original['sport']),
                        int(original['dport']))
            answered_by = str(ipaddress.ip_address(reply['src']))
        except (KeyError, ValueError):
            continue
        if answered_by == flow.destination:
            flows.append(flow)
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


class Judge(object):
    """Old and new verdicts of a flow's next packet, from two ruleset dicts.

    Each ruleset is parsed (``_evaluate.Evaluator``) when a flow first needs it: a host
    with no inbound flow but the controller's parses nothing. Verdicts are cached by
    (family, proto, source, destination, dport): on a busy PBX many flows share them.
    """

    def __init__(self, before, after, after_evaluator=None):
        self._rulesets = {'before': before, 'after': after}
        # the lockout check has parsed the new ruleset already: the module passes it on
        self._evaluators = {} if after_evaluator is None else {'after': after_evaluator}
        self._cache = {}

    def _target(self, side, flow):
        if side not in self._evaluators:
            self._evaluators[side] = _evaluate.Evaluator(self._rulesets[side])
        return self._evaluators[side].evaluate(flow.family, flow.source, flow.proto, flow.dport,
                                               destination=flow.destination).target

    def lost(self, flow):
        key = (flow.family, flow.proto, flow.source, flow.destination, flow.dport)
        if key not in self._cache:
            # the new side first: most applies deny nothing that was allowed
            self._cache[key] = (self._target('after', flow) in _evaluate.DENY
                                and self._target('before', flow) == _evaluate.ACCEPT)
        return self._cache[key]


def lost_access(flows, local, lost, keep=()):
    """Flows to this host that lost access (``lost(flow)`` is True), except those in ``keep``."""
    result = set()
    for flow in flows:
        if flow.destination not in local or flow.source in local or flow in keep:
            continue
        if lost(flow):
            result.add(flow)
    return sorted(result)


def delete_argv(flow):
    """``conntrack -D`` arguments for exactly this flow (its original tuple)."""
    return ['-D', '-f', flow.family, '-p', flow.proto, '-s', flow.source, '-d', flow.destination,
            '--sport', str(flow.sport), '--dport', str(flow.dport)]


def reply_of(flow):
    """The same flow as an entry the host itself opened (original tuple reversed)."""
    return Flow(flow.family, flow.proto, flow.destination, flow.source, flow.dport, flow.sport)


def close_argv(flow):
    """``ss -K`` arguments that close this host's socket of a TCP flow (kernel INET_DIAG_DESTROY)."""
    def host(address):
        return '[%s]' % address if ':' in address else address
    return ['-K', '-n', '-t', '-4' if flow.family == 'ipv4' else '-6',
            'src', host(flow.destination), 'sport', '=', ':%d' % flow.dport,
            'dst', host(flow.source), 'dport', '=', ':%d' % flow.sport]


NO_TOOL = ('the conntrack tool is not installed on the host: flows opened before this apply by '
           'addresses that lost access keep passing until they end; install conntrack to end them at once')
NO_SS = ('ss (iproute2) is not installed: TCP connections of addresses that lost access were only '
         'forgotten by conntrack and go on if this host sends on them next')
# after the deletion: how often, and how long after, to look for the host's own answers
# that opened the same flow again from its side (an answer already on its way)
REPLY_PASSES = 3
REPLY_WAIT = 0.1


class Flows(object):
    """conntrack and ss on the host through ``run(argv)`` -> (rc, stdout, stderr)."""

    def __init__(self, run, conntrack, ss=None):
        self.run = run
        self.conntrack = conntrack
        self.ss = ss
        self.warnings = []

    def listing(self, families=('ipv4', 'ipv6')):
        flows = []
        for family in families:
            rc, out, err = self.run([self.conntrack, '-L', '-f', family, '-o', 'extended'])
            if rc != 0:
                self.warnings.append('conntrack -L -f %s failed (%s): flows that lost access keep passing'
                                     % (family, err.strip() or rc))
                continue
            flows += parse_entries(out)
        return flows

    def delete(self, flows):
        for flow in flows:
            rc, _out, err = self.run([self.conntrack] + delete_argv(flow))
            # a flow that ended meanwhile is not an error
            if rc != 0 and '0 flow entries' not in err:
                self.warnings.append('conntrack could not delete %s: %s' % (flow.describe(), err.strip()))

    def close(self, flows):
        tcp = [f for f in flows if f.proto == 'tcp']
        if tcp and self.ss is None:
            self.warnings.append(NO_SS)
        for flow in tcp if self.ss else ():
            rc, _out, err = self.run([self.ss] + close_argv(flow))
            if rc != 0:
                self.warnings.append('ss -K could not close %s: %s' % (flow.describe(), err.strip()))


def end_lost_flows(run, tools, local, lost, keep=(), check_mode=False, wait=time.sleep,
                   families=('ipv4', 'ipv6')):
    """List, decide, end. Returns (flows that lost access, warnings).

    ``tools``: the paths of ``conntrack`` (None: nothing can be listed, one warning) and
    ``ss``. Ending a flow: a TCP connection's socket on this host is closed (``ss -K``
    sends the peer a reset), so the connection cannot go on when this host sends next; then
    its conntrack entry is deleted, so the next packet is judged as new by the new rules.
    An answer of this host already on its way when the entry went opens the same flow
    again from this side; those entries are looked for and deleted too. Check mode lists
    and decides but changes nothing.
    """
    if tools.get('conntrack') is None:
        return [], [NO_TOOL]
    flows = Flows(run, tools['conntrack'], tools.get('ss'))
    found = lost_access(flows.listing(families), local, lost, keep)
    if check_mode or not found:
        return found, flows.warnings
    flows.close(found)
    flows.delete(found)
    replies = set(reply_of(f) for f in found)
    for _pass in range(REPLY_PASSES):
        wait(REPLY_WAIT)
        again = sorted(set(flows.listing(sorted(set(f.family for f in found)))) & replies)
        if not again:
            break
        flows.delete(again)
    return found, flows.warnings


# flows listed in the module's result; the count says how many there were
FLOWS_SHOWN = 50


def after_apply(host, before, after, check_mode, after_evaluator=None, controller=None):
    """End the flows that lost access between two ruleset dicts. Returns (result entry, warnings).

    The controller's own SSH connection is kept, so the module's answer gets home whatever
    the new rules say. The entry is None when nothing could be listed. ``after_evaluator``
    (``after`` parsed) and ``controller`` (a ``_controller.find`` answer) spare the work
    when the lockout check has done it.
    """
    # a flow can lose access only in a family with owned rules before and after the apply
    # (no owned rules: no verdict of ours), e.g. never on a first apply: then nothing runs
    families = [family for family in ('ipv4', 'ipv6') if before.get(family) and after.get(family)]
    if not families:
        return dict(count=0, flows=[]), []
    if not host.tools['conntrack']:
        return None, [NO_TOOL]
    if not host.tools['ip']:
        return None, ["ip (iproute2) is not installed: this host's addresses are unknown, so flows of "
                      'addresses that lost access were not ended']
    rc, out, err = host.run([host.tools['ip'], '-o', 'addr', 'show'])
    if rc != 0:
        return None, ['ip -o addr show failed (%s): flows of addresses that lost access were not ended'
                      % (err.strip() or rc)]
    judge = Judge(before, after, after_evaluator)
    conn = (controller or _controller.find())[0]
    keep = () if conn is None else (Flow(conn.family, 'tcp', str(conn.client), str(conn.server),
                                         conn.client_port, conn.server_port),)
    flows, warnings = end_lost_flows(host.run, host.tools, parse_local_addresses(out), judge.lost, keep,
                                     check_mode, families=families)
    return dict(count=len(flows), flows=[f.describe() for f in flows[:FLOWS_SHOWN]]), warnings
