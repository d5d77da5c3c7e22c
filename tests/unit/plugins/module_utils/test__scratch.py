# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The scratch copy of a configuration directory, on real files and links under a temporary directory.

Each layout has links where a site may have them; the copy must read like the live
directory (every link leads where the live one does), hold the replaced file in a
directory of its own, and leave everything outside it untouched. The real fail2ban
test is tests/integration/plugins/modules/test_fail2ban_config_check.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _scratch

NEW = '[DEFAULT]\nignoreip = 10.0.0.0/8\n'
OLD = '[DEFAULT]\nignoreip = 127.0.0.0/8\n'


def snapshot(root):
    found = {}
    for folder, dirs, files in os.walk(str(root)):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                found[path] = ('link', os.readlink(path))
            elif os.path.isfile(path):
                with open(path) as handle:
                    found[path] = ('file', handle.read())
            else:
                found[path] = ('dir',)
    return found


@pytest.fixture
def live(tmp_path):
    """tmp_path/host/etc/fail2ban with jail.conf and an empty jail.d; the copy goes to tmp_path/copy."""
    root = tmp_path / 'host' / 'etc' / 'fail2ban'
    (root / 'jail.d').mkdir(parents=True)
    (root / 'jail.conf').write_text('[DEFAULT]\n')
    return root


def read(path):
    with open(str(path)) as handle:
        return handle.read()


def copy(live, tmp_path, content=NEW):
    outside = snapshot(tmp_path / 'host')
    target = _scratch.scratch_copy(str(live), str(tmp_path / 'copy'), 'jail.d/pbx-firewall.local', content)
    assert snapshot(tmp_path / 'host') == outside
    scratch = os.path.realpath(str(tmp_path / 'copy'))
    assert os.path.realpath(os.path.dirname(target)) == os.path.join(scratch, 'jail.d')
    assert not os.path.islink(target)
    return tmp_path / 'copy'


@pytest.mark.parametrize('how', ['absolute', 'relative', 'chain', 'to-itself'])
def test_a_linked_jail_d_becomes_a_directory_of_the_copy(live, tmp_path, how):
    site = tmp_path / 'host' / 'srv' / 'jail.d'
    site.mkdir(parents=True)
    (site / 'pbx-firewall.local').write_text(OLD)
    (site / 'site.local').write_text('[sshd]\nenabled = false\n')
    os.rmdir(str(live / 'jail.d'))
    if how == 'absolute':
        os.symlink(str(site), str(live / 'jail.d'))
    elif how == 'relative':
        os.symlink('../../srv/jail.d', str(live / 'jail.d'))
    elif how == 'chain':
        os.symlink('jail.d', str(site.parent / 'hop'))
        os.symlink(str(site.parent / 'hop'), str(live / 'jail.d'))
    else:                      # jail.d is the configuration directory itself
        os.symlink('.', str(live / 'jail.d'))
        site = live
        (live / 'pbx-firewall.local').write_text(OLD)
        (live / 'site.local').write_text('[sshd]\nenabled = false\n')
    result = copy(live, tmp_path)
    assert read(result / 'jail.d' / 'pbx-firewall.local') == NEW
    assert read(result / 'jail.d' / 'site.local') == '[sshd]\nenabled = false\n'
    assert read(result / 'jail.conf') == '[DEFAULT]\n'
    assert read(site / 'pbx-firewall.local') == OLD


@pytest.mark.parametrize('how', ['absolute', 'relative-chain', 'dangling'])
def test_a_linked_file_is_replaced_in_the_copy_only(live, tmp_path, how):
    real = tmp_path / 'host' / 'srv' / 'pbx-firewall.local'
    real.parent.mkdir(parents=True)
    if how != 'dangling':
        real.write_text(OLD)
    if how == 'relative-chain':
        os.symlink('../../../srv/pbx-firewall.local', str(live / 'jail.d' / 'hop'))
        os.symlink('hop', str(live / 'jail.d' / 'pbx-firewall.local'))
    else:
        os.symlink(str(real), str(live / 'jail.d' / 'pbx-firewall.local'))
    result = copy(live, tmp_path)
    assert read(result / 'jail.d' / 'pbx-firewall.local') == NEW
    assert os.path.exists(str(real)) == (how != 'dangling')


