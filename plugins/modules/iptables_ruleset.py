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
    in their desired state.
  - Rules are compared with what C(iptables-save) prints, in order. Write hand-made rules
    exactly as C(iptables-save) prints them (for example C(-p tcp -m tcp --dport 22),
    C(-s 10.0.0.1/32)); the module warns when the kernel stores a rule differently from the
    way it was given, since such a rule is reported as changed on every run.
  - "Rollback: when O(rollback_timeout) is above 0 and something changes, the host arms a
    detached watcher before the apply. The action plugin of the same name then opens a new
    connection to the host and confirms the apply. Without a confirmation within
    O(rollback_timeout) seconds the host restores the previous owned state (rules, jumps,
    ipsets and persistence files) by itself, and the task fails with C(rolled_back=true)."
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
        prints them, exceptions with C( nomatch)) and optionally C(type) (C(hash:net), the
        default, or C(hash:ip)).
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
      - V(false) turns the check off; the rollback (O(rollback_timeout)) still protects the host.
    type: bool
    default: true
  rollback_token:
    description:
      - Identifier of this run's rollback markers in C(/run/pbx-firewall/).
      - Internal. The action plugin sets it; setting it in a task is an error.
    type: str
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
  - python3 on the host (also runs the detached rollback watcher)
notes:
  - With O(state=present) and an empty C(ipv6) list, IPv6 is left alone except that owned
    IPv6 chains and jumps are removed; without ip6tables on the host only IPv4 is managed.
    IPv6 rules without ip6tables on the host fail the task.
  - "A hook chain named in C(jumps) that does not exist in a family's filter table (C(DOCKER-USER)
    before Docker starts, or in IPv6 when Docker does not manage ip6tables) gets no jump there, with
    a warning; the next run adds it once the chain exists. The restore script skips such a chain at
    boot the same way."
seealso:
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
      confirmed over a new connection within O(rollback_timeout) (the task then fails).
  returned: always
  type: bool
  sample: false
rollback_token:
  description:
    - Identifier of this run's rollback markers in C(/run/pbx-firewall/) on the host
      (C(pending-<token>) until confirmed, C(rolled-back-<token>) after a rollback).
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
      results).
  returned: when rolled_back is true
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

import errno
import fcntl
import hashlib
import json
import os
import re
import sys
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.pbxops.firewall.plugins.module_utils import _lockout
from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf

LOCK_PATH = '/run/pbx-firewall.lock'
LOCK_WAIT = 120
RUN_DIR = '/run/pbx-firewall'
UNIT_NAME = 'pbx-firewall.service'
WANTS_DIR = 'multi-user.target.wants'
DOCKER_DROPIN = os.path.join('docker.service.d', 'pbx-firewall.conf')
_TOKEN_RE = re.compile(r'^[A-Za-z0-9_-]{1,64}$')

