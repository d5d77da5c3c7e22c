# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hypothesis strategies for hostile inventories, shared by the unit and real-kernel tests.

Names, descriptions, custom service names, scanner agents, trunks, custom rules, ports
and subnets are drawn from all of Unicode (surrogates included) mixed with the
characters that broke readers before: line and paragraph separators (Zl, Zp), NEL and
other controls (Cc), lone surrogates (Cs), format characters (Cf), digits that are not
ASCII (Nd, No), quotes and backslashes. Each inventory either fails validation with
messages that name a path, or compiles to rules that iptables-save prints back as they
are (checked in tests/integration/plugins/plugin_utils/_policy/test_chains_roundtrip.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import zlib

from hypothesis import strategies as st

from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import split_rule
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import comment_arg
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.scalars import LINE_BREAKS

SPECIALS = ('\u2028', '\u2029', '\x85', '\n', '\r', '\t', '\x00', '\x0b', '\x1c', '\x7f',
            '\ud800', '\udfff', '\u202e', '\u200b', '\ufeff', '١', '٢', '²', '１', '९', '"', "'",
            '\\', '#', ' ', '-', '/', '.', ':', 'é', 'Я', '😀', '\u3000')
ANY_CHAR = st.one_of(st.characters(exclude_categories=()), st.sampled_from(SPECIALS))
TEXT = st.text(ANY_CHAR, max_size=30)
WORD_CHAR = st.one_of(st.sampled_from('abcdefghijklmnopqrstuvwxyz0123456789_'), ANY_CHAR)
DIGIT = st.one_of(st.sampled_from('0123456789'), st.sampled_from('١٢٣²１९'), ANY_CHAR)
PATH_RE = re.compile(r'^(?:pbx_firewall_[a-z0-9_]+|names)(?:$|[\[.:( ])')


# Text that validation should accept: any Unicode but what cannot be read back.
VALID_TEXT = st.text(st.characters(exclude_categories=('Cc', 'Cf', 'Cs', 'Zl', 'Zp')),
                     min_size=1, max_size=30).filter(lambda s: s.strip())
AGENTS = st.sampled_from(('friendly-scanner', 'sipcli/v1.8', 'VaxSIPUserAgent', 'pplsip'))


FIELDS = ('name', 'description', 'subnet', 'service', 'port', 'agent', 'trunk', 'rate',
          'ipv6', 'rule')


@st.composite
def numberish(draw, low, high, hostile=True):
    """A number as text, sometimes with a digit that is not ASCII or another character."""
    text = str(draw(st.integers(low, high)))
    if hostile and draw(st.booleans()):
        pos = draw(st.integers(0, len(text) - 1))
        text = text[:pos] + draw(DIGIT) + text[pos + 1:]
    return text


@st.composite
def subnet_texts(draw, hostile=True):
    if draw(st.booleans()):
        return '10.%s.0.0/%s' % (draw(numberish(0, 255, hostile)), draw(numberish(16, 24, hostile)))
    return '2001:db8:%x::/%s' % (draw(st.integers(0, 0xffff)), draw(numberish(48, 64, hostile)))


@st.composite
def hostile_inventories(draw, calm=False):
    """Keyword arguments for firewall_ruleset with hostile strings in every text field.

    ``calm``: at most one field is hostile, so that many inventories compile (for the
    real-kernel round trip); custom rules are then written in the form iptables-save
    prints (quoted comments), as the documentation asks.
    """
    target = draw(st.sampled_from(FIELDS + (None,) * len(FIELDS))) if calm else None

    def hostile(field):
        return not calm or field == target

    def text(field):
        return draw(TEXT if hostile(field) else VALID_TEXT)

    networks = []
    for index in range(draw(st.integers(1, 3))):
        network = {'name': '%d %s' % (index, text('name')),
                   'subnet': draw(subnet_texts(hostile('subnet'))),
                   'services': draw(st.lists(st.sampled_from(('sip', 'ssh', 'web', 'zz1')),
                                             max_size=2, unique=True))}
        if draw(st.booleans()):
            network['description'] = text('description')
        networks.append(network)
    custom = {'zz1': [{'proto': 'tcp', 'port': 40001}]}
    if draw(st.booleans()):
        name = draw(st.text(WORD_CHAR, min_size=1, max_size=14) if hostile('service')
                    else st.sampled_from(('prov', 'cti_x', 'a1')))
        custom[name] = [{'proto': 'udp', 'port': draw(numberish(40002, 40100, hostile('port')))}]
    if hostile('trunk'):
        trunk = st.one_of(subnet_texts(), TEXT, st.text(WORD_CHAR, min_size=1, max_size=10).map(
            lambda s: 'sip.%s.example' % s))
    else:
        trunk = st.one_of(subnet_texts(False).map(lambda s: s.replace('/1', '/2')),
                          st.sampled_from(('sip.example.net', 'trunk-1.example')))
    inventory = {
        'networks': networks,
        'custom_services': custom,
        'ports': {'ssh': draw(numberish(22, 22, hostile('port')))},
        'sip_scanner_agents': draw(st.lists(TEXT if hostile('agent') else AGENTS, max_size=2)),
        'trunks': draw(st.lists(trunk, max_size=2)),
        'sip_rate_limit': draw(st.one_of(numberish(0, 50, hostile('rate')), st.integers(0, 50))),
        'ipv6': draw(st.sampled_from((True, False, 'true', 'false', 'yes', 'no', '1', '0')
                                     + (('maybe', 'ja', 2) if hostile('ipv6') else ()))),
    }
    rules = []
    for _rule in range(draw(st.integers(0, 2))):
        comment = text('rule')
        encodable = not any(0xd800 <= ord(char) <= 0xdfff for char in comment)
        if not encodable or (not calm and draw(st.booleans())):
            rules.append('-p tcp -m tcp --dport 8080 %s -j ACCEPT' % comment)
        else:       # in the form iptables-save prints, as the documentation asks
            rules.append('-p tcp -m tcp --dport 8080 -m comment --comment %s -j ACCEPT'
                         % comment_arg(comment))
    inventory['custom_rules'] = rules
    return inventory


def fake_resolver(host):
    """No DNS in tests: a fixed documentation address per host name."""
    return ['192.0.2.%d' % (zlib.crc32(host.encode('utf-8')) % 250 + 1)]


def check_messages(errors):
    """Every message names a path and can be printed and read back line by line."""
    assert errors
    for line in errors:
        assert PATH_RE.match(line), line
        assert not any(char in LINE_BREAKS for char in line), line
        line.encode('utf-8')


def check_rules(ruleset):
    """Every compiled rule is one UTF-8 line that tokenizes the way iptables-save prints it."""
    for family in ('ipv4', 'ipv6'):
        for rule in ruleset[family]:
            rule.encode('utf-8')
            assert not any(char in LINE_BREAKS for char in rule), rule
            assert ' '.join(split_rule(rule)) == rule
