# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Countries and blocklists of a policy: private to this collection.

This file is private to the pbxops.firewall collection (no stable API). It owns the large
address sets of a validated policy (validate.py has checked the networks and trunks):

* for every network with ``countries``: the addresses of those countries (the country
  database, ``countrydb.py``), intersected with the network's ``subnet`` when it has one,
  per address family. Where such a network *blocks* a service, trunks and ``never_block``
  subnets are taken out (they always win over a country network);
* the blocklist (``pbx_firewall_blocklist`` and the files of
  ``pbx_firewall_blocklist_files``, ``blocklists.py``), merged, without the trunks and the
  ``never_block`` subnets (exempt), per family;

and the warnings and notes about them (the database's date and age, a trunk inside a
blocklist entry, a network the blocklist covers, a country the database does not know).
The controller's own connection is not exempted here: it is not known on the controller,
so the lockout check on the host refuses a blocklist that covers it, naming the entry.
chains.py turns the result into ipsets and rules. Pure Python, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import itertools
import operator

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import (
    blocklists,
    countrydb,
    geoip,
    prefixes,
    results_cache,
)
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.countries import ISO_3166_ALPHA2
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.model import check_list
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.scalars import (
    parse_int,
    text_error,
    type_name,
)

DEFAULT_MAX_AGE_DAYS = 90
PACKAGE_HINT = ("install Debian's tor-geoipdb on the controller (apt-get install tor-geoipdb), or "
                'set %s to a DB-IP lite country CSV (first,last,CC) or a CIDR,CC file')
UPDATE_HINT = ('update it (apt-get install --only-upgrade tor-geoipdb, or a newer DB-IP lite '
               'country CSV)')


def today():
    """The date the database's age is counted to (a function, so tests can fix it)."""
    return datetime.date.today()


def _ranges(subnets, version):
    return prefixes.merge((s.value, s.last) for s in subnets if s.version == version)


class CountrySet(object):
    """The addresses one country network covers, per family and verdict.

    ``members[version]['accept']`` and ``['drop']``: the set members as ``ipset save``
    prints them (drop = accept without the exempt subnets); ``definition[version][verdict]``:
    the text that names the set (the same definition gives the same set).
    """

    def __init__(self, net):
        self.net = net
        self.members = {}
        self.definition = {}


class Sets(object):
    """The large address sets of one policy (see the file's docstring)."""

    def __init__(self):
        self.countries = []         # CountrySet per country network, by network name
        self.blocklist = None       # {4: members, 6: members} when a blocklist is configured
        self.geoip_source = None    # 'path (date), path (date)': for the ipsets' source and --diff
        self.blocklist_source = None
        self.warnings = []
        self.notes = []


def definition_digest(text):
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:8]


# ---------------------------------------------------------------------- the inputs

def _paths(value, base, errors):
    """A path or a list of paths -> [(label, path)]."""
    items = check_list(value, base, errors, allow_scalar=True)
    many = isinstance(value, (list, tuple))
    result = []
    for pos, item in enumerate(items):
        label = '%s[%d]' % (base, pos) if many else base
        if not isinstance(item, str) or not item.strip():
            errors.append('%s: must be a path on the controller, got %s %r' % (label, type_name(item), item))
        elif text_error(label, item):
            errors.append(text_error(label, item))
        else:
            result.append(('%s (%s)' % (label, item), item))
    return result


def _max_age(value, base, errors):
    try:
        days = parse_int(DEFAULT_MAX_AGE_DAYS if value is None else value)
    except ValueError:
        days = -1
    if days < 0:
        errors.append('%s: must be a number of days >= 0 (0: never warn), got %s %r'
                      % (base, type_name(value), value))
        return DEFAULT_MAX_AGE_DAYS
    return days


# ---------------------------------------------------------------------- countries

def _country_users(networks):
    return [net for net in networks if net.get('countries')]


def _load_database(paths, wanted, users, names, errors):
    """[FileData] for the countries ``wanted``; errors name the variable, file and line."""
    users_text = ', '.join(net['label'] for net in users[:3]) + (' ...' if len(users) > 3 else '')
    files = []
    for label, path in paths:
        try:
            files.append(countrydb.read_file(path, wanted, countrydb.default_cache_dir()))
        except geoip.DatabaseError as exc:
            errors.append('%s: %s' % (label, exc))
        except (OSError, IOError) as exc:
            errors.append('%s: cannot read the country database: %s; countries are used by %s: %s'
                          % (label, exc.strerror or exc, users_text, PACKAGE_HINT % names['geoip_db']))
    if not paths and not errors:
        errors.append('%s: no country database is given; countries are used by %s: %s'
                      % (names['geoip_db'], users_text, PACKAGE_HINT % names['geoip_db']))
    return files


