# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verify playbook's plan and report (private to pbxops.firewall).

This file is private to the ``pbxops.firewall`` collection; its interface may change
without notice. It owns the two ends of ``pbxops.firewall.verify`` around the probe
program (playbooks/files/pbx_firewall_probe.py): ``plan`` says what one probe host
sends (every sampled port of every service of every PBX, only to the PBX addresses of
the inventory, bounded in count and time), and ``report`` joins what came back with the
expected verdicts of ``_verify`` into the matrix, the per-PBX tables, the summary and
the list of mismatches and problems. Pure Python, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import ipaddress
import json
import socket
import zlib

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _verify

MATCH = 'match'
MISMATCH = 'mismatch'
UNKNOWN = 'unknown'
SKIPPED = 'skipped'
ERROR = 'error'
MESSAGE_MAX = 20                 # mismatches named in the failure message (all are in the table)
DEFAULTS = {'timeout': 2.0, 'parallel': 32, 'deadline': 120, 'max_probes': 5000,
            'range_samples': _verify.DEFAULT_RANGE_SAMPLES}


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def resolve(address, resolver=None):
    """An inventory address or host name -> its IP addresses (sorted, IPv4 first)."""
    text = str(address).strip()
    try:
        return [str(ipaddress.ip_address(text))]
    except ValueError:
        pass
    try:
        infos = (resolver or socket.getaddrinfo)(text, None)
    except (OSError, UnicodeError) as exc:
        raise ValueError('%r is neither an IP address nor a name that resolves (%s)' % (text, exc))
    found = {ipaddress.ip_address(info[4][0].split('%')[0]) for info in infos}
    return [str(a) for a in sorted(found, key=lambda a: (a.version, a))]


def _reach(value, path):
    nets = []
    for pos, item in enumerate(_as_list(value)):
        try:
            nets.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ValueError('%s[%d]: %r is not a CIDR; valid: e.g. 10.1.0.0/16 or 0.0.0.0/0'
                             % (path, pos, item))
    return nets


def _option(options, key, kind, minimum):
    value = options.get(key)
    if value is None:
        return DEFAULTS[key]
    try:
        number = kind(value) if not isinstance(value, bool) else None   # -e gives strings
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum:
        raise ValueError('pbx_firewall_verify_%s: %r must be a number >= %s' % (key, value, minimum))
    return number


def pbx_targets(pbx, range_samples=DEFAULTS['range_samples'], resolver=None):
    """One PBX (as the playbook describes it) -> (addresses, probes, problem).

    ``problem`` is None, or {message, fatal}: a PBX without networks is reported and
    skipped (nothing to verify); a policy or address error fails the run.
    """
    name = pbx.get('name')
    if pbx.get('error'):
        error = str(pbx['error'])
        # keep the filter's own message, not Ansible's "Task failed: ... caused by" chain
        error = error[error.rfind('pbxops.firewall.'):] if 'pbxops.firewall.' in error else error
        return [], [], {'fatal': True, 'message': 'PBX %s: its policy does not compile, not probed: %s'
                        % (name, error)}
    if not pbx.get('networks'):
        return [], [], {'fatal': False, 'message': (
            'PBX %s: no policy (pbx_firewall_networks is empty or unset), not probed: without '
            'networks the collection drops nothing' % name)}
    addresses = []
    for item in _as_list(pbx.get('addresses')):
        try:
            addresses += [a for a in resolve(item, resolver) if a not in addresses]
        except ValueError as exc:
            return [], [], {'fatal': True, 'message': 'PBX %s: pbx_firewall_verify_addresses: %s' % (name, exc)}
    if not addresses:
        return [], [], {'fatal': True, 'message': 'PBX %s: no address to probe (set '
                        'pbx_firewall_verify_addresses or ansible_host)' % name}
    try:
        probes = _verify.service_probes(pbx.get('ports'), pbx.get('custom_services'), range_samples)
    except ValueError as exc:
        return [], [], {'fatal': True, 'message': 'PBX %s: %s' % (name, exc)}
    return addresses, probes, None


