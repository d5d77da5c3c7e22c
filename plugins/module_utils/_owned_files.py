# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The files the role pbx_firewall owns on a host: what to write, decided before writing.

Private to this collection (no public API). It owns, for the ``owned_files`` module: what an
owned file is on the host now (text, mode, owner, group; ``Existing``), the checks of the
module's options, and the plan of one run (``Planner``): which parts are on the host, which
files to write or remove, their ``#include`` lines and the named transports' ``local_net``
blocks (``_text_edits``), fail2ban's test and the chan_sip question when they decide
something, and every error before anything is written. Files are read as bytes and decoded
with ``surrogateescape``: a configuration that is not UTF-8 (a comment in Latin-1) goes back
byte for byte. Writing is the module's (``AnsibleModule.atomic_move`` keeps SELinux
contexts). Standard library and Ansible's argument spec only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import os
import pwd
import re
import stat

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.pbxops.firewall.plugins.module_utils._text_edits import (
    decode,
    sections,
    set_block,
    set_line,
)


class Existing(object):
    """What is at a path now: ``text`` None when nothing (or no regular file) is there."""

    def __init__(self, path):
        self.path = path
        self.text = None
        self.mode = self.owner = self.group = None
        self.is_link = os.path.islink(path)
        try:
            info = os.stat(path)
        except OSError:
            return
        if not stat.S_ISREG(info.st_mode):
            return
        with open(path, 'rb') as handle:
            self.text = decode(handle.read())
        self.mode = stat.S_IMODE(info.st_mode)
        self.owner = _name(pwd.getpwuid, info.st_uid)
        self.group = _name(grp.getgrgid, info.st_gid)

    @property
    def exists(self):
        return self.text is not None

    def matches(self, text, mode, owner, group):
        """The file holds TEXT with these attributes (a link to such a file does not count:
        the role replaces it by its own file)."""
        return (not self.is_link and self.text == text and self.mode == mode
                and self.owner == owner and self.group == group)

    def differences(self, text, mode, owner, group):
        """Human-readable list of what differs from the wanted file."""
        if not self.exists:
            return ['missing']
        found = []
        if self.is_link:
            found.append('a symbolic link')
        if self.text != text:
            found.append('content')
        if self.mode != mode:
            found.append('mode %04o (want %04o)' % (self.mode, mode))
        if (self.owner, self.group) != (owner, group):
            found.append('owner %s:%s (want %s:%s)' % (self.owner, self.group, owner, group))
        return found


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def parse_mode(value, where='mode'):
    """'0644', '644' or 0o644 -> 0o644; ValueError naming WHERE otherwise."""
    if isinstance(value, bool):
        raise ValueError('%s: must be an octal mode such as "0644", got %r' % (where, value))
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip() and set(value.strip()) <= set('01234567'):
        number = int(value.strip(), 8)
    else:
        raise ValueError('%s: must be an octal mode such as "0644", got %r' % (where, value))
    if not 0 <= number <= 0o7777:
        raise ValueError('%s: must be an octal mode between 0000 and 7777, got %r' % (where, value))
    return number


# -- the plan: what to write where, decided before anything is written -----------------------

OWNER, GROUP = 'root', 'root'
CHAN_SIP = 'chan_sip'
FAIL2BAN = 'fail2ban'
# What the parts the role knows are for, in the warning or error when their directory is missing.
PART_PURPOSE = {'fail2ban': ('fail2ban is not installed', 'ignoreip is not managed'),
                'asterisk': ('Asterisk is not configured', 'local_net is not managed'),
                'metrics': ('cron is not installed', 'the metrics refresher is not installed')}
# How to silence that warning, when not by the part's own switch pbx_firewall_<part>.
PART_OFF = {'metrics': 'pbx_firewall_metrics_interval: 0'}


class PlanError(Exception):
    """The files cannot be brought to the wanted state; nothing was written (message says why)."""


class Edit(object):
    """One file to write (``text``) or remove (``text`` None). ``owned``: the role's own file
    (mode, owner and group are set, a link is replaced); otherwise a file of the host edited
    in place (through a link; its mode and owner stay)."""

    def __init__(self, path, part, before, text, owned, mode=None):
        self.path, self.part, self.before, self.text, self.owned, self.mode = path, part, before, text, owned, mode

    def diff(self):
        header = self.path
        if self.owned and self.text is not None and self.before.exists and self.before.text == self.text:
            header += ' (%s)' % ', '.join(self.before.differences(self.text, self.mode, OWNER, GROUP))
        return {'before_header': header, 'after_header': header,
                'before': self.before.text or '', 'after': self.text or ''}


