# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Flows that lost access with an apply: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns one
part of "a block takes effect at once" (docs/design.md): after an apply, which flows to
this host lost access, and ending them, while every other flow stays. Which verdict a new
packet gets is the evaluator's question (``_evaluate``); the conntrack table is read and
changed over ctnetlink (``_ctnetlink``):

* ``View``: the filter tables and ipsets on one side of the apply (before, or as planned
  after), and the two rulesets the evaluator walks for it: the owned chains alone, and
  the whole ``INPUT`` chain with every chain it reaches and its policy;
* ``Judge``: a flow *lost access* when a new packet of its original direction was accepted
  by ``INPUT`` before the apply and is certainly dropped or rejected after it. Only a flow
  whose verdict of the owned chains changed is looked at further; then the whole ``INPUT``
  chain decides, so a rule of the administrator before the jump to the owned chains that
  still accepts the flow keeps it. When a rule the evaluator cannot decide (an interface,
  ``-m recent``, a foreign set it cannot read) decides, the flow is *undecided*: it is not
  ended, and the result says so;
* ``classify``: the inbound TCP/UDP flows (original destination one of this host's
  addresses, source not) that lost access and the undecided ones, judging each distinct
  (family, protocol, source, destination, port) once, except the flows the caller keeps
  (the controller's own SSH connection, so the module's answer still gets home);
* ``end``: TCP sockets of those flows are closed on this host (``ss -K``, one filter for
  many connections), then their conntrack entries deleted (batched over one netlink
  socket), then the host's own answers that were on their way are deleted too;
* ``after_apply``: what the module calls, with its own deadline (``DEADLINE``): what was
  left when it runs out is named in a warning.

Why more than deleting the entry: netfilter accepts the packets of a flow this host opened
as answers (RELATED,ESTABLISHED). Once the entry is gone, whoever sends first opens the
flow anew: the address, and the new rules drop it; or this host, and the address's
packets pass as answers. A TCP connection is therefore also closed on this host, and the
host's answers that were already on their way are deleted (their entries are the flows'
original tuples reversed). A UDP flow the host keeps sending on by itself (the media of a
call in progress) is opened again by every packet it sends: it ends when the host stops
(docs/design.md).

Forwarded flows (Docker-host mode, ``DOCKER-USER``) are not handled here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os
import time

from ansible_collections.pbxops.firewall.plugins.module_utils import _controller, _ctnetlink, _evaluate, _verdicts
from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf

Flow = _ctnetlink.Flow

# seconds the whole step may take (reading the table, judging, ending): the rollback
# window of the apply starts after it (the module holds the watcher meanwhile)
DEADLINE = 60
# after the deletion: how often, and how long after, to delete the host's own answers
# that opened the same flow again from its side (an answer already on its way)
REPLY_PASSES = 2
REPLY_WAIT = 0.2
# TCP connections per ss -K filter
SS_BATCH = 100
# flows listed in the module's result and in warnings; the counts say how many there were
FLOWS_SHOWN = 50
SOURCES_SHOWN = 5
LOST, KEPT, UNDECIDED = 'lost', 'kept', 'undecided'
HOOK = 'INPUT'


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


# ------------------------------------------------------------------------------------------
# what the rules say
# ------------------------------------------------------------------------------------------

def _set_spec(ipset):
    """An ipset as the evaluator reads it (hash:net/hash:ip members, nomatch kept; options such
    as fail2ban's ``timeout`` dropped), or None when it holds other kinds of members."""
    if ipset.type not in nf.IPSET_TYPES or ipset.family not in nf.IPSET_FAMILIES:
        return None
    entries = []
    for entry in ipset.entries:
        words = entry.split()
        entries.append(words[0] + (' nomatch' if 'nomatch' in words[1:] else ''))
    spec = {'name': ipset.name, 'family': ipset.family, 'entries': entries}
    try:
        _evaluate.IpSet(spec)
    except ValueError:
        return None
    return spec


