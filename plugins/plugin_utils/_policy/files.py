# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The text of each file the role owns on a host, from the policy's outputs: private.

This file is private to the pbxops.firewall collection (no stable API). It owns the exact
bytes of the fail2ban jail.d file (``ignoreip``, and in Docker-host mode the jails that ban in
``DOCKER-USER``), the PJSIP include file (the template section that transports inherit) and
the chan_sip include file (``localnet`` lines); with logged drops, the jail.d file's jail for
them and its fail2ban filter (``drops.py``). The role's one policy call returns them, so a
host's files are computed once per distinct policy and per run, with the rest of the compile,
instead of being templated again for every host. Pure Python, no Ansible imports; every
input is already checked (``role.py``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import drops

# The PJSIP template section transports inherit: "[transport-udp](pbx-firewall-localnet)".
PJSIP_TEMPLATE = 'pbx-firewall-localnet'
MANAGED = 'Managed by Ansible (pbxops.firewall). Do not edit: changes are overwritten.'


def fail2ban_jail(ignoreip, docker_jails=(), logging=None):
    """The jail.d file: [DEFAULT] ignoreip, then "[JAIL] chain = DOCKER-USER" per jail, then
    with ``logging`` (drops.Logging) the jail that bans the sources of logged drops."""
    lines = ['# ' + MANAGED,
             '# Owned by pbxops.firewall (role pbx_firewall): loopback and every network with',
             '# never_block: true. fail2ban never bans these addresses.',
             '[DEFAULT]',
             'ignoreip = %s' % ' '.join(ignoreip)]
    if docker_jails:
        lines += ['',
                  '# Docker-host mode: these jails ban in DOCKER-USER, so their bans reach the ports',
                  '# published for containers. Their rules see the packet after Docker\'s DNAT: the',
                  '# jail\'s port must be the container port (docs/docker-host.md).']
    for jail in docker_jails:
        lines += ['', '[%s]' % jail, 'chain = DOCKER-USER']
    if logging is not None:
        lines += drops.fail2ban_jail(logging)
    return '\n'.join(lines) + '\n'


def pjsip_localnet(localnet):
    """The PJSIP include file: the template section with one local_net line per subnet."""
    lines = ['; ' + MANAGED,
             '; Owned by pbxops.firewall (role pbx_firewall): every network with local_network: true.',
             '; Transports inherit it:  [transport-udp](%s)' % PJSIP_TEMPLATE,
             '[%s](!)' % PJSIP_TEMPLATE]
    return '\n'.join(lines + ['local_net=%s' % subnet for subnet in localnet]) + '\n'


def chan_sip_localnet(localnet):
    """The chan_sip include file, included from sip.conf's [general]: one localnet line per subnet."""
    lines = ['; ' + MANAGED,
             '; Owned by pbxops.firewall (role pbx_firewall): every network with local_network: true.',
             '; Included from the [general] section of sip.conf.']
    return '\n'.join(lines + ['localnet=%s' % subnet for subnet in localnet]) + '\n'


def role_files(ignoreip, localnet, docker_jails=(), logging=None):
    """{name: text} of every file the role owns, and the template section's name; the fail2ban
    filter of logged drops is '' when drops are not logged (the role removes it)."""
    return {'fail2ban_jail': fail2ban_jail(ignoreip, docker_jails, logging),
            'fail2ban_filter': drops.fail2ban_filter() if logging is not None else '',
            'pjsip': pjsip_localnet(localnet), 'chan_sip': chan_sip_localnet(localnet),
            'pjsip_template': PJSIP_TEMPLATE}
