# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Blocklist entries and files: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns what one
blocklist entry may be and how a blocklist file is read. A file has one entry per line,
an address or a CIDR; ``#`` and ``;`` start a comment, anywhere on a line. That reads the
common feeds as they come: plain lists (APIBAN exports, CrowdSec blocklists), FireHOL
``.netset`` files, Spamhaus DROP ``CIDR ; SBLnnn`` lines, and Spamhaus's JSON-lines form
(``{"cidr": "...", "sblid": "..."}``, its closing ``{"type": "metadata", ...}`` line
skipped). Every entry goes through the strict address parser (``addresses.py``) and may
be at most a /8 (IPv4) or a /32 (IPv6): a feed that lists a whole region of the Internet
is a broken feed. Pure Python, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import operator

from ansible_collections.pbxops.firewall.plugins.module_utils._canonical import blocks, hostmasks
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.addresses import canonical_subnet, parse_subnet

# The widest entry: as wide as a SIP trunk may be wide or more would block a region, not
# the abusers in it (the same bounds as validate.TRUNK_MAX_WIDTH for a trunk: a /16 there).
MAX_WIDTH = {4: 8, 6: 32}
# Bad lines reported per file; a wrong file (an HTML error page saved as the feed) would
# otherwise give one error per line.
MAX_ERRORS_PER_FILE = 5
FORMATS = ('one address or CIDR per line, "#" and ";" start a comment (plain lists, FireHOL '
           '.netset, Spamhaus DROP "CIDR ; SBLnnn"), or Spamhaus JSON lines {"cidr": ...}')


def check_entry(subnet, text):
    """The refusal of a parsed entry that is too wide for a blocklist, or None."""
    if subnet.prefixlen < MAX_WIDTH[subnet.version]:
        return ('%r is wider than a blocklist entry may be; valid: at most /%d for IPv4 and /%d '
                'for IPv6' % (text, MAX_WIDTH[4], MAX_WIDTH[6]))
    return None


def parse_entry(text):
    """One entry (address or CIDR) -> Subnet. Raises ValueError with the reason."""
    subnet = parse_subnet(text)
    problem = check_entry(subnet, text)
    if problem:
        raise ValueError(problem)
    return subnet


def _json_entry(line):
    """The CIDR of a Spamhaus JSON line; None for its metadata line. Raises ValueError."""
    try:
        record = json.loads(line)
    except ValueError:
        raise ValueError('%r is not a JSON object' % line)
    if not isinstance(record, dict):
        raise ValueError('%r is not a JSON object' % line)
    if 'cidr' in record:
        if not isinstance(record['cidr'], str):
            raise ValueError('"cidr" must be a string, got %r' % (record['cidr'],))
        return record['cidr']
    if record.get('type') == 'metadata':
        return None
    raise ValueError('%r has no "cidr"' % line)


def entry_text(line):
    """The entry a file's line holds, or None for a comment or an empty line.

    Raises ValueError when the line holds more than one entry or a JSON line without one.
    """
    line = line.strip()
    if line.startswith('{'):
        return _json_entry(line)
    for mark in ('#', ';'):
        line = line.split(mark, 1)[0]
    line = line.strip()
    if not line:
        return None
    if len(line.split()) > 1:
        raise ValueError('%r holds more than one entry; valid: %s' % (line, FORMATS))
    return line


# What may follow a canonical IPv4 entry's address, and the host bits of each (0 for an address).
_IPV4_SUFFIX_HOSTMASK = hostmasks('inet', range(MAX_WIDTH[4], 33))


def plain_ipv4_ranges(text):
    """The ``(first, last)`` ranges of a file's entries, in its order, when each of its lines is
    empty, a comment (``#`` or ``;`` first) or an IPv4 address or CIDR in canonical form no wider
    than a blocklist entry may be (a FireHOL ``.netset``, a plain list); else None, and
    parse_file reads it line by line and words any refusal.

    The same checks as the strict parser's on such a line (``inet_pton``, ``inet_ntop`` gives
    the text back, a canonical prefix length, no host bit set), in C loops over all lines
    (``module_utils/_canonical.py``): a feed has 50,000, and a call of ours per line was half
    of a cold compile's blocklist."""
    lines = [line for line in text.split('\n') if line and not line.startswith(('#', ';'))]
    found = blocks(lines, 'inet', _IPV4_SUFFIX_HOSTMASK)
    if found is None:
        return None
    firsts, masks = found
    return list(zip(firsts, map(operator.add, firsts, masks)))


def parse_file(text, label):
    """(entries, errors) of a file's text: entries are (Subnet, origin) with the origin
    ``LABEL line N``; errors name the label and the line too (at most MAX_ERRORS_PER_FILE,
    then how many more)."""
    entries = []
    errors = []
    bad = 0
    for number, line in enumerate(text.split('\n'), 1):
        # the common line, a bare address or CIDR in canonical form (a feed has 50,000)
        subnet = canonical_subnet(line)
        if subnet is not None and check_entry(subnet, line) is None:
            entries.append((subnet, '%s line %d' % (label, number)))
            continue
        try:
            item = entry_text(line)
            if item is None:
                continue
            entries.append((parse_entry(item), '%s line %d' % (label, number)))
        except ValueError as exc:
            bad += 1
            if bad <= MAX_ERRORS_PER_FILE:
                errors.append('%s line %d: %s' % (label, number, exc))
    if bad > MAX_ERRORS_PER_FILE:
        errors.append('%s: ... and %d more bad lines' % (label, bad - MAX_ERRORS_PER_FILE))
    return entries, errors