class View(object):
    """The filter state on one side of an apply: {family: nf.Table} and every ipset {name: nf.IpSet}."""

    def __init__(self, tables, sets):
        self.tables = tables
        self.sets = sets

    @classmethod
    def planned(cls, tables, sets, plan):
        """The state once ``plan`` is applied: its tables, the foreign sets and the owned sets it leaves."""
        after = dict((name, ipset) for name, ipset in sets.items() if not nf.is_owned_ipset(name))
        after.update(plan.after_sets)
        return cls(nf.after_state(tables, plan), after)

    def owned(self):
        """The owned chains as a ruleset dict (docs/ruleset-format.md)."""
        return nf.live_ruleset(self.tables, self.sets)

    def whole_input(self):
        """Every chain of each family's filter table as one ruleset whose entry is ``INPUT``
        itself; an empty chain gets an explicit RETURN (the evaluator knows chains by their
        rules). The ipsets the evaluator can read come along; rules using others are uncertain."""
        ruleset = {'jumps': [{'chain': HOOK, 'target': HOOK}], 'ipsets': []}
        for family in nf.FAMILIES:
            table = self.tables.get(family)
            lines = []
            for chain in table.chains if table else ():
                lines += table.rules[chain] or ['-A %s -j RETURN' % chain]
            ruleset[family] = lines
        for ipset in self.sets.values():
            spec = _set_spec(ipset)
            if spec is not None:
                ruleset['ipsets'].append(spec)
        return ruleset

    def policy(self, family):
        table = self.tables.get(family)
        return table.chains.get(HOOK, 'ACCEPT') if table else 'ACCEPT'


class Judgement(object):
    """What the rules say about one (family, proto, source, destination, port): ``outcome``
    (LOST, KEPT or UNDECIDED) and, for UNDECIDED, ``why`` (rule descriptions)."""

    __slots__ = ('outcome', 'why')

    def __init__(self, outcome, why=()):
        self.outcome = outcome
        self.why = tuple(why)


def _targets(verdict, policy=None):
    """(target, every possible target) of a verdict; ``policy`` stands for "no verdict" when given."""
    def final(target):
        return policy if target is None and policy is not None else target
    return final(verdict.target), set(final(t) for t in verdict.possible) | {final(verdict.target)}


class Judge(object):
    """Verdicts of a flow's next packet before and after an apply, from two Views.

    The owned chains are judged first (cheap, and most flows stop there: nothing changed for
    them); the whole INPUT chain only for a flow the owned chains accepted before and do not
    certainly accept after. Each ruleset is parsed (``_evaluate.Evaluator``) when a flow first
    needs it, and verdicts are cached by (family, proto, source, destination, port): on a busy
    PBX many flows share them.
    """

    def __init__(self, before, after, after_owned=None):
        self.views = {'before': before, 'after': after}
        self.evaluators = {}
        if after_owned is not None:     # the lockout check has parsed the new owned chains already
            self.evaluators[('after', 'owned')] = after_owned
        self.cache = {}

    def _evaluator(self, side, scope):
        key = (side, scope)
        if key not in self.evaluators:
            view = self.views[side]
            try:
                self.evaluators[key] = _evaluate.Evaluator(view.owned() if scope == 'owned' else view.whole_input())
            except ValueError as exc:
                self.evaluators[key] = exc
        return self.evaluators[key]

    def _verdict(self, side, scope, key):
        """(Verdict, None), or (None, why) when that ruleset could not be parsed."""
        evaluator = self._evaluator(side, scope)
        if isinstance(evaluator, ValueError):
            what = 'owned chains' if scope == 'owned' else 'INPUT chain'
            return None, 'the %s %s could not be read: %s' % (side, what, evaluator)
        family, proto, source, destination, port = key
        return evaluator.evaluate(family, source, proto, port, destination=destination, hook=HOOK), None

    def judge(self, flow):
        key = (flow.family, flow.proto, flow.source, flow.destination, flow.dport)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = self._judge(key)
        return found

    def _judge(self, key):
        owned = []
        for side in ('before', 'after'):
            verdict, error = self._verdict(side, 'owned', key)
            if verdict is None:
                return Judgement(UNDECIDED, [error])
            owned.append(_targets(verdict))
        if _verdicts.ACCEPT not in owned[0][1] or owned[1][0] == _verdicts.ACCEPT:
            return Judgement(KEPT)      # the owned chains changed nothing this flow had
        verdicts, why = [], []
        for side in ('before', 'after'):
            verdict, error = self._verdict(side, 'whole', key)
            if verdict is None:
                return Judgement(UNDECIDED, [error])
            verdicts.append(_targets(verdict, self.views[side].policy(key[0])))
            why += ['%s [cannot evaluate: %s]' % (rule.line, ', '.join(rule.uncertain) or 'its target')
                    for rule in verdict.uncertain]
        (before, could_before), (after, could_after) = verdicts
        if before == _verdicts.ACCEPT and after in _verdicts.DENY:
            return Judgement(LOST)
        if (_verdicts.UNKNOWN in (before, after) and _verdicts.ACCEPT in could_before
                and could_after & set(_verdicts.DENY + (_verdicts.UNKNOWN,))):
            return Judgement(UNDECIDED, sorted(set(why)))
        return Judgement(KEPT)


