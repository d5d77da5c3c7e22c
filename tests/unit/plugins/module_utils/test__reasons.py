# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The drop reasons: the comment shape written by the compiler and read by the report."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _reasons

ROOT = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..')


@pytest.mark.parametrize('args, text', [
    (('default', 'everything else'), 'pbxfw:default everything else'),
    (('block', 'ssh,web', 'Office LAN'), 'pbxfw:block ssh,web network=Office LAN'),
    (('block', 'ssh from 3 subnets'), 'pbxfw:block ssh from 3 subnets'),
    (('custom',), 'pbxfw:custom'),
    (('country', '', 'Russia'), 'pbxfw:country network=Russia'),
    (('block', 'web', 'A, B'), 'pbxfw:block web network=A, B'),
])
def test_drop_comment(args, text):
    assert _reasons.drop_comment(*args) == text


@pytest.mark.parametrize('text, parsed', [
    ('pbxfw:default everything else', ('default', None)),
    ('pbxfw:block ssh,web network=Office LAN', ('block', 'Office LAN')),
    ('pbxfw:custom', ('custom', None)),
    ('pbxfw:country network=Russia', ('country', 'Russia')),
    # a network name may hold anything printable, " network=" too: the first one is the field
    ('pbxfw:block web network=a network=b', ('block', 'a network=b')),
    ('pbxfw:block web network=', ('block', None)),
    ('pbxfw:scanner User-Agent friendly-scanner', ('scanner', None)),
    # not a dropping rule's comment
    ('Office LAN: allow ssh', None),
    ('pbx-firewall: drop (block)', None),
    ('pbxfw:unknown x', None),
    ('pbxfw:', None),
    ('', None),
    (None, None),
])
def test_parse_comment(text, parsed):
    assert _reasons.parse_comment(text) == parsed


@pytest.mark.parametrize('reason', list(_reasons.REASONS))
def test_every_reason_reads_back(reason):
    assert _reasons.parse_comment(_reasons.drop_comment(reason, 'x', 'Net: 1')) == (reason, 'Net: 1')
    assert _reasons.log_prefix(reason) == 'pbxfw %s ' % reason
    assert len(_reasons.log_prefix(reason)) <= 29          # LOG's --log-prefix limit
    assert _reasons.is_log_chain(_reasons.log_chain(reason))
    assert len(_reasons.log_chain(reason)) <= 28             # the kernel's chain name limit


@pytest.mark.parametrize('call, message', [
    (lambda: _reasons.drop_comment('spam'), "unknown drop reason 'spam'; valid: scanner, flood, blocklist, "
                                            "country, block, custom, default"),
    (lambda: _reasons.drop_comment('block', 'x network=y'), "may not contain 'network='"),
    (lambda: _reasons.log_prefix('ham'), "unknown drop reason 'ham'"),
])
def test_bad_use_is_an_error(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_the_ruleset_format_document_lists_every_reason_in_order():
    with open(os.path.join(ROOT, 'docs', 'ruleset-format.md')) as handle:
        text = handle.read()
    rows = re.findall(r'^\| `([a-z]+)` \| (.+) \|$', text.split('## Why a rule drops', 1)[1], re.M)
    assert [name for name, _meaning in rows] == list(_reasons.REASONS)
