# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plan execution, recovery and verification with a fake host (commands recorded, answers scripted)."""

from __future__ import annotations

from ansible_collections.pbxops.firewall.plugins.module_utils import _apply
from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf
from ansible_collections.pbxops.firewall.plugins.module_utils import _steps
from ansible_collections.pbxops.firewall.plugins.module_utils._host import Host
from ansible_collections.pbxops.firewall.tests.unit.plugins.module_utils.fake_module import FakeModule
from ansible_collections.pbxops.firewall.tests.unit.plugins.module_utils.test__host import BOTH, NFT_VERSION
from ansible_collections.pbxops.firewall.tests.unit.plugins.module_utils.test__netfilter import (
    RULES, SET_A, restore, save_text, table)

SAVE = '/usr/sbin/iptables-nft-save'
RESTORE = '/usr/sbin/iptables-nft-restore'
IPSET = '/usr/sbin/ipset'


def host_with(answers=None):
    table_ = {'/usr/sbin/iptables': NFT_VERSION, SAVE: (0, save_text(), ''),
              '/usr/sbin/ip6tables-nft-save': (0, save_text(), '')}
    table_.update(answers or {})
    fake = FakeModule(BOTH, table_)
    return Host(fake, 'nft'), fake


def plan_for(ruleset, live=None, live_sets=''):
    return nf.compute_plan({'ipv4': live or table()}, nf.parse_ipset_save(live_sets), nf.validate_ruleset(ruleset))


def commands(fake):
    return [argv for argv, _data in fake.calls if argv[0] in (RESTORE, IPSET)]


def test_prepare_creates_sets_then_tests_every_family():
    host, fake = host_with()
    plan = plan_for({'ipv4': RULES, 'ipsets': [SET_A]})
    assert _apply.prepare(host, plan) is None
    assert commands(fake) == [[IPSET, 'restore'], [RESTORE, '-w', '--noflush', '--test']]
    assert fake.calls[-1][1] == plan.families['ipv4'].restore


def test_a_rejected_line_is_named_and_the_new_sets_go_again():
    stderr = 'iptables-restore: line 4 failed\n'
    host, fake = host_with({RESTORE: (1, '', stderr)})
    plan = plan_for({'ipv4': RULES, 'ipsets': [SET_A]})
    error = _apply.prepare(host, plan)
    assert error == ('iptables-nft-restore --test rejected line 4, ruleset.ipv4[0]: %s -- iptables-restore: line 4 '
                     'failed; nothing was applied' % RULES[0])
    assert commands(fake) == [[IPSET, 'restore'], [RESTORE, '-w', '--noflush', '--test'], [IPSET, 'destroy', 'pbxfw-a']]


def test_commit_warns_about_a_set_it_cannot_destroy():
    host, fake = host_with({(IPSET, 'destroy', 'pbxfw-old'): (1, '', 'Set cannot be destroyed: it is in use\n')})
    plan = plan_for({'ipv4': RULES}, live_sets='create pbxfw-old hash:net family inet maxelem 10\n')
    warnings = _apply.run_steps(host, plan.commit_steps(host.tools))
    assert commands(fake) == [[RESTORE, '-w', '--noflush'], [IPSET, 'destroy', 'pbxfw-old']]
    assert warnings == ['could not destroy the ipset pbxfw-old that is no longer wanted: Set cannot be destroyed: '
                        'it is in use']


def test_commit_failure_raises_with_the_explanation():
    host, _fake = host_with({RESTORE: (2, '', 'iptables-restore: unable to initialize table\n')})
    plan = plan_for({'ipv4': RULES})
    try:
        _apply.run_steps(host, plan.commit_steps(host.tools))
    except _apply.ApplyError as exc:
        assert str(exc) == 'iptables-nft-restore failed: iptables-restore: unable to initialize table'
    else:
        raise AssertionError('no ApplyError')


def test_recover_replans_from_the_live_state_and_restores_files(tmp_path):
    # the failed commit left the new rules in place; recovery plans back to the previous state
    text = save_text(':PBX-FIREWALL - [0:0]', ':PBX-FW-SIP - [0:0]', '-A INPUT -j PBX-FIREWALL', *RULES)
    host, fake = host_with({SAVE: (0, text, '')})
    previous = nf.desired_from_live({'ipv4': table()}, {})
    revert = [_steps.write(str(tmp_path / 'rules.v4'), 'old\n', 0o644)]
    assert _apply.recover(host, previous, revert) == 'the previous owned state was restored'
    restores = [data for argv, data in fake.calls if argv[0] == RESTORE]
    assert restores == [restore('-D INPUT -j PBX-FIREWALL', '-F PBX-FIREWALL', '-F PBX-FW-SIP', '-X PBX-FIREWALL',
                                '-X PBX-FW-SIP')]
    assert (tmp_path / 'rules.v4').read_text() == 'old\n'


def test_recover_reports_when_it_fails_too(tmp_path):
    host, _fake = host_with({RESTORE: (1, '', 'no\n'),
                             SAVE: (0, save_text(':PBX-FIREWALL - [0:0]', RULES[0]), '')})
    message = _apply.recover(host, nf.desired_from_live({'ipv4': table()}, {}), [])
    assert message.startswith('restoring the previous state failed too: iptables-nft-restore failed: no')


class Armed:
    def __init__(self):
        self.disarmed = False

    def disarm(self):
        self.disarmed = True
        return True


def test_recover_disarms_the_watcher_first():
    host, _fake = host_with()
    armed = Armed()
    _apply.recover(host, nf.desired_from_live({'ipv4': table()}, {}), [], armed)
    assert armed.disarmed


def test_verify_warns_about_a_rule_stored_differently():
    given = '-A PBX-FIREWALL -p tcp --dport 22 -j ACCEPT'
    stored = '-A PBX-FIREWALL -p tcp -m tcp --dport 22 -j ACCEPT'
    plan = plan_for({'ipv4': [given]})
    host, _fake = host_with({SAVE: (0, save_text(':PBX-FIREWALL - [0:0]', '-A INPUT -j PBX-FIREWALL', stored), '')})
    assert _apply.verify(host, plan) == [
        "ipv4: PBX-FIREWALL rule 1 is stored as %r, not as given (%r); write it the way iptables-save prints it, "
        "or every run reports a change" % (stored, given)]
    same, _fake = host_with({SAVE: (0, save_text(':PBX-FIREWALL - [0:0]', '-A INPUT -j PBX-FIREWALL', stored), '')})
    assert _apply.verify(same, plan_for({'ipv4': [stored]})) == []


def test_file_step_failure_is_explained(tmp_path):
    (tmp_path / 'file').write_text('')
    host, _fake = host_with()
    try:
        _apply.run_steps(host, [_steps.write(str(tmp_path / 'file' / 'x'), 'x', 0o644)])
    except _apply.ApplyError as exc:
        assert str(exc).startswith('could not write %s: ' % (tmp_path / 'file' / 'x'))
    else:
        raise AssertionError('no ApplyError')
