#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: owned_files
short_description: Keep every file the pbx_firewall role owns on a host, in one module run
version_added: 0.2.0
description:
  - Brings the files the role P(pbxops.firewall.pbx_firewall#role) owns (the fail2ban C(jail.d)
    file, the Asterisk include files) and the lines it keeps in the host's own files (their
    C(#include) lines, the C(local_net) block of each named PJSIP transport) to the wanted state,
    and reports per part (C(fail2ban), C(asterisk), ...) whether anything changed, for the
    role's handlers and C(pbx_firewall_changed).
  - Everything is decided before anything is written. A part whose directory is missing on the
    host is left alone with a warning, or fails the task when it is required. A file that already
    holds the wanted text with mode, owner C(root) and group C(root) costs nothing.
  - A file with O(files[].check=fail2ban) that would change is first tested with fail2ban's own
    configuration test (C(fail2ban-client -t)) on a scratch copy of the configuration, as
    P(pbxops.firewall.fail2ban_config_check#module) does. When the file breaks the test, the task
    fails and nothing is written. When the host's own configuration fails the same way without the
    file, the file is written with a note on top, the module warns, and C(reload) of RV(parts) C(fail2ban) is
    V(false).
  - A file with O(files[].needs=chan_sip) is written only where the running Asterisk has chan_sip
    loaded. The module asks Asterisk (read only, in check mode too). When no Asterisk answers it
    warns and leaves that file and its include line as they are; an Asterisk without chan_sip fails
    the task before anything is written.
  - Private helper of the role P(pbxops.firewall.pbx_firewall#role); its interface may change.
    An action plugin of the same name narrows O(parts) to the parts the run's tags select
    (C(pbx_firewall_<part>)), adds the role's C(pbx_firewall_changed) fact and shows O(warnings) and O(notes).
author:
  - pbxops.firewall contributors (@pbxops)
options:
  files:
    description: The owned files (the role's owned-file map, C(vars/main.yml)).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      part:
        description: The part of the role the file belongs to (C(fail2ban), C(asterisk), ...).
        type: str
        required: true
      content:
        description: The text the file holds when it is present.
        type: str
        default: ''
      present:
        description: Whether the file should exist (V(false) removes it). O(enabled=false) removes every file.
        type: bool
        default: true
      mode:
        description: Its mode, in octal.
        type: str
        default: '0644'
      check:
        description:
          - V(fail2ban) tests the file with C(fail2ban-client -t) before it is written (the file lies in a
            directory of fail2ban's configuration directory, e.g. C(jail.d)).
        type: str
        choices: [fail2ban]
      needs:
        description: V(chan_sip) writes the file only where the running Asterisk has chan_sip loaded.
        type: str
        choices: [chan_sip]
      include:
        description:
          - The C(#include <file name>) line the file needs in another file of its directory, kept while the
            file is present and removed with it.
          - C(into) is that file's name; C(after) a regular expression of the line after whose last match the
            line goes (the top of the file when omitted, the end when nothing matches).
        type: dict
  parts:
    description:
      - Per part, C(manage) (V(false) leaves the part alone) and C(required) (a missing directory of the
        part fails the task instead of warning). A part not listed is managed and not required.
    type: dict
    default: {}
  enabled:
    description: V(false) removes every owned file, include line and C(local_net) block.
    type: bool
    default: true
  asterisk:
    description:
      - C(config_dir) (Asterisk's configuration directory, where C(pjsip.conf) is), C(transports)
        (sections of C(pjsip.conf) that get the role's C(local_net) block right after their header)
        and C(local_net) (the subnets of that block).
    type: dict
    default: {}
  warnings:
    description: Texts the action plugin shows as this host's warnings (the role passes the policy's).
    type: list
    elements: str
    default: []
  notes:
    description: Lines the action plugin shows for this host (the role passes what its countries and blocklist hold).
    type: list
    elements: str
    default: []
  changed_before:
    description: Parts an earlier task of the role changed (C(firewall)); they lead C(pbx_firewall_changed).
    type: list
    elements: str
    default: []
  current:
    description:
      - The role's firewall task's reading of these files (RV(pbxops.firewall.iptables_ruleset#module:owned_files)).
        When it says they already hold what this module would leave, and was read for the same O(files),
        O(parts) (after the run's tags), O(enabled) and O(asterisk) in the same play, the action plugin
        reports it and runs no module on the host. Read by the action plugin only.
    type: dict
    default: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads the files, asks Asterisk and runs fail2ban's test on a scratch copy; writes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: One diff per file that changes.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
requirements:
  - fail2ban (C(fail2ban-client)) on the host for a file with O(files[].check=fail2ban) that changes
seealso:
  - module: pbxops.firewall.fail2ban_ignoreip_apply
    description: The role's fail2ban handler.
  - module: pbxops.firewall.asterisk_localnet_apply
    description: The role's Asterisk handler.
'''

EXAMPLES = r'''
- name: Keep the role's files
  pbxops.firewall.owned_files:
    files:
      - path: /etc/fail2ban/jail.d/pbx-firewall.local
        part: fail2ban
        content: "[DEFAULT]\nignoreip = 127.0.0.1/8 ::1/128 10.0.0.0/8\n"
        check: fail2ban
      - path: /etc/asterisk/pjsip_pbx_firewall.conf
        part: asterisk
        content: "[pbx-firewall-localnet](!)\nlocal_net=10.0.0.0/8\n"
        include: {into: pjsip.conf}
    asterisk:
      config_dir: /etc/asterisk
      transports: [transport-udp]
      local_net: [10.0.0.0/8]
  register: files
'''

RETURN = r'''
changed_parts:
  description: The parts with a change (in check mode, that would change), in the order of O(files).
  returned: always
  type: list
  elements: str
  sample: [fail2ban]
parts:
  description:
    - Per part, C(managed) (selected and on the host), C(changed) and C(files) (path to V(written) or
      V(removed)).
    - C(fail2ban) also has C(reload) (whether fail2ban may be reloaded with its file) and, when the
      test ran, C(verdict) and C(errors).
    - C(asterisk) also has C(local_net) (what the running Asterisk should carry, O(asterisk) C(local_net),
      empty when O(enabled=false)), C(chan_sip) (whether a chan_sip file is kept because the running
      Asterisk has it), and when Asterisk was asked C(running) and C(version).
  returned: always
  type: dict
  sample: {fail2ban: {managed: true, changed: true, reload: true, files: {/etc/fail2ban/jail.d/pbx-firewall.local: written}}}
diff:
  description: One C(before)/C(after) pair per file that changes.
  returned: when diff mode is on and something changes
  type: list
  elements: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pbxops.firewall.plugins.module_utils import _asterisk as ast
from ansible_collections.pbxops.firewall.plugins.module_utils import _fail2ban as f2b
from ansible_collections.pbxops.firewall.plugins.module_utils import _owned_files as owned
from ansible_collections.pbxops.firewall.plugins.module_utils._text_edits import encode


def probe_asterisk(module, config_dir):
    """(version or None, chan_sip loaded, warning or None) of the running Asterisk."""
    try:
        return ast.probe_chan_sip(module.run_command, module.get_bin_path('asterisk'), config_dir)
    except ast.AsteriskError as exc:
        module.fail_json(msg=str(exc))


def check_fail2ban(module, config_dir, path, text, also=()):
    """fail2ban's verdict on PATH holding TEXT, with the (path, text or None) pairs of ALSO:
    (verdict, errors, errors without it, message, noted text)."""
    try:
        relative = f2b.relative_path(path, config_dir)
        also = [(f2b.relative_path(other, config_dir), content) for other, content in also]
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    client = module.get_bin_path('fail2ban-client', required=True)
    try:
        verdict, with_ours, without_ours = f2b.check(module.run_command, client, config_dir, relative, text,
                                                     module.tmpdir, also)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if verdict == 'ours':
        return verdict, with_ours, without_ours, f2b.ours_message(with_ours, without_ours, config_dir, path), None
    if verdict == 'existing':
        return (verdict, with_ours, without_ours, f2b.existing_message(with_ours, config_dir, path),
                f2b.noted(text, with_ours))
    return verdict, with_ours, without_ours, None, None


def write(module, edit):
    if edit.text is None:
        os.unlink(edit.path)
        return
    temp = os.path.join(module.tmpdir, 'pbxfw-%s' % os.path.basename(edit.path))
    with open(temp, 'wb') as handle:
        handle.write(encode(edit.text))
    if edit.owned:
        if os.path.islink(edit.path):
            os.unlink(edit.path)
        module.atomic_move(temp, edit.path)
        module.set_owner_if_different(edit.path, owned.OWNER, False)
        module.set_group_if_different(edit.path, owned.GROUP, False)
        module.set_mode_if_different(edit.path, edit.mode, False)
    else:
        target = os.path.realpath(edit.path)
        created = not os.path.exists(target)
        module.atomic_move(temp, target)
        if created:
            module.set_mode_if_different(target, 0o644, False)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            owned.OPTIONS,
            warnings=dict(type='list', elements='str', default=[]),
            notes=dict(type='list', elements='str', default=[]),
            changed_before=dict(type='list', elements='str', default=[]),
            current=dict(type='dict', default={}),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        files, parts, asterisk = owned.checked_options(params['files'], params['parts'], params['asterisk'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    planner = owned.Planner(files, parts, params['enabled'], asterisk,
                            probe=lambda: probe_asterisk(module, asterisk.get('config_dir') or ast.CONFIG_DIR),
                            check=lambda config_dir, path, text, also=(): check_fail2ban(module, config_dir, path, text, also))
    try:
        planner.run()
    except owned.PlanError as exc:
        for warning in planner.warnings:
            module.warn(warning)
        module.fail_json(msg=str(exc), parts=planner.results())
    edits = planner.edits()
    if edits and not module.check_mode:
        for edit in edits:
            write(module, edit)
    result = dict(changed=bool(edits), parts=planner.results(), changed_parts=planner.changed_parts())
    if module._diff and edits:
        result['diff'] = [edit.diff() for edit in edits]
    for warning in planner.warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
