# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What ``host_firewall: auto`` changes in firewalld, and how it is undone (private to pbxops.firewall).

From what the host's firewalld has (``probe.read_firewalld``) and what the policy needs,
this file plans, as step records of ``_steps.py``:

* the files: the owned policy object (``firewalld.POLICY_PATH``), the owned block of
  ``direct.xml`` (only while firewalld flushes iptables on reload), and the record of the
  runtime pass in ``/run/pbx-firewall/`` (see ``firewalld.py``); each write carries the
  file's previous state, so the rollback and ``--diff`` work as for the boot files;
* the runtime commands (``firewall-cmd``, never ``--reload``: that would wipe fail2ban's
  and Docker's iptables rules on firewalld 1.x): once firewalld has loaded the owned
  policy it is updated at runtime; before that, the pass goes into every active zone and
  the default zone, runtime only, and is taken back exactly when no longer needed.

Opening steps run after our chains are in place, closing steps before they go, so no
packet our chains would drop passes firewalld unchecked during an apply.

Standard library only; no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.pbxops.firewall.plugins.module_utils import _steps
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import firewalld as fwd

RUN_RECORD = '/run/pbx-firewall/firewalld-runtime.json'
ABSENT = {'content': None, 'mode': None, 'target': None}
KINDS = (('ports', 'port'), ('protocols', 'protocol'), ('icmp', 'rich-rule'))
# the runtime pass in a zone goes before the zone's own icmp-blocks (rich rule priority)
ZONE_RICH_PRIORITY = -1


class Plan(object):
    """File operations, runtime steps (opening and closing) and their diff lines."""

    def __init__(self):
        self.files = []          # _steps.write/remove with ``before``
        self.opening = []        # runtime steps to run after our chains are in place
        self.closing = []        # runtime steps to run before our chains go
        self.revert = []         # runtime steps that undo opening + closing (rollback)
        self.before = []         # --diff lines
        self.after = []

    @property
    def changed(self):
        return bool(self.files or self.opening or self.closing)


def _entries(passes, kind):
    values = getattr(passes, kind)
    if kind == 'icmp':
        return [tuple(v) for v in values]
    return list(values)


def _flag(kind, value, verb, priority):
    option = dict(KINDS)[kind]
    if kind == 'icmp':
        head = 'rule ' if priority is None else 'rule priority="%d" ' % priority
        value = '%sfamily="%s" icmp-type name="%s" accept' % (head, value[0], value[1])
    return '--%s-%s=%s' % (verb, option, value)


def _commands(cmd, target, verb, passes, priority=None):
    """firewall-cmd calls that add or remove ``passes`` at runtime (one call per kind:
    firewall-cmd takes several values of one option, never two options)."""
    steps = []
    for kind, _option in KINDS:
        values = _entries(passes, kind)
        if values:
            steps.append(_steps.command([cmd, target] + [_flag(kind, v, verb, priority) for v in values]))
    return steps


def _minus(one, other):
    """PassList of what ``one`` has and ``other`` has not."""
    return fwd.PassList([p for p in one.ports if p not in other.ports],
                        [p for p in one.protocols if p not in other.protocols],
                        [i for i in one.icmp if i not in other.icmp])


def _union(one, other):
    return fwd.PassList(one.ports + other.ports, one.protocols + other.protocols, one.icmp + other.icmp)


def _from_record(entry):
    entry = entry or {}
    return fwd.PassList(entry.get('ports', []), entry.get('protocols', []),
                        [tuple(i) for i in entry.get('icmp', [])])


def _to_record(passes):
    return {'ports': passes.ports, 'protocols': passes.protocols, 'icmp': [list(i) for i in passes.icmp]}


def _file_op(path, content, before, mode=0o644):
    """A write (or, with ``content`` None, a remove) of ``path`` when it differs; [] otherwise."""
    before = before or dict(ABSENT)
    if content is None:
        return [_steps.remove(path, before=before)] if before != ABSENT else []
    if before == dict(ABSENT, content=content, mode=mode):
        return []
    return [_steps.write(path, content, mode, before=before)]


def plan(facts, passes, entries, present, use_direct):
    """The Plan for firewalld ``facts`` (probe.read_firewalld with ``files``).

    ``passes``: the PassList the policy needs; ``entries``: the direct entries of our chains;
    ``present``: False removes everything owned; ``use_direct``: keep the owned direct block.
    """
    result = Plan()
    files = facts.get('files') or {}
    # 1. the owned policy object
    policy_text = fwd.render_policy(passes) if present else None
    result.files += _file_op(fwd.POLICY_PATH, policy_text, files.get(fwd.POLICY_PATH))
    # 2. the owned block of direct.xml
    direct_before = files.get(fwd.DIRECT_PATH) or dict(ABSENT)
    direct_text = fwd.merge_direct(direct_before['content'], entries if present and use_direct else [])
    result.files += _file_op(fwd.DIRECT_PATH, direct_text, direct_before, direct_before['mode'] or 0o644)
    owned_before = fwd.owned_in(direct_before['content'])
    owned_after = entries if present and use_direct else []
    result.before.append('firewalld policy %s: %s' % (fwd.POLICY_NAME, _policy_line(files.get(fwd.POLICY_PATH))))
    result.after.append('firewalld policy %s: %s' % (fwd.POLICY_NAME, passes.describe() if present else 'absent'))
    result.before.append('firewalld direct.xml, owned block: %s' % (
        fwd.describe_entries(owned_before) if owned_before else 'none'))
    result.after.append('firewalld direct.xml, owned block: %s' % (
        fwd.describe_entries(owned_after) if owned_after else 'none'))
    # 3. runtime
    if facts.get('running'):
        _runtime(result, facts, passes, present)
    return result


def _policy_line(before):
    if not before or before.get('content') is None:
        return 'absent'
    return 'present (%s)' % fwd.POLICY_PATH


def _runtime(result, facts, passes, present):
    cmd = facts['cmd']
    policy = facts.get('policies', {}).get(fwd.POLICY_NAME)
    record = facts.get('record') or {}
    new_record = {}
    target = '--policy=%s' % fwd.POLICY_NAME
    if policy is not None:
        # firewalld has loaded the owned policy: keep it in step at runtime (and when the
        # policy goes, take its zones too, so firewalld drops its chains until its next reload)
        have = fwd.listed_passes(policy)
        want = passes if present else fwd.PassList()
        add, remove = _minus(want, have), _minus(have, want)
        steps = _commands(cmd, target, 'add', add) + _commands(cmd, target, 'remove', remove)
        revert = _commands(cmd, target, 'remove', add) + _commands(cmd, target, 'add', remove)
        for option, zone in (('ingress-zone', 'ANY'), ('egress-zone', 'HOST')):
            key = option + 's'
            has = zone in fwd.words(policy, key)
            if present and not has:
                steps.append(_steps.command([cmd, target, '--add-%s=%s' % (option, zone)]))
                revert.append(_steps.command([cmd, target, '--remove-%s=%s' % (option, zone)]))
            elif not present and has:
                steps.append(_steps.command([cmd, target, '--remove-%s=%s' % (option, zone)]))
                revert.append(_steps.command([cmd, target, '--add-%s=%s' % (option, zone)]))
        if present:
            result.opening += steps
        else:
            result.closing += steps
        result.revert += revert
        result.before.append('firewalld runtime policy %s: %s' % (fwd.POLICY_NAME, have.describe()))
        result.after.append('firewalld runtime policy %s: %s' % (fwd.POLICY_NAME, want.describe()))
    record_before = (facts.get('files') or {}).get(RUN_RECORD)
    if policy is not None:
        # firewalld loads the owned policy only at a reload or start, which also dropped every
        # runtime pass in its zones: the record is stale; it goes with everything else at removal
        if not present:
            result.files += _file_op(RUN_RECORD, None, record_before)
        return
    zones = facts.get('zones', {})
    arrival = [z for z, entry in zones.items() if entry['flags'] & set(['active', 'default'])]
    for zone in sorted(set(arrival) | set(record)):
        ours = _from_record(record.get(zone))
        have = fwd.listed_passes(zones[zone]) if zone in zones else fwd.PassList()
        ours = fwd.PassList(*[[v for v in _entries(ours, k) if v in _entries(have, k)] for k, _o in KINDS])
        want = passes if present and zone in arrival else fwd.PassList()
        add = _minus(want, have)
        remove = _minus(ours, want)
        target = '--zone=%s' % zone
        result.opening += _commands(cmd, target, 'add', add, ZONE_RICH_PRIORITY)
        result.closing += _commands(cmd, target, 'remove', remove, ZONE_RICH_PRIORITY)
        result.revert += (_commands(cmd, target, 'remove', add, ZONE_RICH_PRIORITY)
                          + _commands(cmd, target, 'add', remove, ZONE_RICH_PRIORITY))
        kept = _union(_minus(ours, remove), add)
        if not kept.empty():
            new_record[zone] = _to_record(kept)
        if not (ours.empty() and kept.empty()):
            result.before.append('firewalld runtime pass, zone %s: %s' % (zone, ours.describe()))
            result.after.append('firewalld runtime pass, zone %s: %s' % (zone, kept.describe()))
    record_text = json.dumps(new_record, sort_keys=True) + '\n' if new_record else None
    result.files += _file_op(RUN_RECORD, record_text, record_before)
