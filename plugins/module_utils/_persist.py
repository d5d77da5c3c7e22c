# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Boot persistence of pbxops.firewall (private to this collection).

Owns the files that restore the owned state at boot: their rendering (``rules.v4``,
``rules.v6``, ``ipsets``, the POSIX ``restore`` script, the systemd unit
``pbx-firewall.service``, its ``multi-user.target.wants`` link and, in Docker-host mode,
the ``docker.service.d`` drop-in), the comparison with what is on disk (file *operations*,
step records that also carry the file's previous state), the steps that apply them and
the steps that put the previous files back. Directories it created and that end up empty
are removed again. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re

from ansible_collections.pbxops.firewall.plugins.module_utils import _counters
from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf
from ansible_collections.pbxops.firewall.plugins.module_utils import _steps

UNIT_NAME = 'pbx-firewall.service'
WANTS_DIR = 'multi-user.target.wants'
DOCKER_DROPIN = os.path.join('docker.service.d', 'pbx-firewall.conf')
PERSIST_HEADER = '# Managed by pbxops.firewall (iptables_ruleset); restored at boot by %s.\n'
ABSENT = {'content': None, 'mode': None, 'target': None}


# ------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------

def _sh_quote(value):
    if value and re.match(r'^[A-Za-z0-9_./:=+-]+$', value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def render_persist_rules(desired_family, script):
    """iptables-restore --noflush input that recreates the owned chains of one family."""
    text = PERSIST_HEADER % script
    if not desired_family.chains:
        return text + '# no owned chains for this family\n'
    lines = ['*filter']
    lines.extend(':%s - [0:0]' % chain for chain in desired_family.chains)
    for rules in desired_family.chains.values():
        lines.extend(rules)
    lines.append('COMMIT')
    return text + '\n'.join(lines) + '\n'


def render_persist_ipsets(desired, script):
    """ipset restore input (used with -exist) that recreates the owned sets."""
    parts = [PERSIST_HEADER % script]
    for ipset in desired.ipsets.values():
        parts += [ipset.create_line() + '\n', ipset.add_text()]
    return ''.join(parts)


def render_restore_script(desired, persist_dir, tools):
    """POSIX sh script that restores the owned sets, chains and jumps (boot or by hand).

    ``tools`` maps ipset, ipv4, ipv6 (restore binaries) and ipv4_cmd, ipv6_cmd
    (iptables/ip6tables binaries) to absolute paths; a family without rules only loses any
    owned chain a whole-table restore brought back.
    """
    quote = _sh_quote
    out = [
        '#!/bin/sh',
        '# Managed by pbxops.firewall (iptables_ruleset); do not edit, the next run overwrites it.',
        '# Restores the PBX firewall: owned ipsets, the owned chains of each family (with',
        '# --noflush, so no other chain is touched), then the jump from each hook chain, then',
        '# removes owned chains that are not among them (an older copy that a whole-table restore',
        '# before this one, such as netfilter-persistent\'s, brought back) with their jumps.',
        'set -eu',
        'dir=%s' % quote(persist_dir),
        '',
        'pbxfw_jump() {',
        '    ipt=$1 hook=$2 target=$3',
        '    # a hook chain that does not exist yet (DOCKER-USER before Docker starts) is skipped',
        '    "$ipt" -w -S "$hook" >/dev/null 2>&1 || return 0',
        '    if "$ipt" -w -C "$hook" -j "$target" 2>/dev/null; then return 0; fi',
        '    # right after the last jump to a fail2ban chain, or first',
        '    pos=$("$ipt" -w -S "$hook" | awk \'NR > 1 && / -[jg] f2b-/ { n = NR - 1 } END { print n + 1 }\')',
        '    "$ipt" -w -I "$hook" "$pos" -j "$target"',
        '}',
        '',
        'pbxfw_prune() {',
        '    ipt=$1 save=$2 keep=" $3 "',
        '    command -v "$ipt" >/dev/null 2>&1 || return 0',
        '    # nothing of ours there: do not list (with the legacy backend that creates an empty table)',
        '    "$save" 2>/dev/null | grep -q \'^:PBX-\' || return 0',
        '    stale=$("$ipt" -w -S | awk \'$1 == "-N" && ($2 == "PBX-FIREWALL" || $2 ~ /^PBX-FW-/) { print $2 }\' |',
        '        while read -r chain; do case "$keep" in *" $chain "*) ;; *) echo "$chain" ;; esac; done)',
        '    for chain in $stale; do',
        '        # the rules of other chains that end in -j/-g CHAIN, by number, last first',
        '        "$ipt" -w -S | awk -v c="$chain" \'$1 == "-A" { n[$2]++ } $1 == "-A" && $2 != c && $NF == c && '
        '($(NF - 1) == "-j" || $(NF - 1) == "-g") { print $2, n[$2] }\' |',
        '            sort -k1,1 -k2,2nr | while read -r from number; do "$ipt" -w -D "$from" "$number"; done',
        '        "$ipt" -w -F "$chain"',
        '    done',
        '    for chain in $stale; do "$ipt" -w -X "$chain"; done',
        '}',
        '',
    ]
    if desired.ipsets:
        out.append('%s restore -exist < "$dir/ipsets"' % quote(tools['ipset']))
    for family in nf.FAMILIES:
        fam = desired.families[family]
        if fam.chains:
            out.append('%s -w --noflush < "$dir/rules.%s"'
                       % (quote(tools[family]), 'v4' if family == 'ipv4' else 'v6'))
        for jump in fam.jumps:
            hook = nf.rule_chain(jump)
            out.append('pbxfw_jump %s %s %s' % (quote(tools[family + '_cmd']), quote(hook),
                                                quote(nf.rule_target(jump))))
        out.append('pbxfw_prune %s %s %s' % (quote(tools[family + '_cmd']), quote(_save_tool(tools[family])),
                                             quote(' '.join(fam.chains))))
    out.extend(_counters.reset_shell())
    out.append('exit 0')
    return '\n'.join(out) + '\n'


def _save_tool(restore):
    """iptables-save for an iptables-restore path (same backend, same directory)."""
    return restore[:-len('-restore')] + '-save' if restore.endswith('-restore') else restore


def render_unit(script):
    """The systemd unit that runs the restore script early at boot."""
    return '\n'.join([
        '# Managed by pbxops.firewall (iptables_ruleset); do not edit.',
        '[Unit]',
        'Description=PBX firewall (pbxops.firewall): owned iptables chains and ipsets',
        'Documentation=https://github.com/pbxops/firewall',
        'DefaultDependencies=no',
        'Wants=network-pre.target',
        '# before firewalld, whose direct rules (host_firewall: auto) need the owned ipsets',
        'Before=network-pre.target fail2ban.service firewalld.service shutdown.target',
        '# after whatever restores or flushes whole tables (netfilter-persistent, iptables.service,',
        '# nftables.service, ufw), so it cannot wipe ours',
        'After=netfilter-persistent.service iptables.service ip6tables.service ipset.service nftables.service '
        'ufw.service',
        'Conflicts=shutdown.target',
        '',
        '[Service]',
        'Type=oneshot',
        'RemainAfterExit=yes',
        'ExecStart=%s' % script,
        '',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
    ])


def render_docker_dropin(script):
    """The docker.service drop-in: dockerd recreates DOCKER-USER when it starts, after the boot
    unit ran, so docker.service runs the restore script again to put the jump back."""
    return '\n'.join([
        '# Managed by pbxops.firewall (iptables_ruleset); do not edit.',
        '# dockerd recreates DOCKER-USER when it starts; this puts the PBX firewall jump back.',
        '[Service]',
        '# "-": a missing script never fails docker.service',
        'ExecStartPost=-%s' % script,
        '',
    ])


# ------------------------------------------------------------------------------------------
# operations: what differs on disk
# ------------------------------------------------------------------------------------------

def read_file(path):
    """{content, mode, target}: a file's text and mode, or a symlink's target; all None when absent."""
    if os.path.islink(path):
        return dict(ABSENT, target=os.readlink(path))
    if not os.path.isfile(path):
        return dict(ABSENT)
    with open(path, 'rb') as handle:
        content = handle.read().decode('utf-8', 'replace')
    return dict(ABSENT, content=content, mode=os.stat(path).st_mode & 0o7777)


class Paths:
    """Where the persistence files live."""

    def __init__(self, persist_dir, unit_dir):
        self.persist_dir = persist_dir
        self.unit_dir = unit_dir
        self.script = os.path.join(persist_dir, 'restore')
        self.rules = {'ipv4': os.path.join(persist_dir, 'rules.v4'), 'ipv6': os.path.join(persist_dir, 'rules.v6')}
        self.ipsets = os.path.join(persist_dir, 'ipsets')
        self.unit = os.path.join(unit_dir, UNIT_NAME)
        self.link = os.path.join(unit_dir, WANTS_DIR, UNIT_NAME)
        self.dropin = os.path.join(unit_dir, DOCKER_DROPIN)

    def files(self):
        return [self.rules['ipv4'], self.rules['ipv6'], self.ipsets, self.script, self.unit]

    def owned_dirs(self):
        """Directories the collection creates for its files (removed again once empty)."""
        return [self.persist_dir, os.path.dirname(self.link), os.path.dirname(self.dropin)]


def _boot_tools(tools):
    tools = dict(tools)
    for family in nf.FAMILIES:
        tools.setdefault(family, '%s-restore' % nf.FAMILY_TOOL[family])
        tools.setdefault(family + '_cmd', nf.FAMILY_TOOL[family])
    tools['ipset'] = tools.get('ipset') or 'ipset'
    return tools


def _removal(path):
    before = read_file(path)
    if before != ABSENT or os.path.lexists(path):
        return [_steps.remove(path, before=before)]
    return []


def file_ops(state, persist, paths, desired, tools):
    """Steps (write, symlink, remove; each with ``before``) that bring the files in line."""
    ops = []
    if state == 'absent':
        for path in paths.files() + [paths.link, paths.dropin]:
            ops += _removal(path)
        return ops
    if not persist:
        return ops
    tools = _boot_tools(tools)
    wanted = [
        (paths.rules['ipv4'], render_persist_rules(desired.families['ipv4'], paths.script), 0o644),
        (paths.rules['ipv6'], render_persist_rules(desired.families['ipv6'], paths.script), 0o644),
        (paths.ipsets, render_persist_ipsets(desired, paths.script), 0o644),
        (paths.script, render_restore_script(desired, paths.persist_dir, tools), 0o755),
        (paths.unit, render_unit(paths.script), 0o644),
    ]
    docker = any(nf.rule_chain(jump) == 'DOCKER-USER' for family in desired.families.values() for jump in family.jumps)
    if docker:
        wanted.append((paths.dropin, render_docker_dropin(paths.script), 0o644))
    for path, content, mode in wanted:
        before = read_file(path)
        if before != dict(ABSENT, content=content, mode=mode):
            ops.append(_steps.write(path, content, mode, before=before))
    before = read_file(paths.link)
    if before['target'] != paths.unit:
        ops.append(_steps.symlink(paths.link, paths.unit, before=before))
    if not docker:
        ops += _removal(paths.dropin)
    return ops


def _unit_file(path):
    return path.endswith(UNIT_NAME) or path.endswith(DOCKER_DROPIN)


def _daemon_reload(ops, get_bin_path):
    """systemctl daemon-reload after a unit change, only when systemd runs (failure ignored)."""
    if any(_unit_file(op['path']) for op in ops) and os.path.isdir('/run/systemd/system'):
        systemctl = get_bin_path('systemctl')
        if systemctl:
            return [_steps.command([systemctl, 'daemon-reload'], check=False)]
    return []


def _missing_dirs(path):
    """The directories above ``path`` that do not exist yet, deepest first."""
    missing = []
    directory = os.path.dirname(path)
    while directory and directory != os.path.dirname(directory) and not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    return missing


def apply_steps(ops, paths, get_bin_path):
    """The steps that carry out ``ops``: the ops, empty owned directories, daemon-reload."""
    owned = paths.owned_dirs()
    empty = []
    for op in ops:
        parent = os.path.dirname(op['path'])
        if op['kind'] == 'remove' and parent in owned and parent not in empty:
            empty.append(parent)
    return list(ops) + [_steps.rmdir(d) for d in empty] + _daemon_reload(ops, get_bin_path)


def revert_steps(ops, get_bin_path):
    """Steps that put the files back as they were before ``ops`` (and drop the dirs ops create)."""
    steps = []
    created = []
    for op in reversed(ops):
        before = op['before']
        if before['target'] is not None:
            steps.append(_steps.symlink(op['path'], before['target']))
        elif before['content'] is not None:
            steps.append(_steps.write(op['path'], before['content'], before['mode']))
        else:
            steps.append(_steps.remove(op['path']))
        if op['kind'] != 'remove':
            created += [d for d in _missing_dirs(op['path']) if d not in created]
    created.sort(key=lambda d: -d.count(os.sep))
    return steps + [_steps.rmdir(d) for d in created] + _daemon_reload(ops, get_bin_path)


# ------------------------------------------------------------------------------------------
# --diff
# ------------------------------------------------------------------------------------------

def _describe(state):
    if state['target'] is not None:
        return 'symlink to %s' % state['target']
    if state['content'] is None:
        return 'absent'
    digest = hashlib.sha256(state['content'].encode('utf-8', 'surrogateescape')).hexdigest()[:12]
    return '%d lines, mode %04o, sha256 %s' % (len(state['content'].splitlines()), state['mode'], digest)


def diff(ops):
    """(before, after) text of the persistence files ``ops`` change, for --diff."""
    if not ops:
        return '', ''
    before, after = [], []
    for op in ops:
        before.append('%s: %s' % (op['path'], _describe(op['before'])))
        if op['kind'] == 'write':
            after.append('%s: %s' % (op['path'], _describe(dict(ABSENT, content=op['content'], mode=op['mode']))))
        elif op['kind'] == 'symlink':
            after.append('%s: symlink to %s' % (op['path'], op['target']))
        else:
            after.append('%s: absent' % op['path'])
    header = '# persistence files\n'
    return header + '\n'.join(before) + '\n', header + '\n'.join(after) + '\n'