# The rollback watcher: started before the apply, it detaches and outlives the module (whose
# AnsiballZ payload is deleted when it returns), so it is plain standard-library Python
# passed with -c. At the deadline it claims the pending marker with an atomic rename (the
# action plugin's confirmation removes the same marker, so exactly one of them wins), then
# replays the revert steps under the same lock the module uses.
WATCHER = r'''
import fcntl, json, os, subprocess, sys, time

def load(path):
    with open(path) as handle:
        return json.load(handle)

def write(path, content, mode):
    tmp = path + '.pbxfw-rollback'
    with open(tmp, 'w') as handle:
        handle.write(content)
    os.chmod(tmp, mode)
    os.rename(tmp, path)

def run_step(step):
    if 'argv' in step:
        data = step.get('stdin')
        proc = subprocess.Popen(step['argv'], stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(data.encode('utf-8') if data is not None else None)
        return {'argv': step['argv'], 'rc': proc.returncode, 'stderr': err.decode('utf-8', 'replace')}
    if 'write' in step:
        directory = os.path.dirname(step['write'])
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        write(step['write'], step['content'], step['mode'])
        return {'write': step['write'], 'rc': 0}
    if 'symlink' in step:
        if os.path.lexists(step['symlink']):
            os.unlink(step['symlink'])
        directory = os.path.dirname(step['symlink'])
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        os.symlink(step['target'], step['symlink'])
        return {'symlink': step['symlink'], 'rc': 0}
    if 'remove' in step:
        if os.path.lexists(step['remove']):
            os.unlink(step['remove'])
        return {'remove': step['remove'], 'rc': 0}
    return {'unknown': step, 'rc': 1}

def detach():
    # started by the module's run_command: leave its session and its pipes at once, so
    # run_command returns as soon as the first process exits
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, 65536)
    os.chdir('/')
    os.umask(0o077)

def main(path):
    detach()
    while True:
        try:
            spec = load(path)
        except (OSError, ValueError):
            return
        if not os.path.exists(spec['pending']):
            return
        left = spec['deadline'] - time.time()
        if left <= 0:
            break
        time.sleep(min(left, 0.25))
    try:
        os.rename(spec['pending'], spec['claimed'])
    except OSError:
        return
    lock = open(spec['lock'], 'a')
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    results = []
    for step in spec['steps']:
        try:
            results.append(run_step(step))
        except Exception as exc:
            results.append({'step': repr(step)[:200], 'rc': 1, 'error': str(exc)})
    report = {'token': spec['token'], 'time': time.time(), 'ok': all(r.get('rc') == 0 for r in results),
              'results': results}
    write(spec['done'], json.dumps(report, indent=1, sort_keys=True) + '\n', 0o600)
    try:
        os.unlink(spec['claimed'])
    except OSError:
        pass

main(sys.argv[1])
'''


class ApplyError(Exception):
    """A step of the apply failed after something may have changed on the host."""


class Host:
    """Binaries, backend and live state of the managed host."""

    def __init__(self, module, backend):
        self.module = module
        iptables = module.get_bin_path('iptables', required=True)
        _rc, out, err = module.run_command([iptables, '--version'])
        default = 'nft' if 'nf_tables' in (out + err) else 'legacy'
        self.saves = {}
        self.tools = {}
        self.warnings = []
        if backend == 'auto':
            backend = self._detect(default)
        self.backend = backend
        for family, prefix in (('ipv4', 'iptables'), ('ipv6', 'ip6tables')):
            save = self._bin(prefix, '-save', backend, default)
            restore = self._bin(prefix, '-restore', backend, default)
            command = self._bin(prefix, '', backend, default)
            if save and restore and command:
                self.saves[family] = save
                self.tools[family] = restore
                self.tools[family + '_cmd'] = command
            elif family == 'ipv4':
                module.fail_json(msg='%s-%s-restore/-save (or %s-restore/-save reporting the %s backend) not '
                                     'found on the host; install iptables or choose another backend'
                                     % (prefix, backend, prefix, backend))
        self.tools['ipset'] = module.get_bin_path('ipset')

    def _bin(self, prefix, suffix, backend, default):
        path = self.module.get_bin_path('%s-%s%s' % (prefix, backend, suffix))
        if path is None and backend == default:
            path = self.module.get_bin_path(prefix + suffix)
        return path

    def _detect(self, default):
        """The default backend, unless only the other one holds rules."""
        other = 'legacy' if default == 'nft' else 'nft'
        other_save = self.module.get_bin_path('iptables-%s-save' % other)
        own_save = self._bin('iptables', '-save', default, default)
        if not other_save or not own_save:
            return default

        def has_rules(save):
            # no "-t filter": reading must not instantiate a table
            rc, out, _err = self.module.run_command([save])
            return rc == 0 and any(line.startswith('-A ') for line in out.splitlines())

        if not has_rules(own_save) and has_rules(other_save):
            return other
        return default

    def read_family(self, family, required):
        rc, out, err = self.module.run_command([self.saves[family]])
        if rc != 0:
            if required:
                self.module.fail_json(msg='%s failed (rc=%d): %s' % (self.saves[family], rc, err.strip()))
            self.warnings.append('%s failed (rc=%d: %s); %s is left alone'
                                 % (self.saves[family], rc, err.strip(), family))
            return None
        try:
            return nf.filter_table(out)
        except ValueError as exc:
            self.module.fail_json(msg='cannot parse %s output: %s' % (self.saves[family], to_native(exc)))

    def read_sets(self, required):
        if not self.tools['ipset']:
            if required:
                self.module.fail_json(msg='the ruleset has ipsets but the ipset binary was not found on the host; '
                                          'install ipset')
            return {}
        rc, out, err = self.module.run_command([self.tools['ipset'], 'save'])
        if rc != 0:
            if required:
                self.module.fail_json(msg='ipset save failed (rc=%d): %s' % (rc, err.strip()))
            self.warnings.append('ipset save failed (rc=%d: %s); ipsets are left alone' % (rc, err.strip()))
            return {}
        try:
            return nf.parse_ipset_save(out)
        except ValueError as exc:
            self.module.fail_json(msg='cannot parse ipset save output: %s' % to_native(exc))

    def run(self, argv, data=None):
        return self.module.run_command(argv, data=data, binary_data=True)