class Part(object):
    """One part of the role on this host: its files and what the run found and decided."""

    def __init__(self, name, managed, required):
        self.name, self.selected, self.required = name, managed, required
        self.on_host = False
        self.edits = []
        self.info = {}

    @property
    def managed(self):
        return self.selected and self.on_host

    def result(self):
        return dict(self.info, managed=self.managed, changed=bool(self.edits),
                    files=dict((e.path, 'removed' if e.text is None else 'written') for e in self.edits))


def missing_message(part, directory, required):
    what, consequence = PART_PURPOSE.get(part, ('%s is not set up' % part, 'its files are not managed'))
    if required:
        return ('%s on this host (%s is missing) and pbx_firewall_%s_required is true; nothing was written.'
                % (what, directory, part))
    if part in PART_OFF:
        return '%s on this host (%s is missing): %s (install it, or set %s).' % (
            what, directory, consequence, PART_OFF[part])
    return ('%s on this host (%s is missing): %s (set pbx_firewall_%s_required to make this an error, or '
            'pbx_firewall_%s: false to silence it).' % (what, directory, consequence, part, part))


class Planner(object):
    """Decides every edit of one run before anything is written.

    ``probe()`` -> (version or None, chan_sip loaded, warning or None) asks the running
    Asterisk (read only); ``check(config_dir, path, text, also)`` -> (verdict, errors, errors
    without the file, message, text with fail2ban's note) runs fail2ban's configuration test on
    a scratch copy (``_fail2ban``) where the other files of the part hold what they will
    (``also``: (path, text or None) pairs). Both are called only when their answer decides
    something: the probe when a chan_sip file is wanted, the test when the text of the jail.d
    file or of another file of its part would change.
    """

    def __init__(self, files, parts, enabled, asterisk, probe, check):
        self.files, self.enabled, self.asterisk = files, enabled, asterisk
        self.probe, self.check = probe, check
        names = [entry['part'] for entry in files] + (['asterisk'] if asterisk.get('transports') else [])
        self.parts = {}
        for name in names:
            spec = parts.get(name, {})
            self.parts.setdefault(name, Part(name, spec.get('manage', True), spec.get('required', False)))
        self.warnings = []
        self.errors = []
        self.reload_fail2ban = True

    # -- steps -------------------------------------------------------------------------------

    def run(self):
        for part in self.parts.values():
            self._find(part)
        if self.errors:
            raise PlanError(' '.join(self.errors))
        pending = {}     # path -> text, of files edited by more than one step (pjsip.conf)
        for entry in self.files:
            part = self.parts[entry['part']]
            if part.managed:
                self._owned_file(part, entry, pending)
        asterisk = self.parts.get('asterisk')
        if asterisk is not None and asterisk.managed:
            self._transports(asterisk, pending)
        if self.errors:
            raise PlanError(' '.join(self.errors))
        for path, (part, before, text) in sorted(pending.items()):
            if text != before.text:
                part.edits.append(Edit(path, part.name, before, text, owned=False))
        return self

    def _find(self, part):
        directories = sorted(set(os.path.dirname(e['path']) for e in self.files if e['part'] == part.name))
        if part.name == 'asterisk' and self.asterisk.get('config_dir'):
            directories = sorted(set(directories) | {self.asterisk['config_dir']})
        missing = [d for d in directories if not os.path.isdir(d)]
        part.on_host = not missing
        # a part that keeps nothing (the metrics refresher when it is off) is not missed
        keeps = self.enabled and (any(e.get('present', True) for e in self.files if e['part'] == part.name)
                                  or (part.name == 'asterisk' and bool(self.asterisk.get('transports'))))
        if missing and part.selected and keeps:
            message = missing_message(part.name, missing[0], part.required)
            (self.errors if part.required else self.warnings).append(message)

    def _wanted(self, entry):
        """True: write it; False: remove it; None: leave it as it is (chan_sip unknown)."""
        if not (self.enabled and entry.get('present', True)):
            return False
        if entry.get('needs') == CHAN_SIP:
            loaded = self._chan_sip()
            return loaded if loaded is not None else None
        return True

    def _chan_sip(self):
        """Whether the running Asterisk has chan_sip (None: no Asterisk answers); asked once."""
        asterisk = self.parts['asterisk']
        if 'chan_sip' not in asterisk.info:
            version, loaded, warning = self.probe()
            asterisk.info.update(running=version is not None, version=version, chan_sip=loaded)
            if warning:
                self.warnings.append(warning)
            if version is not None and not loaded:
                self.errors.append(
                    'pbx_firewall_asterisk_chan_sip is true, but the Asterisk running on this host (%s) has no '
                    'chan_sip loaded (chan_sip was removed in Asterisk 21). Nothing was written. Fix: set '
                    'pbx_firewall_asterisk_chan_sip: false (PJSIP gets local_net from the template section), '
                    'or load chan_sip on Asterisk 20 or older.' % version)
        return asterisk.info['chan_sip'] if asterisk.info['running'] else None

    def _owned_file(self, part, entry, pending):
        path = entry['path']
        wanted = self._wanted(entry)
        before = Existing(path)
        mode = entry['mode']
        if wanted is None:
            return
        if wanted:
            text = entry['content']
            if entry.get('check') == FAIL2BAN:
                also = self._also(entry)
                if before.text != text or any(Existing(other).text != content for other, content in also):
                    # may give the text with a note on top, which the file already holds
                    text = self._fail2ban_checked(path, text, also)
            if not before.matches(text, mode, OWNER, GROUP):
                part.edits.append(Edit(path, part.name, before, text, owned=True, mode=mode))
        elif before.exists or before.is_link:
            part.edits.append(Edit(path, part.name, before, None, owned=True))
        include = entry.get('include')
        if include:
            into = os.path.join(os.path.dirname(path), include['into'])
            current = pending.get(into)
            if current is None:
                existing = Existing(into)
                current = (part, existing, existing.text)
            line = '#include %s' % os.path.basename(path)
            text = set_line(current[2], line, bool(wanted), include.get('after'))
            pending[into] = (part, current[1], text)

    def _also(self, entry):
        """The (path, text or None: absent) the other files of ENTRY's part will hold: fail2ban's
        test of the jail.d file reads them too (the filter it names)."""
        found = []
        for other in self.files:
            if other is not entry and other['part'] == entry['part']:
                wanted = self._wanted(other)
                if wanted is not None:
                    found.append((other['path'], other['content'] if wanted else None))
        return found

    def _fail2ban_checked(self, path, text, also=()):
        config_dir = os.path.dirname(os.path.dirname(path))
        verdict, with_ours, without_ours, message, noted = self.check(config_dir, path, text, also)
        self.parts[FAIL2BAN].info.update(verdict=verdict, errors=with_ours)
        if verdict == 'ours':
            self.errors.append(message)
        elif verdict == 'existing':
            self.warnings.append(message)
            self.reload_fail2ban = False
            return noted
        return text

    def _transports(self, part, pending):
        transports = self.asterisk.get('transports') or []
        if not transports:
            return
        path = os.path.join(self.asterisk['config_dir'], 'pjsip.conf')
        current = pending.get(path)
        if current is None:
            existing = Existing(path)
            current = (part, existing, existing.text)
        text = current[2]
        found = sections(text)
        absent = [name for name in transports if name not in found]
        if absent and self.enabled:
            self.errors.append('pbx_firewall_asterisk_pjsip_transports: section [%s] is not in %s on this host; '
                               'sections there: %s' % (absent[0], path, ', '.join(found) or 'none'))
            return
        lines = ['local_net=%s' % subnet for subnet in self.asterisk.get('local_net') or []]
        for name in transports:
            text = set_block(text, name, lines, self.enabled)
        pending[path] = (part, current[1], text)

    # -- what the module reports -----------------------------------------------------------

    def edits(self):
        return [edit for name in self.order() for edit in self.parts[name].edits]

    def order(self):
        names = []
        for entry in self.files:
            if entry['part'] not in names:
                names.append(entry['part'])
        return names + sorted(set(self.parts) - set(names))

    def changed_parts(self):
        return [name for name in self.order() if self.parts[name].edits]

    def results(self):
        found = dict((name, part.result()) for name, part in self.parts.items())
        if FAIL2BAN in found:
            found[FAIL2BAN]['reload'] = self.reload_fail2ban
        if 'asterisk' in found:
            info = found['asterisk']
            info['local_net'] = list(self.asterisk.get('local_net') or []) if self.enabled else []
            info['chan_sip'] = bool(info.get('chan_sip')) and self.enabled and any(
                e.get('needs') == CHAN_SIP and e.get('present', True) for e in self.files)
        return found