def _country_ranges(files, country):
    """{4: range list, 6: range list} of one country over every file."""
    result = {}
    for version in (4, 6):
        parts = [data.ranges[country][version] for data in files if data.ranges[country][version]]
        # one file's list is merged already (tor-geoipdb has one file per family)
        result[version] = parts[0] if len(parts) == 1 else prefixes.merge(itertools.chain.from_iterable(parts))
    return result


def _exempt_subnets(policy):
    """Trunks and never_block subnets: (label, Subnet), sorted."""
    found = [('trunk %s (%s)' % (label, subnet.cidr()), subnet) for label, subnet in policy.trunks]
    for net in policy.networks:
        if net['never_block']:
            found += [('never_block network %r (%s)' % (net['name'], s.cidr()), s) for s in net['subnets']]
    return sorted(found, key=lambda item: (item[1], item[0]))


def _country_families(net, ipv6):
    families = sorted({s.version for s in net['subnets']}) if net['subnets'] else [4, 6]
    return [v for v in families if v == 4 or ipv6]


def _size(ranges):
    """How many addresses a range list holds (a C loop: a country has 50,000 ranges)."""
    return len(ranges) - sum(itertools.starmap(operator.sub, ranges))


def _overlaps(per_country, errors, source):
    """Two countries that share addresses: a broken database (which network would decide?).

    Returns {version: the union of every country's ranges} when there is none: its size is
    then the sum of theirs.
    """
    unions = {}
    for version in (4, 6):
        lists = [per[version] for per in per_country.values()]
        unions[version] = prefixes.merge(itertools.chain.from_iterable(lists))
        if _size(unions[version]) == sum(_size(ranges) for ranges in lists):
            continue
        countries = sorted(per_country)
        for i, country in enumerate(countries):
            for other in countries[i + 1:]:
                shared = prefixes.intersect(per_country[country][version], per_country[other][version])
                if shared:
                    where = prefixes.members(version, shared[:1])
                    errors.append('the country database (%s) gives %s to both %s and %s; a country database '
                                  'gives each address to one country' % (source, where[0], country, other))
                    return unions
    return unions


def _country_sets(policy, files, sets, errors):
    per_country = dict((c, _country_ranges(files, c))
                       for c in sorted({c for net in _country_users(policy.networks) for c in net['countries']}))
    unions = _overlaps(per_country, errors, ', '.join(data.path for data in files))
    if errors:
        return per_country
    exempt = _exempt_subnets(policy)
    for net in sorted(_country_users(policy.networks), key=lambda n: n['name']):
        item = CountrySet(net)
        for version in _country_families(net, policy.ipv6):
            if len(net['countries']) == len(per_country):       # every country used: the union
                covered = unions[version]
            else:
                covered = prefixes.merge(itertools.chain.from_iterable(per_country[c][version] for c in net['countries']))
            definition = 'countries=%s' % ','.join(net['countries'])
            own = [s for s in net['subnets'] if s.version == version]
            if own:
                covered = prefixes.intersect(covered, _ranges(own, version))
                definition += ';subnets=%s' % ','.join(s.cidr() for s in sorted(own))
            cut = [s for _label, s in exempt if s.version == version
                   and prefixes.overlapping(covered, s.value, s.last)]
            accept = prefixes.members(version, covered)
            drop = prefixes.subtract(covered, _ranges(cut, version)) if cut else None
            item.members[version] = {
                'accept': accept,
                'drop': prefixes.members(version, drop) if cut else accept,
            }
            item.definition[version] = {
                'accept': definition,
                'drop': definition + (';except=%s' % ','.join(s.cidr() for s in cut) if cut else ''),
            }
        sets.countries.append(item)
    return per_country