class Lock:
    """flock on LOCK_PATH: serializes runs (and the rollback watcher) on one host."""

    def __init__(self, module, path=LOCK_PATH):
        self.module = module
        self.path = path
        self.handle = None

    def __enter__(self):
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        self.handle = open(self.path, 'a')
        deadline = time.time() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.time() > deadline:
                self.module.fail_json(msg='another pbx-firewall run has held %s for %d s; giving up'
                                      % (self.path, LOCK_WAIT))
            time.sleep(0.1)

    def __exit__(self, *exc):
        fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
        self.handle.close()


# ------------------------------------------------------------------------------------------
# persistence files
# ------------------------------------------------------------------------------------------

def _read_file(path):
    """(content or None, mode or None, symlink target or None)."""
    if os.path.islink(path):
        return None, None, os.readlink(path)
    if not os.path.isfile(path):
        return None, None, None
    with open(path, 'rb') as handle:
        content = handle.read().decode('utf-8', 'replace')
    return content, os.stat(path).st_mode & 0o7777, None


def persistence_ops(params, desired, host):
    """Operations that bring the persistence files in line: [(kind, path, value, mode, before)]."""
    persist_dir = params['persist_dir']
    unit_dir = params['unit_dir']
    script = os.path.join(persist_dir, 'restore')
    unit = os.path.join(unit_dir, UNIT_NAME)
    link = os.path.join(unit_dir, WANTS_DIR, UNIT_NAME)
    dropin = os.path.join(unit_dir, DOCKER_DROPIN)
    files = [os.path.join(persist_dir, 'rules.v4'), os.path.join(persist_dir, 'rules.v6'),
             os.path.join(persist_dir, 'ipsets'), script, unit]
    ops = []
    if params['state'] == 'absent':
        for path in files + [link, dropin]:
            before = _read_file(path)
            if before != (None, None, None) or os.path.lexists(path):
                ops.append(('remove', path, None, None, before))
        return ops
    if not params['persist']:
        return ops
    tools = dict(host.tools)
    for family in nf.FAMILIES:
        tools.setdefault(family, '%s-restore' % nf.FAMILY_TOOL[family])
        tools.setdefault(family + '_cmd', nf.FAMILY_TOOL[family])
    tools['ipset'] = tools.get('ipset') or 'ipset'
    wanted = [
        (files[0], nf.render_persist_rules(desired.families['ipv4'], script), 0o644),
        (files[1], nf.render_persist_rules(desired.families['ipv6'], script), 0o644),
        (files[2], nf.render_persist_ipsets(desired, script), 0o644),
        (script, nf.render_restore_script(desired, persist_dir, tools), 0o755),
        (unit, nf.render_unit(script), 0o644),
    ]
    # Docker-host mode: the docker.service drop-in (see nf.render_docker_dropin)
    docker = any(nf.rule_chain(jump) == 'DOCKER-USER'
                 for family in desired.families.values() for jump in family.jumps)
    if docker:
        wanted.append((dropin, nf.render_docker_dropin(script), 0o644))
    for path, content, mode in wanted:
        before = _read_file(path)
        if before != (content, mode, None):
            ops.append(('write', path, content, mode, before))
    before = _read_file(link)
    if before[2] != unit:
        ops.append(('symlink', link, unit, None, before))
    if not docker:
        before = _read_file(dropin)
        if before != (None, None, None) or os.path.lexists(dropin):
            ops.append(('remove', dropin, None, None, before))
    return ops


