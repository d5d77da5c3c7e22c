#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: firewall_report
short_description: Report what the PBX firewall dropped, and why, on one host
version_added: 0.2.0
description:
  - Reads the packet and byte counters of every rule of the owned chains (C(PBX-FIREWALL),
    C(PBX-FW-*)) that drops, and sums them per address family, drop reason and deciding
    network. The reason and the network come from the rule's comment
    (C(pbxfw:<reason> ... network=<name>), see C(docs/ruleset-format.md)).
  - Says since when each count runs. The counters start when a rule is added; an apply by
    P(pbxops.firewall.iptables_ruleset#module) keeps the counters of every rule it does not
    change, the restore script (boot, Docker's restart) starts them all again.
  - Lists the SIP rate limit's busiest sources now, from the kernel's hashlimit tables
    (C(/proc/net/ipt_hashlimit/<name>), C(/proc/net/ip6t_hashlimit/<name>)), and the addresses
    fail2ban bans per jail (C(fail2ban-client banned)).
  - Changes nothing on the host. When node_exporter's textfile collector directory exists
    (O(metrics_dir)), writes the report there as Prometheus metrics, C(pbx_firewall.prom),
    atomically (a temporary file renamed over it); check mode writes nothing.
options:
  backend:
    description:
      - Which iptables backend to read; V(auto) as in P(pbxops.firewall.iptables_ruleset#module).
    type: str
    choices: [auto, nft, legacy]
    default: auto
  top:
    description:
      - How many of the SIP rate limit's busiest sources to list.
    type: int
    default: 10
  metrics_dir:
    description:
      - Directory of node_exporter's textfile collector to write C(pbx_firewall.prom) to.
      - V(auto) is Debian's C(/var/lib/prometheus/node-exporter) when that directory exists.
      - An empty string writes no metrics.
    type: str
    default: auto
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads the same state; writes no metrics file.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing) when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
requirements:
  - iptables (C(iptables-save)) of the chosen backend on the host
  - fail2ban-client for the bans (without it C(bans) is null, with a note)
notes:
  - Returns C(changed=false) always; the metrics file is the report's output, like the JSON the
    C(pbxops.firewall.report) playbook writes on the controller.
  - Counters zeroed by hand (C(iptables -Z)) are not noticed; C(since) then says too early a time.
seealso:
  - module: pbxops.firewall.iptables_ruleset
  - name: Ruleset format, drop reasons
    description: The comment every dropping rule carries.
    link: https://github.com/pbxops/firewall/blob/main/docs/ruleset-format.md
author:
  - pbxops.firewall contributors (@pbxops)
'''

EXAMPLES = r'''
- name: What did the firewall stop?
  pbxops.firewall.firewall_report:
  register: report

- name: Show the drops per reason
  ansible.builtin.debug:
    msg: "{{ report.drops | map(attribute='reason') | zip(report.drops | map(attribute='packets')) | list }}"

- name: Write the metrics for node_exporter elsewhere
  pbxops.firewall.firewall_report:
    metrics_dir: /srv/node-exporter/textfile
'''

RETURN = r'''
backend:
  description: The iptables backend that was read.
  returned: always
  type: str
  sample: nft
drops:
  description:
    - Packets and bytes dropped, per address family, reason and deciding network (null when no
      network decides), with the number of rules summed and C(since), the earliest time (seconds
      since the epoch) from which those rules count.
  returned: always
  type: list
  elements: dict
  sample: [{family: ipv4, reason: scanner, network: null, packets: 212, bytes: 104880, rules: 18,
            since: 1796600000.2}]
rules:
  description: The same per rule (C(chain), C(rule), C(packets), C(bytes), C(since), C(reason), C(network)).
  returned: always
  type: list
  elements: dict
rule_count:
  description: Rules in the owned chains, per address family.
  returned: always
  type: dict
  sample: {ipv4: 44, ipv6: 40}
sip_sources:
  description:
    - The SIP rate limit's busiest sources now (at most O(top)), most of their burst used first.
      C(source) (an address, or an IPv6 prefix per the rate limit's prefix length), C(table)
      (the hashlimit table), C(used) (requests of the burst used now), C(burst), C(over_limit)
      (its requests are being dropped).
  returned: always
  type: list
  elements: dict
  sample: [{family: ipv4, table: pbxfw-sip, source: 203.0.113.9, used: 40.0, burst: 40, over_limit: true}]
bans:
  description: Addresses fail2ban bans now, per jail; null when fail2ban could not be asked (see C(notes)).
  returned: always
  type: dict
  sample: {sshd: [203.0.113.9]}
last_apply:
  description: When the owned rules were last changed by an apply or loaded by the restore script (epoch seconds).
  returned: always
  type: float
boot:
  description: The host's boot time (epoch seconds); no counter counts from before it.
  returned: always
  type: float
notes:
  description: What could not be read (fail2ban not running, an iptables family missing).
  returned: always
  type: list
  elements: str
metrics_file:
  description: The Prometheus textfile written, or null.
  returned: always
  type: str
  sample: /var/lib/prometheus/node-exporter/pbx_firewall.prom
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pbxops.firewall.plugins.module_utils import _metrics
from ansible_collections.pbxops.firewall.plugins.module_utils import _report
from ansible_collections.pbxops.firewall.plugins.module_utils._host import Host


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type='str', choices=['auto', 'nft', 'legacy'], default='auto'),
            top=dict(type='int', default=10),
            metrics_dir=dict(type='str', default='auto'),
        ),
        supports_check_mode=True,
    )
    if module.params['top'] < 0:
        module.fail_json(msg='top must be 0 or more, got %d' % module.params['top'])
    report = _report.collect(Host(module, module.params['backend']), top=module.params['top'])
    report['metrics_file'] = None
    directory = _metrics.textfile_dir(module.params['metrics_dir'])
    if directory is not None and not module.check_mode:
        try:
            report['metrics_file'] = _metrics.write(directory, _metrics.render(report))
        except (IOError, OSError) as exc:
            report['notes'].append('could not write the metrics to %s: %s' % (directory, exc))
    module.exit_json(changed=False, **report)


if __name__ == '__main__':
    main()
