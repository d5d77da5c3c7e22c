# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Living with the host's own firewall manager (private to pbxops.firewall).

The ``iptables_ruleset`` module asks this package, before it changes anything (check mode
too), which other firewall managers the host runs and what to do about them
(``host_firewall``: ``auto``, ``refuse``, ``ignore``). One file per concern:

* ``accepts.py``    what a ruleset accepts (ports, protocols, ICMP types): what another
                    manager must let through for the policy to hold;
* ``firewalld.py``  firewalld's outputs and files: zones, policies, versions, the owned
                    policy object and the owned block of ``direct.xml``;
* ``firewalld_plan.py``  what ``auto`` adds to firewalld (files, runtime commands) and how
                    it is taken back;
* ``ufw.py``        ufw's user rules, and the order of its jumps in ``INPUT``;
* ``nftables.py``   native nftables tables (``nft -j list ruleset``) and ``nftables.conf``;
* ``settings.py``   the managers' ``KEY=value`` settings files;
* ``probe.py``      reading all of that on the host (the only file that runs commands);
* ``assess.py``     the decision: a report, a refusal or warnings, and firewalld's plan;
                    netfilter-persistent's saved files and Docker are judged here too.

Everything but ``probe.py`` is pure (standard library, no Ansible imports) and unit-tested
on outputs captured from the real daemons (``tests/unit/plugins/module_utils/_hostfw/``).
"""