def _unit_file(path):
    return path.endswith(UNIT_NAME) or path.endswith(DOCKER_DROPIN)


def _write_file(path, content, mode):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.pbxfw-')
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(to_bytes(content))
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def apply_persistence(module, ops, params):
    for kind, path, value, mode, _before in ops:
        if kind == 'write':
            if os.path.islink(path):
                os.unlink(path)
            _write_file(path, value, mode)
        elif kind == 'symlink':
            directory = os.path.dirname(path)
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
            if os.path.lexists(path):
                os.unlink(path)
            os.symlink(value, path)
        elif kind == 'remove':
            if os.path.lexists(path):
                os.unlink(path)
    # directories the module creates go once they are empty (rmdir leaves a non-empty one)
    empty = [os.path.dirname(path) for kind, path, _v, _m, _b in ops
             if kind == 'remove' and path.endswith(DOCKER_DROPIN)]
    if params['state'] == 'absent':
        empty.append(params['persist_dir'])
    for directory in empty:
        try:
            os.rmdir(directory)
        except OSError:
            pass
    if _systemd_running() and any(_unit_file(p) for _k, p, _v, _m, _b in ops):
        systemctl = module.get_bin_path('systemctl')
        if systemctl:
            module.run_command([systemctl, 'daemon-reload'])


def _systemd_running():
    return os.path.isdir('/run/systemd/system')


def persistence_revert_steps(module, ops):
    """Watcher steps that put the persistence files back as they were."""
    steps = []
    for _kind, path, _value, _mode, before in reversed(ops):
        content, mode, target = before
        if target is not None:
            steps.append({'symlink': path, 'target': target})
        elif content is not None:
            steps.append({'write': path, 'content': content, 'mode': mode})
        else:
            steps.append({'remove': path})
    if any(_unit_file(path) for _k, path, _v, _m, _b in ops) and _systemd_running():
        systemctl = module.get_bin_path('systemctl')
        if systemctl:
            steps.append({'argv': [systemctl, 'daemon-reload'], 'stdin': None})
    return steps


def _describe_file(before):
    content, mode, target = before
    if target is not None:
        return 'symlink to %s' % target
    if content is None:
        return 'absent'
    digest = hashlib.sha256(to_bytes(content)).hexdigest()[:12]
    return '%d lines, mode %04o, sha256 %s' % (len(content.splitlines()), mode, digest)


def persistence_diff(ops):
    before, after = [], []
    for kind, path, value, mode, prior in ops:
        before.append('%s: %s' % (path, _describe_file(prior)))
        if kind == 'write':
            after.append('%s: %s' % (path, _describe_file((value, mode, None))))
        elif kind == 'symlink':
            after.append('%s: symlink to %s' % (path, value))
        else:
            after.append('%s: absent' % path)
    if not ops:
        return '', ''
    header = '# persistence files\n'
    return header + '\n'.join(before) + '\n', header + '\n'.join(after) + '\n'


# ------------------------------------------------------------------------------------------
# apply
# ------------------------------------------------------------------------------------------

def _destroy_sets(host, names, live_names=None):
    for name in names:
        if live_names is not None and name not in live_names:
            continue
        host.run([host.tools['ipset'], 'destroy', name])


