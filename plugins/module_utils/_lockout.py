# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lockout prevention before the apply (private to pbxops.firewall).

This file is private to the ``pbxops.firewall`` collection; its interface may change
without notice. It owns two judgements the ``iptables_ruleset`` module makes about a
desired ruleset before it touches anything on the host:

* the lockout check: a new TCP packet from the controller's address to the host's SSH
  port (the SSH connection the module runs under, see ``_controller``) is evaluated
  with the desired ruleset (``_evaluate``). ``DROP``/``REJECT`` refuses the apply,
  naming the address, the port, the deciding rule (its comment names the network) and
  the fix. A controller whose connection is local (``_controller``: a tunnel ending on
  the host, an SSH to one of its own addresses) arrives on ``lo``. When the answer
  depends on a rule the evaluator cannot decide (a custom rule's ``-m recent``, its own
  rate limit, an interface, a foreign target), the check is conservative: if any way
  that rule can go drops the controller, the apply is refused too, naming the rule. No SSH connection (connection ``local``) leaves nothing to check;
* the final-drop warning: a family whose chain ends by dropping everything and whose
  rules accept no new packet except loopback and the ICMPv6 types IPv6 needs (the
  policy has no network of that family) gets a warning, once per run.

Standard library only; no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pbxops.firewall.plugins.module_utils import _controller, _evaluate, _verdicts
from ansible_collections.pbxops.firewall.plugins.module_utils._reasons import FINAL_DROP_COMMENT

# ICMPv6 errors and neighbour/router discovery: accepting them opens nothing
ICMPV6_INFRASTRUCTURE = frozenset((1, 2, 3, 4, 133, 134, 135, 136, 137))
FAMILY_LABEL = {'ipv4': 'IPv4', 'ipv6': 'IPv6'}
OFF_SWITCH = 'pbx_firewall_lockout_check: false (module option lockout_check: false)'


class Assessment(object):
    """The result of ``assess``: a refusal message or None, what was checked, warnings.

    Also what it built on the way, for the module's later steps: the desired ruleset's
    ``evaluator``, and ``controller``, the ``_controller.find`` answer (conn, note) when the
    check looked for the connection (None when it did not).
    """

    def __init__(self):
        self.refusal = None
        self.warnings = []
        self.report = {'checked': False}
        self.evaluator = None
        self.controller = None


def _rule_text(rule):
    if rule is None:
        return 'the end of the owned chains'
    if rule.comment == FINAL_DROP_COMMENT:
        return 'the final drop, because no network allows it (rule "%s", %s)' % (rule.comment, rule.label)
    if rule.comment:
        return 'rule "%s" (%s: %s)' % (rule.comment, rule.label, rule.line)
    return 'rule %s: %s' % (rule.label, rule.line)


def _fix(conn):
    port_hint = ''
    if conn.server_port != 22:
        port_hint = (' (sshd listens on port %d here: the ssh service must cover it, e.g. '
                     'pbx_firewall_ports: {ssh: %d})' % (conn.server_port, conn.server_port))
    return ('Fix: add a network that allows ssh from %s, e.g. {name: Controller, subnet: %s, '
            'services: [ssh]} in pbx_firewall_networks%s; or, if the controller reaches the host '
            'some other way, set %s (the rollback stays armed).'
            % (conn.client, conn.client, port_hint, OFF_SWITCH))


def _set_members(evaluator, rule, address):
    """[(member, set name, source)]: the members of the deciding rule's ipsets that hold
    ``address`` (the longest one of each set)."""
    found = []
    for name in rule.set_names if rule is not None and evaluator is not None else ():
        ipset = evaluator.ipsets.get(name)
        member = ipset.lookup(address) if ipset is not None else None
        if member is not None and not member[1]:
            found.append((member[0], name, ipset.source))
    return found


def _set_text(members):
    return ' and '.join('the entry %s of the ipset %s%s' % (member, name, ' (%s)' % source if source else '')
                        for member, name, source in members)


def _set_fix(conn, members):
    """The fix for a controller that a set's member drops (the blocklist, a blocked country)."""
    return ('Fix: take %s out of where the set\'s members come from, or put %s in a never_block network '
            '(trunks and never_block networks are exempt from the blocklist and from blocked countries), '
            'e.g. {name: Controller, subnet: %s, services: [ssh], never_block: true}.'
            % (' and '.join(member for member, _n, _s in members), conn.client, conn.client))


