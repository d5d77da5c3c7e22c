# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: firewall_ruleset
short_description: Compile PBX networks and services into iptables/ip6tables rules
version_added: 0.1.0
author: pbxops.firewall contributors
description:
  - Validates the C(pbx_firewall_networks) inventory model and compiles it into the rules of
    the owned chain C(PBX-FIREWALL) for IPv4 and IPv6, in exactly the text C(iptables-save)
    prints, plus the C(hash:net) ipsets the rules use.
  - For one service, the most specific network (longest prefix) that contains the source and
    mentions the service (in its C(services) or C(block)) decides; the order of the list does not
    matter. Catch-all networks (C(/0)) and O(custom_rules) come after all others. When at least
    one network is defined, everything else is dropped.
  - The result is the O(pbxops.firewall.iptables_ruleset#module:ruleset) input of the
    M(pbxops.firewall.iptables_ruleset) module. The same input always gives the same output.
  - Invalid input fails with a message naming the network, the field, the value and what is valid.
    Numbers and booleans may also be given as strings, the way C(-e name=value) gives them
    (V("20"), V("false"), V("yes")); numbers are written with the ASCII digits 0-9 only.
  - A trunk entry is at most a C(/16) (IPv4) or C(/48) (IPv6), and the entries together may not
    cover a whole address family.
extends_documentation_fragment:
  - pbxops.firewall.network_filters
  - pbxops.firewall.sets
  - pbxops.firewall.message_names
  - pbxops.firewall.drop_logging
seealso:
  - plugin: pbxops.firewall.select_networks
    plugin_type: filter
    description: Pick networks out of shared site data.
options:
  ports:
    description:
      - Port overrides (C(pbx_firewall_ports)). Keys are the built-in port names C(sip), C(tls),
        C(rtp), C(iax), C(web_http), C(web_https), C(ssh), C(ami), C(ajam), C(ajam_tls),
        C(cti_nats), C(cti_nats_web); a value is an integer or a C("FROM-TO") range string.
    type: dict
  custom_services:
    description:
      - Extra services (C(pbx_firewall_custom_services)), a mapping of service name to a list of
        C({proto, port}) entries, with C(proto) one of C(tcp), C(udp) and C(port) as in O(ports).
      - A service name matches C([a-z][a-z0-9_]*) and has at most 12 characters.
    type: dict
  trunks:
    description:
      - SIP provider hosts, addresses or subnets (C(pbx_firewall_trunks)); they are allowed all
        traffic of the C(sip) service. Host names are resolved on the controller.
    type: list
    elements: str
  sip_rate_limit:
    description:
      - SIP requests per second per source (an IPv4 address, an IPv6 prefix) above which SIP
        requests to the SIP ports are dropped; C(0) is off. Every request counts, also on an
        established flow; responses are never counted. On the TLS port, where requests cannot
        be seen, new connections are limited instead. Trunks and C(never_block) networks are
        exempt.
      - At most C(1000); above that iptables cannot keep the rate exact.
    type: int
    default: 0
  sip_rate_limit_ipv6_prefix:
    description:
      - IPv6 sources within one prefix of this length share one rate budget (C(64) = per /64,
        C(128) = per address).
    type: int
    default: 64
  sip_scanner_agents:
    description:
      - User-Agent strings of known SIP scanners. A packet to the plain SIP ports (UDP and TCP)
        with a C(User-Agent) header whose value starts with one of them (case-insensitive) is
        dropped. Trunks and C(never_block) networks are exempt.
      - When omitted or V(null), the collection's default list, the same one the role uses, is
        C(friendly-scanner), C(sipcli), C(sipvicious), C(VaxSIPUserAgent) (MikoPBX's list),
        C(pplsip), C(sipptk) (sippts), C(sundayddr), C(iWar), C(sip-scan). V([]) drops no
        scanner. C(sipsak), C(PortSIP VoIP SDK) and C(Cisco-SIPGateway) are left out on purpose,
        legitimate tools and products send them too.
    type: list
    elements: str
  custom_rules:
    description:
      - Raw rules placed just before the catch-all networks. Each is a string of matches and a
        target in the form C(iptables-save) prints (the collection adds C(-A PBX-FIREWALL)), or a
        mapping with C(rule) and C(family) (C(ipv4), the default, C(ipv6) or C(both)).
    type: list
    elements: raw
  ipset_threshold:
    description:
      - A service with more subnets than this (per address family) is matched with C(hash:net)
        ipsets instead of one rule per subnet; C(0) never uses ipsets.
    type: int
    default: 16
  ipv6:
    description:
      - Compile the IPv6 ruleset. When V(false), the result has no IPv6 rules and the module
        leaves ip6tables alone.
    type: bool
    default: true
  docker:
    description:
      - Docker-host mode. Also compile the chain C(PBX-FW-DOCKER), jumped to from C(DOCKER-USER), that
        applies the same policy to IPv4 traffic forwarded to published container ports. A packet's
        service is decided by conntrack's original destination port, so the published host port
        counts, not the container port; allowed packets return to Docker's own chains.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Apply the fleet's firewall policy
  pbxops.firewall.iptables_ruleset:
    ruleset: "{{ pbx_firewall_networks | pbxops.firewall.firewall_ruleset(ports=pbx_firewall_ports,
                 trunks=pbx_firewall_trunks) }}"

