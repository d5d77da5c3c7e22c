#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: iptables_ruleset
short_description: Atomically apply the iptables chains, jump and ipsets pbxops.firewall owns
version_added: 0.1.0
description:
  - Puts a ruleset on a host, either the output of the P(pbxops.firewall.firewall_ruleset#filter)
    filter or rules written by hand in C(iptables-save) syntax (see C(docs/ruleset-format.md)).
  - The module owns only the C(filter) table chains C(PBX-FIREWALL) and C(PBX-FW-*), the
    ipsets named C(pbxfw-*) and the jump into an owned chain from each hook chain (C(INPUT),
    and C(DOCKER-USER) in Docker-host mode). A rule of any other chain whose target is an
    owned chain counts as such a jump. Nothing else is flushed, reordered or rewritten;
    fail2ban's C(f2b-*) chains, Docker's chains and the administrator's own rules stay
    byte-identical.
  - The jump sits right after the last rule of its hook chain that jumps to a fail2ban
    C(f2b-*) chain, or first when there is none. A jump that already sits after every
    fail2ban jump is not moved; duplicates are removed.
  - "The apply is atomic per address family: new ipsets are created first (nothing uses them
    yet), every family's transaction is checked with C(iptables-restore --test), then sets
    that keep their name get their new members by C(ipset swap), one
    C(iptables-restore -w --noflush) transaction per family switches the rules, and sets no
    longer used are destroyed. A rule that C(--test) rejects fails the task with the tool's
    message and the offending line; nothing is applied."
  - Runs on one host are serialized with a lock on C(/run/pbx-firewall.lock) around
    read, plan and apply, and C(-w) waits for the xtables lock, so concurrent runs all end
    in their desired state. Check mode creates no file; it takes the lock only when the
    lock file already exists.
  - Rules are compared with what C(iptables-save) prints, in order. Write hand-made rules
    exactly as C(iptables-save) prints them (for example C(-p tcp -m tcp --dport 22),
    C(-s 10.0.0.1/32)); the module warns when the kernel stores a rule differently from the
    way it was given, since such a rule is reported as changed on every run.
  - "Rollback: when O(rollback_timeout) is above 0 and something changes, the host arms a
    detached watcher before the apply (where systemd runs, in a transient scope of its own, so
    that logind's C(KillUserProcesses=yes) does not end it with the SSH session). The action
    plugin of the same name then opens a new connection to the host and confirms the apply.
    Without a confirmation within O(rollback_timeout) seconds of the module's end (ending flows
    does not count) the host restores the previous owned rules, jumps and ipsets by itself, and
    the task fails with C(rolled_back=true)."
  - "With a rollback, the persistence files are written by the confirmation, so they only ever
    hold confirmed rules: a reboot before it boots the previous ones. Without one
    (O(rollback_timeout=0)) they are written right after the rules."
  - "Runs on one host are serialized beyond the lock: an apply waits until the rollback window of
    another run in the same network namespace is closed (confirmed or rolled back), and a
    watcher never reverts a state a later apply made. A window whose watcher is gone (the
    marker outlived its deadline) is not waited for, with a warning."
  - "A block takes effect at once: after an apply that changed the rules, inbound TCP and UDP
    flows whose next new packet the host's C(INPUT) chain accepted before and certainly drops
    or rejects now are ended: TCP sockets closed with C(ss -K) (also IPv4 clients of dual-stack
    sockets), conntrack entries deleted over netlink, many per system call. The whole
    C(INPUT) chain is judged, so a rule of the administrator before the jump that still accepts
    a flow keeps it. Flows of addresses that keep access, forwarded flows (Docker-host mode) and
    the controller's own SSH connection are left alone; so is a flow whose fate depends on a
    rule the module cannot evaluate (an interface, C(-m recent), an unknown ipset), counted in
    C(flows_ended.undecided) with a warning naming the rule. The step has its own deadline of
    60 seconds; flows left when it runs out are named in a warning. Check mode lists the flows
    and changes nothing."
