# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verify playbook's plan and report (plugin_utils/_verify_report.py).

The probe program's output is given here as the JSON it prints (its real traffic is
tested in tests/unit/playbooks/files and on the lab in tests/integration/lab).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import zlib

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _verify_report

NETWORKS = [
    {'name': 'Office LAN', 'subnet': ['10.1.0.0/24', 'fd00:1::/64'], 'services': ['sip', 'web', 'ssh']},
    {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip'], 'block': ['web']},
]


def pbx(name='pbx1', addresses=('10.1.0.11', 'fd00:1::11'), networks=None, error=None, **options):
    networks = NETWORKS if networks is None else networks
    return {'name': name, 'addresses': list(addresses), 'networks': len(networks), 'ports': options.get('ports'),
            'custom_services': None, 'error': error,
            'ruleset': None if error else _policy.firewall_ruleset(networks, **options)}


def decode(spec):
    return json.loads(zlib.decompress(base64.b64decode(spec)).decode('utf-8'))


def test_plan_probes_every_service_port_of_every_reachable_address():
    plan = _verify_report.plan([pbx(), pbx('pbx2', ['10.2.0.12'])], reach=['10.1.0.0/16', 'fd00::/8'])
    assert plan['count'] == 32                          # 16 probes x 2 addresses of pbx1; pbx2 out of reach
    assert {tuple(p[:2]) for p in plan['probes']} == {('pbx1', '10.1.0.11'), ('pbx1', 'fd00:1::11')}
    spec = decode(plan['spec'])
    assert spec['probes'] == plan['probes']
    assert (spec['timeout'], spec['parallel'], spec['deadline'], spec['max_probes']) == (2.0, 32, 120, 5000)


def test_plan_without_reach_probes_every_address_and_skips_pbxs_without_policy():
    plan = _verify_report.plan([pbx(), pbx('empty', networks=[]), pbx('broken', error='bad')],
                               timeout='0.5', range_samples=1)
    assert {p[0] for p in plan['probes']} == {'pbx1'}
    assert plan['count'] == 28                          # RTP sampled once
    assert decode(plan['spec'])['timeout'] == 0.5       # -e gives strings


@pytest.mark.parametrize('options, message', [
    ({'max_probes': 10}, 'pbx_firewall_verify_max_probes: this probe host would send 32 probes, more than the limit 10'),
    ({'timeout': 'soon'}, "pbx_firewall_verify_timeout: 'soon' must be a number >= 0.1"),
    ({'parallel': 0}, 'pbx_firewall_verify_parallel: 0 must be a number >= 1'),
    ({'reach': ['10.1']}, "pbx_firewall_probe_reach[0]: '10.1' is not a CIDR"),
])
def test_plan_errors_name_the_variable(options, message):
    with pytest.raises(ValueError) as err:
        _verify_report.plan([pbx()], **options)
    assert message in str(err.value)


def run(plan, outcomes, families=None):
    """The probe program's stdout: ``outcomes`` maps (address, port) -> (observed, detail); default open.
    ``families``: in which families the probe host has an address of its own (default: both)."""
    results = []
    for _pbx, address, _service, _proto, port, _kind in plan['probes']:
        observed, detail = outcomes.get((address, port), ('open', 'connected'))
        if ':' in address:
            source = outcomes.get('v6-source', 'fd00:1::101')
        else:
            source = outcomes.get('v4-source', '10.1.0.101')
        if source is None:
            observed, detail = 'error', 'no route from this host to %s' % address
        results.append({'address': address, 'source': source, 'observed': observed, 'detail': detail, 'ms': 1})
    families = {'ipv4': True, 'ipv6': True} if families is None else families
    output = {'elapsed': 0.1, 'families': families, 'results': results}
    return {'rc': 0, 'stdout': json.dumps(output), 'changed': False}


def office_outcomes():
    """What the office probe sees when the network does exactly what the policy says."""
    closed = ('closed', 'no answer')
    outcomes = {}
    for address in ('10.1.0.11', 'fd00:1::11'):
        for port in (4569, None, 5038, 8088, 8089, 4222, 8222):
            outcomes[(address, port)] = closed
    return outcomes


def test_report_all_match():
    pbxs = [pbx()]
    plan = _verify_report.plan(pbxs)
    report = _verify_report.report(pbxs, [{'name': 'office', 'plan': plan, 'result': run(plan, office_outcomes()),
                                           'source': None}], probe_names=['office'])
    assert report['counts'] == {'match': 32, 'mismatch': 0, 'unknown': 0, 'error': 0, 'skipped': 0}
    assert not report['failed'] and report['problems'] == []
    assert report['summary'].startswith('verify passed: 32 probes on 1 PBXs from 1 probe hosts: 32 match')
    assert '  office         10.1.0.101 -> 10.1.0.11        web        open     open             match' in report['lines']


@pytest.mark.parametrize('observed, expected_match', [
    (('closed', 'no answer'), 'mismatch'),          # the policy allows web, nothing came back
    (('refused', 'Connection refused'), 'unknown'),  # a reset: nothing listens, or a REJECT rule
    (('unknown', 'no answer'), 'unknown'),
    (('error', 'no route'), 'error'),
])
def test_report_match_values(observed, expected_match):
    pbxs = [pbx()]
    plan = _verify_report.plan(pbxs)
    outcomes = office_outcomes()
    outcomes[('10.1.0.11', 80)] = observed
    report = _verify_report.report(pbxs, [{'name': 'office', 'plan': plan, 'result': run(plan, outcomes)}])
    (row,) = [r for r in report['rows'] if r['address'] == '10.1.0.11' and r['port'] == 80]
    assert row['match'] == expected_match
    assert report['failed'] is (expected_match in ('mismatch', 'error'))
    assert _verify_report.report(pbxs, [{'name': 'office', 'plan': plan, 'result': run(plan, outcomes)}],
                                 fail_on_unknown=True)['failed'] is (expected_match != 'match')


def test_mismatch_names_pbx_probe_service_expectation_and_deciding_rule():
    pbxs = [pbx()]
    plan = _verify_report.plan(pbxs)
    outcomes = office_outcomes()
    outcomes[('10.1.0.11', 5038)] = ('open', 'connected')       # ami: nobody allows it
    report = _verify_report.report(pbxs, [{'name': 'office', 'plan': plan, 'result': run(plan, outcomes)}])
    assert report['failed']
    (bad,) = report['mismatches']
    assert (bad['pbx'], bad['probe'], bad['service'], bad['port'], bad['expected'], bad['observed'],
            bad['decided_by']) == ('pbx1', 'office', 'ami', 5038, 'closed', 'open',
                                   'pbxfw:default everything else')
    assert ('pbx1 10.1.0.11 <- probe office (10.1.0.101): ami tcp/5038 expected closed '
            '(pbxfw:default everything else), observed open') in report['message']


def test_nat_source_decides_per_family():
    """Behind NAT the PBX sees pbx_firewall_probe_source: the internet blocks web."""
    pbxs = [pbx()]
    plan = _verify_report.plan(pbxs)
    report = _verify_report.report(pbxs, [{'name': 'office', 'plan': plan, 'result': run(plan, office_outcomes()),
                                           'source': ['203.0.113.5']}])
    web4 = [r for r in report['rows'] if r['service'] == 'web' and r['family'] == 'ipv4']
    assert {(r['source'], r['source_from'], r['expected'], r['match']) for r in web4} == {
        ('203.0.113.5', 'pbx_firewall_probe_source', 'closed', 'mismatch')}
    web6 = [r for r in report['rows'] if r['service'] == 'web' and r['family'] == 'ipv6']
    assert {(r['source'], r['source_from'], r['expected']) for r in web6} == {('fd00:1::101', 'route', 'open')}


def test_a_probe_without_an_address_in_a_family_is_reported_and_skipped():
    pbxs = [pbx()]
    plan = _verify_report.plan(pbxs)
    outcomes = office_outcomes()
    outcomes['v6-source'] = None
    result = run(plan, outcomes, families={'ipv4': True, 'ipv6': False})
    report = _verify_report.report(pbxs, [{'name': 'office', 'plan': plan, 'result': result}])
    assert report['counts']['skipped'] == 16 and report['counts']['match'] == 16
    assert [p['message'] for p in report['problems']] == [
        'probe office has no IPv6 address: IPv6 of pbx1 (fd00:1::11) not probed from office']
    assert not report['failed']


NO_ROUTE = ('probe office %s no route to pbx1 (fd00:1::11): nothing was verified from office to pbx1 over IPv6 (a '
            'VPN or route that is down?); fix the route, or leave fd00:1::11 out of that probe host\'s '
            'pbx_firewall_probe_reach')


@pytest.mark.parametrize('families, has', [
    ({'ipv4': True, 'ipv6': True}, 'has an IPv6 address but'),
    (None, 'may have an IPv6 address, but has'),          # the probe host cannot tell
])
def test_a_probe_with_an_address_in_the_family_but_no_route_fails(families, has):
    """Its VPN is down: every row of that family would be skipped and the run pass unverified."""
    pbxs = [pbx()]
    plan = _verify_report.plan(pbxs)
    outcomes = office_outcomes()
    outcomes['v6-source'] = None
    result = run(plan, outcomes, families={'ipv4': True, 'ipv6': True})
    if families is None:
        output = json.loads(result['stdout'])
        output['families'] = None
        result['stdout'] = json.dumps(output)
    report = _verify_report.report(pbxs, [{'name': 'office', 'plan': plan, 'result': result}])
    assert report['failed']
    assert [(p['message'], p['fatal']) for p in report['problems']] == [(NO_ROUTE % has, True)]
    assert report['summary'].startswith('verify FAILED: 32 probes on 1 PBXs from 1 probe hosts: 16 match, '
                                        '0 mismatch, 0 unknown, 0 error, 16 skipped; 1 problem')
    assert NO_ROUTE % has in report['message']


def test_a_probe_host_with_no_route_at_all_verifies_nothing_and_fails():
    pbxs = [pbx()]
    plan = _verify_report.plan(pbxs)
    outcomes = dict(office_outcomes(), **{'v4-source': None, 'v6-source': None})
    report = _verify_report.report(pbxs, [{'name': 'office', 'plan': plan, 'result': run(plan, outcomes)}])
    assert report['failed'] and report['counts']['skipped'] == 32 and report['counts']['match'] == 0
    assert [p['message'] for p in report['problems']][-1] == (
        'PBX pbx1 (10.1.0.11, fd00:1::11) has a policy and nothing verified it: office had no route to it')


def test_a_reach_that_matches_no_pbx_fails_naming_each_pbx_and_why():
    pbxs = [pbx(), pbx('pbx2', ['10.2.0.12'])]
    probes = []
    for name, reach in (('office', ['192.0.2.0/24']), ('branch', ['10.1.0.0/24'])):
        plan = _verify_report.plan(pbxs, reach=reach)
        probes.append({'name': name, 'plan': plan, 'result': run(plan, office_outcomes()) if plan['count']
                       else {'skipped': True}})
    report = _verify_report.report(pbxs, probes, probe_names=['office', 'branch'])
    assert report['failed'] and report['counts']['match'] == 16
    assert [(p['message'], p['fatal']) for p in report['problems']] == [(
        'PBX pbx2 (10.2.0.12) has a policy and nothing verified it: the pbx_firewall_probe_reach of office '
        '(192.0.2.0/24) holds none of its addresses; the pbx_firewall_probe_reach of branch (10.1.0.0/24) '
        'holds none of its addresses', True)]
    # and a reach that matches no PBX at all: nothing verified, never "verify passed: 0 probes"
    plan = _verify_report.plan(pbxs, reach=['192.0.2.0/24'])
    report = _verify_report.report(pbxs, [{'name': 'office', 'plan': plan, 'result': {'skipped': True}}])
    assert report['failed'] and report['summary'].startswith('verify FAILED: 0 probes on 0 PBXs')
    assert [p['pbx'] for p in report['problems']] == ['pbx1', 'pbx2']


def test_unreachable_and_failed_probe_hosts_and_pbxs_without_policy_leave_the_rest_reported():
    error = 'Task failed: ... pbxops.firewall.firewall_ruleset: invalid inventory: bad subnet'
    pbxs = [pbx(), pbx('pbx2', networks=[]), pbx('pbx3', error=error)]
    plan = _verify_report.plan(pbxs)
    probes = [
        {'name': 'office', 'plan': plan, 'result': run(plan, office_outcomes())},
        {'name': 'branch', 'plan': plan, 'result': {'unreachable': True, 'msg': 'Failed to connect to the host via ssh'}},
        {'name': 'kiosk', 'plan': plan, 'result': {'failed': True, 'rc': 127, 'stderr': 'python3: not found'}},
        {'name': 'lab', 'plan': {}, 'result': {}, 'error': 'pbx_firewall_probe_reach[0]: bad'},
    ]
    report = _verify_report.report(pbxs, probes, probe_names=['office', 'branch', 'kiosk', 'lab', 'gone'])
    assert report['counts']['match'] == 32
    assert [(p['message'], p['fatal']) for p in report['problems']] == [
        ('probe gone: did not run (see the errors above)', True),
        ('PBX pbx2: no policy (pbx_firewall_networks is empty or unset), not probed: without networks the '
         'collection drops nothing', False),
        ('PBX pbx3: its policy does not compile, not probed: pbxops.firewall.firewall_ruleset: invalid '
         'inventory: bad subnet', True),
        ('probe branch: unreachable: Failed to connect to the host via ssh; its row of the matrix is missing', True),
        ('probe kiosk: the probe program failed (rc 127): python3: not found; its row of the matrix is missing', True),
        ('probe lab: pbx_firewall_probe_reach[0]: bad', True),
    ]
    assert report['failed']
    assert report['lines'][-1].endswith('0 mismatch, 0 unknown, 0 error, 0 skipped; 6 problems')


def test_no_probe_hosts_is_a_problem():
    report = _verify_report.report([pbx()], [])
    assert report['failed']
    assert 'no probe hosts: put hosts in the group pbx_firewall_probes' in report['message']


def test_pbx_names_resolve_on_the_controller():
    def resolver(name, _port):
        assert name == 'pbx.example'
        return [(10, 2, 17, '', ('fd00:1::11', 0, 0, 0)), (2, 2, 17, '', ('10.1.0.11', 0))]

    addresses, probes, problem = _verify_report.pbx_targets(pbx(addresses=['pbx.example']), resolver=resolver)
    assert (addresses, problem, len(probes)) == (['10.1.0.11', 'fd00:1::11'], None, 16)
