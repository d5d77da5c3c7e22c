#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: fail2ban_config_check
short_description: Test fail2ban's configuration with a jail.d file before it is written, and say whose error it is
version_added: 0.2.0
description:
  - Runs fail2ban's configuration test (C(fail2ban-client -c DIR -t)) on a scratch copy of
    O(config_dir) in which O(path) holds O(content). Nothing on the host changes, whatever
    symbolic links O(config_dir) holds (a linked C(jail.d), linked files, chains of links).
    The copy resolves every link as the live directory does, and O(path) is written only
    inside the copy.
  - When that test fails, runs it once more on a scratch copy without O(path), to tell the
    host's own broken configuration from a broken file of the role.
  - When the host's configuration fails the same way without the file (Debian 12's stock C(sshd)
    jail finds no log file under journald), the module warns with fail2ban's own error lines,
    says that the file is fine and gives the usual fix (C(backend = systemd) for C(sshd)).
    It returns V(reload=false) and, as RV(content), O(content) with a note on top that fail2ban
    was not reloaded with it; that file differs from O(content), so the next run tests again
    and, once the test passes, writes O(content) and lets fail2ban reload.
  - When the file makes the test fail, the module fails with fail2ban's error lines; the caller
    does not write it.
  - Private helper of the role P(pbxops.firewall.pbx_firewall#role); its interface may change.
author:
  - pbxops.firewall contributors (@pbxops)
options:
  config_dir:
    description: fail2ban's configuration directory (the one holding C(jail.conf) and C(jail.d/)).
    type: path
    default: /etc/fail2ban
  path:
    description: The file to test, inside O(config_dir) (the role's C(jail.d) file).
    type: path
    required: true
  content:
    description: The text O(path) would get.
    type: str
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module never changes the host; it runs the same tests in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
requirements:
  - fail2ban (C(fail2ban-client)) on the host
'''

EXAMPLES = r'''
- name: Test the ignoreip file before writing it
  pbxops.firewall.fail2ban_config_check:
    config_dir: /etc/fail2ban
    path: /etc/fail2ban/jail.d/pbx-firewall.local
    content: "[DEFAULT]\nignoreip = 127.0.0.0/8 ::1/128\n"
  register: check

- name: Write it
  ansible.builtin.copy:
    content: "{{ check.content }}"
    dest: /etc/fail2ban/jail.d/pbx-firewall.local
    mode: "0644"
'''

RETURN = r'''
verdict:
  description:
    - V(ok) the configuration with the file passes; V(existing) the host's configuration fails
      the same way without the file (the file is fine).
    - (V(ours), the file makes the test fail, ends in a failure.)
  returned: success
  type: str
  sample: existing
errors:
  description: fail2ban's own error lines of the failing test, paths as on the host.
  returned: always
  type: list
  elements: str
  sample: ['Failed during configuration: Have not found any log file for sshd jail']
fixes:
  description: The usual fix for each error.
  returned: when the test failed
  type: list
  elements: str
content:
  description: The text to write to O(path); with verdict V(existing), O(content) with a note on top.
  returned: success
  type: str
reload:
  description: Whether fail2ban may be reloaded with the file (V(false) with verdict V(existing)).
  returned: success
  type: bool
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pbxops.firewall.plugins.module_utils import _fail2ban as f2b


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config_dir=dict(type='path', default='/etc/fail2ban'),
            path=dict(type='path', required=True),
            content=dict(type='str', required=True),
        ),
        supports_check_mode=True,
    )
    config_dir, path = module.params['config_dir'], module.params['path']
    content = module.params['content']
    try:
        relative = f2b.relative_path(path, config_dir)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if not os.path.isdir(config_dir):
        module.fail_json(msg='config_dir %r is not a directory (fail2ban is not installed there)' % config_dir)
    client = module.get_bin_path('fail2ban-client', required=True)

    try:
        found, with_ours, without_ours = f2b.check(module.run_command, client, config_dir, relative, content,
                                                   module.tmpdir)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if found == 'ours':
        module.fail_json(msg=f2b.ours_message(with_ours, without_ours, config_dir, path), verdict=found,
                         errors=with_ours, errors_without=without_ours or [])
    if found == 'existing':
        module.warn(f2b.existing_message(with_ours, config_dir, path))
        module.exit_json(changed=False, verdict=found, errors=with_ours, fixes=f2b.fixes(with_ours, config_dir),
                         content=f2b.noted(content, with_ours), reload=False)
    module.exit_json(changed=False, verdict=found, errors=[], content=content, reload=True)


if __name__ == '__main__':
    main()
