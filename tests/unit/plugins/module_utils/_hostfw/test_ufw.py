# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ufw's settings and user rules (captured from ufw 0.36.2 on Debian 12: ``ufw allow 22/tcp``,
``ufw allow 8080/tcp``, ``ufw deny from 10.0.0.0/8 to any port 5060 proto udp``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import accepts as acc
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import ufw

CAPTURED = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'captured')


def captured(name):
    with open(os.path.join(CAPTURED, name)) as handle:
        return handle.read()


def test_yes():
    assert ufw.is_yes('YES') and ufw.is_yes('yes') and not ufw.is_yes('no') and not ufw.is_yes(None)


def test_user_rules():
    rules = ufw.parse_user_rules(captured('ufw-user.rules'), 'ipv4')
    assert [(r.action, r.proto, r.dport, r.src, r.text) for r in rules] == [
        ('allow', 'tcp', '22', '0.0.0.0/0', 'allow 22/tcp from anywhere'),
        ('allow', 'tcp', '8080', '0.0.0.0/0', 'allow 8080/tcp from anywhere'),
        ('deny', 'udp', '5060', '10.0.0.0/8', 'deny 5060/udp from 10.0.0.0/8'),
    ]
    assert [r.text for r in ufw.parse_user_rules(captured('ufw-user6.rules'), 'ipv6')] == [
        'allow 22/tcp from anywhere', 'allow 8080/tcp from anywhere']


def test_route_rules_and_other_directions_are_not_input_rules():
    text = ('### tuple ### route:allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in_eth0!out_eth1\n'
            '### tuple ### allow any any 0.0.0.0/0 any 10.1.0.0/16 out\n'
            '### tuple ### limit tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n'
            '### tuple ### allow_log any 5000:5010 0.0.0.0/0 any 0.0.0.0/0 in\n')
    assert [r.text for r in ufw.parse_user_rules(text, 'ipv4')] == [
        'limit 22/tcp from anywhere', 'allow 5000-5010 from anywhere']


def test_overridden_rules():
    rules = ufw.parse_user_rules(captured('ufw-user.rules'), 'ipv4')
    accepts = acc.from_ruleset({'ipv4': [
        '-A PBX-FIREWALL -s 10.1.0.0/16 -p tcp -m tcp --dport 22 -j ACCEPT',
        '-A PBX-FIREWALL -s 10.1.0.0/16 -p udp -m udp --dport 5060 -j ACCEPT',
        '-A PBX-FIREWALL -j DROP']})
    assert ufw.overridden(rules, accepts, drops_rest=True) == [
        'allow 8080/tcp from anywhere (ipv4): the policy drops it from every source',
        'deny 5060/udp from 10.0.0.0/8 (ipv4): the policy accepts it from some networks first',
    ]
    # without a final drop our chain lets the rest go on to ufw: its allow rules still decide
    assert ufw.overridden(rules, accepts, drops_rest=False) == [
        'deny 5060/udp from 10.0.0.0/8 (ipv4): the policy accepts it from some networks first']


@pytest.mark.parametrize('rules, problem', [
    (['-A INPUT -j PBX-FIREWALL', '-A INPUT -j ufw-before-logging-input'], None),
    (['-A INPUT -j f2b-sshd', '-A INPUT -j PBX-FIREWALL', '-A INPUT -j ufw-before-input'], None),
    (['-A INPUT -j ufw-before-logging-input', '-A INPUT -j ufw-before-input', '-A INPUT -j PBX-FIREWALL'],
     '-A INPUT -j ufw-before-logging-input'),
    (['-A INPUT -j ufw-before-logging-input'], None),       # no jump yet: the module puts it first
    (['-A INPUT -j ufw6-before-input', '-A INPUT -j PBX-FIREWALL'], '-A INPUT -j ufw6-before-input'),
])
def test_jump_order(rules, problem):
    assert ufw.jump_order_problem(rules) == problem
