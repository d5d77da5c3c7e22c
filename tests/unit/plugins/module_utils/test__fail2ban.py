# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading fail2ban's configuration test. The samples are what fail2ban 1.0.2 (Debian 12)
printed for ``fail2ban-client -c COPY -t``; the live behaviour is tested in
tests/integration/plugins/modules/test_fail2ban_config_check.py and, on a stock Debian 12
container, tests/integration/asterisk/test_fail2ban_stock_debian.py."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _fail2ban as f2b

SCRATCH = '/tmp/ansible-tmp-1/pbxfw-f2b-x/fail2ban'
# fail2ban's log prefix: time, logger (padded), [pid]
AT = '2026-11-30 00:16:30,757 fail2ban                [8929]: '
NO_LOG = '\n'.join([
    "2026-11-30 00:16:30,742 fail2ban.configreader   [8929]: WARNING 'allowipv6' not defined in 'Definition'. "
    "Using default one: 'auto'",
    AT + 'ERROR   Failed during configuration: Have not found any log file for sshd jail',
    AT + 'ERROR   ERROR: test configuration failed',
    ''])
PARSE = '\n'.join([
    AT + "ERROR   Failed during configuration: Source contains parsing errors: '%s/jail.d/pbx-firewall.local'" % SCRATCH,
    "\t[line  3]: '[sshd\\n'",
    AT + 'ERROR   ERROR: test configuration failed',
    ''])
SSHD_ERROR = 'Failed during configuration: Have not found any log file for sshd jail'
PARSE_ERROR = ("Failed during configuration: Source contains parsing errors: "
               "'/etc/fail2ban/jail.d/pbx-firewall.local' [line  3]: '[sshd\\n'")


@pytest.mark.parametrize('output, expected', [
    (NO_LOG, [SSHD_ERROR]),
    (PARSE, [PARSE_ERROR]),
    ('OK: configuration test is successful\n', ['OK: configuration test is successful']),
    ('', []),
    ('Traceback (most recent call last):\n  File "x"\nImportError: no module named systemd\n',
     ['Traceback (most recent call last): File "x" ImportError: no module named systemd']),
])
def test_error_lines(output, expected):
    assert f2b.error_lines(output, SCRATCH, '/etc/fail2ban') == expected


@pytest.mark.parametrize('with_ours, without_ours, expected', [
    ([], None, 'ok'),
    ([SSHD_ERROR], [SSHD_ERROR], 'existing'),
    ([PARSE_ERROR], [], 'ours'),
    ([PARSE_ERROR, SSHD_ERROR], [SSHD_ERROR], 'ours'),
    ([SSHD_ERROR], [SSHD_ERROR, PARSE_ERROR], 'ours'),
])
def test_verdict(with_ours, without_ours, expected):
    assert f2b.verdict(with_ours, without_ours) == expected


@pytest.mark.parametrize('errors, fragments', [
    ([SSHD_ERROR], ['Debian 12', 'journal', '/etc/fail2ban/jail.d/sshd-backend.local', '"[sshd]"',
                    '"backend = systemd"', 'rsyslog']),
    (['Failed during configuration: Have not found any log file for asterisk jail'],
     ['jail asterisk finds no log file', '/etc/fail2ban/jail.d/asterisk-backend.local', '"[asterisk]"']),
    ([PARSE_ERROR], ['repair the configuration in /etc/fail2ban until "fail2ban-client -t" passes']),
    (['Failed during configuration: Have not found any log file for pbx-firewall-drops jail'],
     ['pbx_firewall_log_drops', '/var/log/ulog/syslogemu.log', 'install and start ulogd2',
      'pbx_firewall_nflog_group: null']),
])
def test_fixes(errors, fragments):
    text = ' '.join(f2b.fixes(errors, '/etc/fail2ban'))
    assert [f for f in fragments if f not in text] == []


def test_the_existing_message_says_whose_error_what_happens_and_the_fix():
    text = f2b.existing_message([SSHD_ERROR], '/etc/fail2ban', '/etc/fail2ban/jail.d/pbx-firewall.local')
    for fragment in ('own configuration in /etc/fail2ban fails its configuration test even without the role',
                     SSHD_ERROR, "The role's file /etc/fail2ban/jail.d/pbx-firewall.local is fine",
                     'not reloaded', 'backend = systemd', 'The firewall is applied'):
        assert fragment in text, (fragment, text)


@pytest.mark.parametrize('without_ours, fragment', [
    ([], 'passes without it'),
    ([SSHD_ERROR], 'fails already without it (%s), and more with it' % SSHD_ERROR),
])
def test_the_ours_message(without_ours, fragment):
    text = f2b.ours_message([PARSE_ERROR], without_ours, '/etc/fail2ban', '/etc/fail2ban/jail.d/pbx-firewall.local')
    assert fragment in text and PARSE_ERROR in text and 'previous one stays' in text