# ------------------------------------------------------------------------------------------
# which flows, and ending them
# ------------------------------------------------------------------------------------------

class Deadline(object):
    """``expired()`` once ``seconds`` have passed since it was made."""

    clock = staticmethod(getattr(time, 'monotonic', time.time))

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = self.clock() + seconds

    def expired(self):
        return self.clock() >= self.end


class Classified(object):
    """``lost`` and ``undecided`` flows (sorted), ``why`` the undecided ones were (rule
    descriptions) and ``unjudged``: flows not looked at before the deadline."""

    def __init__(self):
        self.lost = []
        self.undecided = []
        self.why = set()
        self.unjudged = []


def classify(flows, local, judge, keep=(), deadline=None):
    """Sort the inbound flows to this host (not from it, not in ``keep``) by ``judge(flow)``."""
    result = Classified()
    for index, flow in enumerate(flows):
        if index % 4096 == 0 and deadline is not None and deadline.expired():
            result.unjudged = [f for f in flows[index:] if f.destination in local and f.source not in local]
            break
        if flow.destination not in local or flow.source in local or flow in keep:
            continue
        judgement = judge(flow)
        if judgement.outcome == LOST:
            result.lost.append(flow)
        elif judgement.outcome == UNDECIDED:
            result.undecided.append(flow)
            result.why.update(judgement.why)
    result.lost.sort()
    result.undecided.sort()
    return result


def _connection(flow):
    """(server address, port, client address, client port): a TCP flow as ss -K is told about it.

    Exact to the client's port: another connection from the same client (the controller's
    own SSH session, which is kept) must not match."""
    return flow.destination, flow.dport, flow.source, flow.sport


def close_filter(connections):
    """An ``ss`` filter that matches this host's sockets of the given connections (``_connection``).

    Without a family option ss looks at IPv6 sockets too, where an IPv4 client of a
    dual-stack listener appears as ``::ffff:a.b.c.d``: the kernel matches it with the
    IPv4 address.
    """
    def host(address):
        return '[%s]' % address if ':' in address else address
    return ' or '.join('( src %s and sport = :%d and dst %s and dport = :%d )'
                       % (host(server), port, host(client), client_port)
                       for server, port, client, client_port in connections)


class Ender(object):
    """Ends flows: ``ss -K`` through ``run(argv) -> (rc, stdout, stderr)``, the conntrack table
    through a ``_ctnetlink.Table``. ``warnings`` collects what went wrong."""

    def __init__(self, table, run, ss, deadline, wait=time.sleep):
        self.table = table
        self.run = run
        self.ss = ss
        self.deadline = deadline
        self.wait = wait
        self.warnings = []

    def close(self, flows):
        """Close the TCP sockets of ``flows``; returns the flows not reached before the deadline."""
        tcp = [f for f in flows if f.proto == 'tcp']
        if tcp and self.ss is None:
            self.warnings.append(NO_SS)
            return []
        connections = sorted(set(_connection(f) for f in tcp))
        for start in range(0, len(connections), SS_BATCH):
            if self.deadline.expired():
                left = set(connections[start:])
                return [f for f in tcp if _connection(f) in left]
            part = connections[start:start + SS_BATCH]
            rc, _out, err = self.run([self.ss, '-K', '-n', '-t', close_filter(part)])
            if rc != 0:
                self.warnings.append('ss -K could not close the TCP connections from %s: %s'
                                     % (', '.join(sorted(set(client for _s, _p, client, _c in part))),
                                        err.strip() or 'rc=%d' % rc))
        return []

    def delete(self, flows):
        """Delete the entries of ``flows``; returns the flows not reached before the deadline."""
        done, failed = self.table.delete(flows, stop=self.deadline.expired)
        for code, which in sorted(failed.items()):
            self.warnings.append('could not delete the conntrack entries of %d flows (%s): %s'
                                 % (len(which), os.strerror(code), _sources(which)))
        return flows[done:]

    def chase_answers(self, flows):
        """Delete the host's answers to ``flows`` that opened them again from its side."""
        answers = [f.reverse() for f in flows]
        for _pass in range(REPLY_PASSES if answers else 0):
            self.wait(REPLY_WAIT)
            if self.deadline.expired():
                return
            self.table.delete(answers, stop=self.deadline.expired)