# The options of the owned_files module that say what the files hold (also read by
# iptables_ruleset for ``current``): Ansible's argument spec, so both read them alike.
FILE_OPTIONS = dict(
    path=dict(type='path', required=True),
    part=dict(type='str', required=True),
    content=dict(type='str', default=''),
    present=dict(type='bool', default=True),
    mode=dict(type='str', default='0644'),
    check=dict(type='str', choices=['fail2ban']),
    needs=dict(type='str', choices=['chan_sip']),
    include=dict(type='dict'),
)
OPTIONS = dict(
    files=dict(type='list', elements='dict', required=True, options=FILE_OPTIONS),
    parts=dict(type='dict', default={}),
    enabled=dict(type='bool', default=True),
    asterisk=dict(type='dict', default={}),
)


class _Differs(Exception):
    """Something would be written: fail2ban's test would run (``current``)."""


def _would_write(*_args):
    raise _Differs()


def current(options, probe):
    """Whether the owned files, their ``#include`` lines and the ``local_net`` blocks already hold
    what a run of ``owned_files`` with these OPTIONS (``OPTIONS``, unchecked) would leave. Read
    only; the chan_sip question is asked only when a chan_sip file is wanted. Gives
    ``{'current': True, 'parts': ..., 'warnings': [...]}``, what that run would report, or
    ``{'current': False}`` when it would write, run fail2ban's test or fail: then it decides."""
    checked = ArgumentSpecValidator(OPTIONS).validate(options)
    if checked.error_messages:
        return {'current': False}
    params = checked.validated_parameters
    try:
        files, parts, asterisk = checked_options(params['files'], params['parts'], params['asterisk'])
        planner = Planner(files, parts, params['enabled'], asterisk, probe, _would_write).run()
    except (ValueError, PlanError, _Differs):
        return {'current': False}
    if planner.edits():
        return {'current': False}
    return {'current': True, 'parts': planner.results(), 'warnings': list(planner.warnings)}


