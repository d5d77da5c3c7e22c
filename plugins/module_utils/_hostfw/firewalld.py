# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""firewalld: its outputs and files, and what the collection adds to it (private to pbxops.firewall).

With firewalld's nftables backend, firewalld's own input chain sees every packet after
iptables-nft's ``INPUT``; an ``ACCEPT`` in ours does not end its walk, so the zone's verdict
also counts. The collection adds two owned things to firewalld's permanent configuration:

* the policy object ``pbx-firewall`` (``/etc/firewalld/policies/pbx-firewall.xml``, ingress
  ``ANY``, egress ``HOST``, before the zones): every port, protocol and ICMP type the
  policy accepts from some source, so that firewalld lets them through and our chain keeps
  deciding per source. Until firewalld next loads its configuration, the same entries are
  added at runtime to every active zone and the default zone (the *runtime pass*), and
  remembered in a file under ``/run`` so they can be taken back exactly;
* when firewalld flushes every iptables table on reload, start and stop (before 2.0, or
  with direct rules), the owned chains, their rules and the jump as firewalld *direct*
  configuration, in a marked block of ``/etc/firewalld/direct.xml``: firewalld puts them
  back itself after its flush. The administrator's own direct entries stay as they are.

Standard library only; no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import re
import shlex
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw.accepts import port_text
from ansible_collections.pbxops.firewall.plugins.module_utils._netfilter import (
    FAMILIES,
    is_owned_chain,
    rule_chain,
    rule_target,
    split_rule,
    unquote,
)

ETC = '/etc/firewalld'
CONF_PATH = ETC + '/firewalld.conf'
DIRECT_PATH = ETC + '/direct.xml'
POLICY_NAME = 'pbx-firewall'
POLICY_PATH = ETC + '/policies/%s.xml' % POLICY_NAME
SERVICE_DIRS = ('/usr/lib/firewalld/services', ETC + '/services')
# firewalld drops the iptables flush on reload with the nftables backend and no direct rules
# from 2.0 on (upstream commit b7faa74d, "avoid iptables flush if using nftables backend")
NO_FLUSH_VERSION = (2, 0)
IPV = {'ipv4': 'ipv4', 'ipv6': 'ipv6'}
ICMP_NAMES = {
    'ipv4': {8: 'echo-request'},
    'ipv6': {128: 'echo-request', 1: 'destination-unreachable', 2: 'packet-too-big', 3: 'time-exceeded',
             4: 'parameter-problem', 133: 'router-solicitation', 134: 'router-advertisement',
             135: 'neighbour-solicitation', 136: 'neighbour-advertisement'},
}
ICMP_PROTOCOL = {'ipv4': 'icmp', 'ipv6': 'ipv6-icmp'}
# characters firewalld's direct interface cannot hand to iptables-restore intact: it wraps an
# argument holding white space in double quotes without escaping what is inside
UNPORTABLE = ('"', '\\')

DIRECT_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<direct>\n'
DIRECT_TAIL = '</direct>\n'
BLOCK_BEGIN = ('  <!-- pbxops.firewall begin: owned by the iptables_ruleset module, removed by '
               'pbxops.firewall.remove; do not edit -->\n')
BLOCK_END = '  <!-- pbxops.firewall end -->\n'
_BLOCK_RE = re.compile(re.escape(BLOCK_BEGIN) + r'.*?' + re.escape(BLOCK_END), re.S)


# ------------------------------------------------------------------------------------------
# firewalld's outputs and files
# ------------------------------------------------------------------------------------------

def parse_version(text):
    """(1, 3, 3) from ``firewall-cmd --version`` (``1.3.3``); () when not understood."""
    match = re.match(r'\s*(\d+(?:\.\d+)*)', text or '')
    return tuple(int(p) for p in match.group(1).split('.')) if match else ()


def version_text(version):
    return '.'.join(str(p) for p in version) or 'unknown'


def parse_listing(text):
    """Zones or policies from ``firewall-cmd --list-all-zones`` / ``--list-all-policies``.

    OrderedDict name -> {'flags': set of ('active', 'default'), key: value text, ...,
    'rich rules': [rule text]}; list values (services, ports...) stay text, see ``words``.
    """
    found = collections.OrderedDict()
    current = None
    in_rich = False
    for line in (text or '').split('\n'):
        if not line.strip():
            continue
        if line.startswith('\t') and current is not None and in_rich:
            current['rich rules'].append(line.strip())
            continue
        if not line[0].isspace():
            name, _sep, flags = line.strip().partition(' ')
            current = {'flags': set(f.strip() for f in flags.strip('()').split(',') if f.strip()),
                       'rich rules': []}
            found[name] = current
            in_rich = False
            continue
        if current is None:
            continue
        key, sep, value = line.strip().partition(':')
        if not sep:
            continue
        in_rich = key == 'rich rules'
        if not in_rich:
            current[key] = value.strip()
    return found