def test_the_note_is_comments_only_and_keeps_the_content():
    content = '# Managed by Ansible\n[DEFAULT]\nignoreip = 127.0.0.0/8 ::1/128\n'
    text = f2b.noted(content, [PARSE_ERROR])
    assert text.startswith(f2b.NOTE_FIRST) and text.endswith(content)
    assert all(line.startswith('#') for line in text[:-len(content)].splitlines() if line)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    assert parser.get('DEFAULT', 'ignoreip') == '127.0.0.0/8 ::1/128'


# -- fail2ban-client banned, and which bans a reload lifts ----------------------------------

@pytest.mark.parametrize('output, expected', [
    ("[{'sshd': ['192.0.2.7', '10.1.2.3']}, {'asterisk': []}]\n",
     {'sshd': ['192.0.2.7', '10.1.2.3'], 'asterisk': []}),
    ("[{'sshd': []}]", {'sshd': []}),
    ('[]', {}),
    ('', {}),
    ("{'sshd': ['2001:db8::7']}", {'sshd': ['2001:db8::7']}),
])
def test_banned_reads_fail2ban_clients_listing(output, expected):
    assert f2b.banned(output) == expected


@pytest.mark.parametrize('output', ['Sorry but the command is invalid', "['sshd']", '[{"sshd": [1}]'])
def test_banned_refuses_what_it_cannot_read(output):
    with pytest.raises(ValueError, match='fail2ban-client banned'):
        f2b.banned(output)


def test_to_unban_lists_banned_addresses_inside_ignoreip_once_each():
    bans = {'sshd': ['192.168.10.7', '203.0.113.5', '2001:db8:1::9'], 'asterisk': ['192.168.10.7', '10.9.0.1']}
    assert f2b.to_unban(bans, ['127.0.0.1/8', '::1/128', '192.168.10.0/24', '10.9.0.0/24', '2001:db8:1::/48']) == [
        '10.9.0.1', '192.168.10.7', '2001:db8:1::9']
    assert f2b.to_unban(bans, ['127.0.0.1/8']) == []
    assert f2b.to_unban({'sshd': ['not-an-address']}, ['0.0.0.0/0']) == []


def test_relative_path_refuses_a_file_outside_the_configuration():
    assert f2b.relative_path('/etc/fail2ban/jail.d/x.local', '/etc/fail2ban') == 'jail.d/x.local'
    with pytest.raises(ValueError, match="is not inside config_dir '/etc/fail2ban'"):
        f2b.relative_path('/etc/other/x.local', '/etc/fail2ban')


JAIL_D = '\n'.join(['[DEFAULT]', 'backend = systemd', 'ignoreip = 192.0.2.0/24', '[pbx-firewall-drops]',
                    'enabled = true', '  backend = systemd[journalflags=1]', '[asterisk]', 'backend = auto', ''])


def test_journal_jails_are_the_jails_with_backend_systemd_not_the_defaults():
    assert f2b.journal_jails(JAIL_D) == ['pbx-firewall-drops']
    assert f2b.journal_jails('[asterisk]\nlogpath = /var/log/asterisk/security\n') == []


def run(argv):
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


def client_beside(tmp_path, python):
    """A fail2ban-client path whose fail2ban-server runs under PYTHON (its #! line)."""
    (tmp_path / 'fail2ban-server').write_text('#! %s\nimport sys\n' % python)
    return str(tmp_path / 'fail2ban-client')


def test_journal_errors_when_fail2bans_python_has_no_journal_reader(tmp_path):
    # a Python without systemd.journal: a fresh venv's
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    errors = f2b.journal_errors(run, client_beside(tmp_path, venv / 'bin' / 'python'), JAIL_D)
    assert len(errors) == 1 and errors[0].startswith('jail pbx-firewall-drops reads the journal'), errors
    assert "No module named 'systemd'" in errors[0] and str(venv) in errors[0]
    text = ' '.join(f2b.fixes(errors, '/etc/fail2ban'))
    assert 'install python3-systemd' in text and 'pbx_firewall_nflog_group: 0' in text, text


def test_no_journal_errors_without_a_journal_jail_or_with_a_python_that_reads_it(tmp_path):
    assert f2b.journal_errors(run, client_beside(tmp_path, '/nonexistent/python'), '[sshd]\nenabled = true\n') == []
    if run(['/usr/bin/python3', '-c', 'from systemd import journal'])[0] != 0:
        why = "/usr/bin/python3 has no systemd.journal (python3-systemd)"
        if os.environ.get('CI'):
            pytest.fail('%s: CI installs it (hack/install-debs.sh)' % why)
        pytest.skip(why)
    assert f2b.journal_errors(run, client_beside(tmp_path, '/usr/bin/python3'), JAIL_D) == []


def test_server_python_is_none_for_a_binary_or_a_missing_server(tmp_path):
    assert f2b.server_python(str(tmp_path / 'fail2ban-client')) is None
    (tmp_path / 'fail2ban-server').write_bytes(b'\x7fELF')
    assert f2b.server_python(str(tmp_path / 'fail2ban-client')) is None
