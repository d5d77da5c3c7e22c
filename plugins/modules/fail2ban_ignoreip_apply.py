#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: fail2ban_ignoreip_apply
short_description: Reload a running fail2ban with its ignoreip and lift the bans it no longer wants
version_added: 0.2.0
description:
  - Reloads fail2ban's configuration with C(fail2ban-client reload) (no restart, so every ban stays),
    then lists the bans (C(fail2ban-client banned)) and lifts each ban of an address that lies in
    O(ignoreip) (C(fail2ban-client unban)). fail2ban keeps a ban made before an address became
    C(never_block) until the ban ends; this ends it at once.
  - A fail2ban that does not answer (C(fail2ban-client ping)) is left alone; it reads its
    configuration when it starts.
  - Private helper of the role P(pbxops.firewall.pbx_firewall#role) (its C(Reload fail2ban)
    handler); its interface may change.
author:
  - pbxops.firewall contributors (@pbxops)
options:
  config_dir:
    description:
      - fail2ban's configuration directory; C(fail2ban-client) reads the server's socket from its
        C(fail2ban.conf) / C(fail2ban.local), so the reload reaches the fail2ban that uses this configuration.
    type: path
    default: /etc/fail2ban
  ignoreip:
    description: The subnets fail2ban must never ban (the role's C(ignoreip)); bans inside them are lifted.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Nothing is run in check mode; the result says that a reload would run.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
requirements:
  - fail2ban (C(fail2ban-client)) on the host
seealso:
  - module: pbxops.firewall.owned_files
    description: Writes the jail.d file this module reloads.
'''

EXAMPLES = r'''
- name: Reload fail2ban and lift bans of never_block addresses
  pbxops.firewall.fail2ban_ignoreip_apply:
    ignoreip: [127.0.0.1/8, "::1/128", 192.168.10.0/24]
'''

RETURN = r'''
running:
  description: Whether fail2ban answered.
  returned: always
  type: bool
unbanned:
  description: The addresses whose bans were lifted (sorted), per jail they were banned in.
  returned: when fail2ban answered
  type: dict
  sample: {sshd: [192.168.10.7]}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pbxops.firewall.plugins.module_utils import _fail2ban as f2b


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config_dir=dict(type='path', default='/etc/fail2ban'),
            ignoreip=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    binary = module.get_bin_path('fail2ban-client')
    if binary is None:
        module.exit_json(changed=False, running=False, msg='fail2ban is not installed (no fail2ban-client in PATH)')
    client = [binary, '-c', module.params['config_dir']]
    rc, _out, _err = module.run_command(client + ['ping'])
    if rc != 0:
        module.exit_json(changed=False, running=False,
                         msg='fail2ban does not answer: it reads its configuration when it starts')
    if module.check_mode:
        module.exit_json(changed=True, running=True, msg='Would reload fail2ban and lift bans now in ignoreip.')
    for argv in (client + ['reload'], client + ['banned']):
        rc, out, err = module.run_command(argv)
        if rc != 0:
            module.fail_json(msg='%s failed (exit %d): %s' % (' '.join(argv), rc, (err or out).strip()), running=True)
    try:
        bans = f2b.banned(out)
    except ValueError as exc:
        module.fail_json(msg=str(exc), running=True)
    lift = f2b.to_unban(bans, module.params['ignoreip'])
    if lift:
        rc, out, err = module.run_command(client + ['unban'] + lift)
        if rc != 0:
            module.fail_json(msg='fail2ban-client unban %s failed (exit %d): %s'
                             % (' '.join(lift), rc, (err or out).strip()), running=True)
    unbanned = dict((jail, sorted(a for a in addresses if a in lift)) for jail, addresses in bans.items())
    module.exit_json(changed=True, running=True, unbanned=dict((k, v) for k, v in unbanned.items() if v))


if __name__ == '__main__':
    main()