def run_plan(host, plan, test=True):
    """Apply a Plan. With ``test``, returns an error message instead of applying when the
    ipset creation or any family's --test fails (nothing is left behind). Raises ApplyError
    when a later step fails. Returns (None, warnings) on success.
    """
    warnings = []
    if plan.ipset_create:
        rc, _out, err = host.run([host.tools['ipset'], 'restore'], data=plan.ipset_create_text)
        if rc != 0:
            _destroy_sets(host, plan.ipset_cleanup, set(host.read_sets(False)))
            message = nf.explain_restore_error('ipset restore', err, plan.ipset_create, plan.ipset_create_origins)
            if test:
                return message + '; nothing was applied', warnings
            raise ApplyError(message)
    if test:
        for family, fplan in plan.families.items():
            if not fplan.changed:
                continue
            tool = host.tools[family]
            rc, _out, err = host.run([tool, '-w', '--noflush', '--test'], data=fplan.restore)
            if rc != 0:
                _destroy_sets(host, plan.ipset_cleanup)
                message = nf.explain_restore_error('%s --test' % os.path.basename(tool), err, fplan.lines,
                                                   fplan.origins)
                return message + '; nothing was applied', warnings
    return None, warnings


def run_plan_commit(host, plan):
    """The visible part of the apply: swaps, one restore per family, stale sets."""
    warnings = []
    if plan.ipset_swap:
        rc, _out, err = host.run([host.tools['ipset'], 'restore'], data=plan.ipset_swap_text)
        if rc != 0:
            raise ApplyError(nf.explain_restore_error('ipset restore', err, plan.ipset_swap, plan.ipset_swap_origins))
    for family, fplan in plan.families.items():
        if not fplan.changed:
            continue
        tool = host.tools[family]
        rc, _out, err = host.run([tool, '-w', '--noflush'], data=fplan.restore)
        if rc != 0:
            raise ApplyError(nf.explain_restore_error(os.path.basename(tool), err, fplan.lines, fplan.origins))
    for name in plan.ipset_destroy:
        rc, _out, err = host.run([host.tools['ipset'], 'destroy', name])
        if rc != 0:
            warnings.append('could not destroy the ipset %s that is no longer wanted: %s' % (name, err.strip()))
    return warnings


class Rollback:
    """Arms, updates and disarms the detached rollback watcher of one run."""

    def __init__(self, module, token, timeout):
        self.module = module
        self.token = token
        self.timeout = timeout
        self.spec_path = os.path.join(RUN_DIR, 'rollback-%s.json' % token)
        self.pending = os.path.join(RUN_DIR, 'pending-%s' % token)
        self.claimed = os.path.join(RUN_DIR, 'claimed-%s' % token)
        self.done = os.path.join(RUN_DIR, 'rolled-back-%s' % token)
        self.spec = None

    def _write_spec(self):
        data = json.dumps(self.spec, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=RUN_DIR, prefix='.rollback-')
        with os.fdopen(fd, 'w') as handle:
            handle.write(data)
        os.rename(tmp, self.spec_path)

    def arm(self, steps):
        if not os.path.isdir(RUN_DIR):
            os.makedirs(RUN_DIR, 0o700)
        self.spec = {'token': self.token, 'deadline': time.time() + self.timeout, 'steps': steps,
                     'pending': self.pending, 'claimed': self.claimed, 'done': self.done, 'lock': LOCK_PATH}
        self._write_spec()
        with open(self.pending, 'w') as handle:
            handle.write('%s\n' % self.token)
        # The watcher must survive the module: it forks twice into a new session and
        # points its standard descriptors at /dev/null, so run_command only waits for the
        # first, short-lived process.
        rc, _out, err = self.module.run_command([sys.executable or 'python3', '-c', WATCHER, self.spec_path],
                                                cwd='/')
        if rc != 0:
            os.unlink(self.pending)
            raise ApplyError('could not start the rollback watcher: %s' % err.strip())

    def restart_clock(self):
        """Give the controller the full timeout counted from the end of the apply."""
        self.spec['deadline'] = time.time() + self.timeout
        self._write_spec()
        return self.spec['deadline'] - time.time()

    def disarm(self):
        """Stop the watcher (used when the module reverts by itself). True if it was still pending."""
        try:
            os.rename(self.pending, self.claimed)
        except OSError:
            return False
        os.unlink(self.claimed)
        return True