def _sources(flows):
    """'10.0.0.5 (udp/5060: 2000), ...': who, what and how many, the busiest sources first."""
    counts = {}
    for flow in flows:
        what = counts.setdefault(flow.source, {})
        service = '%s/%d' % (flow.proto, flow.dport)
        what[service] = what.get(service, 0) + 1
    busiest = sorted(counts.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    text = ', '.join('%s (%s)' % (source, ', '.join('%s: %d' % s for s in sorted(services.items())))
                     for source, services in busiest[:SOURCES_SHOWN])
    if len(busiest) > SOURCES_SHOWN:
        text += ' and %d more addresses' % (len(busiest) - SOURCES_SHOWN)
    return text


NO_SS = ('ss (iproute2) is not installed: TCP connections of addresses that lost access were only '
         'forgotten by conntrack and go on if this host sends on them next')


def end_lost_flows(table, run, ss, local, judge, families, keep=(), check_mode=False, deadline=None,
                   wait=time.sleep):
    """Read, judge, end. Returns (Classified, flows left when the deadline ran out, warnings).

    Check mode reads and judges but changes nothing.
    """
    deadline = deadline or Deadline(DEADLINE)
    warnings = []
    flows, answered = [], set()
    for family in families:
        dump = table.dump(family, stop=deadline.expired)
        flows += dump.flows
        answered |= dump.answered
        if not dump.complete:
            warnings.append('the %s conntrack table was not read to its end within %d s (%d entries read): '
                            'flows of addresses that lost access may be left'
                            % (family, deadline.seconds, len(dump.flows)))
    found = classify(flows, local, judge, keep, deadline)
    if check_mode or not found.lost:
        return found, found.unjudged, warnings
    ender = Ender(table, run, ss, deadline, wait)
    unclosed = ender.close(found.lost)
    left = set(ender.delete(found.lost))
    # the host answers UDP requests; a closed TCP socket sends nothing more
    ender.chase_answers([f for f in found.lost if f.proto == 'udp' and f in answered and f not in left])
    return found, sorted(left | set(unclosed)) + found.unjudged, warnings + ender.warnings


def after_apply(host, before, after, check_mode, after_owned=None, controller=None, deadline=None,
                table_factory=_ctnetlink.Table):
    """End the flows that lost access between two Views. Returns (result entry, warnings).

    The result entry is ``{count, flows, undecided, left}`` (``flows``: the first
    FLOWS_SHOWN ended, or in check mode that would be ended), or None when nothing could
    be read. The controller's own SSH connection is kept, so the module's answer gets home
    whatever the new rules say. ``after_owned`` (the new owned chains parsed) and
    ``controller`` (a ``_controller.find`` answer) spare the work when the lockout check
    has done it.
    """
    # a flow can lose access only in a family with owned rules before and after the apply
    # (no owned rules: no verdict of ours), e.g. never on a first apply: then nothing runs
    owned = before.owned(), after.owned()
    families = [family for family in nf.FAMILIES if owned[0].get(family) and owned[1].get(family)]
    if not families:
        return dict(count=0, flows=[], undecided=0, left=0), []
    if not host.tools['ip']:
        return None, ["ip (iproute2) is not installed: this host's addresses are unknown, so flows of "
                      'addresses that lost access were not ended']
    rc, out, err = host.run([host.tools['ip'], '-o', 'addr', 'show'])
    if rc != 0:
        return None, ['ip -o addr show failed (%s): flows of addresses that lost access were not ended'
                      % (err.strip() or rc)]
    conn = (controller or _controller.find())[0]
    keep = () if conn is None else (Flow(conn.family, 'tcp', str(conn.client), str(conn.server),
                                         conn.client_port, conn.server_port),)
    judge = Judge(before, after, after_owned)
    deadline = deadline or Deadline(DEADLINE)
    try:
        with table_factory() as table:
            found, left, warnings = end_lost_flows(table, host.run, host.tools['ss'], parse_local_addresses(out),
                                                   judge.judge, families, keep, check_mode, deadline)
    except (OSError, IOError) as exc:
        return None, ['the conntrack table could not be read or changed (%s): flows of addresses that lost '
                      'access keep passing until they end' % exc]
    if found.undecided:
        warnings.append('%d flows that may have lost access were left alone, because whether INPUT still accepts '
                        'them depends on rules the module cannot evaluate: %s. Flows: %s'
                        % (len(found.undecided), '; '.join(sorted(found.why)[:3]), _sources(found.undecided)))
    if left:
        warnings.append('ending the flows of addresses that lost access stopped at its deadline (%d s): %d flows '
                        'were left as they are: %s. They end when idle; to end them now: conntrack -D -s ADDRESS'
                        % (deadline.seconds, len(left), _sources(left)))
    return dict(count=len(found.lost), flows=[f.describe() for f in found.lost[:FLOWS_SHOWN]],
                undecided=len(found.undecided), left=len(left)), warnings