options:
  ruleset:
    description:
      - The ruleset, as documented in C(docs/ruleset-format.md) and returned by the
        P(pbxops.firewall.firewall_ruleset#filter) filter.
      - C(ipv4) and C(ipv6) are lists of rule lines of the owned chains, each starting with
        C(-A PBX-FIREWALL ) or C(-A PBX-FW-<NAME> ). An empty or missing list leaves no owned
        chain in that family.
      - C(ipsets) is a list of sets with C(name) (C(pbxfw-) prefix, at most 31 characters),
        C(family) (C(inet) or C(inet6)), C(maxelem), C(entries) (members as C(ipset save)
        prints them, exceptions with C( nomatch); a list, or one string with a member per line)
        and optionally C(type) (C(hash:net), the default, or C(hash:ip)), C(hashsize) (the
        initial hash size, a power of two) and C(source) (where the members come from, shown by
        C(--diff)).
      - "C(jumps) is a list of dicts with C(chain) and C(target); it defaults to
        C([{chain: INPUT, target: PBX-FIREWALL}])."
      - Required when O(state=present).
    type: dict
  state:
    description:
      - V(present) makes the owned chains, jumps and ipsets exactly what O(ruleset) says.
      - V(absent) removes the owned chains, jumps and ipsets and the persistence files,
        unit and drop-in, and nothing else.
    type: str
    choices: [present, absent]
    default: present
  rollback_timeout:
    description:
      - Seconds within which the controller must reach the host again over a new connection
        after a change; otherwise the host restores the previous owned state by itself.
      - V(0) turns the rollback off.
      - Needs the action plugin (always used when the task calls this module by name).
    type: int
    default: 30
  persist:
    description:
      - Write the files that restore the owned state at boot (O(persist_dir)) and a systemd
        unit C(pbx-firewall.service) in O(unit_dir), enabled for C(multi-user.target) by
        creating the C(.wants) symlink directly (works without a running systemd).
      - The unit runs before C(network-pre.target) and C(fail2ban.service) and after
        C(netfilter-persistent.service), so a whole-table restore done by
        netfilter-persistent cannot wipe the owned chains.
      - When a jump hooks C(DOCKER-USER) (Docker-host mode), also a C(docker.service) drop-in
        C(docker.service.d/pbx-firewall.conf) in O(unit_dir) that runs the restore script again
        once dockerd has started, because dockerd recreates C(DOCKER-USER) and so drops the jump.
        It is removed when no jump hooks C(DOCKER-USER).
      - With a rollback (O(rollback_timeout) above 0) the files are written, or removed, when the
        controller confirms the apply; a rolled back apply leaves them as they were.
      - V(false) neither writes nor removes persistence files.
      - Ignored with O(state=absent), which always removes them.
    type: bool
    default: true
  persist_dir:
    description:
      - Directory of the persistence files C(rules.v4), C(rules.v6), C(ipsets) and the
        executable POSIX shell script C(restore).
    type: path
    default: /etc/pbx-firewall
  unit_dir:
    description:
      - Directory of the systemd unit C(pbx-firewall.service), of
        C(multi-user.target.wants/) and of C(docker.service.d/).
      - C(systemctl daemon-reload) runs after a unit change only when systemd is running.
    type: path
    default: /etc/systemd/system
  backend:
    description:
      - Which iptables backend to manage.
      - V(auto) uses the one C(iptables --version) reports, unless only the other backend
        holds rules (for example fail2ban configured for C(iptables-legacy) on an
        nf_tables host).
    type: str
    choices: [auto, nft, legacy]
    default: auto
  host_firewall:
    description:
      - What to do when the host also runs another firewall manager (firewalld, ufw, nftables.service,
        netfilter-persistent). The module reads them before anything changes, in check mode too, and
        returns what it found as RV(host_firewall).
      - V(auto) makes the policy hold next to them where that is safe and can be undone, and refuses
        (before any change) where it is not. firewalld (nftables backend) gets an owned policy object
        C(pbx-firewall) that lets through what the policy accepts, and, while firewalld flushes every
        iptables table on reload, start and stop (firewalld before 2.0, or with direct rules), an owned
        block in C(/etc/firewalld/direct.xml) with the owned chains, so firewalld puts them back itself.
        Until firewalld next loads its configuration the same ports are added at runtime to its active
        zones and default zone. ufw coexists (the owned jump comes first); C(MANAGE_BUILTINS=yes), or
        C(IPV6=no) with IPv6 rules, is refused. A native nftables input chain that drops what the policy
        accepts is refused. See the collection README, "Living with firewalld, ufw and nftables".
      - V(refuse) refuses whenever another manager is active (running or enabled).
      - V(ignore) changes nothing in other managers and only warns; anything the collection added to
        firewalld earlier is removed.
      - With O(state=absent) nothing is refused and whatever the collection added to firewalld is removed.
    type: str
    choices: [auto, refuse, ignore]
    default: auto
  sets_only:
    description:
      - Change only the members of the owned ipsets the host already has under the names O(ruleset)
        gives (swapped in place, atomically), and nothing else. The owned rules, jumps and other sets
        stay as they are on the host, also when O(ruleset) differs there (a warning says so). A set
        the host does not have yet is not created (a warning names it).
      - For refreshing blocklists and countries from a schedule (the role's C(pbx_firewall_sets) tag);
        their sets keep their names when their members change.
      - The lockout check judges the rules on the host with the new members; the rollback and the
        boot files work as for a full apply.
      - Ignored with O(state=absent).
    type: bool
    default: false
  lockout_check:
    description:
      - Before anything changes on the host (in check mode too), evaluate the desired ruleset for a
        new TCP packet from the controller to the host's SSH port, as the host sees them (the
        C(SSH_CONNECTION) of the session the module runs under; with C(become), of its ancestor
        processes). When the packet would be dropped or rejected, the task fails and names the
        controller's address, the port and the deciding rule, whose comment names the network.
      - When a rule the check cannot evaluate (a custom match such as C(-m recent), an interface,
        a foreign target) decides whether the controller gets in, the apply is refused too.
      - Without an SSH connection through the host's network namespace (connection C(local), a
        container connection) there is nothing to check.
      - When the deciding rule matches the controller's address in an ipset (the blocklist, a blocked
        country), the message names the set's member that holds it and where the members come from.
        The controller's own connection is not exempt from the blocklist by itself; put its address
        in a C(never_block) network.
      - V(false) turns the check off; the rollback (O(rollback_timeout)) still protects the host.
    type: bool
    default: true
  owned_files:
    description:
      - The options C(files), C(parts), C(enabled) and C(asterisk) of the role's
        P(pbxops.firewall.owned_files#module) task. The module reads (in check mode too, after the
        firewall) whether those files, their C(#include) lines and C(local_net) blocks already hold
        what that task would leave, and returns it in RV(owned_files); when they do, the role's files
        task runs no module on the host. Set by the role's action plugins; its interface may change.
      - Omitted, nothing is read.
    type: dict
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads the live state only and predicts C(changed) exactly.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Shows the owned chains, jumps and ipset members of each family before and after.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
requirements:
  - iptables (C(iptables-save), C(iptables-restore)) of the chosen backend on the host
  - ip6tables when the ruleset has IPv6 rules
  - ipset when the ruleset has ipsets
  - python3 on the host (also runs the detached rollback watcher and the confirmation)
  - iproute2 (C(ip), C(ss)) on the host to end the flows of addresses that lost access
notes:
  - With O(state=present) and an empty C(ipv6) list, IPv6 is left alone except that owned
    IPv6 chains and jumps are removed; without ip6tables on the host only IPv4 is managed.
    IPv6 rules without ip6tables on the host fail the task.
  - "A hook chain named in C(jumps) that does not exist in a family's filter table (C(DOCKER-USER)
    before Docker starts, or in IPv6 when Docker does not manage ip6tables) gets no jump there, with
    a warning; the next run adds it once the chain exists. The restore script skips such a chain at
    boot the same way."
