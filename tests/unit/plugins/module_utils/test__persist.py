# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Boot persistence: rendering, file operations against tmp_path, apply and revert steps."""

from __future__ import annotations

import os

from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf
from ansible_collections.pbxops.firewall.plugins.module_utils import _persist as persist
from ansible_collections.pbxops.firewall.plugins.module_utils import _steps
from ansible_collections.pbxops.firewall.tests.unit.plugins.module_utils.test__netfilter import (
    DECLARE, RULES, SET_A, restore)
from ansible_collections.pbxops.firewall.tests.unit.plugins.module_utils.test__steps import FakeRun, tree


# --------------------------------------------------------------------------------------
# persistence renderers
# --------------------------------------------------------------------------------------

TOOLS = {'ipset': '/usr/sbin/ipset', 'ipv4': '/usr/sbin/iptables-nft-restore', 'ipv6': '/usr/sbin/ip6tables-nft-restore',
         'ipv4_cmd': '/usr/sbin/iptables-nft', 'ipv6_cmd': '/usr/sbin/ip6tables-nft'}


def test_render_persistence():
    desired = nf.validate_ruleset({'ipv4': RULES, 'ipsets': [SET_A],
                                   'jumps': [{'chain': 'INPUT', 'target': 'PBX-FIREWALL'},
                                             {'chain': 'DOCKER-USER', 'target': 'PBX-FIREWALL'}]})
    script_path = '/etc/pbx-firewall/restore'
    assert persist.render_persist_rules(desired.families['ipv4'], script_path) == (
        '# Managed by pbxops.firewall (iptables_ruleset); restored at boot by /etc/pbx-firewall/restore.\n'
        + restore(*DECLARE))
    assert '*filter' not in persist.render_persist_rules(desired.families['ipv6'], script_path)
    assert persist.render_persist_ipsets(desired, script_path).splitlines()[1:] == [
        'create pbxfw-a hash:net family inet maxelem 65536', 'add pbxfw-a 10.0.0.0/8', 'add pbxfw-a 10.1.0.0/16 nomatch']
    script = persist.render_restore_script(desired, '/etc/pbx-firewall', TOOLS)
    lines = script.splitlines()
    assert lines[0] == '#!/bin/sh'
    assert '/usr/sbin/ipset restore -exist < "$dir/ipsets"' in lines
    assert '/usr/sbin/iptables-nft-restore -w --noflush < "$dir/rules.v4"' in lines
    assert 'pbxfw_jump /usr/sbin/iptables-nft INPUT PBX-FIREWALL' in lines
    assert 'pbxfw_jump /usr/sbin/iptables-nft DOCKER-USER PBX-FIREWALL' in lines
    # then every other owned chain goes (a copy a whole-table restore brought back); IPv6 has none to keep
    assert "pbxfw_prune /usr/sbin/iptables-nft /usr/sbin/iptables-nft-save 'PBX-FIREWALL PBX-FW-SIP'" in lines
    assert [line for line in lines if 'ip6tables' in line] == [
        "pbxfw_prune /usr/sbin/ip6tables-nft /usr/sbin/ip6tables-nft-save ''"]
    assert "dir='/etc/pbx firewall'" in persist.render_restore_script(desired, '/etc/pbx firewall', TOOLS)
    unit = persist.render_unit(script_path).splitlines()
    for line in ('[Unit]', 'DefaultDependencies=no', 'Wants=network-pre.target',
                 'Before=network-pre.target fail2ban.service firewalld.service shutdown.target', 'Type=oneshot',
                 'RemainAfterExit=yes', 'ExecStart=/etc/pbx-firewall/restore', 'WantedBy=multi-user.target'):
        assert line in unit
    # after every unit that restores or flushes whole tables
    after = next(line for line in unit if line.startswith('After=')).split('=', 1)[1].split()
    assert {'netfilter-persistent.service', 'nftables.service', 'ufw.service', 'iptables.service'} <= set(after)
    dropin = persist.render_docker_dropin(script_path).splitlines()
    assert '[Service]' in dropin
    assert [line for line in dropin if not line.startswith('#')] == [
        '[Service]', 'ExecStartPost=-/etc/pbx-firewall/restore']


# --------------------------------------------------------------------------------------
# file operations, apply and revert
# --------------------------------------------------------------------------------------

DOCKER_JUMPS = [{'chain': 'INPUT', 'target': 'PBX-FIREWALL'}, {'chain': 'DOCKER-USER', 'target': 'PBX-FIREWALL'}]


def no_systemctl(name):
    raise AssertionError('systemctl looked up although systemd does not run here')


def paths_in(tmp_path):
    return persist.Paths(str(tmp_path / 'etc' / 'pbx-firewall'), str(tmp_path / 'systemd'))


def apply(ops, paths):
    results = _steps.execute(persist.apply_steps(ops, paths, no_systemctl), FakeRun())
    assert all(r['rc'] == 0 for r in results), results


