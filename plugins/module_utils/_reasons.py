# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Why a packet was dropped: the reasons and their rule comments (private to this collection).

This file is private to the pbxops.firewall collection (no stable API). It defines, once,
the vocabulary that the compiler writes into the owned chains and that the drop report,
the Prometheus metrics, the log lines and the fail2ban filter read back:

* ``REASONS``: every reason a rule of the owned chains drops a packet for;
* the comment of a dropping rule: ``pbxfw:<reason> <what>``, followed by
  `` network=<name>`` when one network decides (``drop_comment`` writes it,
  ``parse_comment`` reads it back); the network comes last, so a comment the kernel cuts
  at 255 bytes keeps its reason and only loses the end of a long name;
* the log prefix ``pbxfw <reason> `` and the per-reason log chains ``PBX-FW-LOG-<REASON>``;
* the fail2ban jail (and filter) that bans the sources of logged drops, and the log file it
  reads with NFLOG.

Standard library only (it ships to the host with the modules), no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import CHAIN_PREFIX

# reason -> what it means (docs/ruleset-format.md lists the same, a unit test holds both)
REASONS = collections.OrderedDict([
    ('scanner', "a SIP request whose User-Agent names a known scanner (the SIP guard)"),
    ('flood', 'SIP requests (or new SIP-TLS connections) above the per-source rate limit'),
    ('blocklist', 'every packet of a source in the blocklist'),
    ('country', 'a service a country network blocks, from its countries'),
    ('block', "a network's explicit block: for that service"),
    ('custom', 'a custom rule that drops or rejects'),
    ('default', 'the final drop: no network allows the packet'),
])
TAG = 'pbxfw:'
NETWORK_FIELD = ' network='
LOG_PREFIX = 'pbxfw %s '
# the chain a dropping rule jumps to instead of DROP when drops are logged (+ reason upper-cased)
LOG_CHAIN_PREFIX = CHAIN_PREFIX + 'LOG-'
# fail2ban's jail and filter for logged drops (the compiler writes them, fail2ban's test names them)
FAIL2BAN_JAIL = 'pbx-firewall-drops'
# ulogd2's LOGEMU file in Debian's default configuration (NFLOG group 0)
ULOGD_LOG_FILE = '/var/log/ulog/syslogemu.log'


def _check(reason):
    if reason not in REASONS:
        raise ValueError('unknown drop reason %r; valid: %s' % (reason, ', '.join(REASONS)))


def drop_comment(reason, what='', network=None):
    """The comment text of a rule that drops for ``reason``.

    ``what``: a short description made by the compiler (services, a scanner's User-Agent,
    a rate; never ``network=``); ``network``: the name(s) of the deciding network, when one
    decides. ``model.comment_arg`` quotes the result the way iptables-save prints it.
    """
    _check(reason)
    text = TAG + reason
    if what:
        if NETWORK_FIELD.strip() in what:
            raise ValueError('a drop comment description may not contain %r: %r' % (NETWORK_FIELD.strip(), what))
        text += ' ' + what
    if network:
        text += NETWORK_FIELD + network
    return text


# the comment of the rule at the end of PBX-FIREWALL (the compiler writes it, the lockout check names it)
FINAL_DROP_COMMENT = drop_comment('default', 'everything else')


def parse_comment(text):
    """``(reason, network or None)`` of a dropping rule's comment; None for any other comment."""
    if not text or not text.startswith(TAG):
        return None
    head, _sep, rest = text[len(TAG):].partition(' ')
    if head not in REASONS:
        return None
    _what, found, network = (' ' + rest).partition(NETWORK_FIELD)
    return head, (network or None) if found else None


def log_prefix(reason):
    """The ``--log-prefix``/``--nflog-prefix`` of the drops of ``reason`` (``pbxfw block ``)."""
    _check(reason)
    return LOG_PREFIX % reason


def log_chain(reason):
    """The owned chain that logs (rate-limited) and drops the packets of ``reason``."""
    _check(reason)
    return LOG_CHAIN_PREFIX + reason.upper()


def is_log_chain(chain):
    return chain.startswith(LOG_CHAIN_PREFIX)