seealso:
  - plugin: pbxops.firewall.firewall_ruleset
    plugin_type: filter
    description: Compiles the inventory into the ruleset this module applies.
  - plugin: pbxops.firewall.fail2ban_ignoreip
    plugin_type: filter
  - plugin: pbxops.firewall.asterisk_localnet
    plugin_type: filter
  - plugin: pbxops.firewall.select_networks
    plugin_type: filter
  - name: Ruleset format
    description: The data contract between the compiler and this module.
    link: https://github.com/pbxops/firewall/blob/main/docs/ruleset-format.md
author:
  - pbxops.firewall contributors (@pbxops)
'''

EXAMPLES = r'''
- name: Apply the compiled PBX firewall with a 30 s rollback
  pbxops.firewall.iptables_ruleset:
    ruleset: "{{ pbx_firewall_networks | pbxops.firewall.firewall_ruleset(ports=pbx_firewall_ports,
                 trunks=pbx_firewall_trunks) }}"
    state: present
    rollback_timeout: 30
    persist: true

- name: Hand-written rules in iptables-save syntax, with an ipset
  pbxops.firewall.iptables_ruleset:
    ruleset:
      ipv4:
        - -A PBX-FIREWALL -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        - -A PBX-FIREWALL -p tcp -m tcp --dport 22 -m set --match-set pbxfw-admins src -j ACCEPT
        - -A PBX-FIREWALL -p tcp -m tcp --dport 22 -j DROP
      ipsets:
        - name: pbxfw-admins
          family: inet
          maxelem: 65536
          entries:
            - 10.0.0.0/8
            - 10.66.0.0/16 nomatch
            - 192.0.2.10

