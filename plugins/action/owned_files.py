# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for pbxops.firewall.owned_files: the role's tags, warnings and pbx_firewall_changed.

The role's task for its files runs with the tag ``always``; this plugin narrows the module's
``parts`` to those the run's tags select (``--tags pbx_firewall_fail2ban`` manages fail2ban's
file only, ``--skip-tags pbx_firewall_asterisk`` leaves Asterisk alone), so one module run
serves every part and the tags keep their meaning. With no part selected the module does not
run at all. It shows ``warnings`` as this host's warnings and ``notes`` as plain lines (the
role passes what its countries and blocklist hold: one task fewer per host than a ``debug``),
and sets the fact ``pbx_firewall_changed``: ``changed_before`` followed by the parts the
module changed.

``current`` is the role's firewall task's reading of the same files (``iptables_ruleset``'s
``owned_files`` result): when it says they already hold what this task would leave, and was
read for the same options in this play (``_files_current.digest``), its report stands for the
module's and no module runs on the host: a no-op rerun of the role runs one module per host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.pbxops.firewall.plugins.plugin_utils._files_current import digest, managed, narrowed, play_id

MODULE = 'pbxops.firewall.owned_files'

display = Display()


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        host = task_vars.get('inventory_hostname', '')
        warnings = ['%s (%s)' % (text, host) for text in args.get('warnings') or []]
        for note in args.get('notes') or []:
            display.display('%s: %s' % (host, note))
        reading = args.pop('current', None) or {}
        args = narrowed(args, task_vars.get('ansible_run_tags'), task_vars.get('ansible_skip_tags'))
        if not managed(args):
            result.update(changed=False, changed_parts=[], parts={},
                          msg='no part of the role selected by the tags of this run')
        elif reading.get('current') and reading.get('digest') == digest(args, play_id(self._task)):
            result.update(changed=False, changed_parts=[], parts=reading['parts'],
                          msg='the firewall task found every file as this task would leave it; no module ran')
            warnings += list(reading.get('warnings') or [])
        else:
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        if warnings:
            result['warnings'] = warnings + list(result.get('warnings') or [])
        if not result.get('failed'):
            changed = list(args.get('changed_before') or []) + list(result.get('changed_parts') or [])
            result['ansible_facts'] = {'pbx_firewall_changed': changed}
        return result
