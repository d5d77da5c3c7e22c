# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: pbx_firewall_policy
short_description: Everything the pbx_firewall role needs, from one validation of the inventory
version_added: 0.1.0
author: pbxops.firewall contributors
description:
  - Validates the whole policy of one host once and returns the firewall ruleset, fail2ban
    C(ignoreip), Asterisk C(local_net), the fail2ban jails that ban in C(DOCKER-USER), the text of
    each file the role writes, and the warnings to show. The role P(pbxops.firewall.pbx_firewall#role) calls it once per host.
  - Gives the same results as P(pbxops.firewall.firewall_ruleset#filter),
    P(pbxops.firewall.fail2ban_ignoreip#filter) and P(pbxops.firewall.asterisk_localnet#filter)
    for the same input; those stay for use on their own.
  - Invalid input fails with every problem at once, each naming the role variable
    (C(pbx_firewall_networks[1] ('Branch VPN').subnet), C(pbx_firewall_ipv6), ...), the value and
    what is valid.
  - Within one Ansible run, hosts with the same inputs share one compile, and each trunk host name
    is resolved once; the results are kept in the run's temporary directory on the controller
    (removed when the run ends), keyed by a digest of every input.
seealso:
  - module: pbxops.firewall.iptables_ruleset
    description: Applies the ruleset this filter returns.
  - plugin: pbxops.firewall.firewall_ruleset
    plugin_type: filter
    description: The ruleset alone.
  - plugin: pbxops.firewall.fail2ban_ignoreip
    plugin_type: filter
    description: The fail2ban ignoreip list alone.
  - plugin: pbxops.firewall.asterisk_localnet
    plugin_type: filter
    description: Asterisk's local_net alone.
extends_documentation_fragment:
  - pbxops.firewall.drop_logging
  - pbxops.firewall.sets
requirements:
  - netaddr (on the controller)
options:
  _input:
    description: The networks (C(pbx_firewall_networks)), as for P(pbxops.firewall.firewall_ruleset#filter).
    type: list
    elements: dict
    required: true
  ports:
    description: Port overrides (C(pbx_firewall_ports)), as for P(pbxops.firewall.firewall_ruleset#filter).
    type: dict
  custom_services:
    description: Extra services (C(pbx_firewall_custom_services)), as for P(pbxops.firewall.firewall_ruleset#filter).
    type: dict
  trunks:
    description: SIP provider hosts, addresses or subnets (C(pbx_firewall_trunks)).
    type: list
    elements: str
  sip_rate_limit:
    description: SIP requests per second per source above which SIP requests are dropped (C(pbx_firewall_sip_rate_limit)); C(0) is off.
    type: int
    default: 0
  sip_rate_limit_ipv6_prefix:
    description: IPv6 sources in one prefix of this length share one SIP rate budget (C(pbx_firewall_sip_rate_limit_ipv6_prefix)).
    type: int
    default: 64
  sip_scanner_agents:
    description: User-Agent strings of known SIP scanners (C(pbx_firewall_sip_scanner_agents)).
    type: list
    elements: str
  custom_rules:
    description: Raw rules placed just before the catch-all networks (C(pbx_firewall_custom_rules)).
    type: list
    elements: raw
  ipset_threshold:
    description: Subnets per service above which C(hash:net) ipsets are used (C(pbx_firewall_ipset_threshold)); C(0) never.
    type: int
    default: 16
  ipv6:
    description: Compile the IPv6 ruleset (C(pbx_firewall_ipv6)).
    type: bool
    default: true
  docker:
    description: Docker-host mode (C(pbx_firewall_docker)).
    type: bool
    default: false
  ignoreip_extra:
    description: More addresses or subnets fail2ban must never ban (C(pbx_firewall_fail2ban_ignoreip_extra)).
    type: list
    elements: str
  docker_jails:
    description:
      - Names of the fail2ban jails that ban in C(DOCKER-USER) (C(pbx_firewall_fail2ban_docker_jails)).
      - Each is checked (1-64 letters, digits, C(_), C(.), C(-); not a section fail2ban reserves);
        the result lists them only in Docker-host mode.
    type: list
    elements: str
  enabled:
    description: Whether the role manages the host (C(pbx_firewall_enabled)); sets RV(_value.state) and changes the warnings.
    type: bool
    default: true
  metrics_interval:
    description:
      - Minutes between two runs of the metrics refresher on the host (C(pbx_firewall_metrics_interval)), 1-59;
        C(0) is off. Sets RV(_value.files.metrics_script) and RV(_value.files.metrics_cron).
    type: int
    default: 0
  metrics_dir:
    description: The refresher's node_exporter textfile directory (C(pbx_firewall_metrics_dir)), V(auto) or an absolute path.
    type: str
    default: auto
  backend:
    description: The iptables backend the refresher reads (C(pbx_firewall_backend)), V(auto), V(nft) or V(legacy).
    type: str
    default: auto
  metrics_script:
    description: Where the refresher is installed (C(pbx_firewall_metrics_script)); the cron file runs it there.
    type: str
    default: /usr/local/sbin/pbx-firewall-metrics
notes:
  - The drop logging options are the role's C(pbx_firewall_log_drops), C(pbx_firewall_log_rate) and
    C(pbx_firewall_nflog_group).
"""

EXAMPLES = r"""
- name: Compile the policy of this host once
  ansible.builtin.set_fact:
    policy: "{{ pbx_firewall_networks | pbxops.firewall.pbx_firewall_policy(ports=pbx_firewall_ports,
                trunks=pbx_firewall_trunks, docker=true, docker_jails=['asterisk']) }}"

- name: Apply it
  pbxops.firewall.iptables_ruleset:
    ruleset: "{{ policy.ruleset }}"

- name: Show what fail2ban must never ban
  ansible.builtin.debug:
    msg: "ignoreip = {{ policy.ignoreip | join(' ') }}"
"""

RETURN = r"""
_value:
  description: What the role writes and shows.
  type: dict
  contains:
    state:
      description: V(present), or V(absent) with O(enabled=false) (what the collection owns on the host is removed).
      type: str
    ruleset:
      description: The ruleset for P(pbxops.firewall.iptables_ruleset#module), as P(pbxops.firewall.firewall_ruleset#filter) returns it.
      type: dict
    ignoreip:
      description: Loopback, every C(never_block) subnet and O(ignoreip_extra), merged and sorted.
      type: list
      elements: str
    localnet:
      description: Every C(local_network) subnet, merged and sorted.
      type: list
      elements: str
    docker_jails:
      description: The checked jail names, deduplicated and sorted; empty unless O(docker=true).
      type: list
      elements: str
    files:
      description:
        - The text of each file the role owns, ending in a newline, and the name of the PJSIP template section.
      type: dict
      contains:
        fail2ban_jail:
          description: The jail.d file, C([DEFAULT]) with C(ignoreip), and C(chain = DOCKER-USER) per jail of RV(_value.docker_jails).
          type: str
        pjsip:
          description: The PJSIP include file, the template section with one C(local_net) line per subnet of RV(_value.localnet).
          type: str
        chan_sip:
          description: The chan_sip include file, one C(localnet) line per subnet of RV(_value.localnet).
          type: str
        pjsip_template:
          description: The name of the template section transports inherit, V(pbx-firewall-localnet).
          type: str
        fail2ban_filter:
          description:
            - The fail2ban filter C(pbx-firewall-drops) of the logged C(scanner) and C(flood) drops, which the jail.d
              file's jail of the same name uses; empty unless drops are logged.
          type: str
        metrics_script:
          description: The metrics refresher (a Python 3 script); empty unless O(metrics_interval) is set.
          type: str
        metrics_cron:
          description: The C(/etc/cron.d) file that runs it; empty unless O(metrics_interval) is set.
          type: str
    warnings:
      description:
        - Warnings for the user, e.g. that an empty policy drops nothing, that the country database
          is older than O(geoip_max_age_days), or that a trunk lies in a blocklist entry (it stays exempt).
      type: list
      elements: str
    notes:
      description:
        - What the role prints about the large sets; the country database's files and date, the
          prefixes of each country network and of the blocklist, and where they come from.
      type: list
      elements: str
"""

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.plugins.plugin_utils._filter_support import (
    call_core,
    checked_arguments,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._run_cache import RunCache, cached_resolver


def _once_per_run(networks, **inputs):
    """role_policy, computed once per run for each distinct set of inputs; trunk names resolved
    once per run (the default resolver, through the run's cache). The files a compile reads
    (the country database, the blocklist files) are inputs too: a feed rewritten during the
    run is read again."""
    def compile_policy():
        from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.validate import default_resolver
        return _policy.role_policy(networks, resolver=cached_resolver(default_resolver), **inputs)
    files = _policy.sets_fingerprint(inputs.get('geoip_db'), inputs.get('blocklist_files'))
    return RunCache('policy').compute(['pbx_firewall_policy', networks, inputs, files], compile_policy)


@checked_arguments('pbx_firewall_policy')
def pbx_firewall_policy(networks, ports=None, custom_services=None, trunks=None, sip_rate_limit=0,
                        sip_scanner_agents=None, custom_rules=None,
                        ipset_threshold=_policy.DEFAULT_IPSET_THRESHOLD, ipv6=True, docker=False,
                        ignoreip_extra=None, docker_jails=None, enabled=True,
                        sip_rate_limit_ipv6_prefix=64, log_drops=False, log_rate=None, nflog_group=None,
                        metrics_interval=0, metrics_dir='auto', backend='auto',
                        metrics_script=_policy.DEFAULT_METRICS_SCRIPT, geoip_db=None, geoip_max_age_days=90,
                        blocklist=None, blocklist_files=None):
    return call_core('pbx_firewall_policy', _once_per_run, networks, ports=ports,
                     custom_services=custom_services, trunks=trunks, sip_rate_limit=sip_rate_limit,
                     sip_scanner_agents=sip_scanner_agents, custom_rules=custom_rules,
                     ipset_threshold=ipset_threshold, ipv6=ipv6, docker=docker,
                     ignoreip_extra=ignoreip_extra, docker_jails=docker_jails, enabled=enabled,
                     sip_rate_limit_ipv6_prefix=sip_rate_limit_ipv6_prefix, log_drops=log_drops,
                     log_rate=log_rate, nflog_group=nflog_group, metrics_interval=metrics_interval,
                     metrics_dir=metrics_dir, backend=backend, metrics_script=metrics_script,
                     geoip_db=geoip_db, geoip_max_age_days=geoip_max_age_days, blocklist=blocklist,
                     blocklist_files=blocklist_files, inventory=True)


class FilterModule(object):
    def filters(self):
        return {'pbx_firewall_policy': pbx_firewall_policy}