- name: Preview the change on every host
  pbxops.firewall.iptables_ruleset:
    ruleset: "{{ ruleset }}"
  check_mode: true
  diff: true

- name: Remove everything the collection owns (chains, jump, ipsets, boot files)
  pbxops.firewall.iptables_ruleset:
    state: absent

- name: Manage the legacy backend explicitly, no boot persistence
  pbxops.firewall.iptables_ruleset:
    ruleset: "{{ ruleset }}"
    backend: legacy
    persist: false
'''

RETURN = r'''
changed:
  description: Whether the owned state (or a persistence file) differed from the desired one.
  returned: always
  type: bool
  sample: true
backend:
  description: The iptables backend that was managed.
  returned: success
  type: str
  sample: nft
rules:
  description: Number of rules in the owned chains of each family, as requested.
  returned: success
  type: dict
  contains:
    ipv4:
      description: IPv4 rules.
      type: int
      returned: success
      sample: 14
    ipv6:
      description: IPv6 rules.
      type: int
      returned: success
      sample: 15
ipsets:
  description: Number of owned ipsets requested.
  returned: success
  type: int
  sample: 2
flows_ended:
  description:
    - The inbound flows of addresses that lost access with this apply, which were ended (in
      check mode, would be ended). C(count), and C(flows), the first 50 as
      C(proto source:port -> destination:port) (IPv6 addresses in brackets).
    - C(undecided), flows that may have lost access but were left alone because a rule the
      module cannot evaluate decides (a warning names it); C(left), flows the step did not
      get to before its deadline (a warning names them).
    - Null when the conntrack table could not be read (a warning says why).
  returned: when the owned rules changed, with O(state=present)
  type: dict
  sample: {count: 1, flows: ['udp 203.0.113.9:5071 -> 10.0.0.2:5060'], undecided: 0, left: 0}
owned_files:
  description:
    - With O(owned_files), whether the role's owned files already hold what its files task would leave
      (C(current)); when they do, also what that task would report (C(parts), C(warnings)). The action
      plugin adds C(digest), the digest of the options it was computed for.
  returned: when O(owned_files) is given and the module succeeds
  type: dict
  sample: {current: true, parts: {fail2ban: {managed: true, changed: false, files: {}, reload: true}}, warnings: []}
host_firewall:
  description:
    - "The other firewall managers found on the host and what O(host_firewall) does about them:
      C(mode), C(summary) (one line, which the action plugin prints as C(<host>: <summary>)), and per
      manager C(firewalld) (C(installed), C(running), C(enabled), C(version), C(backend), C(zones) the
      traffic arrives in, C(direct_rules) of the administrator, C(reload_flushes_iptables), C(policy)),
      C(ufw) (C(installed), C(active), C(manage_builtins), C(ipv6), C(rules)), C(nftables)
      (C(service_enabled), C(conf_flushes), C(native_tables), C(input_chains)), C(netfilter_persistent)
      (C(installed), C(enabled), C(files), C(hold_owned_chains)) and C(docker) (C(running))."
  returned: always, unless the module failed before reading the host
  type: dict
  sample:
    mode: auto
    summary: "host firewall (auto): firewalld 1.3.3 running (nftables backend; zones public): owned policy
      pbx-firewall lets through 7 ports, 1 ICMP type, owned direct rules put the chains back after its reloads"
    firewalld: {installed: true, running: true, version: 1.3.3, backend: nftables, zones: [public]}
