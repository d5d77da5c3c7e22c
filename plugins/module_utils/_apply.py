# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Plan execution, recovery and verification for pbxops.firewall (private to this collection).

Carries out a plan (``_netfilter.Plan``) on the host through the one executor of
``_steps.py``: the invisible preparation (new ipsets, ``iptables-restore --test`` of every
family) that is undone when it fails, the visible commit, the immediate recovery to the
previous owned state when the commit fails, and the check that the kernel stored every rule
the way it was given. Failures name the rejected line and where it came from.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf
from ansible_collections.pbxops.firewall.plugins.module_utils import _steps


class ApplyError(Exception):
    """A step of the apply failed after something may have changed on the host."""


def explain(step, result):
    """The failure message of one step: the rejected input line when the step carries one."""
    detail = step.get('explain')
    if detail:
        return nf.explain_restore_error(detail['tool'], result['stderr'], detail['lines'], detail['origins'])
    if step['kind'] == 'run':
        return '%s failed (rc=%d): %s' % (' '.join(step['argv']), result['rc'], (result['stderr'] or '').strip())
    return 'could not %s %s: %s' % (step['kind'], step['path'], result['stderr'])


def run_steps(host, steps):
    """Execute ``steps`` with the host's runner. Raises ApplyError on a checked failure;
    returns the warnings of unchecked steps that failed and carry a ``warn`` text."""
    results = _steps.execute(steps, host.run)
    step, result = _steps.failed(results, steps)
    if step is not None:
        raise ApplyError(explain(step, result))
    return ['%s: %s' % (s['warn'], (r['stderr'] or '').strip())
            for s, r in zip(steps, results) if r['rc'] != 0 and s.get('warn')]


def prepare(host, plan):
    """Create the new ipsets and --test every family. An error message (after removing the
    sets it created) or None."""
    try:
        run_steps(host, plan.prepare_steps(host.tools))
    except ApplyError as exc:
        _steps.execute(plan.cleanup_steps(host.tools), host.run)
        return '%s; nothing was applied' % exc
    return None


def recover(host, previous, file_revert, rollback=None):
    """Put the previous owned state (and files) back right away after a failed commit."""
    if rollback is not None:
        rollback.disarm()
    try:
        tables = {}
        for family in host.saves:
            table = host.read_family(family, required=False)
            if table is not None:
                tables[family] = table
        plan = nf.compute_plan(tables, host.read_sets(required=False), previous)
        run_steps(host, plan.steps(host.tools) + list(file_revert))
    except (ApplyError, ValueError) as exc:
        return 'restoring the previous state failed too: %s' % exc
    return 'the previous owned state was restored'


def verify(host, plan):
    """Warn about rules the kernel stores differently from the way they were given."""
    warnings = []
    for family, fplan in plan.families.items():
        if not fplan.changed:
            continue
        live = host.read_family(family, required=False)
        if live is None:
            continue
        have = live.owned_chains()
        for chain, rules in fplan.after.owned_chains().items():
            got = have.get(chain, [])
            for index, rule in enumerate(rules):
                stored = got[index] if index < len(got) else None
                if stored != rule:
                    warnings.append('%s: %s rule %d is stored as %r, not as given (%r); write it the way '
                                    'iptables-save prints it, or every run reports a change'
                                    % (family, chain, index + 1, stored, rule))
                    break
    return warnings
