# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The world of the countries and blocklists suite: clients in real countries, the policy, the feed.

Clients get addresses taken at test time from tor-geoipdb (geo_lab.py): one in Germany
(allowed web), one in China (SIP blocked by country), a branch office subnet in China (an
explicit network: allowed), a trunk in Russia inside a blocklist entry (exempt), a
blocklisted client in the US, a never_block office in France inside a blocklist entry
(exempt), and one in Japan (the catch-all network only). ``expected`` is what the written
semantics say (the reference evaluator of the unit tests) for a probe from a client.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import geo_lab  # the harness next to this file (conftest.py puts it on the path)

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.tests.unit.plugins.plugin_utils._policy import reference

OBSERVED = {reference.ACCEPT: 'open', reference.DROP: 'closed'}


class World(object):
    """The lab, its clients' blocks, the policy and the blocklist feed."""

    def __init__(self, tmp):
        db = geo_lab.Database()
        self.blocks = {
            'de': [db.block('DE', 4), db.block('DE', 6)],
            'cn': [db.block('CN', 4), db.block('CN', 6)],
            'branch': [db.block('CN', 4, 1)],
            'trunk': [db.block('RU', 4)],
            'listed': [db.block('US', 4), db.block('US', 6)],
            'office': [db.block('FR', 4)],
            'other': [db.block('JP', 4), db.block('JP', 6)],
        }
        self.country_db = db.country_cidrs()
        self.address = dict((name, [geo_lab.host(b) for b in blocks]) for name, blocks in self.blocks.items())
        self.networks = [
            {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']},
            {'name': 'Scanners', 'countries': ['CN', 'RU'], 'block': ['sip']},
            {'name': 'Germany', 'countries': ['de'], 'services': ['web']},
            {'name': 'Branch', 'subnet': str(self.blocks['branch'][0]), 'services': ['sip', 'web']},
            {'name': 'Office', 'subnet': '%s/28' % self.blocks['office'][0].network_address,
             'services': ['ssh', 'sip', 'web'], 'never_block': True},
        ]
        self.trunks = [self.address['trunk'][0]]
        listed6 = self.blocks['listed'][1].supernet(new_prefix=48)
        self.blocklist = [str(self.blocks['listed'][0]), str(listed6), str(self.blocks['trunk'][0]),
                          str(self.blocks['office'][0])]
        self.feed = os.path.join(tmp, 'feed.netset')
        self.write_feed(self.blocklist)
        self.lab = geo_lab.GeoLab(self.address)

    def write_feed(self, entries):
        with open(self.feed, 'w') as handle:
            handle.write('# test feed (FireHOL netset form)\n' + ''.join('%s\n' % e for e in entries))

    def ruleset(self):
        return _policy.firewall_ruleset(self.networks, trunks=self.trunks, blocklist_files=[self.feed],
                                        geoip_max_age_days=0)

    def expected(self, source, proto, port):
        return OBSERVED[reference.verdict(self.networks, source, proto, port, trunks=self.trunks,
                                          blocklist=self.blocklist, country_db=self.country_db)]