lockout_check:
  description:
    - What the lockout check found, see O(lockout_check). C(checked), C(note), and when it ran
      C(address), C(port), C(family), C(server_address), C(found_in) and C(verdict) (C(target),
      C(rule), C(comment), C(uncertain)).
  returned: with O(state=present)
  type: dict
  sample: {checked: true, address: 192.0.2.10, port: 22, family: ipv4, verdict: {target: ACCEPT}}
rolled_back:
  description:
    - Whether the host restored the previous owned state because the apply could not be
      confirmed over a new connection within O(rollback_timeout) (the task then fails). An
      unconfirmed apply that another apply has replaced since is not rolled back (false; the
      task fails and says so).
  returned: always
  type: bool
  sample: false
rollback_token:
  description:
    - Identifier of this run's rollback markers in C(/run/pbx-firewall/) on the host
      (C(pending-<token>) until confirmed, C(confirmed-<token>) after the confirmation,
      C(rolled-back-<token>) after a rollback).
  returned: when a rollback was armed (something changed and O(rollback_timeout) is above 0)
  type: str
  sample: 4f1c2a9e0b7d6c5a3e2f1d0c
rollback_verified:
  description:
    - With O(rollback_timeout), whether the controller saw the host's rollback report once it
      could reach the host again.
  returned: when rolled_back is true
  type: bool
  sample: true
rollback_report:
  description:
    - Path on the host of the JSON report the rollback watcher wrote (revert steps and their
      results; C(superseded-<token>) when a later apply had replaced the unconfirmed one).
  returned: when the apply was not confirmed in time
  type: str
  sample: /run/pbx-firewall/rolled-back-4f1c2a9e0b7d6c5a3e2f1d0c
diff:
  description:
    - The owned chains and jumps of each family and the owned ipsets with their members,
      before and after; shown by C(--diff).
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: Owned state before.
      type: str
      returned: when diff mode is on
    after:
      description: Owned state after.
      type: str
      returned: when diff mode is on
    before_header:
      description: Header of the before side.
      type: str
      returned: when diff mode is on
    after_header:
      description: Header of the after side.
      type: str
      returned: when diff mode is on
