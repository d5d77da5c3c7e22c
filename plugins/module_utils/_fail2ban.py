# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reading fail2ban's configuration test for pbxops.firewall's ``fail2ban_config_check`` module.

Private to this collection (no public API): it owns what the role makes of
``fail2ban-client -t``: the test itself, on a scratch copy of the configuration
(``config_test``), fail2ban's own error lines out of its log output, the verdict of
the two tests (the configuration with the role's jail.d file, and, when that fails, the
same configuration without it), the journal reader a jail with ``backend = systemd`` needs
(``-t`` does not check it: ``journal_errors``), the fix for the errors seen (Debian 12's
stock ``sshd`` jail finds no log file under journald: ``backend = systemd``), the messages,
and the note the role's file carries while fail2ban was not reloaded with it. Also what a
reload makes of the bans: ``fail2ban-client banned`` read, and which banned addresses now
fall in ``ignoreip`` (``to_unban``). Standard library only; the modules (``owned_files``,
``fail2ban_config_check``, ``fail2ban_ignoreip_apply``) pass in their ``run_command``.

Verdicts: ``ok`` (the configuration with the role's file passes), ``existing`` (it fails,
and fails the same way without the role's file: the host's own configuration is broken,
the role's file adds nothing to it) and ``ours`` (the role's file makes it fail, or adds
errors to those the host already had).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import ipaddress
import os
import re
import shutil
import tempfile

from ansible_collections.pbxops.firewall.plugins.module_utils import _scratch
from ansible_collections.pbxops.firewall.plugins.module_utils._reasons import FAIL2BAN_JAIL, ULOGD_LOG_FILE

# fail2ban's log line: "2026-11-30 00:16:30,757 fail2ban  [8929]: ERROR   message";
# a message may go on over lines that start with white space.
LOG_LINE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \S+\s+\[\d+\]: (?P<level>[A-Z]+)\s+(?P<text>.*)$')
# fail2ban's closing line of every failed test: it says nothing about the cause.
GENERIC = 'ERROR: test configuration failed'
NO_LOG_FILE = re.compile(r'Have not found any log file for (?P<jail>\S+) jail')
# A jail that reads the journal needs the journal reader (module systemd.journal, Debian's and
# RHEL's python3-systemd) in the Python that runs fail2ban-server. fail2ban's test (-t) loads no
# backend, so without it the test passes and only the reload fails, on the whole configuration:
# "Failed to initialize any backend for Jail ...". The check says it first, in these words.
SECTION = re.compile(r'^\s*\[(?P<name>[^\]]+)\]\s*$')
JOURNAL_BACKEND = re.compile(r'^\s*backend\s*=\s*systemd\b')
NO_JOURNAL_READER = re.compile(r'^jail (?P<jail>\S+) reads the journal \(backend = systemd\)')
# The first line of the note in a file written while fail2ban was not reloaded with it.
NOTE_FIRST = '# NOT LOADED YET (pbxops.firewall):'


def error_lines(output, scratch=None, config_dir=None):
    """fail2ban's own ERROR messages of a ``fail2ban-client -t`` run, in order, the generic
    closing line left out; paths in the scratch copy are given as the real ones."""
    found = []
    current = None
    for line in output.splitlines():
        match = LOG_LINE.match(line)
        if match:
            current = None
            if match.group('level') in ('ERROR', 'CRITICAL') and match.group('text').strip() != GENERIC:
                current = [match.group('text').strip()]
                found.append(current)
        elif current is not None and line[:1].isspace() and line.strip():
            current.append(line.strip())
    errors = [' '.join(parts) for parts in found]
    if scratch and config_dir:
        errors = [text.replace(scratch.rstrip('/'), config_dir.rstrip('/')) for text in errors]
    if not errors and output.strip():
        # not in fail2ban's log format: its last lines say what happened
        errors = [' '.join(line.strip() for line in output.strip().splitlines()[-3:])]
    return errors


def relative_path(path, config_dir):
    """PATH relative to CONFIG_DIR; ValueError when it is not inside (fail2ban would not read it)."""
    relative = os.path.relpath(path, config_dir)
    if relative.startswith(os.pardir) or os.path.isabs(relative):
        raise ValueError('path %r is not inside config_dir %r: fail2ban reads only files below its '
                         'configuration directory' % (path, config_dir))
    return relative


