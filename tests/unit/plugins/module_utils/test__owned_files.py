# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plan of one owned_files run on the role's owned files, decided before anything is
written (the text edits it uses: test__text_edits.py). Real files in a temporary directory; the
live role is tested in tests/integration/reliability/ (test_role_noop_rerun.py,
test_check_mode_role.py) and with a real Asterisk in tests/integration/asterisk/."""

from __future__ import annotations

import os

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _owned_files as owned

LINE = '#include pjsip_pbx_firewall.conf'
BEGIN = '; BEGIN pbxops.firewall local_net for transport-udp'
END = '; END pbxops.firewall local_net for transport-udp'


# -- the plan ------------------------------------------------------------------------------

class Host:
    """A fail2ban and an Asterisk configuration directory under tmp_path."""

    def __init__(self, root):
        self.f2b = root / 'fail2ban'
        (self.f2b / 'jail.d').mkdir(parents=True)
        self.ast = root / 'asterisk'
        self.ast.mkdir()
        (self.ast / 'pjsip.conf').write_text('[transport-udp]\ntype=transport\n')
        self.jail = self.f2b / 'jail.d' / 'pbx-firewall.local'
        self.probes, self.checks, self.also = [], [], []
        self.asterisk = ('Asterisk 20.1.0', True, None)
        self.verdict = 'ok'

    def files(self, chan_sip=False, pjsip=True, more=()):
        return owned.checked_options(list(more) + [
            {'path': str(self.jail), 'part': 'fail2ban', 'content': '[DEFAULT]\nignoreip = 127.0.0.1/8\n',
             'present': True, 'mode': '0644', 'check': 'fail2ban', 'needs': None, 'include': None},
            {'path': str(self.ast / 'pjsip_pbx_firewall.conf'), 'part': 'asterisk', 'content': 'P\n',
             'present': pjsip, 'mode': '0644', 'check': None, 'needs': None, 'include': {'into': 'pjsip.conf'}},
            {'path': str(self.ast / 'sip_pbx_firewall.conf'), 'part': 'asterisk', 'content': 'S\n',
             'present': chan_sip, 'mode': '0644', 'check': None, 'needs': 'chan_sip',
             'include': {'into': 'sip.conf', 'after': r'^\[general\]'}},
        ], {}, {'config_dir': str(self.ast), 'transports': [], 'local_net': ['10.0.0.0/8']})[0]

    def probe(self):
        self.probes.append(1)
        return self.asterisk

    def check(self, config_dir, path, text, also=()):
        self.checks.append(path)
        self.also.append(list(also))
        if self.verdict == 'ours':
            return 'ours', ['bad'], [], 'the file breaks fail2ban', None
        if self.verdict == 'existing':
            return 'existing', ['sshd'], ['sshd'], 'the host is broken', '# NOTE\n' + text
        return 'ok', [], None, None, None

    def plan(self, parts=None, enabled=True, transports=(), **kwargs):
        asterisk = {'config_dir': str(self.ast), 'transports': list(transports), 'local_net': ['10.0.0.0/8']}
        return owned.Planner(self.files(**kwargs), parts or {}, enabled, asterisk, self.probe, self.check).run()

    def apply(self, planner):
        """What the module does with a plan (as root: owner and group are root already)."""
        for edit in planner.edits():
            if edit.text is None:
                os.unlink(edit.path)
            else:
                with open(edit.path, 'wb') as handle:
                    handle.write(edit.text.encode('utf-8', 'surrogateescape'))
                if edit.owned:
                    os.chmod(edit.path, edit.mode)


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


def test_a_first_run_writes_every_file_and_a_second_one_nothing(host):
    first = host.plan()
    assert first.changed_parts() == ['fail2ban', 'asterisk']
    assert [(e.path, e.owned) for e in first.edits()] == [
        (str(host.jail), True), (str(host.ast / 'pjsip_pbx_firewall.conf'), True), (str(host.ast / 'pjsip.conf'), False)]
    assert host.checks == [str(host.jail)] and host.probes == []
    host.apply(first)
    assert (host.ast / 'pjsip.conf').read_text() == LINE + '\n[transport-udp]\ntype=transport\n'
    second = host.plan()
    assert second.edits() == [] and second.changed_parts() == []
    assert host.checks == [str(host.jail)]          # fail2ban's test runs only when the file would change
    assert second.results()['fail2ban'] == {'managed': True, 'changed': False, 'files': {}, 'reload': True}


def test_a_mode_change_alone_rewrites_without_testing_fail2ban(host):
    host.apply(host.plan())
    os.chmod(str(host.jail), 0o600)
    plan = host.plan()
    [edit] = plan.edits()
    assert edit.path == str(host.jail) and edit.diff()['before_header'].endswith('(mode 0600 (want 0644))')
    assert len(host.checks) == 1


def test_chan_sip_is_asked_only_when_wanted_and_an_asterisk_without_it_stops_everything(host):
    host.plan()
    assert host.probes == []
    host.asterisk = ('Asterisk 22.10.1', False, None)
    with pytest.raises(owned.PlanError, match=r'has no chan_sip loaded \(chan_sip was removed in Asterisk 21\)'):
        host.plan(chan_sip=True)
    assert not host.jail.exists() and host.probes == [1]


def test_chan_sip_unknown_leaves_its_file_and_line_alone(host):
    host.asterisk = (None, False, 'No Asterisk answers: nothing is written for chan_sip')
    plan = host.plan(chan_sip=True)
    assert str(host.ast / 'sip_pbx_firewall.conf') not in [e.path for e in plan.edits()]
    assert str(host.ast / 'sip.conf') not in [e.path for e in plan.edits()]
    assert plan.warnings == ['No Asterisk answers: nothing is written for chan_sip']
    assert plan.results()['asterisk']['chan_sip'] is False


def test_chan_sip_loaded_writes_its_file_and_the_line_after_general(host):
    (host.ast / 'sip.conf').write_text('[general]\ncontext=x\n')
    plan = host.plan(chan_sip=True)
    host.apply(plan)
    assert (host.ast / 'sip.conf').read_text() == '[general]\n#include sip_pbx_firewall.conf\ncontext=x\n'
    assert plan.results()['asterisk']['chan_sip'] is True
    # chan_sip no longer asked for: the file and its line go, without asking Asterisk
    host.probes.clear()
    host.apply(host.plan(chan_sip=False))
    assert (host.ast / 'sip.conf').read_text() == '[general]\ncontext=x\n'
    assert not (host.ast / 'sip_pbx_firewall.conf').exists() and host.probes == []


def test_fail2ban_verdicts(host):
    host.verdict = 'ours'
    with pytest.raises(owned.PlanError, match='the file breaks fail2ban'):
        host.plan()
    host.verdict = 'existing'
    plan = host.plan()
    assert plan.edits()[0].text.startswith('# NOTE\n') and plan.results()['fail2ban']['reload'] is False
    assert plan.warnings == ['the host is broken']
    # the file with the note is written; the next run tests again, warns again and changes nothing
    host.apply(plan)
    again = host.plan()
    assert again.changed_parts() == [] and again.warnings == ['the host is broken']
    assert again.results()['fail2ban']['reload'] is False and len(host.checks) == 3


def test_named_transports_must_exist_and_get_a_block(host):
    with pytest.raises(owned.PlanError, match=r'section \[transport-tls\] is not in .*pjsip.conf on this host; '
                                              r'sections there: transport-udp'):
        host.plan(transports=['transport-udp', 'transport-tls'])
    plan = host.plan(transports=['transport-udp'])
    host.apply(plan)
    assert (host.ast / 'pjsip.conf').read_text() == (
        LINE + '\n[transport-udp]\n%s\nlocal_net=10.0.0.0/8\n%s\ntype=transport\n' % (BEGIN, END))
    assert [e.path for e in host.plan(transports=['transport-udp']).edits()] == []


def test_disabled_removes_every_file_line_and_block(host):
    host.apply(host.plan(transports=['transport-udp']))
    plan = host.plan(enabled=False, transports=['transport-udp'])
    host.apply(plan)
    assert sorted(os.listdir(str(host.ast))) == ['pjsip.conf'] and not host.jail.exists()
    assert (host.ast / 'pjsip.conf').read_text() == '[transport-udp]\ntype=transport\n'
    assert plan.results()['asterisk']['local_net'] == []


def test_a_part_without_its_directory_warns_or_fails_when_required(host, tmp_path):
    (host.ast / 'pjsip.conf').unlink()
    os.rmdir(str(host.ast))
    plan = host.plan()
    assert plan.changed_parts() == ['fail2ban']
    assert plan.results()['asterisk']['managed'] is False
    assert plan.warnings == ['Asterisk is not configured on this host (%s is missing): local_net is not managed (set '
                             'pbx_firewall_asterisk_required to make this an error, or pbx_firewall_asterisk: false '
                             'to silence it).' % host.ast]
    with pytest.raises(owned.PlanError, match='pbx_firewall_asterisk_required is true; nothing was written'):
        host.plan(parts={'asterisk': {'required': True}})
    unmanaged = host.plan(parts={'asterisk': {'manage': False}})
    assert unmanaged.warnings == [] and unmanaged.changed_parts() == ['fail2ban']


@pytest.mark.parametrize('files, parts, asterisk, message', [
    ([{'path': 'relative', 'part': 'x', 'mode': '0644'}], {}, {}, "files[0].path: must be an absolute path, got 'relative'"),
    ([{'path': '/a', 'part': 'x', 'mode': '0644'}, {'path': '/a', 'part': 'y', 'mode': '0644'}], {}, {},
     "files[1].path: '/a' is also files[0]"),
    ([{'path': '/a', 'part': 'x', 'mode': 'u=rw'}], {}, {}, 'files[0].mode: must be an octal mode'),
    ([{'path': '/a', 'part': 'x', 'mode': '0644', 'include': {'into': '../pjsip.conf'}}], {}, {},
     'files[0].include: must be {into: FILE NAME'),
    ([{'path': '/a', 'part': 'x', 'mode': '0644', 'include': {'into': 'a', 'after': '['}}], {}, {},
     "files[0].include.after: '[' is not a regular expression"),
    ([{'path': '/a', 'part': 'fail2ban', 'mode': '0644', 'needs': 'chan_sip'}], {}, {},
     "files[0].needs: chan_sip is for files of the asterisk part, not 'fail2ban'"),
    ([], {'fail2ban': {'manage': 'maybe'}}, {}, "parts.fail2ban.manage: must be true or false, got 'maybe'"),
    ([], {'fail2ban': {'reload': True}}, {}, 'parts.fail2ban: must be {manage: BOOL, required: BOOL}'),
    ([], {}, {'transports': ['t']}, 'asterisk.config_dir: needed for asterisk.transports'),
    ([], {}, {'local_net': ['10.0.0.0/8\nx']}, 'asterisk.local_net: must be a list of strings'),
])
def test_bad_options_name_the_option(files, parts, asterisk, message):
    with pytest.raises(ValueError) as excinfo:
        owned.checked_options(files, parts, asterisk)
    assert message in str(excinfo.value)


def test_part_switches_read_as_ansible_reads_booleans():
    switches = {'fail2ban': {'manage': 'no', 'required': 'yes'}, 'asterisk': {'manage': True}}
    _files, parts, _asterisk = owned.checked_options([], switches, {})
    assert parts == {'fail2ban': {'manage': False, 'required': True}, 'asterisk': {'manage': True}}


def test_fail2ban_tests_the_jail_file_with_what_the_other_files_of_its_part_will_hold(host):
    """The jail.d file names the filter: its test sees the filter as it will be, and a change of
    the filter alone is tested too; a filter that goes is absent from the test."""
    (host.f2b / 'filter.d').mkdir()
    path = str(host.f2b / 'filter.d' / 'pbx-firewall-drops.conf')

    def drops(text, present=True):
        return [{'path': path, 'part': 'fail2ban', 'content': text, 'present': present, 'mode': '0644',
                 'check': None, 'needs': None, 'include': None}]

    host.apply(host.plan(more=drops('F1\n')))
    assert host.also == [[(path, 'F1\n')]]
    host.apply(host.plan(more=drops('F1\n')))
    assert len(host.checks) == 1                    # nothing changes: no test
    plan = host.plan(more=drops('F2\n'))
    assert [e.path for e in plan.edits()] == [path] and host.also[-1] == [(path, 'F2\n')]
    host.apply(plan)
    host.apply(host.plan(more=drops('F2\n', present=False)))
    assert host.also[-1] == [(path, None)] and not os.path.exists(path)
    host.verdict = 'ours'
    with pytest.raises(owned.PlanError, match='the file breaks fail2ban'):
        host.plan(more=drops('BAD\n'))
    assert not os.path.exists(path)


def test_a_part_that_keeps_nothing_is_not_missed(host, tmp_path):
    """The metrics refresher off: no warning where its directory is missing; on: the warning."""
    gone = str(tmp_path / 'no-cron.d' / 'pbx-firewall-metrics')

    def metrics(present):
        return [{'path': gone, 'part': 'metrics', 'content': 'C\n', 'present': present, 'mode': '0644',
                 'check': None, 'needs': None, 'include': None}]

    assert host.plan(more=metrics(False)).warnings == []
    assert host.plan(more=metrics(True)).warnings == [
        'cron is not installed on this host (%s is missing): the metrics refresher is not installed (install '
        'it, or set pbx_firewall_metrics_interval: 0).' % os.path.dirname(gone)]


# -- current: the firewall module's read-only reading for the files task ------------------------

def options(host, chan_sip=False, transports=()):
    """The files task's options as the role passes them (unchecked: current checks them)."""
    return {'files': [
        {'path': str(host.jail), 'part': 'fail2ban', 'content': '[DEFAULT]\nignoreip = 127.0.0.1/8\n',
         'check': 'fail2ban'},
        {'path': str(host.ast / 'pjsip_pbx_firewall.conf'), 'part': 'asterisk', 'content': 'P\n',
         'include': {'into': 'pjsip.conf'}},
        {'path': str(host.ast / 'sip_pbx_firewall.conf'), 'part': 'asterisk', 'content': 'S\n',
         'present': chan_sip, 'needs': 'chan_sip', 'include': {'into': 'sip.conf', 'after': r'^\[general\]'}},
    ], 'parts': {'fail2ban': {'manage': 'true'}}, 'enabled': True,
        'asterisk': {'config_dir': str(host.ast), 'transports': list(transports), 'local_net': ['10.0.0.0/8']}}