'''

import functools
import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pbxops.firewall.plugins.module_utils import _apply
from ansible_collections.pbxops.firewall.plugins.module_utils import _asterisk
from ansible_collections.pbxops.firewall.plugins.module_utils import _conntrack
from ansible_collections.pbxops.firewall.plugins.module_utils import _counters
from ansible_collections.pbxops.firewall.plugins.module_utils import _lockout
from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf
from ansible_collections.pbxops.firewall.plugins.module_utils import _owned_files
from ansible_collections.pbxops.firewall.plugins.module_utils import _persist as persist
from ansible_collections.pbxops.firewall.plugins.module_utils import _rollback
from ansible_collections.pbxops.firewall.plugins.module_utils import _steps
from ansible_collections.pbxops.firewall.plugins.module_utils._host import Host
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import assess as hostfw
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw.probe import Probe
from ansible_collections.pbxops.firewall.plugins.module_utils._lock import LOCK_PATH, Lock, LockTimeout

# seconds the rollback watcher waits beyond the flows step's own deadline (its last batch)
HOLD_MARGIN = 10


class _Module(AnsibleModule):
    """AnsibleModule that takes the action plugin's internal arguments (names starting with
    ``_rollback.INTERNAL_PREFIX``) out of the parameters before the documented ones are
    validated; they are in ``self.internal``."""

    def _load_params(self):
        super(_Module, self)._load_params()
        self.internal = dict((k, self.params.pop(k)) for k in list(self.params)
                             if k.startswith(_rollback.INTERNAL_PREFIX))

    def _log_invocation(self):
        """Log the invocation with each ipset's members counted, not listed: ten countries' sets
        are 7 MB of members, a third of a second of syslog per run."""
        ruleset = self.params.get('ruleset')
        if isinstance(ruleset, dict) and isinstance(ruleset.get('ipsets'), list):
            self.params['ruleset'] = dict(ruleset, ipsets=[_members_counted(s) for s in ruleset['ipsets']])
        try:
            super(_Module, self)._log_invocation()
        finally:
            self.params['ruleset'] = ruleset


def _members_counted(spec):
    """An ipset of the ruleset as the invocation log shows it: its members replaced by their number."""
    entries = spec.get('entries') if isinstance(spec, dict) else None
    if isinstance(entries, str):        # a member per line; the last line may lack its newline
        count = entries.count('\n') + (1 if entries and not entries.endswith('\n') else 0)
    elif isinstance(entries, list):
        count = len(entries)
    else:
        return spec
    return dict(spec, entries='(%d members, not logged)' % count)


def check_params(module, params):
    if params['rollback_timeout'] < 0:
        module.fail_json(msg='rollback_timeout must be 0 (off) or a number of seconds, got %d'
                         % params['rollback_timeout'])
    unknown = sorted(set(module.internal) - {_rollback.TOKEN_ARG})
    if unknown:
        module.fail_json(msg='unknown internal argument %s (set only by the action plugin)' % unknown[0])
    token = module.internal.get(_rollback.TOKEN_ARG)
    if token is not None and not _rollback.TOKEN_RE.match(token):
        module.fail_json(msg='the rollback token must be 1-64 letters, digits, _ or -')
    for option in ('persist_dir', 'unit_dir'):
        if not os.path.isabs(params[option]) or re.search(r'\s', params[option]):
            module.fail_json(msg='%s must be an absolute path without white space, got %r' % (option, params[option]))


def arm_rollback(module, host, tables, plan, previous, other_revert):
    """(Rollback or None, revert steps, warnings) for this apply; ValueError when no revert can be planned.
    ``other_revert``: the steps that take back what host_firewall opens or closes at runtime."""
    timeout = module.params['rollback_timeout']
    token = module.internal.get(_rollback.TOKEN_ARG)
    if timeout <= 0:
        return None, None, []
    if token is None:
        return None, None, ['rollback_timeout is set but the module ran without its action plugin '
                            '(no rollback token); applying without rollback']
    revert = nf.compute_plan(nf.after_state(tables, plan), plan.after_sets, previous)
    launch = _rollback.launcher(token, module.get_bin_path('systemd-run'), os.path.isdir('/run/systemd/system'))
    return (_rollback.Rollback(token, timeout, LOCK_PATH, lambda argv: module.run_command(argv, cwd='/'),
                               launch=launch),
            _steps.portable(revert.steps(host.tools) + other_revert), [])


def apply(module, host, tables, sets, plan, files, result, other):
    """Test, arm the rollback, commit, verify. Returns (Rollback or None, warnings); fails the module on error.

    With a rollback the boot files are written by the controller's confirmation (boot files
    only ever hold confirmed rules); without one, right after the rules. ``other``: the
    firewalld plan of host_firewall (or None): what it closes runs before the commit, what it
    opens after; its files (firewalld's permanent configuration, which its next reload or boot
    loads) go with the boot files.
    """
    if (plan.ipset_create or plan.ipset_swap or plan.ipset_destroy) and not host.tools['ipset']:
        module.fail_json(msg='ipset binary not found on the host; install ipset', **result)
    paths = persist.Paths(module.params['persist_dir'], module.params['unit_dir'])
    previous = nf.desired_from_live(tables, sets)
    other_files = other.files if other else []
    # the runtime steps an undo takes besides the rules: host_firewall's, and the counters' record
    # (an undone apply inserts again the rules it removed, whose counts start again)
    other_revert = (other.revert if other else []) + (
        [_counters.revert_step(module.get_bin_path('sh') or '/bin/sh')] if plan.changed else [])
    persist_steps = persist.apply_steps(files, paths, module.get_bin_path) + other_files
    file_revert = persist.revert_steps(files + other_files, module.get_bin_path)
    try:
        rollback, revert, warnings = arm_rollback(module, host, tables, plan, previous, other_revert)
    except ValueError as exc:
        module.fail_json(msg='cannot plan the rollback (%s); nothing was applied. Set rollback_timeout: 0 '
                             'to apply without rollback' % exc, **result)

    error = _apply.prepare(host, plan)
    if error:
        module.fail_json(msg=error, **result)
    closing, opening = (other.closing, other.opening) if other else ([], [])
    commit, written = plan.commit_steps(host.tools), other_revert
    try:
        if rollback is None:
            commit, written = commit + persist_steps, file_revert + other_revert
            _rollback.mark_current(_rollback.new_token())
        else:
            rollback.arm(revert, _steps.portable(persist_steps), _steps.portable(file_revert))
            warnings += rollback.warnings
            _rollback.mark_current(rollback.token)
    except (RuntimeError, OSError, IOError) as exc:
        if rollback is not None:
            rollback.disarm()
        _steps.execute(plan.cleanup_steps(host.tools), host.run)
        module.fail_json(msg='%s; nothing was applied' % exc, **result)
    try:
        warnings += _apply.run_steps(host, closing + commit + opening)
    except _apply.ApplyError as exc:
        module.fail_json(msg='%s; %s' % (exc, _apply.recover(host, previous, written, rollback)), **result)
    warnings += _apply.verify(host, plan)
    if plan.changed:
        warnings += _counters.record(host.backend, tables, plan, time.time())
    return rollback, warnings


def host_lock(module):
    """The host lock; an apply also waits until no other run's rollback window is open (``_rollback.quiet_lock``)."""
    return _rollback.quiet_lock(functools.partial(Lock, create=not module.check_mode),
                                module.internal.get(_rollback.TOKEN_ARG), wait=not module.check_mode)


def owned_diff(host, tables, sets, plan, files, other):
    families = [f for f in nf.FAMILIES if f in tables]
    before = nf.render_owned(tables, sets, families, other_sets=plan.after_sets, side='removed')
    after = nf.render_owned(nf.after_state(tables, plan), plan.after_sets, families, other_sets=sets, side='added')
    file_before, file_after = persist.diff(files)
    if other is not None and other.changed:
        file_before += '# other firewall managers\n' + ''.join(line + '\n' for line in other.before)
        file_after += '# other firewall managers\n' + ''.join(line + '\n' for line in other.after)
    return dict(before=before + file_before, after=after + file_after,
                before_header='owned netfilter state (%s backend) before' % host.backend,
                after_header='owned netfilter state (%s backend) after' % host.backend)


def judge_lockout(module, ruleset):
    """The lockout check of ``ruleset`` (see _lockout.assess); fails the module on a refusal."""
    try:
        lockout = _lockout.assess(ruleset, module.params['lockout_check'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    for warning in lockout.warnings:
        module.warn(warning)
    if lockout.refusal:
        module.fail_json(msg=lockout.refusal, changed=False, lockout_check=lockout.report)
    return lockout


def owned_files_current(module, spec):
    """``_owned_files.current`` of the role's files task (its options in SPEC): read only; any
    doubt (a bad option, an Asterisk CLI error) is ``current: False``, so that task decides."""
    asterisk = spec.get('asterisk') or {}

    def probe():
        return _asterisk.probe_chan_sip(module.run_command, module.get_bin_path('asterisk'),
                                        asterisk.get('config_dir') or _asterisk.CONFIG_DIR)
    try:
        return _owned_files.current(spec, probe)
    except _asterisk.AsteriskError:
        return {'current': False}


def main():
    module = _Module(
        argument_spec=dict(
            ruleset=dict(type='dict'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            rollback_timeout=dict(type='int', default=30),
            persist=dict(type='bool', default=True),
            persist_dir=dict(type='path', default='/etc/pbx-firewall'),
            unit_dir=dict(type='path', default='/etc/systemd/system'),
            backend=dict(type='str', choices=['auto', 'nft', 'legacy'], default='auto'),
            sets_only=dict(type='bool', default=False),
            lockout_check=dict(type='bool', default=True),
            host_firewall=dict(type='str', choices=list(hostfw.MODES), default='auto'),
            owned_files=dict(type='dict'),
        ),
        required_if=[('state', 'present', ('ruleset',))],
        supports_check_mode=True,
    )
    params = module.params
    check_params(module, params)
    desired = nf.Desired()
    lockout = None
    sets_only = params['sets_only'] and params['state'] == 'present'
    if params['state'] == 'present':
        try:
            # the members once the host's sets are read: only those the host lacks are checked
            desired = nf.validate_ruleset(params['ruleset'], members=False)
        except ValueError as exc:
            module.fail_json(msg=str(exc))
        if not sets_only:
            # before the host is touched (no lock, no file), in check mode too
            lockout = judge_lockout(module, params['ruleset'])

    host = Host(module, params['backend'])
    want_v6 = bool(desired.families['ipv6'].chains)
    if want_v6 and 'ipv6' not in host.saves:
        module.fail_json(msg='the ruleset has %d IPv6 rules but ip6tables-restore/-save for the %s backend were not '
                             'found on the host; install ip6tables or leave ruleset.ipv6 empty'
                         % (desired.families['ipv6'].rule_count(), host.backend))
    result = dict(changed=False, backend=host.backend, rules={f: desired.families[f].rule_count() for f in nf.FAMILIES},
                  ipsets=len(desired.ipsets), rolled_back=False)
    warnings = []
    if lockout is not None:
        result['lockout_check'] = lockout.report
    ruleset = params['ruleset']
    try:
        with host_lock(module) as quiet:
            warnings += quiet.warnings()
            tables = host.read_tables(want_v6)
            sets = host.read_sets(required=bool(desired.ipsets))
            try:
                nf.check_members(desired, sets)
            except ValueError as exc:
                module.fail_json(msg=str(exc), **result)
            if sets_only:
                # the rules as the host has them, with the new members: judged before any change
                desired, more = nf.sets_only(tables, sets, desired)
                host.warnings.extend(more)
                ruleset = nf.live_ruleset(tables, desired.ipsets)
                lockout = judge_lockout(module, ruleset)
                result.update(lockout_check=lockout.report, ipsets=len(desired.ipsets),
                              rules={f: desired.families[f].rule_count() for f in nf.FAMILIES})
            try:
                plan = nf.compute_plan(tables, sets, desired)
            except ValueError as exc:
                module.fail_json(msg=str(exc), **result)
            host.warnings.extend(plan.warnings)
            # the host's other firewall managers: read (check mode too) and judged before any change
            other = hostfw.assess(Probe(module.run_command, module.get_bin_path).gather(), params['host_firewall'],
                                  params['state'], desired, ruleset, host.backend, host.default_backend,
                                  tables)
            result['host_firewall'] = other.report
            if other.refusal:
                module.fail_json(msg=other.refusal, **result)
            host.warnings.extend(other.warnings)
            files = persist.file_ops(params['state'], params['persist'],
                                     persist.Paths(params['persist_dir'], params['unit_dir']), desired, host.tools)
            result['changed'] = plan.changed or bool(files) or other.changed
            if module._diff:
                result['diff'] = owned_diff(host, tables, sets, plan, files, other.firewalld)
            rollback = None
            if result['changed'] and not module.check_mode:
                rollback, more = apply(module, host, tables, sets, plan, files, result, other.firewalld)
                warnings += more
            if plan.changed and params['state'] == 'present':
                # after the commit (check mode: what would end); removing the rules ends nothing.
                # It has its own deadline and holds the watcher: the rollback window starts after it.
                if rollback is not None:
                    rollback.hold(_conntrack.DEADLINE + HOLD_MARGIN)
                result['flows_ended'], more = _conntrack.after_apply(
                    host, _conntrack.View(tables, sets), _conntrack.View.planned(tables, sets, plan), module.check_mode,
                    after_owned=lockout.evaluator, controller=lockout.controller)
                warnings += more
            if rollback is not None:
                result[_rollback.RESULT_KEY] = rollback.confirmation()
    except LockTimeout as exc:
        module.fail_json(msg=str(exc), **result)
    if params['owned_files'] is not None:
        result['owned_files'] = owned_files_current(module, params['owned_files'])
    for warning in host.warnings + warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
