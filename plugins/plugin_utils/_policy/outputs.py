# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fail2ban and Asterisk outputs of the controller core: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns the
subnet lists the role writes besides the firewall: fail2ban's ``ignoreip`` (loopback
plus every ``never_block`` subnet), Asterisk's ``local_net`` (every ``local_network``
subnet), both merged into the fewest CIDRs and sorted, and the address test the role
uses to lift bans of addresses that became ``never_block``. Pure Python, no Ansible
imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.addresses import (
    Subnet,
    parse_subnet,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import (
    PolicyError,
    check_list,
    message_names,
    netaddr,
    require_netaddr,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.validate import validate_networks


def merge_subnets(subnets):
    """Merge subnets into the fewest covering CIDRs, sorted (IPv4 first)."""
    require_netaddr()
    nets = [netaddr.IPNetwork('%s/%d' % (s.address(), s.prefixlen)) for s in subnets]
    merged = netaddr.cidr_merge(nets)
    return sorted((Subnet(n.version, int(n.network), n.prefixlen) for n in merged))


LOOPBACK = ('127.0.0.0/8', '::1/128')


def _subnets(items, base, errors):
    result = []
    for pos, item in enumerate(check_list(items, base, errors)):
        try:
            result.append(parse_subnet(item))
        except ValueError as exc:
            errors.append('%s[%d]: %s' % (base, pos, exc))
    return result


def ignoreip_subnets(nets, extra=None, names=None):
    """Loopback + every never_block subnet of validated ``nets`` + ``extra``, merged (Subnets)."""
    names = message_names(names)
    subnets = [parse_subnet(text) for text in LOOPBACK]
    subnets += [s for net in nets if net['never_block'] for s in net['subnets']]
    errors = []
    subnets += _subnets([] if extra is None else extra, names['extra'], errors)
    if errors:
        raise PolicyError(errors)
    return merge_subnets(subnets)


def localnet_subnets(nets):
    """Every local_network subnet of validated ``nets``, merged (Subnets)."""
    return merge_subnets([s for net in nets if net['local_network'] for s in net['subnets']])


def fail2ban_ignoreip(networks, extra=None, names=None):
    """Loopback + every never_block subnet + ``extra``, merged and sorted, as CIDR strings."""
    names = message_names(names)
    return [s.cidr() for s in ignoreip_subnets(validate_networks(networks, names=names), extra,
                                               names)]


def asterisk_localnet(networks, names=None):
    """Every local_network subnet, merged and sorted, as CIDR strings."""
    return [s.cidr() for s in localnet_subnets(validate_networks(networks, names=names))]


def addresses_in(addresses, cidrs, names=None):
    """The addresses (strings) that fall in any of ``cidrs``, deduplicated and sorted."""
    require_netaddr()
    names = message_names(names)
    errors = []
    covered = netaddr.IPSet()
    for subnet in _subnets(cidrs, names['subnets'], errors):
        covered.add(netaddr.IPNetwork(subnet.cidr()))
    found = set()
    base = names['addresses']
    for pos, text in enumerate(check_list(addresses, base, errors)):
        try:
            address = parse_subnet(text)
        except ValueError as exc:
            errors.append('%s[%d]: %s' % (base, pos, exc))
            continue
        if not address.is_host:
            errors.append('%s[%d]: %r is a subnet, not an address' % (base, pos, text))
        elif netaddr.IPAddress(address.value, address.version) in covered:
            found.add(address)
    if errors:
        raise PolicyError(errors)
    return [subnet.address() for subnet in sorted(found)]