def config_test(run_command, client, config_dir, relative, content, tmp_dir=None, also=()):
    """fail2ban's error lines of a test of CONFIG_DIR with RELATIVE holding CONTENT (None:
    without it) and the other files of ALSO, (relative, content or None) pairs, as given;
    [] when the test passes. The test runs on a scratch copy: nothing in
    CONFIG_DIR, nor behind the links it holds, changes (module_utils/_scratch.py). ValueError
    when the copy cannot be made."""
    scratch = tempfile.mkdtemp(prefix='pbxfw-f2b-', dir=tmp_dir)
    try:
        copy = os.path.join(scratch, 'fail2ban')
        try:
            _scratch.scratch_copy(config_dir, copy, relative, content, also)
        except (OSError, ValueError) as exc:
            raise ValueError("cannot make a scratch copy of %s to test fail2ban's configuration in: %s; "
                             "nothing was written" % (config_dir, exc))
        copy = os.path.realpath(copy)
        rc, out, err = run_command([client, '-c', copy, '-t'])
        if rc == 0:
            return []
        return error_lines((out or '') + '\n' + (err or ''), copy, config_dir) or ['exit status %d' % rc]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def journal_jails(content):
    """The jails of CONTENT (a jail.d file) that read the journal (backend = systemd)."""
    found = []
    section = None
    for line in (content or '').splitlines():
        match = SECTION.match(line)
        if match:
            section = match.group('name').strip()
        elif section not in (None, 'DEFAULT') and JOURNAL_BACKEND.match(line) and section not in found:
            found.append(section)
    return found


def server_python(client):
    """The interpreter and its arguments from the #! line of fail2ban-server beside CLIENT, or
    None when that is not a script."""
    try:
        with open(os.path.join(os.path.dirname(client), 'fail2ban-server'), 'rb') as handle:
            first = handle.readline(512).decode('utf-8', 'replace')
    except OSError:
        return None
    if not first.startswith('#!'):
        return None
    return first[2:].split() or None


def journal_errors(run_command, client, content):
    """An error for each jail of CONTENT that reads the journal when fail2ban's Python cannot
    load the journal reader; [] when it can, or no jail reads the journal."""
    jails = journal_jails(content)
    python = server_python(client) if jails else None
    if not python:
        return []
    rc, out, err = run_command(python + ['-c', 'from systemd import journal'])
    if rc == 0:
        return []
    why = ((err or out or '').strip().splitlines() or ['exit status %d' % rc])[-1]
    return ['jail %s reads the journal (backend = systemd), but the Python that runs fail2ban-server (%s) '
            'cannot load the journal reader (from systemd import journal: %s), so reloading fail2ban would '
            'fail with "Failed to initialize any backend for Jail \'%s\'"' % (jail, ' '.join(python), why, jail)
            for jail in jails]


def check(run_command, client, config_dir, relative, content, tmp_dir=None, also=()):
    """(verdict, errors with the file, errors without it or None) of CONTENT at RELATIVE, the
    files of ALSO as given in both tests (the role's other fail2ban files: the filter the
    jail.d file names). The errors are fail2ban's own test's, and the journal reader's that
    test does not see (``journal_errors``)."""
    with_ours = config_test(run_command, client, config_dir, relative, content, tmp_dir, also)
    with_ours += journal_errors(run_command, client, content)
    without_ours = (config_test(run_command, client, config_dir, relative, None, tmp_dir, also)
                    if with_ours else None)
    return verdict(with_ours, without_ours), with_ours, without_ours


def verdict(with_ours, without_ours):
    """'ok', 'existing' or 'ours' from the errors of the two tests (None: not run, [] passed)."""
    if not with_ours:
        return 'ok'
    if without_ours and sorted(with_ours) == sorted(without_ours):
        return 'existing'
    return 'ours'


