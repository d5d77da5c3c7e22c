# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Dropping rules and their logging: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns how the
compiler writes a rule that drops: its comment (the reason, and the deciding network, in
the shape ``module_utils/_reasons.py`` defines for the compiler and every reader), its
target (``DROP``, or with ``log_drops`` the reason's log chain) and the log chains
themselves: ``PBX-FW-LOG-<REASON>`` logs at most ``log_rate`` packets per reason through
NFLOG or LOG with the prefix ``pbxfw <reason> `` and drops. A dropping rule jumps to its
log chain instead of repeating its matches in a LOG rule, so stateful matches (the SIP
rate limit's hashlimit, a custom rule's ``-m recent``) see each packet once, and one
``-m limit`` per chain is a rate per reason. It also validates the logging options, and
writes the fail2ban filter and jail that ban the sources of logged ``scanner`` and ``flood``
drops (the role installs them). Pure Python, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.pbxops.firewall.plugins.module_utils._reasons import (
    FAIL2BAN_JAIL,
    LOG_PREFIX,
    REASONS,
    ULOGD_LOG_FILE,
    log_chain,
    log_prefix,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import (
    DROP,
    comment_arg,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.scalars import (
    parse_bool,
    parse_int,
    type_name,
)

DEFAULT_LOG_RATE = '10/minute'
NFLOG_GROUP_MAX = 65535
# libxt_limit: a rate is stored as a period in 1/10000 s; a burst is at most 10000
LIMIT_SCALE = 10000
LIMIT_BURST_DEFAULT = 5
LIMIT_MAX = 10000
LIMIT_UNITS = (('day', 24 * 60 * 60), ('hour', 60 * 60), ('min', 60), ('sec', 1))
LIMIT_UNIT_WORDS = (('second', 1), ('minute', 60), ('hour', 60 * 60), ('day', 24 * 60 * 60))
LOG_RATE_RE = re.compile(r'^\s*(\S+)\s*/\s*([A-Za-z]+)\s*$')
LOG_RATE_VALID = ('valid: a count per second, minute, hour or day such as "10/minute", '
                  'the count 1-%d' % LIMIT_MAX)


class Logging(tuple):
    """Validated drop logging: ``rate`` (count, seconds per period), ``nflog_group`` (None: LOG)."""

    __slots__ = ()

    def __new__(cls, rate, nflog_group):
        return tuple.__new__(cls, (rate, nflog_group))

    rate = property(lambda self: self[0])
    nflog_group = property(lambda self: self[1])


def parse_log_rate(value):
    """"10/minute" -> (10, 60); units as iptables' limit match reads them. Raises ValueError."""
    match = LOG_RATE_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(LOG_RATE_VALID)
    try:
        count = parse_int(match.group(1))
    except ValueError as exc:
        raise ValueError('%s; %s' % (exc, LOG_RATE_VALID))
    unit = match.group(2).lower()
    seconds = [mult for word, mult in LIMIT_UNIT_WORDS if word.startswith(unit)]
    if not seconds or not 1 <= count <= LIMIT_MAX:
        raise ValueError(LOG_RATE_VALID)
    return count, seconds[0]


def validate_logging(log_drops, log_rate, nflog_group, names, errors):
    """A Logging, or None when drops are not logged (or a value is bad: ``errors`` says why)."""
    try:
        enabled = parse_bool(log_drops)
    except ValueError as exc:
        errors.append('%s: must be true or false, got %s %r; %s'
                      % (names['log_drops'], type_name(log_drops), log_drops, exc))
        enabled = None
    try:
        rate = parse_log_rate(DEFAULT_LOG_RATE if log_rate is None else log_rate)
    except ValueError as exc:
        errors.append('%s: %r is not a log rate; %s' % (names['log_rate'], log_rate, exc))
        rate = None
    group = None
    if nflog_group is not None:
        try:
            group = parse_int(nflog_group)
        except ValueError:
            group = -1
        if not 0 <= group <= NFLOG_GROUP_MAX:
            errors.append('%s: must be null (log with LOG) or an NFLOG group 0-%d, got %s %r'
                          % (names['nflog_group'], NFLOG_GROUP_MAX, type_name(nflog_group), nflog_group))
            group = None
    if not enabled or rate is None:
        return None
    return Logging(rate, group)


def limit_text(count, seconds):
    """``--limit`` and ``--limit-burst`` exactly as iptables-save prints them (libxt_limit)."""
    period = LIMIT_SCALE * seconds // count
    index = 1
    while index < len(LIMIT_UNITS):
        mult = LIMIT_SCALE * LIMIT_UNITS[index][1]
        if period > mult or mult // period < mult % period:
            break
        index += 1
    name, unit_seconds = LIMIT_UNITS[index - 1]
    text = '-m limit --limit %d/%s' % (LIMIT_SCALE * unit_seconds // period, name)
    burst = min(count, LIMIT_MAX)
    if burst != LIMIT_BURST_DEFAULT:
        text += ' --limit-burst %d' % burst
    return text


def target(policy, reason):
    """What a rule that drops for ``reason`` jumps to: DROP, or the reason's log chain."""
    return log_chain(reason) if policy.logging is not None else DROP


def log_chains(policy, rules):
    """The log chains the ``rules`` of one family jump to, as iptables-save prints them."""
    if policy.logging is None:
        return []
    logging = policy.logging
    if logging.nflog_group is None:
        log = '-j LOG --log-prefix %s'
    else:
        log = '-j NFLOG --nflog-prefix %s'
        if logging.nflog_group:        # iptables-save leaves out the default group 0
            log += ' --nflog-group %d' % logging.nflog_group
    result = []
    for reason in REASONS:
        chain = log_chain(reason)
        if not any(rule.endswith(' -j ' + chain) for rule in rules):
            continue
        result += [
            '-A %s %s -m comment --comment %s %s'
            % (chain, limit_text(*logging.rate), comment_arg('pbx-firewall: log %s drops' % reason),
               log % comment_arg(log_prefix(reason))),
            '-A %s -m comment --comment %s -j DROP' % (chain, comment_arg('pbx-firewall: drop (%s)' % reason)),
        ]
    return result


# fail2ban: the sources of these logged drops get banned (the other reasons are the policy doing
# its job, not an attack); the never_block networks are in ignoreip and never meet the SIP guards
BANNED_REASONS = ('scanner', 'flood')


def fail2ban_filter():
    """filter.d/pbx-firewall-drops.conf: the logged scanner and flood lines, LOG or NFLOG (ulogd2)."""
    # the log prefix, then one space more from LOGEMU (the kernel's LOG adds none)
    prefix = (LOG_PREFIX % ('(?:%s)' % '|'.join(BANNED_REASONS))).rstrip(' ') + ' +'

    return '\n'.join([
        '# Managed by Ansible (pbxops.firewall). Do not edit: changes are overwritten.',
        '# The PBX firewall\'s logged drops (pbx_firewall_log_drops) of the reasons %s: a source'
        % ' and '.join(BANNED_REASONS),
        '# that keeps scanning or flooding SIP is banned. The lines come from the kernel\'s LOG target',
        '# (kernel log, journal) or from NFLOG through ulogd2 (LOGEMU):',
        '#   pbxfw scanner IN=eth0 OUT= MAC=... SRC=203.0.113.9 DST=198.51.100.10 LEN=433 ...',
        '[Definition]',
        r'failregex = \b%sIN=\S* OUT=\S* .*?\bSRC=<ADDR>\s' % prefix,
        'ignoreregex =',
        '# kernel messages, when the jail reads the journal (backend = systemd)',
        'journalmatch = _TRANSPORT=kernel',
        '',
    ])


def fail2ban_jail(logging, log_file=None):
    """The jail section of the role's jail.d file that uses the filter (lines)."""
    lines = ['', '# pbx_firewall_log_drops: ban the sources of repeated %s drops, on every port'
             % ' and '.join(BANNED_REASONS),
             '[%s]' % FAIL2BAN_JAIL, 'enabled = true', 'filter = %s' % FAIL2BAN_JAIL,
             'banaction = %(banaction_allports)s']
    if log_file:
        lines.append('logpath = %s' % log_file)
    elif logging.nflog_group is not None:
        lines.append('logpath = %s' % ULOGD_LOG_FILE)
    else:
        lines.append('backend = systemd')
    return lines
