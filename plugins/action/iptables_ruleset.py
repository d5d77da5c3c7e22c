# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for pbxops.firewall.iptables_ruleset: confirms an apply over a new connection.

The module arms a watcher on the host before it changes anything. This plugin gives the
module a fresh rollback token, runs it, and when the module reports a pending rollback
it drops the existing connection (an SSH ControlMaster would keep an established
session alive through rules that block new connections), then runs the host's
confirmation over a *new* connection: it claims the pending marker and writes the boot
files (``_rollback.confirm``). When no new connection gets through before the deadline,
the host restores the previous ruleset by itself and the task fails. It also prints the
module's one line per host about the host's other firewall managers (``host_firewall``),
and narrows ``owned_files`` (the role's files task's options, read by the module) to the parts
the run's tags select, stamping the module's reading with their digest (``_files_current``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import secrets
import shlex
import time

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.pbxops.firewall.plugins.module_utils import _rollback
from ansible_collections.pbxops.firewall.plugins.plugin_utils._files_current import digest, managed, narrowed, play_id

display = Display()

MODULE = 'pbxops.firewall.iptables_ruleset'
PRIVATE_KEY = _rollback.RESULT_KEY
DEFAULT_RUN_DIR = _rollback.RUN_DIR
CONFIRM_MARGIN = 1.0        # stop confirming this long before the host's deadline
GRACE = 4.0                 # how long after the deadline the rollback may take
CONNECT_TIMEOUT_MAX = 5     # connect timeout while confirming (seconds)


def show_host_firewall(host, result):
    """Print the module's one line about the host's other firewall managers (refused or not).

    Printed here rather than by a task of the role: every task costs the controller a worker
    per host, and this line comes with the firewall task's own result."""
    summary = (result.get('host_firewall') or {}).get('summary')
    if summary:
        display.display('%s: %s' % (host, summary))


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp

        args = dict(self._task.args)
        internal = sorted(k for k in args if k == 'rollback_token' or k.startswith(_rollback.INTERNAL_PREFIX))
        if internal:
            result.update(failed=True, msg='%s is internal: the action plugin sets it' % internal[0])
            return result
        token = secrets.token_hex(12)
        args[_rollback.TOKEN_ARG] = token
        files_digest = self._owned_files(args, task_vars)
        try:
            timeout = max(int(args.get('rollback_timeout', 30)), 0)
        except (TypeError, ValueError):
            timeout = 0  # the module reports the bad value
        started = time.monotonic()
        try:
            module_result = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        except AnsibleConnectionFailure as exc:
            if timeout <= 0 or self._task.check_mode:
                raise
            # The connection broke while the module ran: if the apply went through, nobody
            # will confirm it and the host reverts at its deadline.
            return self._lost(result, token, DEFAULT_RUN_DIR, started + timeout, timeout,
                              'the connection broke while the module ran (%s)' % exc)

        # remove the remote tmp dir now, while the connection that ran the module still works
        self._cleanup_quietly()
        pending = module_result.pop(PRIVATE_KEY, None)
        result.update(module_result)
        if isinstance(result.get('owned_files'), dict):
            result['owned_files']['digest'] = files_digest
        show_host_firewall(task_vars.get('inventory_hostname'), result)
        result.setdefault('rolled_back', False)
        if not pending or result.get('failed'):
            return result
        result['rollback_token'] = token
        deadline = time.monotonic() + float(pending['remaining'])
        return self._confirm(result, pending, deadline)

    def _owned_files(self, args, task_vars):
        """Narrow ``owned_files`` (the role's files task's options) to the parts the run's tags
        select, or drop it when they select none; the digest its reading is stamped with."""
        options = args.get('owned_files')
        if not isinstance(options, dict):
            return None
        options = narrowed(options, task_vars.get('ansible_run_tags'), task_vars.get('ansible_skip_tags'))
        if not managed(options):
            del args['owned_files']
            return None
        args['owned_files'] = options
        return digest(options, play_id(self._task))

    # -- confirmation ----------------------------------------------------------------------

    @staticmethod
    def _status_command(paths):
        """Shell that prints the word of the run's state (``_rollback.STATES``, in the same order)."""
        tests = ['test -e %s; then echo %s%s' % (shlex.quote(paths[name]), word,
                                                 '; cat %s' % shlex.quote(paths[name]) if name == 'confirmed' else '')
                 for name, word in _rollback.STATES]
        return 'if ' + '; elif '.join(tests) + '; else echo PBXFW-UNKNOWN; fi'

    @classmethod
    def _confirm_command(cls, paths, pending):
        """Shell that confirms a pending run: the host's script claims the marker and writes the boot files."""
        return 'if test -e %s; then %s %s confirm %s; else %s; fi' % (
            shlex.quote(paths['pending']), shlex.quote(pending['python']), shlex.quote(pending['script']),
            shlex.quote(pending['spec']), cls._status_command(paths))

    def _ask(self, command, connect_timeout):
        """Run ``command`` over a new connection: (marker word, the JSON line after it or None),
        or (None, None) when unreachable."""
        try:
            self._connection.reset()
        except Exception as exc:  # a failing reset must not stop the confirmation
            display.vvv('pbxops.firewall: connection reset failed: %s' % exc)
        saved = self._set_connect_timeout(connect_timeout)
        try:
            res = self._low_level_execute_command(command, sudoable=True)
        except (AnsibleConnectionFailure, AnsibleError) as exc:
            display.vvv('pbxops.firewall: confirmation attempt failed: %s' % exc)
            return None, None
        finally:
            self._restore_connect_timeout(saved)
        lines = [line.strip() for line in (res.get('stdout') or '').splitlines()]
        for index, line in enumerate(lines):
            if line in _rollback.WORDS:
                detail = None
                if index + 1 < len(lines):
                    try:
                        detail = json.loads(lines[index + 1])
                    except ValueError:
                        pass
                return line, detail
        display.vvv('pbxops.firewall: unexpected confirmation output rc=%s %r %r'
                    % (res.get('rc'), res.get('stdout'), res.get('stderr')))
        return None, None

    def _set_connect_timeout(self, seconds):
        try:
            if self._connection.has_option('timeout'):
                saved = self._connection.get_option('timeout')
                self._connection.set_option('timeout', seconds)
                return (True, saved)
        except (AnsibleError, KeyError, AttributeError):
            pass
        return (False, None)

    def _restore_connect_timeout(self, saved):
        if saved[0]:
            try:
                self._connection.set_option('timeout', saved[1])
            except (AnsibleError, KeyError, AttributeError):
                pass

    def _confirm(self, result, pending, deadline):
        token, run_dir, timeout = pending['token'], pending['run_dir'], int(pending['timeout'])
        paths = _rollback.markers(token, run_dir)
        connect_timeout = max(1, min(CONNECT_TIMEOUT_MAX, int(timeout // 3) or 1))
        command = self._confirm_command(paths, pending)
        while time.monotonic() < deadline - CONFIRM_MARGIN:
            answer, detail = self._ask(command, connect_timeout)
            if answer == 'PBXFW-CONFIRMED':
                return self._confirmed(result, detail)
            if answer in ('PBXFW-ROLLED-BACK', 'PBXFW-ROLLING-BACK', 'PBXFW-SUPERSEDED'):
                return self._rolled_back(result, token, run_dir, timeout, verified=True,
                                         superseded=answer == 'PBXFW-SUPERSEDED')
            if answer == 'PBXFW-UNKNOWN':
                result.update(failed=True, msg='the rollback marker of this run vanished from %s on the host; '
                                               'cannot tell whether the apply was kept' % run_dir)
                return result
            time.sleep(0.5)
        return self._lost(result, token, run_dir, deadline, timeout,
                          'no new connection to the host succeeded within rollback_timeout=%ds' % timeout)

    @staticmethod
    def _confirmed(result, detail):
        if detail and not detail.get('ok', True):
            result.update(failed=True, msg='the apply was confirmed and its rules stay, but the boot files could '
                                           'not be written (%s); they were put back as they were, so the host '
                                           'boots with the rules it had before. Fix the cause and run again.'
                                           % detail.get('error'))
        return result

    def _lost(self, result, token, run_dir, deadline, timeout, why):
        """Wait for the host's own rollback, then look at its marker once it is reachable."""
        display.warning('pbxops.firewall: %s; the host restores the previous ruleset at its deadline' % why)
        command = self._status_command(_rollback.markers(token, run_dir))
        wait = deadline + 1.0 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        answer = None
        give_up = deadline + GRACE + 2 * CONNECT_TIMEOUT_MAX
        while True:
            answer = self._ask(command, CONNECT_TIMEOUT_MAX)[0] or answer
            if answer in ('PBXFW-ROLLED-BACK', 'PBXFW-SUPERSEDED', 'PBXFW-UNKNOWN') or time.monotonic() > give_up:
                break
            time.sleep(1)
        verified = answer in ('PBXFW-ROLLED-BACK', 'PBXFW-ROLLING-BACK', 'PBXFW-SUPERSEDED')
        result = self._rolled_back(result, token, run_dir, timeout, verified=verified, why=why,
                                   superseded=answer == 'PBXFW-SUPERSEDED')
        if answer in ('PBXFW-PENDING', 'PBXFW-UNKNOWN'):
            result['msg'] += (' Could not verify the rollback: the host still reports %s; check it by hand.'
                              % answer.lower().replace('pbxfw-', ''))
        elif answer is None:
            result['msg'] += ' The host is still unreachable, so the rollback could not be verified.'
        return result

    def _rolled_back(self, result, token, run_dir, timeout, verified, why=None, superseded=False):
        result['failed'] = True
        paths = _rollback.markers(token, run_dir)
        if superseded:
            result['rolled_back'] = False
            result['rollback_report'] = paths['superseded']
            result['msg'] = ('The apply was not confirmed within rollback_timeout=%ds (%s), but another apply had '
                             'changed the owned rules of the host since, so the host kept that one and did not '
                             'roll back; its report is %s on the host.'
                             % (timeout, why or 'the confirmation arrived too late', paths['superseded']))
            return result
        result['rolled_back'] = True
        result['rollback_verified'] = verified
        result['rollback_report'] = paths['done']
        result['msg'] = (
            'The connection to the host was lost after the apply (%s), so the host restored the previous '
            'ruleset by itself after rollback_timeout=%ds (rolled_back: true)%s; its report is %s on the host. '
            'Check that the new rules still allow the controller (SSH from its address) before applying again.'
            % (why or 'the confirmation arrived too late', timeout,
               '' if verified else ', not verified', result['rollback_report']))
        return result

    # -- cleanup ---------------------------------------------------------------------------

    def _cleanup_quietly(self):
        try:
            super(ActionModule, self).cleanup()
        except (AnsibleConnectionFailure, AnsibleError) as exc:
            display.vvv('pbxops.firewall: remote tmp cleanup failed: %s' % exc)

    def cleanup(self, force=False):
        try:
            super(ActionModule, self).cleanup(force)
        except (AnsibleConnectionFailure, AnsibleError) as exc:
            display.vvv('pbxops.firewall: remote tmp cleanup failed: %s' % exc)