def test_first_apply_writes_every_file_then_nothing(tmp_path):
    paths = paths_in(tmp_path)
    desired = nf.validate_ruleset({'ipv4': RULES, 'ipsets': [SET_A], 'jumps': DOCKER_JUMPS})
    ops = persist.file_ops('present', True, paths, desired, TOOLS)
    assert [(op['kind'], os.path.relpath(op['path'], str(tmp_path))) for op in ops] == [
        ('write', 'etc/pbx-firewall/rules.v4'), ('write', 'etc/pbx-firewall/rules.v6'),
        ('write', 'etc/pbx-firewall/ipsets'), ('write', 'etc/pbx-firewall/restore'),
        ('write', 'systemd/pbx-firewall.service'), ('write', 'systemd/docker.service.d/pbx-firewall.conf'),
        ('symlink', 'systemd/multi-user.target.wants/pbx-firewall.service')]
    assert all(op['before'] == persist.ABSENT for op in ops)
    apply(ops, paths)
    files = tree(tmp_path)
    assert files['etc/pbx-firewall/restore'][2] == 0o755
    assert files['etc/pbx-firewall/rules.v4'][1].endswith(restore(*DECLARE))
    assert files['systemd/multi-user.target.wants/pbx-firewall.service'] == ('link', paths.unit)
    assert persist.file_ops('present', True, paths, desired, TOOLS) == []
    # without a DOCKER-USER jump the drop-in goes, and so does the directory it was in
    plain = nf.validate_ruleset({'ipv4': RULES})
    ops = persist.file_ops('present', True, paths, plain, TOOLS)
    assert [op['kind'] for op in ops if 'docker' in op['path']] == ['remove']
    apply(ops, paths)
    assert not os.path.exists(os.path.dirname(paths.dropin))
    assert persist.file_ops('present', False, paths, desired, TOOLS) == []


def test_absent_removes_the_files_and_the_empty_directories_it_made(tmp_path):
    paths = paths_in(tmp_path)
    desired = nf.validate_ruleset({'ipv4': RULES, 'jumps': DOCKER_JUMPS})
    apply(persist.file_ops('present', True, paths, desired, TOOLS), paths)
    (tmp_path / 'systemd' / 'other.service').write_text('[Unit]\n')     # the administrator's own unit
    ops = persist.file_ops('absent', True, paths, nf.Desired(), TOOLS)
    assert {op['kind'] for op in ops} == {'remove'} and len(ops) == 7
    apply(ops, paths)
    assert tree(tmp_path) == {'etc': ('dir',), 'systemd': ('dir',), 'systemd/other.service': ('file', '[Unit]\n', 0o644)}
    assert persist.file_ops('absent', True, paths, nf.Desired(), TOOLS) == []


def test_absent_keeps_a_directory_that_holds_other_files(tmp_path):
    paths = paths_in(tmp_path)
    apply(persist.file_ops('present', True, paths, nf.validate_ruleset({'ipv4': RULES}), TOOLS), paths)
    other = tmp_path / 'systemd' / 'multi-user.target.wants' / 'ssh.service'
    os.symlink('/lib/systemd/system/ssh.service', str(other))
    apply(persist.file_ops('absent', True, paths, nf.Desired(), TOOLS), paths)
    assert sorted(tree(tmp_path)) == ['etc', 'systemd', 'systemd/multi-user.target.wants',
                                      'systemd/multi-user.target.wants/ssh.service']


def test_revert_puts_back_files_links_and_removes_created_directories(tmp_path):
    paths = paths_in(tmp_path)
    old = nf.validate_ruleset({'ipv4': RULES[:1]})
    apply(persist.file_ops('present', True, paths, old, TOOLS), paths)
    os.unlink(paths.link)
    os.symlink('/somewhere/else', paths.link)
    before = tree(tmp_path)
    ops = persist.file_ops('present', True, paths, nf.validate_ruleset({'ipv4': RULES, 'jumps': DOCKER_JUMPS}), TOOLS)
    revert = persist.revert_steps(ops, no_systemctl)
    apply(ops, paths)
    assert tree(tmp_path) != before
    assert all(r['rc'] == 0 for r in _steps.execute(revert, FakeRun()))
    assert tree(tmp_path) == before           # docker.service.d/ made by the apply is gone again

    # from nothing: the revert of a first apply leaves no file and no directory it made
    fresh = persist.Paths(str(tmp_path / 'new' / 'etc'), str(tmp_path / 'new' / 'systemd'))
    ops = persist.file_ops('present', True, fresh, old, TOOLS)
    revert = persist.revert_steps(ops, no_systemctl)
    apply(ops, fresh)
    _steps.execute(revert, FakeRun())
    assert not os.path.exists(str(tmp_path / 'new'))


def test_daemon_reload_only_with_systemd_and_a_unit_change(tmp_path, monkeypatch):
    paths = paths_in(tmp_path)
    ops = persist.file_ops('present', True, paths, nf.validate_ruleset({'ipv4': RULES}), TOOLS)
    real_isdir = os.path.isdir
    monkeypatch.setattr(persist.os.path, 'isdir', lambda p: p == '/run/systemd/system' or real_isdir(p))
    steps = persist.apply_steps(ops, paths, {'systemctl': '/bin/systemctl'}.get)
    assert steps[-1] == _steps.command(['/bin/systemctl', 'daemon-reload'], check=False)
    reload_step = persist.revert_steps(ops, {'systemctl': '/bin/systemctl'}.get)[-1]
    assert reload_step['argv'] == ['/bin/systemctl', 'daemon-reload']
    rules_only = [op for op in ops if op['path'].endswith('rules.v4')]
    assert persist.apply_steps(rules_only, paths, no_systemctl) == rules_only


def test_diff_names_each_file_before_and_after(tmp_path):
    paths = paths_in(tmp_path)
    assert persist.diff([]) == ('', '')
    ops = persist.file_ops('present', True, paths, nf.validate_ruleset({'ipv4': RULES}), TOOLS)
    before, after = persist.diff(ops)
    assert before.splitlines()[0] == after.splitlines()[0] == '# persistence files'
    assert '%s: absent' % paths.script in before
    script = [op['content'] for op in ops if op['path'] == paths.script][0]
    assert any(line.startswith('%s: %d lines, mode 0755, sha256 ' % (paths.script, len(script.splitlines())))
               for line in after.splitlines())
    assert '%s: symlink to %s' % (paths.link, paths.unit) in after