def plan(pbxs, reach=None, **options):
    """What one probe host sends. ``pbxs``: list of dicts {name, addresses, networks,
    ports, custom_services, ruleset, error}; ``reach``: CIDRs of the PBX addresses this
    probe host can reach (``pbx_firewall_probe_reach``; default: every address).

    Returns {probes: [[pbx, address, service, proto, port, kind], ...], spec: the probe
    program's argument, count, reach: the CIDRs as given (None: every address)}.
    """
    reach_nets = _reach(reach, 'pbx_firewall_probe_reach') if reach is not None else None
    samples = _option(options, 'range_samples', int, 1)
    probes = []
    for pbx in pbxs or []:
        addresses, services, problem = pbx_targets(pbx, samples)
        if problem:
            continue          # reported once by report(), not per probe host
        for address in addresses:
            ip = ipaddress.ip_address(address)
            if reach_nets is not None and not any(ip in net for net in reach_nets if net.version == ip.version):
                continue
            for probe in services:
                probes.append([pbx['name'], address, probe['service'], probe['proto'], probe['port'],
                               probe['kind']])
    limit = _option(options, 'max_probes', int, 1)
    if len(probes) > limit:
        raise ValueError('pbx_firewall_verify_max_probes: this probe host would send %d probes, more than '
                         'the limit %d; raise the limit, narrow pbx_firewall_probe_reach, or lower '
                         'pbx_firewall_verify_range_samples' % (len(probes), limit))
    spec = {'timeout': _option(options, 'timeout', float, 0.1),
            'parallel': _option(options, 'parallel', int, 1),
            'deadline': _option(options, 'deadline', float, 1),
            'max_probes': limit, 'probes': probes}
    encoded = base64.b64encode(zlib.compress(json.dumps(spec, sort_keys=True).encode('utf-8'), 9))
    return {'probes': probes, 'count': len(probes), 'spec': encoded.decode('ascii'),
            'reach': None if reach_nets is None else [str(net) for net in reach_nets]}


# --------------------------------------------------------------------------- report


def _match(expected, observed):
    if observed == ERROR:
        return ERROR
    if expected == _verify.UNKNOWN or observed in ('refused', 'unknown'):
        return UNKNOWN
    if observed == expected:
        return MATCH
    return MISMATCH


def _source_for(address, observed_source, override):
    """The source the PBX sees: pbx_firewall_probe_source (NAT) for that family, else the route's."""
    family = _verify.family_of(address)
    for item in _as_list(override):
        if _verify.family_of(item) == family:
            return str(ipaddress.ip_address(str(item))), 'pbx_firewall_probe_source'
    return observed_source, 'route'


def _probe_failure(result):
    """Why a probe host gave no results (None when it did)."""
    if not isinstance(result, dict) or not result:
        return 'did not run'
    if result.get('unreachable'):
        return 'unreachable: %s' % (result.get('msg') or 'no connection').strip()
    if result.get('skipped'):
        return None
    if result.get('failed') or result.get('rc', 0) != 0:
        detail = (result.get('stderr') or result.get('msg') or '').strip().splitlines()
        return 'the probe program failed (rc %s): %s' % (result.get('rc'), detail[-1] if detail else 'no output')
    return None