def _country_key(policy, db_paths, users):
    """Everything the country sets depend on, as plain data: the database files (their paths as
    given and their identities), the country networks and the exempt subnets."""
    paths = [path for _label, path in db_paths]
    nets = [[net['name'], net['countries'], _country_families(net, policy.ipv6),
             [s.cidr() for s in sorted(net['subnets'])]] for net in sorted(users, key=lambda n: n['name'])]
    return ['country sets', paths, countrydb.fingerprint(paths), nets,
            [s.cidr() for _label, s in _exempt_subnets(policy)], policy.ipv6]


def _stored(files, empty, sets):
    """The country part of a Sets as plain data for the cache (the inverse of _restored)."""
    return {
        'files': [[data.path, data.format, data.date.isoformat(), data.families] for data in files],
        'empty': empty,
        'sets': [[item.net['name'], dict(
            (str(v), [per['accept'], None if per['drop'] is per['accept'] else per['drop'],
                      item.definition[v]['accept'], item.definition[v]['drop']])
            for v, per in item.members.items())] for item in sets.countries],
    }


def _restored(users, stored, sets):
    """(files, countries without addresses) of a cached country part; its sets go into ``sets``."""
    files = [countrydb.FileData(path, fmt, datetime.date.fromisoformat(date), families, {})
             for path, fmt, date, families in stored['files']]
    by_name = dict((net['name'], net) for net in users)
    for name, per_version in stored['sets']:
        item = CountrySet(by_name[name])
        for version, (accept, drop, accept_definition, drop_definition) in per_version.items():
            item.members[int(version)] = {'accept': accept, 'drop': accept if drop is None else drop}
            item.definition[int(version)] = {'accept': accept_definition, 'drop': drop_definition}
        sets.countries.append(item)
    return files, stored['empty']


def _countries(policy, db_paths, users, names, max_age, sets, errors):
    """The country sets and their notes: as the same database and networks gave them before (the
    cache, results_cache.read_result), else computed and kept."""
    cache_dir = countrydb.default_cache_dir()
    key = _country_key(policy, db_paths, users)
    stored = results_cache.read_result(cache_dir, key)
    if stored is not None:
        files, empty = _restored(users, stored, sets)
    else:
        wanted = sorted({c for net in users for c in net['countries']})
        files = _load_database(db_paths, wanted, users, names, errors)
        if errors:
            return
        per_country = _country_sets(policy, files, sets, errors)
        if errors:
            return
        empty = sorted(c for c, per in per_country.items() if not per[4] and not per[6])
        results_cache.write_result(cache_dir, key, _stored(files, empty, sets))
    _country_notes(policy, files, empty, sets, max_age, names)


def _country_notes(policy, files, empty, sets, max_age, names):
    dates = [data.date for data in files]
    sets.geoip_source = ', '.join(data.describe() for data in files)
    oldest = min(dates)
    age = (today() - oldest).days
    sets.notes.append('country database: %s' % sets.geoip_source)
    for item in sets.countries:
        counts = ' and '.join('%d IPv%d' % (len(item.members[v]['accept']), v) for v in sorted(item.members))
        sets.notes.append('%s (%s): %s prefixes'
                          % (item.net['label'], ','.join(item.net['countries']), counts or 'no'))
    if max_age and age > max_age:
        sets.warnings.append('the country database is from %s, %d days old (%s: %d): %s; files: %s'
                             % (oldest.isoformat(), age, names['geoip_max_age_days'], max_age,
                                UPDATE_HINT, sets.geoip_source))
    families = {v for data in files for v in data.families}
    for country in empty:
        sets.warnings.append('country %s (%s) has no address in the country database (%s): the '
                             'networks naming it match no source there'
                             % (country, ISO_3166_ALPHA2[country], sets.geoip_source))
    if policy.ipv6 and 6 not in families and any(6 in item.members for item in sets.countries):
        sets.warnings.append('the country database (%s) has no IPv6 addresses: country networks match '
                             'no IPv6 source; add an IPv6 file to %s (tor-geoipdb: /usr/share/tor/geoip6)'
                             % (sets.geoip_source, names['geoip_db']))


# ---------------------------------------------------------------------- the blocklist

def _read_text(path):
    with open(path, 'rb') as handle:
        return handle.read().decode('utf-8', 'replace')


def _read_files(files):
    """[(label, text)] of the blocklist files; instead of the text, the error of a file that could
    not be read (an OSError)."""
    texts = []
    for label, path in files:
        try:
            texts.append((label, _read_text(path)))
        except OSError as exc:
            texts.append((label, exc))
    return texts