def test_links_resolve_as_they_do_live(live, tmp_path):
    """A link into the directory leads into the copy; a link out of it, to the live target."""
    (live / 'action.d').mkdir()
    (live / 'action.d' / 'ban.conf').write_text('inside\n')
    (live / 'jail.d' / 'ban.conf').symlink_to('../action.d/ban.conf')
    outside = tmp_path / 'host' / 'shared.local'
    outside.write_text('outside\n')
    (live / 'jail.d' / 'shared.local').symlink_to(outside)
    (live / 'jail.d' / 'gone.local').symlink_to(tmp_path / 'host' / 'nothing')
    result = copy(live, tmp_path)
    scratch = os.path.realpath(str(result))
    assert os.readlink(str(result / 'jail.d' / 'ban.conf')) == os.path.join(scratch, 'action.d', 'ban.conf')
    assert os.readlink(str(result / 'jail.d' / 'shared.local')) == str(outside)
    assert read(result / 'jail.d' / 'shared.local') == 'outside\n'
    assert not os.path.exists(str(result / 'jail.d' / 'gone.local'))


def test_without_content_the_file_is_taken_out_of_the_copy(live, tmp_path):
    (live / 'jail.d' / 'pbx-firewall.local').write_text(OLD)
    result = copy(live, tmp_path, content=None)
    assert not os.path.lexists(str(result / 'jail.d' / 'pbx-firewall.local'))
    assert read(live / 'jail.d' / 'pbx-firewall.local') == OLD


def test_a_missing_directory_is_made_in_the_copy(live, tmp_path):
    os.rmdir(str(live / 'jail.d'))
    result = copy(live, tmp_path)
    assert read(result / 'jail.d' / 'pbx-firewall.local') == NEW
    assert not (live / 'jail.d').exists()


@pytest.mark.parametrize('relative, message', [
    ('../outside.local', "'../outside.local' is not a file inside"),
    ('/etc/passwd', "'/etc/passwd' is not a file inside"),
    ('jail.conf/x.local', 'is not a directory of its own'),
])
def test_paths_that_do_not_name_a_file_inside_are_errors(live, tmp_path, relative, message):
    with pytest.raises(ValueError) as exc:
        _scratch.scratch_copy(str(live), str(tmp_path / 'copy'), relative, NEW)
    assert message in str(exc.value)


def test_more_files_each_get_a_directory_of_the_copy_and_nothing_outside_changes(live, tmp_path):
    """jail.d and filter.d both linked elsewhere: both files are written in the copy only."""
    site = tmp_path / 'host' / 'srv'
    for name in ('jail.d', 'filter.d'):
        (site / name).mkdir(parents=True)
    (site / 'filter.d' / 'sshd.conf').write_text('[Definition]\n')
    (site / 'filter.d' / 'pbx-firewall-drops.conf').write_text(OLD)
    os.rmdir(str(live / 'jail.d'))
    os.symlink(str(site / 'jail.d'), str(live / 'jail.d'))
    os.symlink(str(site / 'filter.d'), str(live / 'filter.d'))
    outside = snapshot(tmp_path / 'host')
    _scratch.scratch_copy(str(live), str(tmp_path / 'copy'), 'jail.d/pbx-firewall.local', NEW,
                          also=[('filter.d/pbx-firewall-drops.conf', '[Definition]\nfailregex = x\n'),
                                ('filter.d/gone.conf', None)])
    assert snapshot(tmp_path / 'host') == outside
    result = tmp_path / 'copy'
    assert read(result / 'jail.d' / 'pbx-firewall.local') == NEW
    assert read(result / 'filter.d' / 'pbx-firewall-drops.conf') == '[Definition]\nfailregex = x\n'
    assert read(result / 'filter.d' / 'sshd.conf') == '[Definition]\n'
    for name in ('jail.d', 'filter.d'):
        assert not os.path.islink(str(result / name))


def test_a_file_of_also_can_be_taken_out(live, tmp_path):
    (live / 'filter.d').mkdir()
    (live / 'filter.d' / 'pbx-firewall-drops.conf').write_text(OLD)
    _scratch.scratch_copy(str(live), str(tmp_path / 'copy'), 'jail.d/pbx-firewall.local', NEW,
                          also=[('filter.d/pbx-firewall-drops.conf', None)])
    assert not (tmp_path / 'copy' / 'filter.d' / 'pbx-firewall-drops.conf').exists()
    assert (live / 'filter.d' / 'pbx-firewall-drops.conf').exists()
