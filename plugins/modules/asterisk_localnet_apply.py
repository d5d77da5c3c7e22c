#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: asterisk_localnet_apply
short_description: Bring a running Asterisk's PJSIP local_net to the desired list and prove it
version_added: 0.2.0
description:
  - Reloads PJSIP (C(module reload res_pjsip.so); Asterisk 22 applies
    a changed C(local_net) on it even with C(allow_reload=no)), then reads back every transport
    the caller is responsible for with C(pjsip show transport NAME) and compares its
    C(local_net) lines, as networks, with O(local_net).
  - Responsible for are the transports whose section in C(pjsip.conf) inherits O(template),
    the transports named in O(transports), and every other live transport that sets
    C(external_signaling_address) or C(external_media_address) (C(local_net) decides what
    such a transport shows to a client).
  - C(pjsip.conf) is read as Asterisk reads it, before the reload, as bytes in any encoding, with
    its comments (C(;), C(;-- --;)), C(#include) and C(#tryinclude) (quoted or not, relative to
    O(config_dir), glob patterns such as C(pjsip.d/*.conf)). Nothing after the reload reads a
    file, so a file the module cannot use never fails it after Asterisk has reloaded.
  - A transport that inherits O(template) or is named, but still shows another list after the
    reload, is stale. With O(restart=when_convenient) the module then starts
    C(core restart when convenient) without waiting for it (it blocks until the last call
    ends), waits at most O(restart_wait) seconds for the restart and reads back again. An
    active call therefore never holds the play; the result says whether the restart happened
    or is still pending.
  - A transport that does not carry O(local_net) in the end is reported by name with the
    one-line fix, as a warning, or as a failure with O(required=true).
  - C(asterisk -rx) exits 0 for unknown or failed commands; failure is read from the output.
  - Also warns when a transport sets C(external_media_address) and none of the host's own
    addresses lies in a O(local_net) subnet (Asterisk then leaves the private media address
    in the SDP sent to outside phones).
  - Private helper of the role P(pbxops.firewall.pbx_firewall#role) (its C(Reload Asterisk)
    handler); its interface may change. Whether the running Asterisk has chan_sip is asked by
    P(pbxops.firewall.owned_files#module) before it writes anything for chan_sip.
author:
  - pbxops.firewall contributors (@pbxops)
options:
  local_net:
    description: The desired C(local_net) subnets (the P(pbxops.firewall.asterisk_localnet#filter) output).
    type: list
    elements: str
    default: []
  transports:
    description: Transports that must carry O(local_net) (the role's C(pbx_firewall_asterisk_pjsip_transports)).
    type: list
    elements: str
    default: []
  template:
    description: The template section the managed transports inherit.
    type: str
    default: pbx-firewall-localnet
  config_dir:
    description: Asterisk's configuration directory (where C(pjsip.conf) is).
    type: path
    default: /etc/asterisk
  chan_sip:
    description: Also run C(sip reload) (Asterisk up to 20).
    type: bool
    default: false
  restart:
    description: What to do with stale transports after the reload.
    type: str
    choices: [when_convenient, never]
    default: when_convenient
  restart_wait:
    description: Seconds to wait for a restart when convenient before reporting it pending.
    type: int
    default: 20
  required:
    description: Fail, instead of warning, when a transport does not carry O(local_net).
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode nothing is run on Asterisk; the result says what would be done.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
'''

EXAMPLES = r'''
- name: Reload PJSIP and verify local_net
  pbxops.firewall.asterisk_localnet_apply:
    local_net: [10.0.10.0/24, 10.0.20.0/24]
'''

RETURN = r'''
running:
  description: Whether an Asterisk answered on the CLI.
  returned: always
  type: bool
version:
  description: The first line of C(core show version).
  returned: when running
  type: str
transports:
  description: C(local_net) of each transport checked, as Asterisk printed it after the reload.
  returned: when running
  type: dict
missing:
  description: Transports that do not carry the desired C(local_net), with the one-line fix.
  returned: when running
  type: dict
restart:
  description: V(none), V(done) or V(pending) (a C(core restart when convenient) waits for calls to end).
  returned: when running
  type: str
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pbxops.firewall.plugins.module_utils import _asterisk as ast
from ansible_collections.pbxops.firewall.plugins.module_utils import _asterisk_config as config


def read_transports(cli, params, stale_candidates):
    """{name: parameters} of every live transport we are responsible for."""
    live = ast.transport_names(cli('pjsip show transports'))
    found = {}
    for name in live:
        parameters = ast.transport_parameters(cli('pjsip show transport %s' % name))
        if name in stale_candidates or ast.external_addresses(parameters):
            found[name] = parameters
    return live, found


def uptime_seconds(cli):
    text = cli('core show uptime seconds')
    for line in text.splitlines():
        if line.startswith('System uptime:'):
            return int(line.split(':', 1)[1].split()[0])
    raise ast.AsteriskError("asterisk -rx 'core show uptime seconds' printed no uptime: %s" % text.strip())


def restart_when_convenient(module, cli, wait):
    """Start `core restart when convenient` without waiting; 'done' if it happened within
    WAIT seconds (and Asterisk answers again), else 'pending'."""
    before = uptime_seconds(cli)
    started = time.time()
    # In the background, detached from this module's pipes: the command returns only when
    # Asterisk restarts, which may be after the last of many calls.
    module.run_command(['/bin/sh', '-c', 'nohup "$0" -rx "core restart when convenient" '
                        '</dev/null >/dev/null 2>&1 &', cli.binary])
    while time.time() - started < wait:
        time.sleep(0.5)
        if cli.running() is None:
            continue
        try:
            if uptime_seconds(cli) < before + (time.time() - started) - 1:
                # Asterisk restarted; it answers SIP once fully booted.
                cli('core waitfullybooted')
                return 'done'
        except ast.AsteriskError:
            continue
    return 'pending'


def main():
    module = AnsibleModule(
        argument_spec=dict(
            local_net=dict(type='list', elements='str', default=[]),
            transports=dict(type='list', elements='str', default=[]),
            template=dict(type='str', default='pbx-firewall-localnet'),
            config_dir=dict(type='path', default=ast.CONFIG_DIR),
            chan_sip=dict(type='bool', default=False),
            restart=dict(type='str', choices=['when_convenient', 'never'], default='when_convenient'),
            restart_wait=dict(type='int', default=20),
            required=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    binary = module.get_bin_path('asterisk')
    cli = ast.Cli(module.run_command, binary or 'asterisk')
    version = cli.running() if binary else None
    if version is None:
        absent = ('Asterisk is not installed on this host (no asterisk binary in PATH)' if binary is None
                  else "No Asterisk answers on this host (asterisk -rx 'core show version')")
        module.exit_json(changed=False, running=False,
                         msg='%s: it reads the files when it starts.' % absent)
    result = dict(running=True, version=version, changed=False)
    try:
        if module.check_mode:
            module.exit_json(changed=True, running=True, version=version,
                             msg='Would reload PJSIP and read back local_net (check mode: nothing run).')

        # everything that reads files comes before the reload: nothing after it may fail on them
        candidates = config.inheriting(params['config_dir'], params['template']) | set(params['transports'])
        ip = module.get_bin_path('ip')
        cli('module reload res_pjsip.so')
        result['changed'] = True
        if params['chan_sip']:
            cli('sip reload')
        live, found = read_transports(cli, params, candidates)

        def wrong(transports):
            return sorted(name for name, p in transports.items()
                          if not ast.same_networks(p.get('local_net', []), params['local_net']))

        stale = [name for name in wrong(found) if name in candidates]
        result['restart'] = 'none'
        if stale and params['restart'] == 'when_convenient':
            result['restart'] = restart_when_convenient(module, cli, params['restart_wait'])
            if result['restart'] == 'done':
                live, found = read_transports(cli, params, candidates)
        result['transports'] = dict((name, p.get('local_net', [])) for name, p in found.items())
        missing = {}
        for name in wrong(found):
            if name in candidates and result['restart'] == 'pending':
                missing[name] = ('[%s] keeps its old local_net until Asterisk restarts: '
                                 '"core restart when convenient" is pending (it waits for the active calls '
                                 'to end)' % name)
            elif name in candidates:
                missing[name] = ('[%s] kept its old local_net after a reload%s: set allow_reload=yes on it or '
                                 'restart Asterisk' % (name, ' and a restart' if result['restart'] == 'done' else ''))
            else:
                missing[name] = ast.fix_for(name, params['template'])
        for name in sorted(candidates - set(live)):
            if name in params['transports']:
                missing[name] = ('[%s] is not a transport of the running Asterisk (live: %s)'
                                 % (name, ', '.join(live) or 'none'))
        result['missing'] = missing

        addresses = module.run_command([ip, '-o', 'addr', 'show'])[1] if ip else ''
        warning = ast.media_warning(found, params['local_net'], ast.host_addresses(addresses), 'Asterisk')
        if warning:
            module.warn(warning)
    except ast.AsteriskError as exc:
        module.fail_json(msg=str(exc), **result)

    if missing:
        text = ('PJSIP transports without the desired local_net (%s): %s'
                % (', '.join(params['local_net']) or 'empty', '; '.join(missing[n] for n in sorted(missing))))
        if params['required']:
            module.fail_json(msg=text, **result)
        module.warn(text)
    if result['restart'] == 'pending':
        module.warn('Asterisk restart is pending ("core restart when convenient" waits for the active calls '
                    'to end); the play did not wait for it.')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