def report(pbxs, probes, probe_names=None, fail_on_unknown=False):
    """Join plans, probe results and expectations.

    ``probes``: list of dicts {name, plan (from ``plan``), result (the script task's
    registered result), source (pbx_firewall_probe_source or None)}.
    ``probe_names``: every probe host meant to run; one without an entry in ``probes``
    is reported as not run.
    Returns {rows, mismatches, problems, counts, summary, lines, message, failed}.
    """
    problems = []
    probes = list(probes or [])
    ran = {p.get('name') for p in probes}
    for name in probe_names or []:
        if name not in ran:
            problems.append({'pbx': None, 'probe': name, 'fatal': True,
                             'message': 'probe %s: did not run (see the errors above)' % name})
    expectations = {}
    pbx_addresses = {}
    for pbx in pbxs or []:
        addresses, _services, problem = pbx_targets(pbx)
        if problem:
            problems.append(dict(problem, pbx=pbx.get('name'), probe=None))
            continue
        pbx_addresses[pbx['name']] = addresses
        try:
            expectations[pbx['name']] = _verify.Expectations(pbx['ruleset'])
        except ValueError as exc:
            problems.append({'pbx': pbx['name'], 'probe': None, 'fatal': True,
                             'message': 'PBX %s: its ruleset cannot be evaluated: %s' % (pbx['name'], exc)})
    if not probes and not probe_names:
        problems.append({'pbx': None, 'probe': None, 'fatal': True,
                         'message': 'no probe hosts: put hosts in the group pbx_firewall_probes or set '
                                    'pbx_firewall_probe_hosts'})
    rows = []
    for probe in probes or []:
        name = probe.get('name')
        result = probe.get('result') or {}
        steps = (probe.get('plan') or {}).get('probes') or []
        if probe.get('error'):
            problems.append({'pbx': None, 'probe': name, 'fatal': True,
                             'message': 'probe %s: %s' % (name, probe['error'])})
            continue
        failure = _probe_failure(result) if steps else None
        if failure:
            problems.append({'pbx': None, 'probe': name, 'fatal': True,
                             'message': 'probe %s: %s; its row of the matrix is missing' % (name, failure)})
            continue
        try:
            output = json.loads(result.get('stdout') or '{}') if steps else {}
            observed = output.get('results') if steps else []
        except (ValueError, AttributeError):
            observed = None
        if observed is None or len(observed) != len(steps):
            problems.append({'pbx': None, 'probe': name, 'fatal': True,
                             'message': 'probe %s: the probe program printed no usable results' % name})
            continue
        missing_family = set()
        for (pbx, address, service, proto, port, kind), seen in zip(steps, observed):
            source, source_from = _source_for(address, seen.get('source'), probe.get('source'))
            family = _verify.family_of(address)
            row = {'pbx': pbx, 'address': address, 'family': family, 'probe': name, 'source': source,
                   'source_from': source_from, 'service': service, 'proto': proto, 'port': port,
                   'kind': kind, 'observed': seen.get('observed'), 'detail': seen.get('detail')}
            if source is None:
                if (pbx, family) not in missing_family:
                    missing_family.add((pbx, family))
                    problems.append(_no_source(name, pbx, address, family, output.get('families')))
                row.update(expected=None, match=SKIPPED, decided_by=None, rule=None,
                           reason='no %s source address on the probe host' % family)
            elif pbx not in expectations:
                continue
            else:
                row.update(expectations[pbx].expect(source, proto, port))
                row['match'] = _match(row['expected'], row['observed'])
            rows.append(row)
    problems += _unverified(expectations, pbx_addresses, rows, probes)
    return _summarize(rows, problems, pbx_addresses, fail_on_unknown)


def _no_source(probe, pbx, address, family, families):
    """The problem of a probe host that sent nothing to a PBX address: it has no address of that
    family at all (not fatal: it cannot probe that family), or it has one but no route (fatal:
    a VPN that is down, a missing route; the pair would pass unverified)."""
    label = 'IPv4' if family == 'ipv4' else 'IPv6'
    if isinstance(families, dict) and families.get(family) is False:
        return {'pbx': pbx, 'probe': probe, 'fatal': False, 'message': (
            'probe %s has no %s address: %s of %s (%s) not probed from %s'
            % (probe, label, label, pbx, address, probe))}
    has = 'has an %s address but' % label if isinstance(families, dict) else 'may have an %s address, but has' % label
    return {'pbx': pbx, 'probe': probe, 'fatal': True, 'message': (
        'probe %s %s no route to %s (%s): nothing was verified from %s to %s over %s (a VPN or route that is '
        'down?); fix the route, or leave %s out of that probe host\'s pbx_firewall_probe_reach'
        % (probe, has, pbx, address, probe, pbx, label, address))}


def _unverified(expectations, pbx_addresses, rows, probes):
    """A PBX with a policy that no probe verified is a failure, naming why for each probe host."""
    verified = {row['pbx'] for row in rows if row['match'] != SKIPPED}
    problems = []
    for pbx in sorted(set(expectations) - verified):
        why = []
        for probe in probes:
            plan = probe.get('plan') or {}
            if any(step[0] == pbx for step in plan.get('probes') or []):
                why.append('%s had no route to it' % probe.get('name'))
            elif plan.get('reach') is not None:
                why.append('the pbx_firewall_probe_reach of %s (%s) holds none of its addresses'
                           % (probe.get('name'), ', '.join(plan['reach']) or 'empty'))
            else:
                why.append('%s did not probe it' % probe.get('name'))
        problems.append({'pbx': pbx, 'probe': None, 'fatal': True, 'message': (
            'PBX %s (%s) has a policy and nothing verified it: %s' % (
                pbx, ', '.join(pbx_addresses.get(pbx, [])), '; '.join(why) or 'no probe host ran'))})
    return problems