def words(entry, key):
    """The white-space separated values of one key of a parsed zone or policy."""
    return (entry.get(key) or '').split()


def parse_service(text):
    """[(proto, low, high)] and [protocol] of a firewalld service definition (XML)."""
    root = ET.fromstring(text)
    ports = []
    for port in root.findall('port'):
        low, _sep, high = port.get('port', '').partition('-')
        if low.isdigit():
            ports.append((port.get('protocol'), int(low), int(high) if high.isdigit() else int(low)))
    return ports, [p.get('value') for p in root.findall('protocol')]


def flushes_iptables(version, has_direct):
    """Whether firewalld flushes every iptables table on reload, start and stop."""
    return not version or version < NO_FLUSH_VERSION or has_direct


# ------------------------------------------------------------------------------------------
# what firewalld must let through: the pass list
# ------------------------------------------------------------------------------------------

class PassList(object):
    """Ports (``5060/udp``), protocols and ICMP acceptances (family, type name) to let through."""

    def __init__(self, ports=(), protocols=(), icmp=()):
        self.ports = sorted(set(ports), key=_port_key)
        self.protocols = sorted(set(protocols))
        self.icmp = sorted(set(icmp))

    def __eq__(self, other):
        return (self.ports, self.protocols, self.icmp) == (other.ports, other.protocols, other.icmp)

    def __ne__(self, other):
        return not self == other

    def empty(self):
        return not (self.ports or self.protocols or self.icmp)

    def rich_rules(self, priority=None):
        """The ICMP acceptances as firewalld prints rich rules."""
        head = 'rule ' if priority is None else 'rule priority="%d" ' % priority
        return ['%sfamily="%s" icmp-type name="%s" accept' % (head, family, name) for family, name in self.icmp]

    def describe(self):
        parts = list(self.ports) + list(self.protocols) + ['%s %s' % (name, family) for family, name in self.icmp]
        return ' '.join(parts) if parts else 'nothing'


def _port_key(text):
    port, _sep, proto = text.partition('/')
    return (proto, int(port.split('-')[0]))


def pass_list(accepts):
    """The PassList for an ``accepts.Accepts`` (its ``unbounded`` rules cannot be expressed)."""
    ports = ['%s/%s' % (port_text(low, high), proto) for proto, low, high in accepts.port_list()]
    protocols = set()
    icmp = set()
    for family in FAMILIES:
        protocols.update(accepts.protocols[family])
        for number in accepts.icmp[family]:
            name = ICMP_NAMES[family].get(number)
            if name is None:
                protocols.add(ICMP_PROTOCOL[family])
            else:
                icmp.add((family, name))
    return PassList(ports, protocols, icmp)


def render_policy(passes):
    """The owned policy object's XML file."""
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<policy target="CONTINUE">',
        '  <short>%s</short>' % POLICY_NAME,
        '  <description>Managed by pbxops.firewall (iptables_ruleset): lets through what the PBX firewall '
        'policy accepts from some source; its iptables chain PBX-FIREWALL decides per source. Removed by '
        'pbxops.firewall.remove; do not edit.</description>',
        '  <ingress-zone name="ANY"/>',
        '  <egress-zone name="HOST"/>',
    ]
    for entry in passes.ports:
        port, _sep, proto = entry.partition('/')
        lines.append('  <port port=%s protocol=%s/>' % (quoteattr(port), quoteattr(proto)))
    for proto in passes.protocols:
        lines.append('  <protocol value=%s/>' % quoteattr(proto))
    for family, name in passes.icmp:
        lines.append('  <rule family=%s>' % quoteattr(family))
        lines.append('    <icmp-type name=%s/>' % quoteattr(name))
        lines.append('    <accept/>')
        lines.append('  </rule>')
    lines.append('</policy>')
    return '\n'.join(lines) + '\n'


def listed_passes(entry):
    """The PassList of a parsed zone or policy (what it lets through of the kinds we add)."""
    icmp = []
    for rule in entry.get('rich rules', []):
        match = re.match(r'rule (?:priority="-?\d+" )?family="(ipv4|ipv6)" icmp-type name="([a-z-]+)" accept$', rule)
        if match:
            icmp.append((match.group(1), match.group(2)))
    return PassList(words(entry, 'ports'), words(entry, 'protocols'), icmp)


# ------------------------------------------------------------------------------------------
# direct configuration
# ------------------------------------------------------------------------------------------

Entry = collections.namedtuple('Entry', 'kind ipv table chain priority args')


def _args_text(args):
    return ' '.join(shlex.quote(a) for a in args)


