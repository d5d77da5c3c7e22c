# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Expected verdicts for the verify playbook (private to pbxops.firewall).

This file is private to the ``pbxops.firewall`` collection; its interface may change
without notice. It owns one question: for a PBX's compiled ruleset (what the
``firewall_ruleset`` filter gives for that host's variables, i.e. what ``rollout``
applies) and the source address the PBX sees a probe on, is each port of each service
expected open or closed, and which rule decides? The answer comes from the same
evaluator the lockout check uses (``module_utils/_evaluate.py``) walking the very
rules the host runs; nothing here re-implements the policy semantics.

A rule the evaluator cannot decide (a ``pbx_firewall_custom_rules`` line with
``-m recent``, an interface, a foreign target ...) that could change the outcome makes
the expectation ``unknown``, naming that rule: verify reports it and never guesses.

Pure Python, no Ansible imports; bad input raises ``ValueError``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.pbxops.firewall.plugins.module_utils import _evaluate
from ansible_collections.pbxops.firewall.plugins.module_utils import _verdicts
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy

OPEN = 'open'
CLOSED = 'closed'
UNKNOWN = 'unknown'
DEFAULT_RANGE_SAMPLES = 3

# The probe each (port name, protocol) gets (playbooks/files/pbx_firewall_probe.py):
# SIP and IAX2 servers answer a request; other UDP ports (RTP ...) need not answer.
PROBE_KINDS = {('sip', 'udp'): 'sip', ('iax', 'udp'): 'iax'}


def family_of(address):
    """'10.0.0.1' -> 'ipv4'; '2001:db8::1' -> 'ipv6'. ValueError for anything else."""
    try:
        version = ipaddress.ip_address(str(address)).version
    except ValueError:
        raise ValueError('%r is not an IP address' % (address,))
    return 'ipv4' if version == 4 else 'ipv6'


def sample_ports(low, high, samples=DEFAULT_RANGE_SAMPLES):
    """A bounded sample of a port range: both ends and evenly spaced ports between."""
    if samples < 1:
        raise ValueError('range samples must be at least 1, got %r' % (samples,))
    if high - low + 1 <= samples:
        return list(range(low, high + 1))
    if samples == 1:
        return [low]
    step = (high - low) / float(samples - 1)
    return sorted({int(round(low + i * step)) for i in range(samples)})


def service_probes(ports=None, custom_services=None, range_samples=DEFAULT_RANGE_SAMPLES):
    """Every port of every service of a PBX's policy, as probes.

    ``ports`` / ``custom_services`` are the host's ``pbx_firewall_ports`` and
    ``pbx_firewall_custom_services`` (validated by the compiler). Returns a sorted list of
    dicts ``{service, proto, port, port_name, kind}``; ``port`` is None for ICMP; a port
    range contributes ``range_samples`` ports (both ends and between).
    """
    policy = _policy.load_policy([], ports=ports, custom_services=custom_services)
    probes = []
    for service in sorted(policy.services):
        for proto, key in policy.services[service]:
            if key is None:
                probes.append({'service': service, 'proto': proto, 'port': None,
                               'port_name': proto, 'kind': 'icmp'})
                continue
            low, high = policy.ports[key]
            name = key.split('#')[0]
            for port in sample_ports(low, high, range_samples):
                probes.append({'service': service, 'proto': proto, 'port': port, 'port_name': name,
                               'kind': PROBE_KINDS.get((name, proto), proto)})
    probes.sort(key=lambda p: (p['service'], p['proto'], p['port'] or 0))
    return probes


def _rule_text(rule):
    return None if rule is None else (rule.comment or rule.line)


class Expectations(object):
    """The expected verdicts of one PBX's ruleset, for any source address."""

    def __init__(self, ruleset):
        self.ruleset = ruleset
        self.evaluator = _evaluate.Evaluator(ruleset)
        self.managed = {family: bool(ruleset.get(family)) for family in ('ipv4', 'ipv6')}

    def expect(self, source, proto, port=None):
        """What a new packet from ``source`` to (``proto``, ``port``) should get.

        Returns a dict: ``expected`` (open, closed or unknown), ``decided_by`` (the
        deciding rule's comment, which names the network, or its line), ``rule`` (the
        rule line), ``reason`` (one sentence).
        """
        family = family_of(source)
        if not self.managed[family]:
            return {'expected': UNKNOWN, 'decided_by': None, 'rule': None,
                    'reason': 'the collection manages no %s rules on this PBX (pbx_firewall_ipv6: false?): '
                              'nothing to compare with' % family}
        verdict = self.evaluator.evaluate(family, source, proto, port)
        rule = verdict.rule
        result = {'decided_by': _rule_text(rule), 'rule': None if rule is None else rule.line}
        if verdict.target == _verdicts.ACCEPT:
            result.update(expected=OPEN, reason='accepted by %s' % _rule_text(rule))
        elif verdict.target in _verdicts.DENY:
            result.update(expected=CLOSED, reason='%s by %s' % (
                'dropped' if verdict.target == _verdicts.DROP else 'rejected', _rule_text(rule)))
        elif verdict.target is None:
            result.update(expected=OPEN, decided_by='no owned rule',
                          reason='no rule of the owned chain decides (no network is defined: '
                                 'nothing is dropped); INPUT and its policy decide')
        else:
            uncertain = [_rule_text(r) for r in verdict.uncertain] or ['a rule the evaluator cannot read']
            result.update(expected=UNKNOWN, decided_by='custom rule',
                          reason='depends on %s, which cannot be evaluated without the live packet '
                                 '(not guessed)' % '; '.join(repr(u) for u in uncertain))
        return result


def expected_verdicts(ruleset, probes, source):
    """For ``source``, the expectation of each probe of ``service_probes``: a list of dicts
    (the probe's keys plus ``expected``, ``decided_by``, ``rule``, ``reason``), in order."""
    expectations = Expectations(ruleset)
    result = []
    for probe in probes:
        row = dict(probe)
        row.update(expectations.expect(source, probe['proto'], probe['port']))
        result.append(row)
    return result