def _blocklist_entries(blocklist, texts, names, errors, plain=True):
    """(entries [(Subnet, origin)], per-file entry counts [(label, count)], ranges {version:
    [(first, last)]} of every entry).

    A file of plain IPv4 lines (blocklists.plain_ipv4_ranges) gives its ranges without an entry
    per line: ``entries`` is then None, and a caller that needs them asks again with ``plain``
    False."""
    entries = []
    ranges = {4: [], 6: []}
    base = names['blocklist']
    for pos, item in enumerate(check_list([] if blocklist is None else blocklist, base, errors)):
        path = '%s[%d]' % (base, pos)
        if not isinstance(item, str):
            errors.append('%s: must be an address or a CIDR, got %s %r' % (path, type_name(item), item))
            continue
        try:
            entries.append((blocklists.parse_entry(item), path))
        except ValueError as exc:
            errors.append('%s: %s' % (path, exc))
    counts = []
    whole = True
    for label, text in texts:
        if isinstance(text, OSError):
            errors.append('%s: cannot read the blocklist file: %s' % (label, text.strerror or text))
            continue
        found = blocklists.plain_ipv4_ranges(text) if plain else None
        if found is not None:
            ranges[4] += found
            counts.append((label, len(found)))
            whole = False
            continue
        found, problems = blocklists.parse_file(text, label)
        errors.extend(problems)
        entries.extend(found)
        counts.append((label, len(found)))
    for subnet, _origin in entries:
        ranges[subnet.version].append((subnet.value, subnet.last))
    return (entries if whole else None), counts, ranges


def _entries(count):
    return '1 entry' if count == 1 else '%d entries' % count


def _blocklist_key(policy, blocklist, texts, exempt):
    """Everything the blocklist's sets depend on, as plain data (the files by their contents), or
    None when it cannot be a cache key (a file that could not be read)."""
    inline = [] if blocklist is None else blocklist
    if any(not isinstance(text, str) for _label, text in texts) or not isinstance(inline, (list, tuple)) \
            or not all(isinstance(item, str) for item in inline):
        return None
    return ['blocklist', list(inline),
            [[label, hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()] for label, text in texts],
            [s.cidr() for _label, s in exempt], policy.ipv6]


def _compute_blocklist(policy, blocklist, texts, names, exempt, errors):
    """(merged ranges {version: range list}, members {version: [member]}, counts, entries or None)
    of the blocklist, or None with the errors."""
    entries, counts, ranges = _blocklist_entries(blocklist, texts, names, errors)
    merged = dict((v, prefixes.merge(ranges[v])) for v in (4, 6))
    for version in (4, 6):
        if prefixes.covers(merged[version], prefixes.WIDTH[version]):
            errors.append('%s, %s: together the entries cover every IPv%d address, which would drop the '
                          'whole Internet; a blocklist lists abusers' % (names['blocklist'],
                                                                         names['blocklist_files'], version))
    if errors:
        return None
    members = {}
    for version in (4, 6) if policy.ipv6 else (4,):
        cut = [s for _label, s in exempt if s.version == version]
        kept = prefixes.subtract(merged[version], _ranges(cut, version)) if cut else merged[version]
        members[version] = prefixes.members(version, kept)
    return merged, members, counts, entries


