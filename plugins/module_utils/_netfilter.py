# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Netfilter state for pbxops.firewall: parse, normalize, validate, plan, render the diff.

Private to this collection. Pure Python (standard library and the step records of
``_steps.py``, no Ansible imports) so it ships to the managed host with the
``iptables_ruleset`` module and is unit-tested on its own. The names shared with the
controller core (``MAIN_CHAIN``, ``CHAIN_PREFIX``, ``IPSET_PREFIX``, ``HASHLIMIT_PREFIX``,
``IPSET_NAME_MAX``, ``FAMILIES``, ``BUILTIN_CHAINS``) are defined here once.

What the collection owns in the ``filter`` table of each address family:

* the chains ``PBX-FIREWALL`` and ``PBX-FW-*`` with all their rules;
* every rule of another chain whose target (``-j``/``-g``) is an owned chain (the
  *jumps*; normally exactly one, ``-A INPUT -j PBX-FIREWALL``);
* the ipsets named ``pbxfw-*`` (ipsets are not per family).

Everything else (fail2ban's ``f2b-*`` chains, Docker's, the administrator's rules) is
read only to place the jumps: a jump sits after the last rule of its hook chain that
jumps to an ``f2b-*`` chain, or first when there is none, and a jump that already sits
after every fail2ban jump is not moved.

The plan turns (live state, desired state) into the exact input of ``ipset restore``
and of one ``iptables-restore --noflush`` transaction per family, as step records the
executor of ``_steps.py`` runs. Errors are raised as ``ValueError`` with a message naming
the offending value. ``iptables-save`` and ``ipset save`` output is read line by line at
``\n`` only, so a foreign rule whose comment holds U+2028 or the like reads back intact.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import difflib
import functools
import hashlib
import heapq
import ipaddress
import os
import re
import socket

from ansible_collections.pbxops.firewall.plugins.module_utils import _canonical, _steps

MAIN_CHAIN = 'PBX-FIREWALL'
CHAIN_PREFIX = 'PBX-FW-'
IPSET_PREFIX = 'pbxfw-'
# The SIP guards' hashlimit tables carry the same prefix: a name with it is the collection's
# (custom rules may not use one), so the evaluator knows which budgets it models.
HASHLIMIT_PREFIX = IPSET_PREFIX
IPSET_NAME_MAX = 31
CHAIN_NAME_MAX = 28          # XT_EXTENSION_MAXNAMELEN (29) minus the NUL
FAMILIES = ('ipv4', 'ipv6')
IPSET_FAMILIES = ('inet', 'inet6')
IPSET_TYPES = ('hash:net', 'hash:ip')
DEFAULT_MAXELEM = 65536
DEFAULT_JUMPS = ({'chain': 'INPUT', 'target': MAIN_CHAIN},)
FAIL2BAN_PREFIX = 'f2b-'
# Temporary sets used to swap new members into a set that keeps its name. The double
# dash cannot come out of the compiler, so a user set never collides with one.
SWAP_PREFIX = IPSET_PREFIX + '-'
RULESET_KEYS = ('ipsets', 'ipv4', 'ipv6', 'jumps')
IPSET_KEYS = ('entries', 'family', 'hashsize', 'maxelem', 'name', 'source', 'type')
# --diff lists per set and side the members the other side lacks: all of them up to
# DIFF_ALL_MEMBERS (the sets of ordinary networks, a few dozen subnets, read in full), else
# the first DIFF_MEMBERS and a count (a country's set has 50,000 members).
DIFF_ALL_MEMBERS = 64
DIFF_MEMBERS = 10
BUILTIN_CHAINS = ('INPUT', 'FORWARD', 'OUTPUT')
FAMILY_TOOL = {'ipv4': 'iptables', 'ipv6': 'ip6tables'}
# The hook chains a jump into an owned chain may come from (DOCKER-USER: Docker-host mode).
HOOK_CHAINS = ('INPUT', 'DOCKER-USER')
# iptables-save and ipset save end a line at '\n' only, and separate tokens with ASCII white
# space: str.splitlines() and str.strip() would also cut at U+2028, U+0085, \x1c... that a
# foreign rule's comment may hold.
ASCII_SPACE = ' \t\r\n\x0b\x0c'

_OWNED_CHAIN_RE = re.compile(r'^(?:PBX-FIREWALL|PBX-FW-[A-Za-z0-9_.-]+)\Z')
_CHAIN_RE = re.compile(r'^[A-Za-z0-9_.-][A-Za-z0-9_.:+-]*\Z')
_IPSET_NAME_RE = re.compile(r'^pbxfw-[A-Za-z0-9_.:-]+\Z')
_COUNTERS_RE = re.compile(r'^\[(\d+):(\d+)\]\s+')
_RESTORE_ERROR_LINE_RE = re.compile(r'(?:[Ee]rror occurred at line|[Ee]rror in line|line)\s*:?\s*(\d+)')
_TARGET_FLAGS = ('-j', '--jump', '-g', '--goto')


# --------------------------------------------------------------------------------------
# names and rule tokens
# --------------------------------------------------------------------------------------

def is_owned_chain(name):
    """True for ``PBX-FIREWALL`` and ``PBX-FW-*``."""
    return name == MAIN_CHAIN or name.startswith(CHAIN_PREFIX)


def is_owned_ipset(name):
    return name.startswith(IPSET_PREFIX)


# One raw token: runs of plain characters, backslash escapes and double-quoted parts.
_TOKEN_RE = re.compile(r'(?:[^\s"\\]+|\\.|"(?:[^"\\]|\\.)*")+', re.S)


def split_rule(line):
    """Split an iptables-save line into raw tokens, keeping their quotes.

    iptables-save quotes a value with double quotes and escapes ``"`` and ``\\``
    inside them with a backslash. Raises ValueError on an unbalanced quote.
    """
    if '"' not in line and '\\' not in line:
        return line.split()
    return list(_split_quoted(line))


@functools.lru_cache(maxsize=4096)
def _split_quoted(line):
    """split_rule for a line with quotes or backslashes. One run reads each rule several
    times (validation, the lockout check, the plan), hence the cache."""
    tokens = []
    end = 0
    for match in _TOKEN_RE.finditer(line):
        # anything but white space between tokens is a quote or backslash left unmatched
        if match.start() > end and not line[end:match.start()].isspace():
            raise ValueError('unbalanced quote or trailing backslash in %r' % line)
        tokens.append(match.group())
        end = match.end()
    if line[end:].strip():
        raise ValueError('unbalanced quote or trailing backslash in %r' % line)
    return tuple(tokens)


def unquote(token):
    """The value of one raw token (quotes removed, escapes resolved)."""
    if '"' not in token and '\\' not in token:
        return token
    out = []
    escaped = False
    for char in token:
        if escaped:
            out.append(char)
            escaped = False
        elif char == '\\':
            escaped = True
        elif char != '"':
            out.append(char)
    return ''.join(out)


def normalize_rule(line):
    """One space between tokens outside quotes, no surrounding white space."""
    return ' '.join(split_rule(line))


def rule_chain(rule):
    """The chain of an ``-A CHAIN ...`` line."""
    parts = rule.split(None, 2)
    if len(parts) < 2 or parts[0] != '-A':
        raise ValueError('not an append rule: %r' % rule)
    return parts[1]


def rule_target(rule):
    """The ``-j``/``-g`` target of a rule, or None."""
    return _target([unquote(t) for t in split_rule(rule)])


def _target(tokens):
    target = None
    for index, token in enumerate(tokens[:-1]):
        if token in _TARGET_FLAGS:
            target = tokens[index + 1]
    return target


def rule_ipsets(rule):
    """Names of the sets a rule matches with ``--match-set``."""
    return _ipsets([unquote(t) for t in split_rule(rule)])


def _ipsets(tokens):
    return [tokens[i + 1] for i, t in enumerate(tokens[:-1]) if t == '--match-set']


def is_fail2ban_jump(rule):
    target = rule_target(rule)
    return target is not None and target.startswith(FAIL2BAN_PREFIX)


def is_owned_jump(rule):
    """A rule of a foreign chain whose target is an owned chain."""
    target = rule_target(rule)
    return target is not None and is_owned_chain(target) and not is_owned_chain(rule_chain(rule))


def chain_sort_key(name):
    return (name != MAIN_CHAIN, name)


def swap_name(name):
    """Temporary set name used to swap new members into ``name`` (<= 31 chars)."""
    return SWAP_PREFIX + hashlib.sha1(name.encode('utf-8')).hexdigest()[:16]


# --------------------------------------------------------------------------------------
# parsing iptables-save and ipset save
# --------------------------------------------------------------------------------------

class Table:
    """One table of iptables-save output: chains in order, policies, rules per chain.

    ``counters``: chain -> [(packets, bytes) of each rule], when read with ``iptables-save -c``
    (not part of equality: the same rules with other counters are the same table).
    """

    def __init__(self, name='filter', builtins=BUILTIN_CHAINS):
        self.name = name
        self.chains = collections.OrderedDict()   # name -> policy ('-' for user chains)
        self.rules = {}
        self.counters = {}
        for chain in builtins:
            self.add_chain(chain, 'ACCEPT')

    def add_chain(self, name, policy='-'):
        if name not in self.chains:
            self.chains[name] = policy
            self.rules[name] = []

    def remove_chain(self, name):
        self.chains.pop(name, None)
        self.rules.pop(name, None)
        self.counters.pop(name, None)

    def copy(self):
        other = Table(self.name, builtins=())
        for name, policy in self.chains.items():
            other.add_chain(name, policy)
            other.rules[name] = list(self.rules[name])
            if name in self.counters:
                other.counters[name] = list(self.counters[name])
        return other

    def rule_counters(self, chain):
        """[(packets, bytes) or None] for each rule of ``chain`` (None: not read)."""
        counters = self.counters.get(chain)
        rules = self.rules.get(chain, [])
        if counters is None or len(counters) != len(rules):
            return [None] * len(rules)
        return list(counters)

    def owned_chains(self):
        """Owned chain -> rules, in canonical order (PBX-FIREWALL first, then by name)."""
        names = sorted((c for c in self.chains if is_owned_chain(c)), key=chain_sort_key)
        return collections.OrderedDict((c, list(self.rules[c])) for c in names)

    def owned_jumps(self):
        """[(chain, 1-based position, rule)] of rules in foreign chains that jump into owned ones."""
        found = []
        for chain in self.chains:
            if is_owned_chain(chain):
                continue
            for index, rule in enumerate(self.rules[chain]):
                if is_owned_jump(rule):
                    found.append((chain, index + 1, rule))
        return found

    def referenced_ipsets(self):
        names = set()
        for rules in self.rules.values():
            for rule in rules:
                names.update(rule_ipsets(rule))
        return names

    def __eq__(self, other):
        return (isinstance(other, Table) and self.name == other.name
                and list(self.chains.items()) == list(other.chains.items()) and self.rules == other.rules)

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return 'Table(%r, %r)' % (self.name, dict(self.rules))


def parse_save(text):
    """Parse iptables-save output into {table name: Table}.

    Rule counters (``[n:m]`` before a rule, ``iptables-save -c``) go to ``Table.counters``;
    policy counters and comment lines (``# Generated by``, warnings) are dropped; white
    space between tokens is normalized.
    """
    tables = collections.OrderedDict()
    table = None
    for number, raw in enumerate(text.split('\n'), 1):
        line = raw.strip(ASCII_SPACE)
        if not line or line.startswith('#'):
            continue
        if line.startswith('*'):
            table = Table(line[1:].strip(), builtins=())
            tables[table.name] = table
            continue
        if table is None:
            raise ValueError('iptables-save output line %d comes before any table: %r' % (number, raw))
        if line == 'COMMIT':
            table = None
            continue
        if line.startswith(':'):
            parts = line[1:].split()
            if not parts:
                raise ValueError('iptables-save output line %d: empty chain declaration' % number)
            table.add_chain(parts[0], parts[1] if len(parts) > 1 else '-')
            continue
        counted = _COUNTERS_RE.match(line)
        if counted:
            line = line[counted.end():]
        if line.startswith('-A '):
            rule = normalize_rule(line)
            chain = rule_chain(rule)
            table.add_chain(chain)
            table.rules[chain].append(rule)
            table.counters.setdefault(chain, []).append(
                (int(counted.group(1)), int(counted.group(2))) if counted else None)
            continue
        raise ValueError('iptables-save output line %d not understood: %r' % (number, raw))
    return tables


def filter_table(text):
    """The filter table of iptables-save output (built-in chains only when absent)."""
    tables = parse_save(text)
    return tables.get('filter') or Table('filter')


class IpSet:
    """An ipset reduced to what the collection manages: type, family, maxelem, members.

    ``hashsize`` (the initial hash size a set is created with; the kernel grows it as the
    set fills) and ``source`` (where the members come from, for --diff) are not compared.

    A set may hold hundreds of thousands of members (a country): they are compared as a
    set (``members``) and kept in the order given (``entries``, duplicates dropped), which
    is what the compiler and a hand-written ruleset write. ``ordered`` says whether that
    order is one to keep: ``ipset save`` prints members in the order of its hash, so
    ``listed()`` sorts those by address before they are written anywhere.
    """

    __slots__ = ('name', 'type', 'family', 'maxelem', 'entries', 'members', 'hashsize', 'source', 'ordered',
                 'unchecked')

    def __init__(self, name, set_type='hash:net', family='inet', maxelem=DEFAULT_MAXELEM, entries=(),
                 hashsize=None, source=None, ordered=True):
        self.name = name
        self.type = set_type
        self.family = family
        self.maxelem = int(maxelem)
        self.hashsize = hashsize
        self.source = source
        self.ordered = ordered
        self.unchecked = None       # the given members, until check_members has checked them
        self.set_entries(entries)

    def set_entries(self, entries, unique=False):
        """``unique``: the members are known to be distinct (no duplicates to drop)."""
        self.entries = tuple(entries) if unique else tuple(dict.fromkeys(entries))
        self.members = frozenset(self.entries)

    def listed(self):
        """The members in a stable order: as given, or sorted when they came from ipset save."""
        return self.entries if self.ordered else tuple(sorted(self.entries, key=entry_sort_key))

    def key(self):
        return (self.name, self.type, self.family, self.maxelem, self.members)

    def same_kind(self, other):
        return (self.type, self.family) == (other.type, other.family)

    def create_line(self, name=None, hashsize=True):
        line = 'create %s %s' % (name or self.name, self.type)
        if self.family:
            line += ' family %s' % self.family
        if hashsize and self.hashsize:
            line += ' hashsize %d' % self.hashsize
        return line + ' maxelem %d' % self.maxelem

    def add_text(self, name=None):
        """The ``add`` lines of the members, each ending in a newline, as one string built by one
        join (a country's set has 200,000)."""
        members = self.listed()
        if not members:
            return ''
        prefix = 'add %s ' % (name or self.name)
        return prefix + ('\n' + prefix).join(members) + '\n'

    def __eq__(self, other):
        return isinstance(other, IpSet) and self.key() == other.key()

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return 'IpSet(%r, %r, %r, %r, %r)' % (self.name, self.type, self.family, self.maxelem, self.listed())


def entry_sort_key(entry):
    """Sort members by family and address, then prefix, then flags.

    A set can hold hundreds of thousands of members (a country): the address is read by
    inet_pton, and its packed bytes sort as the numbers do.
    """
    head, _sep, rest = entry.partition(' ')
    address, slash, length = head.partition('/')
    version, family = (6, socket.AF_INET6) if ':' in address else (4, socket.AF_INET)
    try:
        packed = socket.inet_pton(family, address)
    except (OSError, ValueError):
        return (9, b'', 0, entry)
    if not slash:
        return (version, packed, 32 if version == 4 else 128, rest)
    if not length.isdigit():
        return (9, b'', 0, entry)
    return (version, packed, int(length), rest)


def parse_ipset_save(text):
    """Parse ``ipset save`` output into {name: IpSet} (every set, owned or not).

    ``create`` options are reduced to type, family, maxelem and hashsize; members keep the
    order ipset prints them in (see IpSet.listed).
    """
    sets = collections.OrderedDict()
    members = {}
    for number, raw in enumerate(text.split('\n'), 1):
        if raw.startswith('add '):
            # the common line, "add NAME MEMBER": 100,000 of them for a country
            name, _sep, member = raw[4:].strip(ASCII_SPACE).partition(' ')
            if name in members and member:
                members[name].append(member)
                continue
        line = raw.strip(ASCII_SPACE)
        if not line or line.startswith('#'):
            continue
        parts = line.split()
        if parts[0] == 'create' and len(parts) >= 3:
            options = parts[3:]
            family = _option_value(options, 'family')
            maxelem = _option_value(options, 'maxelem') or DEFAULT_MAXELEM
            hashsize = _option_value(options, 'hashsize')
            sets[parts[1]] = IpSet(parts[1], parts[2], family, int(maxelem), ordered=False,
                                   hashsize=int(hashsize) if hashsize and hashsize.isdigit() else None)
            members[parts[1]] = []
        elif parts[0] == 'add' and len(parts) >= 3:
            if parts[1] not in members:
                raise ValueError('ipset save output line %d adds to an unknown set: %r' % (number, raw))
            members[parts[1]].append(' '.join(parts[2:]) if len(parts) > 3 else parts[2])
        else:
            raise ValueError('ipset save output line %d not understood: %r' % (number, raw))
    for name, ipset in sets.items():
        ipset.set_entries(members[name], unique=True)      # a set holds each member once
    return sets


def _option_value(options, name):
    for index, option in enumerate(options[:-1]):
        if option == name:
            return options[index + 1]
    return None


def owned_ipsets(sets):
    return collections.OrderedDict(
        (name, sets[name]) for name in sorted(sets) if is_owned_ipset(name))


# --------------------------------------------------------------------------------------
# the desired state: validating a ruleset
# --------------------------------------------------------------------------------------

class DesiredFamily:
    """Owned chains (canonical order) with their rules, and the jump rules, of one family."""

    def __init__(self, chains=None, jumps=None, origins=None):
        self.chains = collections.OrderedDict(chains or ())
        self.jumps = list(jumps or ())
        # chain -> [label of each rule] so errors can name ruleset.ipv4[3]
        self.origins = origins or {}

    def rule_count(self):
        return sum(len(rules) for rules in self.chains.values())

    def origin(self, chain, index):
        labels = self.origins.get(chain) or []
        return labels[index] if index < len(labels) else '%s rule %d' % (chain, index + 1)


class Desired:
    def __init__(self, families=None, ipsets=None, ipset_origins=None):
        self.families = families or {f: DesiredFamily() for f in FAMILIES}
        self.ipsets = collections.OrderedDict(
            (name, (ipsets or {})[name]) for name in sorted(ipsets or {}))
        self.ipset_origins = ipset_origins or {}


def _fail(path, message, value=None, show_value=True):
    if show_value:
        raise ValueError('%s: %s, got %r' % (path, message, value))
    raise ValueError('%s: %s' % (path, message))


def _as_list(value, path):
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        _fail(path, 'must be a list', value)
    return list(value)


def _check_chain_name(name, path, owned):
    if not isinstance(name, str) or not name:
        _fail(path, 'must be a non-empty chain name', name)
    if len(name) > CHAIN_NAME_MAX:
        _fail(path, 'chain names are at most %d characters' % CHAIN_NAME_MAX, name)
    if owned and not _OWNED_CHAIN_RE.match(name):
        _fail(path, "must be %r or start with %r followed by letters, digits, '_', '.' or '-'"
              % (MAIN_CHAIN, CHAIN_PREFIX), name)
    if not owned:
        if is_owned_chain(name):
            _fail(path, 'must be a chain the collection does not own (a hook chain such as INPUT)', name)
        if not _CHAIN_RE.match(name):
            _fail(path, 'is not a valid chain name', name)


def _validate_rule(rule, path):
    if not isinstance(rule, str):
        _fail(path, 'must be a string in iptables-save syntax', rule)
    if any(c in rule for c in '\n\r\0'):
        _fail(path, 'must be one line (no newline, carriage return or NUL)', rule)
    rule = rule.strip()
    if not (rule.startswith('-A %s ' % MAIN_CHAIN) or rule.startswith('-A %s' % CHAIN_PREFIX)):
        _fail(path, "must start with '-A %s ' or '-A %s<NAME> ' (the chains the module owns)"
              % (MAIN_CHAIN, CHAIN_PREFIX), rule)
    try:
        raw_tokens = split_rule(rule)
    except ValueError:
        _fail(path, 'has an unbalanced double quote or a trailing backslash', rule)
    rule = ' '.join(raw_tokens)     # normalize_rule
    parts = rule.split(None, 2)
    _check_chain_name(parts[1], path + ' (chain)', owned=True)
    if len(parts) < 3:
        _fail(path, 'has no match or target after the chain name', rule)
    tokens = [unquote(t) for t in raw_tokens]
    target = _target(tokens)
    if target is not None and is_owned_chain(target):
        _check_chain_name(target, path + ' (jump target)', owned=True)
    for set_name in _ipsets(tokens):
        if not set_name:
            _fail(path, 'has an empty --match-set name', rule)
    return rule


def _canonical_entry(entry, family):
    """``entry`` itself when it is already exactly what ``ipset save`` prints for a hash:net
    member of ``family`` (no flag), else None. The compiler writes its members that way, and a
    country's set has 50,000 of them: this costs one inet_pton and one inet_ntop."""
    address, slash, length = entry.partition('/')
    af, width = (socket.AF_INET, 32) if family == 'inet' else (socket.AF_INET6, 128)
    try:
        packed = socket.inet_pton(af, address)
    except (OSError, ValueError):
        return None
    if socket.inet_ntop(af, packed) != address:
        return None
    if not slash:
        return entry
    if not length.isdigit() or (len(length) > 1 and length[0] == '0') or not 0 < int(length) < width:
        return None
    host_bits = int.from_bytes(packed, 'big') & ((1 << (width - int(length))) - 1)
    return None if host_bits else entry


# The canonical suffix of a hash:net member ("" for a host, "/N" for a network), with the mask of
# the host bits it leaves: what _canonical_entry accepts after the address.
_CANONICAL_SUFFIXES = dict((family, _canonical.hostmasks(family, range(1, width)))
                           for family, width in (('inet', 32), ('inet6', 128)))


def _all_canonical(entries, family, chunk=16384):
    """Whether _canonical_entry returns every one of ``entries`` (hash:net members of ``family``)
    unchanged: the same checks (``_canonical.blocks``), ``chunk`` members at a time (their
    temporary lists stay small) instead of a Python call per member: about half the time for a
    country's 200,000 members. False as soon as one member is not canonical (or not a string);
    the caller then checks member by member."""
    entries = entries if isinstance(entries, (list, tuple)) else list(entries)
    suffixes = _CANONICAL_SUFFIXES[family]
    return all(_canonical.blocks(entries[start:start + chunk], family, suffixes) is not None
               for start in range(0, len(entries), chunk))


def normalize_entry(entry, family, set_type, path):
    """An ipset member as ``ipset save`` prints it: host without /32 or /128, masked network."""
    if isinstance(entry, str) and set_type == 'hash:net' and ' ' not in entry:
        canonical = _canonical_entry(entry, family)
        if canonical is not None:
            return canonical
    if not isinstance(entry, str) or not entry.strip():
        _fail(path, 'must be an address or CIDR string', entry)
    parts = entry.split()
    flags = parts[1:]
    for flag in flags:
        if flag != 'nomatch':
            _fail(path, "only the flag 'nomatch' is supported after the address", entry)
    if flags and set_type != 'hash:net':
        _fail(path, "'nomatch' is only valid in hash:net sets", entry)
    try:
        net = ipaddress.ip_network(parts[0], strict=False)
    except ValueError:
        _fail(path, 'is not an IP address or CIDR', entry)
    want = 4 if family == 'inet' else 6
    if net.version != want:
        _fail(path, 'is an IPv%d entry in a family %s set (needs IPv%d)' % (net.version, family, want), entry)
    if net.prefixlen == 0:
        _fail(path, 'a /0 network cannot be a set member; match it with a plain rule instead', entry)
    if set_type == 'hash:ip' and net.prefixlen != net.max_prefixlen:
        _fail(path, 'hash:ip sets hold single addresses', entry)
    if net.prefixlen == net.max_prefixlen:
        text = str(net.network_address)
    else:
        text = str(net)
    return ' '.join([text] + (['nomatch'] if flags else []))


def entry_list(entries, path='entries'):
    """A set's members as a list: given as a list, or as one string with a member per line (the
    compiler's form for its large sets: one string costs Ansible far less than 100,000 of them)."""
    if isinstance(entries, str):
        lines = entries.split('\n')
        return lines[:-1] if lines[-1] == '' else lines
    return _as_list(entries, path)


def _members(raw, family, set_type, path, held=frozenset()):
    """The normalized members of one set (normalize_entry); a set may have 100,000 of them, so
    the members in ``held`` (the live set's: ipset printed them, so they are canonical) are
    taken as they are, and the others already in canonical form take the short way. A set whose
    members are all canonical (what the compiler writes) is checked in one pass (_all_canonical)."""
    try:
        fresh = set(raw) - held if held else None
    except TypeError:       # an unhashable entry: checked (and refused) one by one below
        fresh = None
    if set_type == 'hash:net' and _all_canonical(raw if fresh is None else list(fresh), family):
        return list(raw)
    members = list(raw)
    canonical = set_type == 'hash:net'
    for index in range(len(raw)) if fresh is None else [i for i, e in enumerate(raw) if e in fresh]:
        entry = raw[index]
        member = _canonical_entry(entry, family) if canonical and isinstance(entry, str) and ' ' not in entry \
            else None
        if member is None:
            member = normalize_entry(entry, family, set_type, '%s.entries[%d]' % (path, index))
        members[index] = member
    flagged = any(' ' in member for member in members)
    if flagged:
        seen = {}       # address -> (member, index of its first occurrence)
        for index, member in enumerate(members):
            first = seen.setdefault(member.split()[0], (member, index))
            if first[0] != member:
                _fail('%s.entries[%d]' % (path, index), 'is listed both with and without nomatch (also at '
                      '%s.entries[%d])' % (path, first[1]), raw[index])
    return members


def _validate_ipset(item, path, members):
    if not isinstance(item, dict):
        _fail(path, 'must be a dict with name, family, maxelem and entries', item)
    unknown = sorted(set(item) - set(IPSET_KEYS))
    if unknown:
        _fail(path, 'unknown key %r; valid keys: %s' % (unknown[0], ', '.join(IPSET_KEYS)), None, False)
    name = item.get('name')
    if not isinstance(name, str) or not _IPSET_NAME_RE.match(name):
        _fail(path + '.name', "must start with %r followed by letters, digits, '_', '.', ':' or '-'"
              % IPSET_PREFIX, name)
    if len(name) > IPSET_NAME_MAX:
        _fail(path + '.name', 'ipset names are at most %d characters' % IPSET_NAME_MAX, name)
    if name.startswith(SWAP_PREFIX):
        _fail(path + '.name', 'names starting %r are reserved for temporary swap sets' % SWAP_PREFIX, name)
    set_type = item.get('type', 'hash:net')
    if set_type not in IPSET_TYPES:
        _fail(path + '.type', 'must be one of %s' % ', '.join(IPSET_TYPES), set_type)
    family = item.get('family', 'inet')
    if family not in IPSET_FAMILIES:
        _fail(path + '.family', 'must be one of %s' % ', '.join(IPSET_FAMILIES), family)
    maxelem = item.get('maxelem', DEFAULT_MAXELEM)
    if isinstance(maxelem, str) and maxelem.isdigit():
        maxelem = int(maxelem)
    if isinstance(maxelem, bool) or not isinstance(maxelem, int) or maxelem < 1:
        _fail(path + '.maxelem', 'must be a positive integer', maxelem)
    hashsize = item.get('hashsize')
    if isinstance(hashsize, str) and hashsize.isdigit():
        hashsize = int(hashsize)
    if hashsize is not None and (isinstance(hashsize, bool) or not isinstance(hashsize, int)
                                 or hashsize < 64 or hashsize & (hashsize - 1)):
        _fail(path + '.hashsize', 'must be a power of two, at least 64', hashsize)
    source = item.get('source')
    if source is not None and (not isinstance(source, str) or any(c in source for c in '\n\r\0')):
        _fail(path + '.source', 'must be one line of text', source)
    result = IpSet(name, set_type, family, maxelem, hashsize=hashsize, source=source)
    result.unchecked = entry_list(item.get('entries'), path + '.entries')
    if members:
        _check_set_members(result, path, frozenset())
    return result


def _check_set_members(ipset, path, held):
    ipset.set_entries(_members(ipset.unchecked, ipset.family, ipset.type, path, held))
    ipset.unchecked = None
    if len(ipset.entries) > ipset.maxelem:
        _fail(path + '.maxelem', 'is smaller than the %d entries' % len(ipset.entries), ipset.maxelem)


def check_members(desired, live):
    """Check the members of ``desired``'s sets that validate_ruleset(members=False) left: only the
    ones the host's set of the same name, type and family lacks (``live``: parse_ipset_save). The
    kernel's members passed this check when they were added; a refresh of a 400,000-member
    country set then checks only what changed. Raises ValueError like validate_ruleset."""
    for name, ipset in desired.ipsets.items():
        if ipset.unchecked is not None:
            have = live.get(name)
            held = have.members if have is not None and have.same_kind(ipset) else frozenset()
            _check_set_members(ipset, desired.ipset_origins[name], held)


def validate_ruleset(ruleset, path='ruleset', members=True):
    """Check a ruleset dict (docs/ruleset-format.md) and return a Desired.

    Raises ValueError naming the offending key, index and value. ``members`` False leaves the
    sets' members to check_members, once the host's sets are known.
    """
    if not isinstance(ruleset, dict):
        _fail(path, 'must be a dict with the keys %s' % ', '.join(RULESET_KEYS), ruleset)
    unknown = sorted(set(ruleset) - set(RULESET_KEYS))
    if unknown:
        _fail(path, 'unknown key %r; valid keys: %s' % (unknown[0], ', '.join(RULESET_KEYS)), None, False)

    rules = {}
    for family in FAMILIES:
        checked = []
        for index, rule in enumerate(_as_list(ruleset.get(family), '%s.%s' % (path, family))):
            label = '%s.%s[%d]' % (path, family, index)
            checked.append((label, _validate_rule(rule, label)))
        rules[family] = checked

    jumps = []
    raw_jumps = ruleset.get('jumps')
    raw_jumps = [dict(j) for j in DEFAULT_JUMPS] if raw_jumps is None else _as_list(raw_jumps, path + '.jumps')
    hooks = {}
    for index, jump in enumerate(raw_jumps):
        jpath = '%s.jumps[%d]' % (path, index)
        if not isinstance(jump, dict) or set(jump) != {'chain', 'target'}:
            _fail(jpath, 'must be a dict with exactly the keys chain and target', jump)
        hook = jump['chain']
        if isinstance(hook, str) and hook and not is_owned_chain(hook) and hook not in HOOK_CHAINS:
            _fail(jpath + '.chain', 'a jump into an owned chain comes only from %s (DOCKER-USER in Docker-host mode)'
                  % ' or '.join(HOOK_CHAINS), hook)
        _check_chain_name(hook, jpath + '.chain', owned=False)
        _check_chain_name(jump['target'], jpath + '.target', owned=True)
        if jump['chain'] in hooks:
            _fail(jpath + '.chain', 'a hook chain gets exactly one jump (also at %s)' % hooks[jump['chain']],
                  jump['chain'])
        hooks[jump['chain']] = jpath
        jumps.append((jpath, jump['chain'], jump['target']))

    families = {}
    for family in FAMILIES:
        if not rules[family]:
            families[family] = DesiredFamily()
            continue
        chains = {MAIN_CHAIN: []}
        origins = {MAIN_CHAIN: []}
        for label, rule in rules[family]:
            chain = rule_chain(rule)
            chains.setdefault(chain, []).append(rule)
            origins.setdefault(chain, []).append(label)
            target = rule_target(rule)
            if target is not None and is_owned_chain(target):
                chains.setdefault(target, [])
                origins.setdefault(target, [])
        family_jumps = ['-A %s -j %s' % (chain, target) for _p, chain, target in jumps if target in chains]
        ordered = collections.OrderedDict((c, chains[c]) for c in sorted(chains, key=chain_sort_key))
        families[family] = DesiredFamily(ordered, family_jumps, origins)
    for jpath, _chain, target in jumps:
        used = [f for f in FAMILIES if target in families[f].chains]
        if not used and any(rules[f] for f in FAMILIES):
            _fail(jpath + '.target', 'is not a chain of any ipv4 or ipv6 rule', target)

    ipsets = {}
    ipset_origins = {}
    for index, item in enumerate(_as_list(ruleset.get('ipsets'), path + '.ipsets')):
        ipath = '%s.ipsets[%d]' % (path, index)
        ipset = _validate_ipset(item, ipath, members)
        if ipset.name in ipsets:
            _fail(ipath + '.name', 'duplicate set name (also at %s)' % ipset_origins[ipset.name], ipset.name)
        ipsets[ipset.name] = ipset
        ipset_origins[ipset.name] = ipath
    return Desired(families, ipsets, ipset_origins)


def desired_from_live(tables, sets):
    """The Desired that reproduces a live owned state (used to plan a rollback)."""
    families = {}
    for family in FAMILIES:
        table = tables.get(family)
        if table is None:
            families[family] = DesiredFamily()
            continue
        chains = table.owned_chains()
        jumps = []
        for _chain, _position, rule in table.owned_jumps():
            if rule not in jumps:
                jumps.append(rule)
        origins = {c: ['previous %s' % r for r in rules] for c, rules in chains.items()}
        families[family] = DesiredFamily(chains, jumps, origins)
    owned = owned_ipsets(sets)
    return Desired(families, owned, {n: 'previous ipset %s' % n for n in owned})


def sets_only(tables, sets, desired):
    """(Desired, warnings) that keeps the live owned rules and jumps as they are and changes only
    the members of the owned sets the host already has under the names ``desired`` gives.

    A refresh of the blocklist and country sets (the role's ``pbx_firewall_sets`` tag) applies
    no other change of the inventory: a set the host lacks, and rules that differ, are left
    for a full run, with a warning.
    """
    live = desired_from_live(tables, sets)
    refreshed = collections.OrderedDict(live.ipsets)
    origins = dict(live.ipset_origins)
    missing = []
    for name, want in desired.ipsets.items():
        have = live.ipsets.get(name)
        if have is not None and have.same_kind(want):
            refreshed[name] = want
            origins[name] = desired.ipset_origins.get(name, origins[name])
        else:
            missing.append(name)
    warnings = []
    if missing:
        warnings.append('only the members of sets the host has were refreshed; not on the host: %s (a full run '
                        'creates them)' % ', '.join(missing))
    differ = [f for f in FAMILIES if f in tables and desired.families[f].chains != live.families[f].chains]
    if differ:
        warnings.append('the owned %s rules on the host differ from the ruleset; only set members were '
                        'refreshed (a full run applies the rules)' % ' and '.join(differ))
    return Desired(live.families, refreshed, origins), warnings


def live_ruleset(tables, sets):
    """The live owned state as a ruleset dict (docs/ruleset-format.md), for the evaluator."""
    ruleset = {'jumps': []}
    for family in FAMILIES:
        table = tables.get(family)
        ruleset[family] = [r for rules in table.owned_chains().values() for r in rules] if table else []
        for chain, _position, rule in table.owned_jumps() if table else ():
            jump = {'chain': chain, 'target': rule_target(rule)}
            if jump not in ruleset['jumps']:
                ruleset['jumps'].append(jump)
    ruleset['ipsets'] = [dict({'name': s.name, 'family': s.family, 'maxelem': s.maxelem, 'entries': list(s.entries)},
                              **({'source': s.source} if s.source else {}))
                         for s in owned_ipsets(sets).values()]
    return ruleset


# --------------------------------------------------------------------------------------
# the plan
# --------------------------------------------------------------------------------------

class FamilyPlan:
    def __init__(self, family):
        self.family = family
        self.write = []         # owned chains created or edited
        self.stale = []         # owned chains removed
        # chain -> for each desired rule, the index of the live rule it keeps (None: a new rule)
        self.sources = {}
        self.jump_ops = []      # (op, chain, position or None, rule)
        self.lines = []         # iptables-restore input, without the trailing newline
        self.origins = []       # label of each line, for error messages
        self.after = None       # predicted filter Table
        self.warnings = []

    @property
    def changed(self):
        return bool(self.write or self.stale or self.jump_ops)

    @property
    def restore(self):
        return '\n'.join(self.lines) + '\n' if self.changed else ''


class Plan:
    def __init__(self):
        self.families = collections.OrderedDict()
        self.ipset_create = []          # lines; run before --test (creates, never touches live sets)
        self.ipset_create_origins = []
        self.ipset_swap = []            # lines; run after --test (switches members of kept names)
        self.ipset_swap_origins = []
        self.ipset_destroy = []         # names destroyed after the rules no longer use them
        self.ipset_cleanup = []         # names to destroy when the apply is abandoned after create
        self.after_sets = collections.OrderedDict()

    @property
    def warnings(self):
        return [w for fplan in self.families.values() for w in fplan.warnings]

    @property
    def changed(self):
        return bool(self.ipset_create or self.ipset_swap or self.ipset_destroy
                    or any(p.changed for p in self.families.values()))

    @property
    def ipset_create_text(self):
        return '\n'.join(self.ipset_create) + '\n' if self.ipset_create else ''

    @property
    def ipset_swap_text(self):
        return '\n'.join(self.ipset_swap) + '\n' if self.ipset_swap else ''

    def _restore_step(self, family, fplan, tools, test):
        tool = tools[family]
        argv = [tool, '-w', '--noflush'] + (['--test'] if test else [])
        label = os.path.basename(tool) + (' --test' if test else '')
        return _steps.command(argv, fplan.restore, explain=dict(tool=label, lines=fplan.lines, origins=fplan.origins))

    def _create_steps(self, tools):
        if not self.ipset_create:
            return []
        return [_steps.command([tools['ipset'], 'restore'], self.ipset_create_text, explain=dict(
            tool='ipset restore', lines=self.ipset_create, origins=self.ipset_create_origins))]

    def prepare_steps(self, tools):
        """Steps before anything visible changes: create new sets, then --test every family."""
        steps = self._create_steps(tools)
        for family, fplan in self.families.items():
            if fplan.changed:
                steps.append(self._restore_step(family, fplan, tools, test=True))
        return steps

    def commit_steps(self, tools):
        """The visible part: swaps, one restore per family, destroy of sets no longer used."""
        steps = []
        if self.ipset_swap:
            steps.append(_steps.command([tools['ipset'], 'restore'], self.ipset_swap_text, explain=dict(
                tool='ipset restore', lines=self.ipset_swap, origins=self.ipset_swap_origins)))
        for family, fplan in self.families.items():
            if fplan.changed:
                steps.append(self._restore_step(family, fplan, tools, test=False))
        for name in self.ipset_destroy:
            steps.append(_steps.command([tools['ipset'], 'destroy', name], check=False,
                                        warn='could not destroy the ipset %s that is no longer wanted' % name))
        return steps

    def cleanup_steps(self, tools):
        """Steps that destroy the sets created by prepare_steps when the apply is abandoned."""
        return [_steps.command([tools['ipset'], 'destroy', name], check=False) for name in self.ipset_cleanup]

    def steps(self, tools):
        """The whole apply without --test (a recovery or a revert is applied as it comes).

        ``tools`` maps ipset/ipv4/ipv6 to binaries; the rollback watcher replays these steps.
        """
        return self._create_steps(tools) + self.commit_steps(tools)


def _jump_plan(table, hook, desired_jumps):
    """Operations that leave ``desired_jumps`` (and no other owned jump) in ``hook``."""
    rules = list(table.rules[hook])
    ops = []
    for rule in list(rules):
        if is_owned_jump(rule) and rule not in desired_jumps:
            ops.append(('-D', hook, None, rule))
            rules.remove(rule)          # delete by spec removes the first identical rule
    for jump in desired_jumps:
        count = rules.count(jump)
        # identical rules are interchangeable: deleting count-1 by spec keeps the last one,
        # which is in a right place whenever any copy is (right = after every f2b jump).
        for _n in range(max(count - 1, 0)):
            ops.append(('-D', hook, None, jump))
            rules.remove(jump)
        last_f2b = max([i for i, r in enumerate(rules) if is_fail2ban_jump(r)] or [-1])
        if count and rules.index(jump) > last_f2b:
            continue
        if count:
            ops.append(('-D', hook, None, jump))
            rules.remove(jump)
            last_f2b = max([i for i, r in enumerate(rules) if is_fail2ban_jump(r)] or [-1])
        position = last_f2b + 1
        if position >= len(rules):
            ops.append(('-A', hook, None, jump))
        else:
            ops.append(('-I', hook, position + 1, jump))
        rules.insert(position, jump)
    return ops, rules


def _op_line(op, hook, position, rule):
    spec = rule.split(None, 2)[2]
    if op == '-I':
        return '-I %s %d %s' % (hook, position, spec)
    return '%s %s %s' % (op, hook, spec)


def chain_edits(live, desired):
    """The edits that turn the ``live`` rules of an existing chain into ``desired``.

    Returns ``(edits, sources)``: ``edits`` are ``(op, position, rule, live index)`` with op
    ``-D`` (by position, from the bottom up), then ``-I``/``-A`` (top down), so each position
    counts the rules the chain holds at that moment; ``sources`` maps every desired rule to the
    live rule it keeps (None: new). A rule that stays in place is not touched, so the kernel
    keeps its packet and byte counters; a rule that only moves is inserted again at its new
    place (its live index tells whose counters to carry).
    """
    kept = {}
    for block in difflib.SequenceMatcher(None, live, desired, autojunk=False).get_matching_blocks():
        for offset in range(block.size):
            kept[block.b + offset] = block.a + offset
    kept_live = set(kept.values())
    removed = [i for i in range(len(live)) if i not in kept_live]
    moving = {}
    for i in removed:
        moving.setdefault(live[i], []).append(i)
    edits = [('-D', i + 1, live[i], i) for i in reversed(removed)]
    length = len(live) - len(removed)
    sources = []
    for j, rule in enumerate(desired):
        if j in kept:
            sources.append(kept[j])
            continue
        source = moving[rule].pop(0) if moving.get(rule) else None
        sources.append(source)
        edits.append(('-A' if j == length else '-I', j + 1, rule, source))
        length += 1
    return edits, sources


def _edit_line(op, chain, position, rule, counters):
    """One restore line of an edit; an inserted rule that moved carries its counters (-c)."""
    if op == '-D':
        return '-D %s %d' % (chain, position)
    spec = rule.split(None, 2)[2]
    where = '-A %s' % chain if op == '-A' else '-I %s %d' % (chain, position)
    if counters:
        where += ' -c %d %d' % counters
    return '%s %s' % (where, spec)


def plan_family(family, table, desired):
    """FamilyPlan turning the live filter ``table`` into ``desired`` (a DesiredFamily).

    Owned chains are edited rule by rule (``chain_edits``), never flushed and refilled, so a
    re-apply keeps the packet and byte counters of every rule it does not change.
    """
    fplan = FamilyPlan(family)
    live = table.owned_chains()
    fplan.write = [c for c, rules in desired.chains.items() if live.get(c) != rules]
    fplan.stale = [c for c in live if c not in desired.chains]
    edits = {}
    for chain, rules in desired.chains.items():
        if chain in fplan.write and chain in live:
            edits[chain], fplan.sources[chain] = chain_edits(live[chain], rules)
        elif chain in fplan.write:
            fplan.sources[chain] = [None] * len(rules)
        else:
            fplan.sources[chain] = list(range(len(rules)))

    after = table.copy()
    hooks = []
    for jump in desired.jumps:
        hook = rule_chain(jump)
        if hook not in table.chains:
            fplan.warnings.append('%s: the hook chain %s does not exist in the filter table, so its jump is left '
                                  'out (Docker creates DOCKER-USER when it starts; run again afterwards)'
                                  % (family, hook))
        elif hook not in hooks:
            hooks.append(hook)
    for hook, _position, _rule in table.owned_jumps():
        if hook not in hooks:
            hooks.append(hook)
    for hook in hooks:
        wanted = [j for j in desired.jumps if rule_chain(j) == hook]
        ops, rules = _jump_plan(table, hook, wanted)
        fplan.jump_ops.extend(ops)
        after.rules[hook] = rules

    for chain in fplan.stale:
        after.remove_chain(chain)
    for chain in fplan.write:
        counters = table.rule_counters(chain) if chain in live else []
        after.add_chain(chain)
        after.rules[chain] = list(desired.chains[chain])
        after.counters[chain] = [(0, 0) if i is None else counters[i] for i in fplan.sources[chain]]

    fplan.after = after
    if not fplan.changed:
        return fplan

    def emit(line, origin):
        fplan.lines.append(line)
        fplan.origins.append(origin)

    emit('*filter', 'table header')
    for chain in fplan.write:
        if chain not in live:
            emit(':%s - [0:0]' % chain, 'declaration of owned chain %s' % chain)
    for chain in fplan.write:
        if chain not in live:
            for index, rule in enumerate(desired.chains[chain]):
                emit(rule, desired.origin(chain, index))
            continue
        counters = table.rule_counters(chain)
        for op, position, rule, source in edits[chain]:
            if op == '-D':
                emit(_edit_line(op, chain, position, rule, None),
                     'removal of rule %d of %s (no longer wanted): %s' % (position, chain, rule))
            else:
                emit(_edit_line(op, chain, position, rule, None if source is None else counters[source]),
                     '%s (%s)' % (desired.origin(chain, position - 1), rule))
    for op, hook, position, rule in fplan.jump_ops:
        emit(_op_line(op, hook, position, rule), 'jump %r' % rule)
    for chain in fplan.stale:
        emit('-F %s' % chain, 'flush of owned chain %s (no longer wanted)' % chain)
    for chain in fplan.stale:
        emit('-X %s' % chain, 'removal of owned chain %s (no longer wanted)' % chain)
    emit('COMMIT', 'COMMIT')
    return fplan


def compute_plan(tables, sets, desired):
    """The Plan from the live state to ``desired``.

    ``tables``: {family: filter Table} for the families the host supports (others are
    left alone); ``sets``: every live ipset ({name: IpSet}); ``desired``: a Desired.
    """
    plan = Plan()
    for family in FAMILIES:
        if family in tables:
            plan.families[family] = plan_family(family, tables[family], desired.families[family])

    live = owned_ipsets(sets)
    referenced = set()
    for table in tables.values():
        referenced.update(table.referenced_ipsets())
    reused = set()

    def create(lines, origins, ipset, name=None):
        label = desired.ipset_origins.get(ipset.name, 'ipset %s' % ipset.name)
        lines.append(ipset.create_line(name))
        origins.append('%s (create %s)' % (label, name or ipset.name))
        prefix = 'add %s ' % (name or ipset.name)
        members = ipset.listed()
        lines.extend([prefix + entry for entry in members])
        # one origin for all the members (a country has 200,000): the rejected line names the member
        origins.extend(['%s (members of %s)' % (label, ipset.name)] * len(members))

    for name, want in desired.ipsets.items():
        have = live.get(name)
        if have == want:
            continue
        if have is None:
            create(plan.ipset_create, plan.ipset_create_origins, want)
            plan.ipset_cleanup.append(name)
        elif have.same_kind(want):
            temp = swap_name(name)
            if temp in live:
                plan.ipset_create.append('destroy %s' % temp)
                plan.ipset_create_origins.append('leftover temporary set %s' % temp)
                reused.add(temp)
            create(plan.ipset_create, plan.ipset_create_origins, want, temp)
            plan.ipset_cleanup.append(temp)
            plan.ipset_swap.extend(['swap %s %s' % (temp, name), 'destroy %s' % temp])
            plan.ipset_swap_origins.extend(['swap of %s' % name, 'destroy of %s' % temp])
        elif name in referenced:
            raise ValueError('ipset %s exists as %s family %s and is used by live rules; it cannot become '
                             '%s family %s in place. Give the set a new name.'
                             % (name, have.type, have.family, want.type, want.family))
        else:
            plan.ipset_swap.append('destroy %s' % name)
            plan.ipset_swap_origins.append('destroy of %s (type or family changes)' % name)
            create(plan.ipset_swap, plan.ipset_swap_origins, want)
    plan.ipset_destroy = [n for n in live if n not in desired.ipsets and n not in reused]
    plan.after_sets = collections.OrderedDict((n, desired.ipsets[n]) for n in sorted(desired.ipsets))
    return plan


def after_state(tables, plan):
    """The predicted {family: Table} once ``plan`` is applied."""
    return {f: plan.families[f].after if f in plan.families else t for f, t in tables.items()}


# --------------------------------------------------------------------------------------
# diff rendering and error messages
# --------------------------------------------------------------------------------------

def render_owned(tables, sets, families=FAMILIES, other_sets=None, side=None):
    """Text of the owned state for --diff: per family the owned chains and jumps, then ipsets.

    Each set is its ``create`` line and member count, then its members (the first
    DIFF_MEMBERS when more than DIFF_ALL_MEMBERS): with ``side`` (``removed`` for the state before, ``added`` for the state after),
    the ones ``other_sets``, the other side of the diff, lacks.
    """
    lines = []
    for family in families:
        table = tables.get(family)
        if table is None:
            continue
        lines.append('# %s (%s, filter table): owned chains' % (family, FAMILY_TOOL[family]))
        for chain, rules in table.owned_chains().items():
            lines.append(':%s' % chain)
            lines.extend(rules)
        lines.append('# %s: jumps into owned chains' % family)
        for chain, position, rule in table.owned_jumps():
            lines.append('%s  # position %d in %s' % (rule, position, chain))
    lines.append('# ipsets')
    others = owned_ipsets(other_sets or {})
    for ipset in owned_ipsets(sets).values():
        lines.extend(_render_ipset(ipset, others.get(ipset.name), side))
    return '\n'.join(lines) + '\n'


def _render_ipset(ipset, other, side):
    """One set for --diff: identical on both sides when nothing in it changes."""
    create = ipset.create_line(hashsize=False)     # the kernel grows the hash: not compared
    count = len(ipset.entries)
    if other is not None and other.members == ipset.members:
        return ['%s  # %d members' % (create, count)]
    lacking = ipset.entries
    if other is not None:
        lacking = [entry for entry in ipset.entries if entry not in other.members]
    most = len(lacking) if len(lacking) <= DIFF_ALL_MEMBERS else DIFF_MEMBERS
    shown = lacking[:most] if ipset.ordered else heapq.nsmallest(most, lacking, key=entry_sort_key)
    lines = ['%s  # %d members%s' % (create, count, ', %d %s' % (len(lacking), side) if side else '')]
    lines.extend('add %s %s' % (ipset.name, entry) for entry in shown)
    if len(shown) < len(lacking):
        lines.append('# ... and %d more %s' % (len(lacking) - len(shown), side or 'members'))
    if ipset.source:
        lines.append('# from %s' % ipset.source)
    return lines


def restore_error_line(stderr):
    """The input line number an iptables-restore error names (1-based), or None."""
    match = _RESTORE_ERROR_LINE_RE.search(stderr or '')
    return int(match.group(1)) if match else None


def restore_error_text(stderr):
    """An iptables-restore error on one line, without its "Try `... --help'" advice."""
    return ' '.join(part.strip() for part in (stderr or '').strip().splitlines() if part.strip()
                    and not part.startswith('Try `'))


def explain_restore_error(tool, stderr, lines, origins):
    """A failure message naming the rejected line of a restore input and where it came from."""
    message = restore_error_text(stderr)
    number = restore_error_line(stderr)
    if number is not None:
        if 1 <= number <= len(lines):
            return '%s rejected line %d, %s: %s -- %s' % (
                tool, number, origins[number - 1], lines[number - 1], message or 'no message')
    return '%s failed: %s' % (tool, message or 'no message')