- name: Show the IPv4 rules a policy compiles to
  ansible.builtin.debug:
    msg: "{{ (networks | pbxops.firewall.firewall_ruleset).ipv4 }}"
  vars:
    networks:
      - name: Office LAN
        subnet: 192.168.10.0/24
        services: [sip, web, ssh]
      - name: Internet
        subnet: [0.0.0.0/0, "::/0"]
        services: [sip]
"""

RETURN = r"""
_value:
  description: The ruleset, as the P(pbxops.firewall.iptables_ruleset#module) module takes it.
  type: dict
  contains:
    ipv4:
      description: Rules of the owned chains, one C(-A CHAIN ...) line each, as C(iptables-save) prints them.
      type: list
      elements: str
    ipv6:
      description: The same for C(ip6tables-save); empty when O(ipv6=false).
      type: list
      elements: str
    ipsets:
      description: C(hash:net) sets the rules use, with C(name), C(family), C(maxelem) and C(entries).
      type: list
      elements: dict
    jumps:
      description: Hook chains and the owned chain each jumps to (C(INPUT) to C(PBX-FIREWALL)).
      type: list
      elements: dict
"""

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.plugins.plugin_utils._filter_support import (
    call_core,
    checked_arguments,
    filter_names,
)


@checked_arguments('firewall_ruleset')
def firewall_ruleset(networks, ports=None, custom_services=None, trunks=None, sip_rate_limit=0,
                     sip_scanner_agents=None, custom_rules=None,
                     ipset_threshold=_policy.DEFAULT_IPSET_THRESHOLD, ipv6=True, docker=False,
                     names=None, sip_rate_limit_ipv6_prefix=64, log_drops=False, log_rate=None, nflog_group=None,
                     geoip_db=None, geoip_max_age_days=90, blocklist=None, blocklist_files=None):
    return call_core('firewall_ruleset', _policy.firewall_ruleset, networks, ports=ports,
                     custom_services=custom_services, trunks=trunks,
                     sip_rate_limit=sip_rate_limit, sip_scanner_agents=sip_scanner_agents,
                     custom_rules=custom_rules, ipset_threshold=ipset_threshold, ipv6=ipv6,
                     docker=docker, names=filter_names(names, 'networks'),
                     inventory=names is not None,
                     sip_rate_limit_ipv6_prefix=sip_rate_limit_ipv6_prefix, log_drops=log_drops,
                     log_rate=log_rate, nflog_group=nflog_group, geoip_db=geoip_db,
                     geoip_max_age_days=geoip_max_age_days, blocklist=blocklist,
                     blocklist_files=blocklist_files)


class FilterModule(object):
    def filters(self):
        return {'firewall_ruleset': firewall_ruleset}
