# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The drop logging options of the compiling filters (firewall_ruleset, pbx_firewall_policy).
    # Used as `extends_documentation_fragment: pbxops.firewall.drop_logging`.
    DOCUMENTATION = r"""
options:
  log_drops:
    description:
      - Log the packets the firewall drops. Every rule that drops jumps to its reason's chain
        C(PBX-FW-LOG-<REASON>), which logs at most O(log_rate) packets for that reason with the
        prefix C(pbxfw <reason> ), then drops (C(docs/ruleset-format.md)). The counters stay on
        the rules that carry the reasons.
      - A custom rule that rejects keeps its C(REJECT) and is not logged.
    type: bool
    default: false
  log_rate:
    description:
      - At most this many logged packets per reason, C(COUNT/UNIT) with the unit second, minute,
        hour or day (or a prefix of it), as iptables' C(limit) match reads it; the burst is the count.
    type: str
    default: 10/minute
  nflog_group:
    description:
      - Log through NFLOG to this netlink group (0-65535; ulogd2 reads group 0 into
        C(/var/log/ulog/syslogemu.log) in Debian's default configuration).
      - V(null) logs through the kernel's LOG target (the kernel log, the journal). LOG is silent
        in a network namespace other than the host's own (a container) unless the host sets
        C(net.netfilter.nf_log_all_netns=1); NFLOG is not.
    type: int
"""