def apply(module, host, params, tables, sets, plan, files, result):
    """Test, arm the rollback, apply, persist. Returns warnings; fails the module on error."""
    if plan.ipset_create or plan.ipset_swap or plan.ipset_destroy:
        if not host.tools['ipset']:
            module.fail_json(msg='ipset binary not found on the host; install ipset', **result)

    rollback = None
    timeout = params['rollback_timeout']
    previous = nf.desired_from_live(tables, sets)
    steps = None
    warnings = []
    if timeout > 0:
        if params['rollback_token'] is None:
            warnings.append('rollback_timeout is set but the module ran without its action plugin '
                            '(no rollback_token); applying without rollback')
        else:
            try:
                revert = nf.compute_plan(nf.after_state(tables, plan), plan.after_sets, previous)
            except ValueError as exc:
                module.fail_json(msg='cannot plan the rollback (%s); nothing was applied. Set rollback_timeout: 0 '
                                     'to apply without rollback' % to_native(exc), **result)
            steps = [{'argv': argv, 'stdin': data} for argv, data in revert.steps(host.tools)]
            steps += persistence_revert_steps(module, files)
            rollback = Rollback(module, params['rollback_token'], timeout)

    error, more = run_plan(host, plan, test=True)
    warnings += more
    if error:
        module.fail_json(msg=error, **result)

    if rollback is not None:
        try:
            rollback.arm(steps)
        except (ApplyError, OSError, IOError) as exc:
            _destroy_sets(host, plan.ipset_cleanup)
            module.fail_json(msg='%s; nothing was applied' % to_native(exc), **result)
    try:
        warnings += run_plan_commit(host, plan)
        apply_persistence(module, files, params)
    except (ApplyError, OSError, IOError) as exc:
        recovered = recover(module, host, previous, files, rollback)
        module.fail_json(msg='%s; %s' % (to_native(exc), recovered), **result)

    warnings += verify(host, tables, plan)
    if rollback is not None:
        remaining = rollback.restart_clock()
        result['_pbxfw_rollback'] = dict(token=rollback.token, timeout=timeout, remaining=remaining, run_dir=RUN_DIR)
    return warnings


def recover(module, host, previous, files, rollback):
    """Put the previous owned state back right away after a failed apply."""
    if rollback is not None:
        rollback.disarm()
    try:
        tables = {}
        for family in host.saves:
            table = host.read_family(family, required=False)
            if table is not None:
                tables[family] = table
        sets = host.read_sets(required=False)
        plan = nf.compute_plan(tables, sets, previous)
        error, _warnings = run_plan(host, plan, test=False)
        if error:
            raise ApplyError(error)
        run_plan_commit(host, plan)
        for step in persistence_revert_steps(module, files):
            if 'write' in step:
                _write_file(step['write'], step['content'], step['mode'])
            elif 'remove' in step and os.path.lexists(step['remove']):
                os.unlink(step['remove'])
            elif 'symlink' in step:
                if os.path.lexists(step['symlink']):
                    os.unlink(step['symlink'])
                os.symlink(step['target'], step['symlink'])
    except (ApplyError, OSError, IOError, ValueError) as exc:
        return 'restoring the previous state failed too: %s' % to_native(exc)
    return 'the previous owned state was restored'