def direct_entries(desired):
    """The direct entries that recreate the owned chains, their rules and the INPUT jumps of a
    ``_netfilter.Desired`` after firewalld's flush (chains, then rules, then the jumps)."""
    chains, rules, jumps = [], [], []
    for family in FAMILIES:
        fam = desired.families[family]
        for chain, chain_rules in fam.chains.items():
            chains.append(Entry('chain', IPV[family], 'filter', chain, None, ()))
            for index, rule in enumerate(chain_rules):
                args = tuple(unquote(t) for t in split_rule(rule)[2:])
                rules.append(Entry('rule', IPV[family], 'filter', chain, index, args))
        for jump in fam.jumps:
            if rule_chain(jump) == 'INPUT':
                args = ('-t', 'filter', '-I', 'INPUT', '1', '-j', rule_target(jump))
                jumps.append(Entry('passthrough', IPV[family], None, None, None, args))
    return chains + rules + jumps


def unportable(entries):
    """[(entry, argument)] that firewalld cannot hand to iptables-restore intact."""
    return [(e, a) for e in entries for a in e.args if any(c in a for c in UNPORTABLE)]


def owned_entry(entry):
    """An entry of the collection: an owned chain, a rule in one, or anything naming one."""
    if entry.kind == 'chain' or entry.kind == 'rule':
        if is_owned_chain(entry.chain):
            return True
    return any(is_owned_chain(a) for a in entry.args)


def _render_entry(entry):
    if entry.kind == 'chain':
        return '  <chain ipv=%s table=%s chain=%s/>\n' % (
            quoteattr(entry.ipv), quoteattr(entry.table), quoteattr(entry.chain))
    if entry.kind == 'rule':
        return '  <rule ipv=%s table=%s chain=%s priority="%d">%s</rule>\n' % (
            quoteattr(entry.ipv), quoteattr(entry.table), quoteattr(entry.chain), entry.priority,
            escape(_args_text(entry.args)))
    return '  <passthrough ipv=%s>%s</passthrough>\n' % (quoteattr(entry.ipv), escape(_args_text(entry.args)))


def render_block(entries):
    return BLOCK_BEGIN + ''.join(_render_entry(e) for e in entries) + BLOCK_END


def parse_direct(text):
    """[Entry] of a direct.xml text, in file order. ValueError when it is not firewalld's format."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError('%s is not well-formed XML: %s' % (DIRECT_PATH, exc))
    if root.tag != 'direct':
        raise ValueError('%s: the root element is <%s>, not <direct>' % (DIRECT_PATH, root.tag))
    entries = []
    for item in root:
        if not isinstance(item.tag, str):
            continue
        args = tuple(shlex.split(item.text or ''))
        if item.tag == 'chain':
            entries.append(Entry('chain', item.get('ipv'), item.get('table'), item.get('chain'), None, ()))
        elif item.tag == 'rule':
            entries.append(Entry('rule', item.get('ipv'), item.get('table'), item.get('chain'),
                                 int(item.get('priority', '0')), args))
        elif item.tag == 'passthrough':
            entries.append(Entry('passthrough', item.get('ipv'), None, None, None, args))
        else:
            raise ValueError('%s: unknown element <%s>' % (DIRECT_PATH, item.tag))
    return entries


def merge_direct(current, entries):
    """direct.xml's new text with ``entries`` as the owned block (None: remove the file).

    The administrator's entries stay byte-identical: the owned block is inserted before the
    closing tag and cut out again whole. Owned entries outside the block (firewalld rewrote
    the file from its memory) are dropped by rewriting the others in firewalld's own format.
    """
    block = render_block(entries) if entries else ''
    if current is None:
        return DIRECT_HEAD + block + DIRECT_TAIL if entries else None
    rest = _BLOCK_RE.sub('', current, count=1)
    parsed = parse_direct(rest)
    if any(owned_entry(e) for e in parsed):
        rest = DIRECT_HEAD + ''.join(_render_entry(e) for e in parsed if not owned_entry(e)) + DIRECT_TAIL
    if not entries:
        return None if rest == DIRECT_HEAD + DIRECT_TAIL else rest
    end = rest.rfind('</direct>')
    if end >= 0:
        return rest[:end] + block + rest[end:]
    return re.sub(r'<direct\s*/>', lambda _m: '<direct>\n' + block + '</direct>', rest, count=1)


def owned_in(text):
    """The owned entries of a direct.xml text ([] when absent)."""
    return [e for e in parse_direct(text) if owned_entry(e)] if text else []


def describe_entries(entries):
    """``3 chains, 52 rules, 2 jumps`` (for the report and --diff)."""
    counts = collections.Counter(e.kind for e in entries)
    return '%d chains, %d rules, %d jumps' % (counts['chain'], counts['rule'], counts['passthrough'])