def fixes(errors, config_dir):
    """The usual fix for each error fail2ban's test reported, as sentences."""
    found = []
    for jail in sorted(set(m.group('jail') for m in (NO_LOG_FILE.search(e) for e in errors) if m)):
        snippet = os.path.join(config_dir, 'jail.d', '%s-backend.local' % jail)
        if jail == FAIL2BAN_JAIL:
            found.append('the jail of pbx_firewall_log_drops reads the NFLOG lines ulogd2 writes to %s, which '
                         'is missing: install and start ulogd2 (Debian package ulogd2; its default configuration '
                         'logs NFLOG group 0 there), or log with LOG instead (pbx_firewall_nflog_group: null; '
                         'the jail then reads the kernel messages in the journal)' % ULOGD_LOG_FILE)
        elif jail == 'sshd':
            found.append('Debian 12 logs sshd to the journal only (no /var/log/auth.log without rsyslog), '
                         'so the stock [sshd] jail (backend auto) finds no log file: read the journal instead, '
                         'with %s holding the two lines "[sshd]" and "backend = systemd" '
                         '(or install rsyslog, which writes /var/log/auth.log)' % snippet)
        else:
            found.append('jail %s finds no log file: create the log file it reads (its logpath), or, if the '
                         'service logs to the journal, set "backend = systemd" for it (%s with the two lines '
                         '"[%s]" and "backend = systemd")' % (jail, snippet, jail))
    for jail in sorted(set(m.group('jail') for m in (NO_JOURNAL_READER.search(e) for e in errors) if m)):
        found.append('install python3-systemd (Debian, Ubuntu, RHEL; Debian\'s fail2ban package recommends it), '
                     'which gives fail2ban\'s Python the journal reader'
                     + (', or log drops through NFLOG to ulogd2 (pbx_firewall_nflog_group: 0), whose log '
                        'file the jail then reads, or leave fail2ban alone (pbx_firewall_fail2ban: false)'
                        if jail == FAIL2BAN_JAIL else ''))
    if not found:
        found.append('repair the configuration in %s until "fail2ban-client -t" passes' % config_dir)
    return found


def existing_message(errors, config_dir, path):
    """The warning when the host's own configuration fails its test (verdict 'existing')."""
    return ('fail2ban\'s own configuration in %s fails its configuration test even without the role\'s file '
            '(fail2ban-client -t: %s). The role\'s file %s is fine: fail2ban reports the same errors with and '
            'without it. It is written, but fail2ban is not reloaded into a configuration that fails (a running '
            'fail2ban keeps its previous configuration, a stopped one stays stopped), and every run repeats this '
            'warning until the test passes; then the role rewrites the file and reloads fail2ban. The firewall '
            'is applied as usual. Fix: %s; then start or reload fail2ban.'
            % (config_dir, ' | '.join(errors), path, '; '.join(fixes(errors, config_dir))))


def ours_message(with_ours, without_ours, config_dir, path):
    """The failure when the role's file makes the test fail (verdict 'ours')."""
    if without_ours:
        before = 'fails already without it (%s), and more with it' % ' | '.join(without_ours)
    else:
        before = 'passes without it'
    added = [error for error in with_ours if error not in (without_ours or [])]
    fix = (fixes(added, config_dir)
           if any(NO_LOG_FILE.search(error) or NO_JOURNAL_READER.search(error) for error in added) else [])
    return ('fail2ban\'s configuration test fails with the role\'s file %s (fail2ban-client -t and the journal '
            'reader\'s check: %s); the configuration in %s %s. The file was not written: the previous one stays '
            'in place.%s' % (path, ' | '.join(with_ours), config_dir, before, ''.join(' Fix: %s.' % t for t in fix)))


def noted(content, errors):
    """CONTENT with a note on top: fail2ban was not reloaded with this file, and why. The
    file then differs from what the role renders, so the next run tests again."""
    note = [NOTE_FIRST,
            '# fail2ban was not reloaded with this file: its own configuration fails its test',
            '# without this file too (%s).' % ' | '.join(errors),
            '# The role rewrites this file without this note, and reloads fail2ban, once the test passes.',
            '']
    return '\n'.join(note) + content


def banned(output):
    """{jail: [address, ...]} of ``fail2ban-client banned`` ("[{'sshd': ['192.0.2.7']}, ...]",
    Python literal syntax); ValueError for anything else."""
    text = output.strip()
    if not text:
        return {}
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError) as exc:
        raise ValueError('cannot read fail2ban-client banned output %r: %s' % (text[:200], exc))
    if isinstance(value, dict):
        value = [value]
    found = {}
    if not isinstance(value, (list, tuple)):
        raise ValueError('fail2ban-client banned printed %r, not a list of {jail: [addresses]}' % (text[:200],))
    for entry in value:
        if not isinstance(entry, dict):
            raise ValueError('fail2ban-client banned printed %r, not a list of {jail: [addresses]}' % (text[:200],))
        for jail, addresses in entry.items():
            found.setdefault(str(jail), []).extend(str(a) for a in (addresses or []))
    return found


def to_unban(bans, ignoreip):
    """The banned addresses (sorted, once each) that lie in an IGNOREIP subnet: fail2ban
    keeps a ban made before an address became never_block until the ban ends."""
    subnets = []
    for text in ignoreip:
        try:
            subnets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            continue
    found = set()
    for addresses in bans.values():
        for text in addresses:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                continue
            if any(address.version == net.version and address in net for net in subnets):
                found.add(text)
    return sorted(found, key=lambda a: (ipaddress.ip_address(a).version, ipaddress.ip_address(a)))