def verify(host, tables, plan):
    """Warn about rules the kernel stores differently from the way they were given."""
    warnings = []
    for family, fplan in plan.families.items():
        if not fplan.changed:
            continue
        live = host.read_family(family, required=False)
        if live is None:
            continue
        want = fplan.after.owned_chains()
        have = live.owned_chains()
        for chain, rules in want.items():
            got = have.get(chain, [])
            for index, rule in enumerate(rules):
                stored = got[index] if index < len(got) else None
                if stored != rule:
                    warnings.append('%s: %s rule %d is stored as %r, not as given (%r); write it the way '
                                    'iptables-save prints it, or every run reports a change'
                                    % (family, chain, index + 1, stored, rule))
                    break
    return warnings


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ruleset=dict(type='dict'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            rollback_timeout=dict(type='int', default=30),
            persist=dict(type='bool', default=True),
            persist_dir=dict(type='path', default='/etc/pbx-firewall'),
            unit_dir=dict(type='path', default='/etc/systemd/system'),
            backend=dict(type='str', choices=['auto', 'nft', 'legacy'], default='auto'),
            rollback_token=dict(type='str', no_log=False),
            lockout_check=dict(type='bool', default=True),
        ),
        required_if=[('state', 'present', ('ruleset',))],
        supports_check_mode=True,
    )
    params = module.params
    if params['rollback_timeout'] < 0:
        module.fail_json(msg='rollback_timeout must be 0 (off) or a number of seconds, got %d'
                         % params['rollback_timeout'])
    token = params['rollback_token']
    if token is not None and not _TOKEN_RE.match(token):
        module.fail_json(msg='rollback_token must be 1-64 letters, digits, _ or -')
    for option in ('persist_dir', 'unit_dir'):
        if not os.path.isabs(params[option]) or re.search(r'\s', params[option]):
            module.fail_json(msg='%s must be an absolute path without white space, got %r' % (option, params[option]))

    lockout = None
    if params['state'] == 'present':
        try:
            desired = nf.validate_ruleset(params['ruleset'])
            lockout = _lockout.assess(params['ruleset'], params['lockout_check'])
        except ValueError as exc:
            module.fail_json(msg=to_native(exc))
        if lockout.refusal:
            module.fail_json(msg=lockout.refusal, changed=False, lockout_check=lockout.report)
        for warning in lockout.warnings:
            module.warn(warning)
    else:
        desired = nf.Desired()

    host = Host(module, params['backend'])
    want_v6 = bool(desired.families['ipv6'].chains)
    if want_v6 and 'ipv6' not in host.saves:
        module.fail_json(msg='the ruleset has %d IPv6 rules but ip6tables-restore/-save for the %s backend were not '
                             'found on the host; install ip6tables or leave ruleset.ipv6 empty'
                         % (desired.families['ipv6'].rule_count(), host.backend))

    result = dict(
        changed=False,
        backend=host.backend,
        rules={f: desired.families[f].rule_count() for f in nf.FAMILIES},
        ipsets=len(desired.ipsets),
        rolled_back=False,
    )
    if lockout is not None:
        result['lockout_check'] = lockout.report

    with Lock(module):
        tables = {}
        for family in nf.FAMILIES:
            if family in host.saves:
                table = host.read_family(family, required=(family == 'ipv4' or want_v6))
                if table is not None:
                    tables[family] = table
        sets = host.read_sets(required=bool(desired.ipsets))
        try:
            plan = nf.compute_plan(tables, sets, desired)
        except ValueError as exc:
            module.fail_json(msg=to_native(exc), **result)
        host.warnings.extend(plan.warnings)
        files = persistence_ops(params, desired, host)
        changed = plan.changed or bool(files)
        result['changed'] = changed

        if module._diff:
            families = [f for f in nf.FAMILIES if f in tables]
            before = nf.render_owned(tables, sets, families)
            after = nf.render_owned(nf.after_state(tables, plan), plan.after_sets, families)
            file_before, file_after = persistence_diff(files)
            result['diff'] = dict(before=before + file_before, after=after + file_after,
                                  before_header='owned netfilter state (%s backend) before' % host.backend,
                                  after_header='owned netfilter state (%s backend) after' % host.backend)

        if changed and not module.check_mode:
            warnings = apply(module, host, params, tables, sets, plan, files, result)
            for warning in host.warnings + warnings:
                module.warn(warning)
        else:
            for warning in host.warnings:
                module.warn(warning)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