def refusal(conn, verdict, evaluator=None):
    """The message that refuses an apply, or None when the controller keeps its access."""
    possible = set(verdict.possible) | {verdict.target}
    if not possible & set(_verdicts.DENY + (_verdicts.UNKNOWN,)):
        return None
    where = ('a new tcp packet from the controller %s (its SSH connection as this host sees it) '
             'to port %d' % (conn.client, conn.server_port))
    if verdict.target in _verdicts.DENY:
        members = _set_members(evaluator, verdict.rule, verdict.packet.source)
        if members:
            return ('Refusing to apply: the new ruleset would lock the controller out: %s gets %s from %s: '
                    'its address is in %s. Nothing was changed on the host. %s'
                    % (where, verdict.target, _rule_text(verdict.rule), _set_text(members),
                       _set_fix(conn, members)))
        return ('Refusing to apply: the new ruleset would lock the controller out: %s gets %s from %s. '
                'Nothing was changed on the host. %s'
                % (where, verdict.target, _rule_text(verdict.rule), _fix(conn)))
    rules = '; '.join('%s [cannot evaluate: %s]' % (_rule_text(r), ', '.join(r.uncertain) or 'its target')
                      for r in verdict.uncertain)
    outcomes = ' or '.join(_outcome(t) for t in verdict.possible)
    return ('Refusing to apply: cannot tell whether the new ruleset keeps the controller in: %s gets %s '
            'depending on %s. The lockout check is conservative: an apply that may cut the controller off '
            'is refused. Nothing was changed on the host. %s' % (where, outcomes, rules, _fix(conn)))


def _outcome(target):
    if target is None:
        return 'no verdict of the owned chains (the INPUT chain decides)'
    if target == _verdicts.UNKNOWN:
        return 'an unknown verdict'
    return target


def _opens(rule):
    """Whether an accepting rule lets some new packet from outside in."""
    if rule.in_interface == 'lo':
        return False
    if rule.states is not None and 'NEW' not in rule.states:
        return False
    if rule.family == 'ipv6' and rule.icmp_type in ICMPV6_INFRASTRUCTURE:
        return False
    return True


def final_drop_warnings(evaluator):
    """One warning per family that drops every new packet (it has no network of its own)."""
    warnings = []
    for family in _evaluate.FAMILIES:
        entry = evaluator.entry.get('INPUT')
        chain = evaluator.chains[family].get(entry)
        if not chain:
            continue
        last = chain[-1]
        if last.tests or last.target not in _verdicts.DENY:
            continue
        rules = evaluator.rules(family)
        # a jump into an owned chain (the SIP guards) opens nothing itself; its rules are counted
        closed = _verdicts.DENY + ('RETURN', '') + tuple(evaluator.chains[family])
        if any(_opens(r) for r in rules if r.target not in closed):
            continue
        label = FAMILY_LABEL[family]
        fix = 'add an %s network' % label
        if family == 'ipv6':
            fix += ' or set pbx_firewall_ipv6: false'
        warnings.append('all new %s traffic will be dropped: the ruleset accepts no new %s packet except '
                        'loopback%s (the policy has no %s network of its own); %s'
                        % (label, label, ' and the ICMPv6 types IPv6 needs' if family == 'ipv6' else '',
                           label, fix))
    return warnings


def assess(ruleset, lockout_check=True, environ=None, proc='/proc', pid=None):
    """Judge a validated ruleset before anything changes. Returns an Assessment."""
    result = Assessment()
    evaluator = result.evaluator = _evaluate.Evaluator(ruleset)
    result.warnings = final_drop_warnings(evaluator)
    if not lockout_check:
        result.report = {'checked': False, 'note': 'lockout_check is false'}
        return result
    result.controller = _controller.find(environ=environ, proc=proc, pid=pid)
    conn, note = result.controller
    if conn is None:
        result.report = {'checked': False, 'note': note}
        return result
    verdict = evaluator.evaluate(conn.family, conn.client, 'tcp', conn.server_port, destination=conn.server,
                                 local=conn.local)
    result.report = dict(conn.as_dict(), checked=True, note=note, verdict=verdict.as_dict())
    result.refusal = refusal(conn, verdict, evaluator)
    return result
