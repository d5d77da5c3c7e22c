# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The role's one policy call: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns what
the role ``pbx_firewall`` needs from a host's inventory, computed from ONE validation:
the ruleset for the ``iptables_ruleset`` module, fail2ban ``ignoreip``, Asterisk
``local_net``, the fail2ban jails that ban in ``DOCKER-USER`` (checked here, not in the
role), the text of every file the role owns (``files.py``; the metrics refresher's script
and cron file, ``_refresher.py``), and the warnings the role prints. Every problem of every
input is reported at once, each naming the role variable (``pbx_firewall_...``), the value
and what is valid. Pure Python, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import re

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.chains import compile_policy
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.files import role_files
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import (
    DEFAULT_IPSET_THRESHOLD,
    ROLE_NAMES,
    PolicyError,
    check_list,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.scalars import parse_bool
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.outputs import (
    ignoreip_subnets,
    localnet_subnets,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.validate import load_policy
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _refresher

# A fail2ban jail is a section of its configuration: the name is written as "[NAME]" into
# the role's jail.d file, so only the characters fail2ban's own jail names use, and none
# of the sections fail2ban reserves for itself.
JAIL_NAME_RE = re.compile(r'^[A-Za-z0-9_.-]{1,64}$')
RESERVED_SECTIONS = ('DEFAULT', 'INCLUDES', 'Definition', 'Init')

EMPTY_POLICY_WARNING = ('pbx_firewall_networks is empty: the firewall accepts everything (no final '
                        'drop) so that an unconfigured host is never locked out.')


def _docker_jails(jails, errors):
    """The jail names, checked, deduplicated and sorted."""
    found = []
    for pos, jail in enumerate(check_list(jails, 'pbx_firewall_fail2ban_docker_jails', errors)):
        if not isinstance(jail, str) or not JAIL_NAME_RE.match(jail) or jail in RESERVED_SECTIONS:
            errors.append('pbx_firewall_fail2ban_docker_jails[%d]: %r is not a fail2ban jail name; valid: '
                          'the name of a jail section, 1-64 letters, digits, "_", "." or "-" (not %s), '
                          'e.g. asterisk, sshd' % (pos, jail, ', '.join(RESERVED_SECTIONS)))
        elif jail not in found:
            found.append(jail)
    return sorted(found)


def role_policy(networks, ports=None, custom_services=None, trunks=None, sip_rate_limit=0,
                sip_scanner_agents=None, custom_rules=None, ipset_threshold=DEFAULT_IPSET_THRESHOLD,
                ipv6=True, docker=False, ignoreip_extra=None, docker_jails=None, enabled=True,
                resolver=None, sip_rate_limit_ipv6_prefix=64, log_drops=False, log_rate=None, nflog_group=None,
                metrics_interval=0, metrics_dir='auto', backend='auto', metrics_script=_refresher.SCRIPT_PATH,
                geoip_db=None, geoip_max_age_days=None, blocklist=None, blocklist_files=None):
    """Everything the role needs, from one validation of the inventory.

    Returns ``{'state', 'ruleset', 'ignoreip', 'localnet', 'docker_jails', 'files', 'warnings',
    'notes'}``: ``present`` or ``absent`` (``enabled``: whether the host keeps what the
    collection owns), the ruleset of docs/ruleset-format.md, the ``ignoreip`` and ``local_net``
    CIDR lists (merged, sorted), the checked jail names (empty unless ``docker``), the text of
    each file the role owns (``files.role_files``), the warning texts and the notes the role
    prints (the country database and its date, how many prefixes each country network and the
    blocklist have). Raises PolicyError listing every problem of every input.
    """
    errors = []
    policy = None
    try:
        enabled, enabled_error = parse_bool(enabled), None
    except ValueError as exc:
        enabled_error = 'pbx_firewall_enabled: must be true or false, got %r; %s' % (enabled, exc)
    was_enabled = gc.isenabled()
    gc.disable()        # see chains.firewall_ruleset: compiling a large fleet allocates millions of objects
    try:
        try:
            # removing (enabled false) needs neither the country database nor the feeds
            policy = load_policy(networks, ports=ports, custom_services=custom_services, trunks=trunks,
                                 sip_rate_limit=sip_rate_limit, sip_scanner_agents=sip_scanner_agents,
                                 custom_rules=custom_rules, ipset_threshold=ipset_threshold, ipv6=ipv6,
                                 docker=docker, resolver=resolver, names=ROLE_NAMES,
                                 sip_rate_limit_ipv6_prefix=sip_rate_limit_ipv6_prefix,
                                 log_drops=log_drops, log_rate=log_rate, nflog_group=nflog_group,
                                 geoip_db=geoip_db, geoip_max_age_days=geoip_max_age_days,
                                 blocklist=blocklist, blocklist_files=blocklist_files,
                                 read_sets=enabled is not False)
        except PolicyError as exc:
            errors.extend(exc.errors)
        try:
            ignoreip = ignoreip_subnets(policy.networks if policy else [], ignoreip_extra,
                                        ROLE_NAMES)
        except PolicyError as exc:
            errors.extend(exc.errors)
        jails = _docker_jails(docker_jails or [], errors)
        refresher = _refresher.role_files(metrics_interval, metrics_dir, backend, metrics_script, errors)
        if enabled_error:
            errors.append(enabled_error)
        if errors:
            raise PolicyError(errors)
        warnings = []
        if enabled and not policy.networks:
            warnings.append(EMPTY_POLICY_WARNING)
        result = {
            'state': 'present' if enabled else 'absent',
            'ruleset': compile_policy(policy),
            'ignoreip': [s.cidr() for s in ignoreip],
            'localnet': [s.cidr() for s in localnet_subnets(policy.networks)],
            'docker_jails': jails if policy.docker else [],
            'warnings': warnings + policy.sets.warnings,
            'notes': list(policy.sets.notes),
        }
        result['files'] = role_files(result['ignoreip'], result['localnet'], result['docker_jails'], policy.logging)
        result['files'].update(refresher)
        return result
    finally:
        if was_enabled:
            gc.enable()