def test_current_only_when_a_run_would_write_nothing_and_it_reports_what_that_run_would(host):
    assert owned.current(options(host), host.probe) == {'current': False}
    assert host.checks == []                        # fail2ban's test never runs in the reading
    host.apply(host.plan(transports=['transport-udp']))
    reading = owned.current(options(host, transports=['transport-udp']), host.probe)
    run = host.plan(transports=['transport-udp'])
    assert reading == {'current': True, 'parts': run.results(), 'warnings': []} and run.edits() == []
    # any difference (a mode, a byte of an edited file, a transport's block) is not current
    os.chmod(str(host.jail), 0o640)
    assert owned.current(options(host, transports=['transport-udp']), host.probe) == {'current': False}
    os.chmod(str(host.jail), 0o644)
    assert owned.current(dict(options(host), enabled=False), host.probe) == {'current': False}
    (host.ast / 'pjsip.conf').write_text('[transport-udp]\ntype=transport\n')
    assert owned.current(options(host, transports=['transport-udp']), host.probe) == {'current': False}


def test_current_asks_asterisk_only_for_a_wanted_chan_sip_file_and_keeps_the_warning(host):
    host.apply(host.plan())
    assert owned.current(options(host), host.probe)['current'] is True and host.probes == []
    host.asterisk = (None, False, 'No Asterisk answers: nothing is written for chan_sip')
    reading = owned.current(options(host, chan_sip=True), host.probe)
    assert reading['current'] is True and host.probes == [1]
    assert reading['warnings'] == ['No Asterisk answers: nothing is written for chan_sip']
    assert reading['parts']['asterisk']['running'] is False
    host.asterisk = ('Asterisk 22.10.1', False, None)      # the run would fail: it decides
    assert owned.current(options(host, chan_sip=True), host.probe) == {'current': False}


def test_current_is_false_on_options_the_run_would_refuse(host):
    bad = options(host)
    bad['files'][0]['mode'] = 'rw'
    assert owned.current(bad, host.probe) == {'current': False}
    assert owned.current({'files': 'nope'}, host.probe) == {'current': False}
