# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fail2ban_config_check with the real fail2ban-client on copies of this machine's /etc/fail2ban.

Each case is a fail2ban configuration directory under the test's temporary directory
(the distribution's files, its enabled jails taken out): healthy, broken by a jail whose
log file does not exist (the class of Debian 12's stock ``sshd`` failure; the stock case
itself runs on a Debian 12 container in tests/integration/asterisk/), and healthy with a
file of the role's that fails to parse. The module must tell whose error it is, and leave
the directory byte-identical, in check mode too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys

import pytest

MODULE = 'pbxops.firewall.fail2ban_config_check'
INVENTORY = 'target ansible_connection=local ansible_pipelining=true ansible_python_interpreter=%s\n' % sys.executable
CONTENT = '# Managed by Ansible (pbxops.firewall).\n[DEFAULT]\nignoreip = 127.0.0.0/8 10.20.0.0/24 ::1/128\n'


def tree(root):
    """Everything under ROOT without following links: {path: ('dir',) | ('link', target) | ('file', sha)}."""
    found = {}
    for folder, dirs, files in os.walk(str(root)):
        for name in dirs + files:
            path = os.path.join(folder, name)
            key = os.path.relpath(path, str(root))
            if os.path.islink(path):
                found[key] = ('link', os.readlink(path))
            elif os.path.isdir(path):
                found[key] = ('dir',)
            else:
                with open(path, 'rb') as handle:
                    found[key] = ('file', hashlib.sha256(handle.read()).hexdigest())
    return found


@pytest.fixture
def config(tmp_path, needs):
    needs(os.path.isdir('/etc/fail2ban') and shutil.which('fail2ban-client'), 'fail2ban is not installed')
    target = tmp_path / 'fail2ban'
    shutil.copytree('/etc/fail2ban', str(target), symlinks=True)
    for name in os.listdir(str(target / 'jail.d')):
        os.unlink(str(target / 'jail.d' / name))
    return target


def check(ansible, config, content=CONTENT, **kwargs):
    task = {'name': 'check', MODULE: {'config_dir': str(config), 'path': str(config / 'jail.d' / 'pbx-firewall.local'),
                                      'content': content}, 'ignore_errors': True}
    before = tree(config)
    results = ansible.run([task], INVENTORY, **kwargs)
    assert tree(config) == before        # the module never changes the host
    return results[0]


def break_sshd(config, tmp_path):
    """An enabled sshd jail reading a log file that does not exist."""
    (config / 'jail.d' / 'site.local').write_text('[sshd]\nenabled = true\nlogpath = %s\n' % (tmp_path / 'no' / 'auth.log'))


def test_a_healthy_configuration_passes(ansible, config):
    result = check(ansible, config)
    assert result['_status'] == 'ok', result
    assert (result['verdict'], result['errors'], result['content'], result['reload']) == ('ok', [], CONTENT, True)
    assert result['_warnings'] == []
    assert not (config / 'jail.d' / 'pbx-firewall.local').exists()


@pytest.mark.parametrize('check_mode', [False, True])
def test_a_broken_host_configuration_is_named_and_the_file_is_fine(ansible, config, tmp_path, check_mode):
    break_sshd(config, tmp_path)
    result = check(ansible, config, check=check_mode)
    assert result['_status'] == 'ok', result
    assert result['verdict'] == 'existing' and result['reload'] is False
    assert result['errors'] == ['Failed during configuration: Have not found any log file for sshd jail']
    assert result['content'].endswith(CONTENT) and result['content'].startswith('# NOT LOADED YET (pbxops.firewall):')
    assert 'Have not found any log file for sshd jail' in result['content']
    [warning] = result['_warnings']
    warning = str(warning).replace("\\'", "'")     # 2.19+: a WarningSummary repr
    for fragment in ('own configuration in %s fails its configuration test even without the role' % config,
                     'Have not found any log file for sshd jail', "The role's file %s is fine" % (
                         config / 'jail.d' / 'pbx-firewall.local'),
                     'not reloaded', '%s/jail.d/sshd-backend.local' % config, 'backend = systemd'):
        assert fragment in warning, (fragment, warning)


def test_a_broken_file_of_the_role_fails_and_says_so(ansible, config):
    result = check(ansible, config, content=CONTENT + '[sshd\n')
    assert result['_status'] == 'failed' and result['verdict'] == 'ours', result
    path = config / 'jail.d' / 'pbx-firewall.local'
    assert "Source contains parsing errors: '%s'" % path in result['msg']
    assert 'passes without it' in result['msg'] and 'previous one stays' in result['msg']


def test_a_path_outside_the_configuration_is_refused(ansible, config, tmp_path):
    task = {'name': 'check', MODULE: {'config_dir': str(config), 'path': str(tmp_path / 'x.local'), 'content': ''},
            'ignore_errors': True}
    result = ansible.run([task], INVENTORY)[0]
    assert result['_status'] == 'failed'
    assert repr(str(tmp_path / 'x.local')) in result['msg'] and 'not inside config_dir' in result['msg']


# --------------------------------------------------------------------------------------
# Symbolic links in the configuration: nothing outside the scratch copy is ever written.
# --------------------------------------------------------------------------------------
OLD = '# Managed by Ansible (pbxops.firewall).\n[DEFAULT]\nignoreip = 127.0.0.0/8 ::1/128\n'


def _jail_elsewhere(config, host, link):
    """jail.d moved to HOST/shared/jail.d (holding the role's old file); config/jail.d links to it."""
    shared = host / 'shared' / 'jail.d'
    shared.mkdir(parents=True)
    (shared / 'pbx-firewall.local').write_text(OLD)
    os.rmdir(str(config / 'jail.d'))
    if link == 'relative':
        os.symlink('../shared/jail.d', str(config / 'jail.d'))
    elif link == 'absolute':
        os.symlink(str(shared), str(config / 'jail.d'))
    else:                     # a chain: absolute -> relative -> the directory
        os.symlink('jail.d', str(host / 'shared' / 'hop'))
        os.symlink(str(host / 'shared' / 'hop'), str(config / 'jail.d'))
    return shared


def _file_elsewhere(config, host, link):
    """The role's file itself is a link to a file outside (or, dangling, to nothing)."""
    (host / 'shared').mkdir()
    real = host / 'shared' / ('missing.local' if link == 'dangling' else 'pbx-firewall.local')
    if link != 'dangling':
        real.write_text(OLD)
    if link == 'file-chain':
        os.symlink('../../shared/pbx-firewall.local', str(config / 'jail.d' / 'step.local.lnk'))
        os.symlink('step.local.lnk', str(config / 'jail.d' / 'pbx-firewall.local'))
    else:
        os.symlink(str(real), str(config / 'jail.d' / 'pbx-firewall.local'))
    return real


LAYOUTS = ['relative', 'absolute', 'chain', 'file', 'file-chain', 'dangling']


@pytest.fixture
def linked(config):
    """A configuration under tmp_path/host whose jail.d or jail file is a link (see LAYOUTS)."""
    host = config.parent / 'host'
    host.mkdir()
    moved = host / 'fail2ban'
    os.rename(str(config), str(moved))
    os.symlink(str(moved), str(config))        # the configuration directory itself is a link too

    def make(layout):
        if layout in ('relative', 'absolute', 'chain'):
            _jail_elsewhere(moved, host, layout)
        else:
            _file_elsewhere(moved, host, layout)
        return host
    return make


@pytest.mark.parametrize('check_mode', [False, True])
@pytest.mark.parametrize('layout', LAYOUTS)
def test_links_in_the_configuration_are_never_written_through(ansible, config, linked, layout, check_mode):
    host = linked(layout)
    before = tree(host)
    result = check(ansible, config, check=check_mode)
    assert result['_status'] == 'ok', result
    assert (result['verdict'], result['reload'], result['content']) == ('ok', True, CONTENT)
    assert tree(host) == before
    assert not (host / 'shared' / 'missing.local').exists()


@pytest.mark.parametrize('layout', ['relative', 'file'])
def test_a_broken_configuration_behind_links_is_read_through_them(ansible, config, linked, tmp_path, layout):
    """The second test (without the role's file) neither deletes the live file; and fail2ban
    reads the jail.d the link leads to: the broken jail there is seen."""
    host = linked(layout)
    jail_d = host / 'shared' / 'jail.d' if layout == 'relative' else host / 'fail2ban' / 'jail.d'
    (jail_d / 'site.local').write_text('[sshd]\nenabled = true\nlogpath = %s\n' % (tmp_path / 'no' / 'auth.log'))
    before = tree(host)
    result = check(ansible, config)
    assert result['_status'] == 'ok' and result['verdict'] == 'existing', result
    assert result['errors'] == ['Failed during configuration: Have not found any log file for sshd jail']
    assert tree(host) == before