def _label(row):
    return '%s/%s' % (row['proto'], row['port']) if row['port'] is not None else row['proto']


def _join(values):
    seen = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return '+'.join(str(v) for v in seen)


def _summarize(rows, problems, pbx_addresses, fail_on_unknown):
    counts = {key: sum(1 for r in rows if r['match'] == key)
              for key in (MATCH, MISMATCH, UNKNOWN, ERROR, SKIPPED)}
    mismatches = [r for r in rows if r['match'] == MISMATCH]
    fatal = [p for p in problems if p['fatal']]
    failed = bool(mismatches or fatal or counts[ERROR] or (fail_on_unknown and counts[UNKNOWN]))
    lines = []
    for pbx in sorted({r['pbx'] for r in rows} | set(pbx_addresses)):
        lines.append('%s (%s)' % (pbx, ', '.join(pbx_addresses.get(pbx, []))))
        lines.append('  %-14s %-30s %-10s %-8s %-16s %s' % (
            'probe', 'source -> address', 'service', 'expected', 'observed', 'match'))
        groups = {}
        for row in rows:
            if row['pbx'] == pbx:
                groups.setdefault((row['probe'], row['source'], row['address'], row['service']), []).append(row)
        for (probe, source, address, service) in sorted(groups, key=lambda k: (k[0], k[2], k[3])):
            group = groups[(probe, source, address, service)]
            matches = [r['match'] for r in group]
            worst = next(m for m in (MISMATCH, ERROR, UNKNOWN, SKIPPED, MATCH) if m in matches)
            lines.append('  %-14s %-30s %-10s %-8s %-16s %s' % (
                probe, '%s -> %s' % (source or '-', address), service,
                _join(r['expected'] for r in group), _join(r['observed'] for r in group),
                worst.upper() if worst in (MISMATCH, ERROR) else worst))
    if mismatches:
        lines.append('mismatches:')
        for r in mismatches:
            lines.append('  %s %s <- probe %s (%s): %s %s expected %s (%s), observed %s (%s)' % (
                r['pbx'], r['address'], r['probe'], r['source'], r['service'], _label(r),
                r['expected'], r['decided_by'], r['observed'], r['detail']))
    unknown = [r for r in rows if r['match'] in (UNKNOWN, ERROR)]
    if unknown:
        lines.append('not decided (unknown is never a pass):')
        for r in unknown:
            why = r['reason'] if r['expected'] == _verify.UNKNOWN else '%s: %s' % (r['observed'], r['detail'])
            lines.append('  %s %s <- probe %s (%s): %s %s expected %s, %s' % (
                r['pbx'], r['address'], r['probe'], r['source'], r['service'], _label(r),
                r['expected'], why))
    if problems:
        lines.append('problems:')
        lines += ['  %s' % p['message'] for p in problems]
    summary = ('verify %s: %d probes on %d PBXs from %d probe hosts: %d match, %d mismatch, %d unknown, '
               '%d error, %d skipped; %d problem%s' % (
                   'FAILED' if failed else 'passed', len(rows), len({r['pbx'] for r in rows}),
                   len({r['probe'] for r in rows}), counts[MATCH], counts[MISMATCH], counts[UNKNOWN],
                   counts[ERROR], counts[SKIPPED], len(problems), '' if len(problems) == 1 else 's'))
    lines.append(summary)
    named = ['%s %s <- probe %s (%s): %s %s expected %s (%s), observed %s' % (
        r['pbx'], r['address'], r['probe'], r['source'], r['service'], _label(r), r['expected'],
        r['decided_by'], r['observed']) for r in mismatches[:MESSAGE_MAX]]
    if len(mismatches) > MESSAGE_MAX:
        named.append('%d more mismatches in the table above' % (len(mismatches) - MESSAGE_MAX))
    message = '; '.join([summary] + named + [p['message'] for p in fatal])
    return {'rows': rows, 'mismatches': mismatches, 'problems': problems, 'counts': counts,
            'summary': summary, 'lines': lines, 'message': message, 'failed': failed}
