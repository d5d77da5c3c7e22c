# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The options of the filters that compile a ruleset (firewall_ruleset, pbx_firewall_policy)
    # for countries and blocklists. Used as `extends_documentation_fragment: pbxops.firewall.sets`.
    DOCUMENTATION = r"""
options:
  geoip_db:
    description:
      - The country database, read on the controller when a network gives C(countries)
        (C(pbx_firewall_geoip_db)); a path or a list of paths.
      - Omitted, Debian's C(tor-geoipdb) files C(/usr/share/tor/geoip) and C(/usr/share/tor/geoip6)
        (IPFire location data, CC BY-SA 4.0; C(apt-get install tor-geoipdb)).
      - Each file is one of C(start,end,CC) with integers (tor-geoipdb IPv4), C(first,last,CC) with
        addresses (tor-geoipdb IPv6, the DB-IP lite country CSV) or C(CIDR,CC); C(#) lines are
        comments. Anything else is refused, naming the file and the line.
      - What was read is cached per file version in C($XDG_CACHE_HOME/pbxops.firewall) (or
        C(~/.cache/pbxops.firewall), or C($PBX_FIREWALL_CACHE_DIR); empty turns it off).
    type: raw
  geoip_max_age_days:
    description:
      - A country database older than this many days gives a warning (C(pbx_firewall_geoip_max_age_days));
        C(0) never warns. Its date is its C(Generated:) header, or else the file's modification time.
    type: int
    default: 90
  blocklist:
    description:
      - Addresses and CIDRs whose packets are dropped for every service, before any network is
        consulted (C(pbx_firewall_blocklist)). Trunks and C(never_block) subnets are exempt.
      - An entry is at most a C(/8) (IPv4) or a C(/32) (IPv6), and the entries may not cover a whole family.
    type: list
    elements: str
  blocklist_files:
    description:
      - Files on the controller with more blocklist entries (C(pbx_firewall_blocklist_files)), one
        address or CIDR per line; C(#) and C(;) start a comment (plain lists, FireHOL C(.netset),
        Spamhaus DROP C(CIDR ; SBLnnn)), or Spamhaus's JSON lines C({"cidr" ...}).
      - A bad line is refused, naming the file and the line.
    type: list
    elements: path
"""