def checked_options(files, parts, asterisk):
    """The module's options, checked: (files with modes parsed, parts, asterisk); ValueError
    naming the option, the value and what is valid."""
    checked = []
    seen = {}
    for pos, entry in enumerate(files):
        where = 'files[%d]' % pos
        path = entry['path']
        if not os.path.isabs(path):
            raise ValueError('%s.path: must be an absolute path, got %r' % (where, path))
        if path in seen:
            raise ValueError('%s.path: %r is also files[%d]; each owned file is listed once' % (where, path, seen[path]))
        seen[path] = pos
        include = entry.get('include')
        if include is not None:
            unknown = sorted(set(include) - {'into', 'after'})
            if unknown or not isinstance(include.get('into'), str) or '/' in include['into'] or not include['into']:
                raise ValueError('%s.include: must be {into: FILE NAME[, after: REGEX]} (a file of the same '
                                 'directory), got %r' % (where, include))
            if include.get('after') is not None:
                try:
                    re.compile(include['after'])
                except re.error as exc:
                    raise ValueError('%s.include.after: %r is not a regular expression: %s'
                                     % (where, include['after'], exc))
        if entry.get('needs') == CHAN_SIP and entry['part'] != 'asterisk':
            raise ValueError('%s.needs: chan_sip is for files of the asterisk part, not %r' % (where, entry['part']))
        checked.append(dict(entry, mode=parse_mode(entry['mode'], '%s.mode' % where)))
    checked_parts = {}
    for name, spec in parts.items():
        if not isinstance(spec, dict) or set(spec) - {'manage', 'required'}:
            raise ValueError('parts.%s: must be {manage: BOOL, required: BOOL}, got %r' % (name, spec))
        checked_parts[name] = dict((key, to_bool(value, 'parts.%s.%s' % (name, key))) for key, value in spec.items())
    unknown = sorted(set(asterisk) - {'config_dir', 'transports', 'local_net'})
    if unknown:
        raise ValueError('asterisk: unknown key %r; valid: config_dir, transports, local_net' % unknown[0])
    for key in ('transports', 'local_net'):
        value = asterisk.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v and '\n' not in v for v in value):
            raise ValueError('asterisk.%s: must be a list of strings, got %r' % (key, value))
    if asterisk.get('transports') and not asterisk.get('config_dir'):
        raise ValueError('asterisk.config_dir: needed for asterisk.transports (where pjsip.conf is)')
    return checked, checked_parts, asterisk


def to_bool(value, where):
    """A boolean of the role's variables (true/false, yes/no, on/off, 1/0, as Ansible reads them)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('true', 'yes', 'on', '1', 'y', 't'):
        return True
    if text in ('false', 'no', 'off', '0', 'n', 'f'):
        return False
    raise ValueError('%s: must be true or false, got %r' % (where, value))