def _blocklist(policy, blocklist, files, names, sets, errors):
    """The blocklist's sets and notes: as the same entries, files and exemptions gave them before
    (the cache, results_cache.read_result: parsing a 50,000-line feed is most of a compile with a
    warm country cache), else computed and kept."""
    exempt = _exempt_subnets(policy)
    texts = _read_files(files)
    cache_dir = countrydb.default_cache_dir()
    key = _blocklist_key(policy, blocklist, texts, exempt)
    stored = results_cache.read_result(cache_dir, key) if key is not None else None
    if stored is not None:
        if errors:
            return              # as when computed: no sets next to errors
        merged = dict((int(v), [tuple(r) for r in ranges]) for v, ranges in stored['merged'].items())
        members = dict((int(v), found) for v, found in stored['members'].items())
        counts = [tuple(count) for count in stored['counts']]
        entries = None          # read again only when a warning needs an entry's origin
    else:
        computed = _compute_blocklist(policy, blocklist, texts, names, exempt, errors)
        if computed is None:
            return
        merged, members, counts, entries = computed
        if key is not None:
            results_cache.write_result(cache_dir, key, {
                'merged': dict((str(v), r) for v, r in merged.items()),
                'members': dict((str(v), m) for v, m in members.items()), 'counts': counts})
    sets.blocklist = members
    sources = ['%s (%s)' % (names['blocklist'], _entries(len(blocklist)))] if blocklist else []
    sources += ['%s (%s)' % (label, _entries(count)) for label, count in counts]
    sets.blocklist_source = ', '.join(sources)
    sets.notes.append('blocklist: %s prefixes from %s'
                      % (' and '.join('%d IPv%d' % (len(p), v) for v, p in sorted(sets.blocklist.items())),
                         sets.blocklist_source))
    for label, count in counts:
        if not count:
            sets.warnings.append('%s has no entries: it blocks nothing (did a download fail?)' % label)

    def all_entries():
        return entries if entries is not None else _blocklist_entries(blocklist, texts, names, [], plain=False)[0]
    _blocklist_warnings(policy, all_entries, merged, exempt, sets)


def _blocklist_warnings(policy, entries, merged, exempt, sets):
    """A trunk or never_block subnet the blocklist touches (it stays exempt), and a network the
    blocklist touches that is not exempt (its sources lose every service). ``entries``: a
    function that gives them, called only when a subnet is touched."""
    def entries_touching(subnet):
        return [(s, origin) for s, origin in entries()
                if s.version == subnet.version and s.value <= subnet.last and subnet.value <= s.last]

    def touched(subnet):
        return prefixes.overlapping(merged[subnet.version], subnet.value, subnet.last)

    for label, subnet in exempt:
        if touched(subnet):
            for entry, origin in entries_touching(subnet)[:3]:
                sets.warnings.append('%s is in the blocklist entry %s (%s): it stays exempt from the '
                                     'blocklist' % (label, entry.cidr(), origin))
    exempt_subnets = {s for _label, s in exempt}
    for net in policy.networks:
        if net['never_block'] or net.get('countries'):
            continue
        for subnet in net['subnets']:
            if subnet.is_catch_all or subnet in exempt_subnets or not touched(subnet):
                continue
            for entry, origin in entries_touching(subnet)[:3]:
                sets.warnings.append('%s: %s overlaps the blocklist entry %s (%s): its sources there are '
                                     'dropped for every service; remove the entry, or make the network '
                                     'never_block' % (net['label'], subnet.cidr(), entry.cidr(), origin))


# ---------------------------------------------------------------------- everything

def load_sets(policy, names, geoip_db=None, geoip_max_age_days=None, blocklist=None,
              blocklist_files=None):
    """The Sets of a validated ``policy``; returns (Sets, errors)."""
    errors = []
    sets = Sets()
    max_age = _max_age(geoip_max_age_days, names['geoip_max_age_days'], errors)
    db_paths = _paths(countrydb.DEFAULT_PATHS if geoip_db is None else geoip_db, names['geoip_db'], errors)
    files = _paths([] if blocklist_files is None else blocklist_files, names['blocklist_files'], errors)
    users = _country_users(policy.networks)
    if users and not errors:
        _countries(policy, db_paths, users, names, max_age, sets, errors)
    if blocklist or files:
        _blocklist(policy, blocklist, files, names, sets, errors)
    return sets, errors


def _content_digest(path):
    try:
        with open(path, 'rb') as handle:
            return {'path': path, 'sha256': hashlib.sha256(handle.read()).hexdigest()}
    except (OSError, IOError) as exc:
        return {'path': path, 'missing': exc.strerror or str(exc)}


def sets_fingerprint(geoip_db=None, blocklist_files=None):
    """What a compile reads besides the inventory, as plain data: the country database files'
    identities and the blocklist files' contents (their SHA-256). A cache of compile results
    must key on it too, or a changed feed or database would be served from the cache."""
    def paths(value):
        if isinstance(value, str):
            return [value]
        return [p for p in value if isinstance(p, str)] if isinstance(value, (list, tuple)) else []
    return {
        'geoip_db': countrydb.fingerprint(paths(countrydb.DEFAULT_PATHS if geoip_db is None else geoip_db)),
        'blocklist_files': [_content_digest(p) for p in paths(blocklist_files)],
    }
