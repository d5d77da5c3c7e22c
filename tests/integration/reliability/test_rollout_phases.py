# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``pbxops.firewall.rollout`` as AWX/AAP job slicing runs it: one canary job, then slices.

Three PBX hosts, each an sshd in its own network namespace, get the real playbook with the
real role over SSH. A sliced job runs the whole playbook once per slice, each on an
inventory of its own hosts only (AWX deals the hosts out in turn: here slice 1 of 2 gets hosts 1
and 3, slice 2 host 2); so the recipe of docs/fleets.md is checked the way AWX would run it:

1. a rollout phase that is not one of all, canary, batches, or a canary pattern that names
   none of the hosts, fails in the preflight and no host changes;
2. the canary job (the whole inventory, ``pbx_firewall_rollout_phase: canary``) validates
   every host and applies the first one only;
3. the sliced job (``pbx_firewall_rollout_phase: batches``): both slices at once, each on its
   own inventory; every host ends with its policy, and the canary's rerun changes nothing.
"""

from __future__ import annotations

from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

APPLY = 'Apply the owned iptables and ip6tables chains'
COMPILE = 'Compile ruleset, ignoreip and local_net'


def _networks(host):
    return [{'name': 'Controller', 'subnet': host.controller, 'services': ['ssh']},
            {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']}]


def _has_policy(host):
    return 'PBX-FIREWALL' in sup.owned_chains(sup.family_save(host.ns, 'nft', 'ipv4'))


def _rollout(inventory, phase, **extra):
    return [{'ansible.builtin.import_playbook': 'pbxops.firewall.rollout',
             'vars': dict(extra, pbx_firewall_rollout_phase=phase, pbx_firewall_rollout_batch=1)}], inventory


def test_a_canary_job_then_a_sliced_job(ssh_fleet, playbook, role_paths, tmp_path):
    fleet = ssh_fleet(3)
    inventory = {}
    for host in fleet:
        paths = type(role_paths)(tmp_path / ('role-%s' % host.name))
        inventory[host.name] = host.inventory_vars(pbx_firewall_networks=_networks(host), **paths.role_vars())
    canary, second, third = fleet

    bad = playbook.run(*_rollout(inventory, 'canaries'))
    assert bad.rc != 0
    assert "pbx_firewall_rollout_phase is \"canaries\"; valid: all" in bad.output, bad.output
    no_canary = playbook.run(*_rollout(inventory, 'canary', pbx_firewall_rollout_canary='pbx-elsewhere'))
    assert no_canary.rc != 0
    assert 'pbx_firewall_rollout_canary "pbx-elsewhere" names none of the hosts' in no_canary.output, no_canary.output
    assert not any(_has_policy(host) for host in fleet)

    canary_job = playbook.run(*_rollout(inventory, 'canary'))
    assert canary_job.rc == 0, canary_job.output
    assert {r['host'] for r in canary_job.of(task=COMPILE)} == {h.name for h in fleet}   # the whole preflight
    assert [r['host'] for r in canary_job.of(task=APPLY)] == [canary.name]
    assert [_has_policy(host) for host in fleet] == [True, False, False]

    # AWX's two slices of this inventory, started together
    slices = [{name: inventory[name] for name in (canary.name, third.name)}, {second.name: inventory[second.name]}]
    started = [playbook.start(*_rollout(part, 'batches')) for part in slices]
    first_slice, second_slice = [playbook.wait(run) for run in started]
    assert first_slice.rc == 0, first_slice.output
    assert second_slice.rc == 0, second_slice.output
    assert all(_has_policy(host) for host in fleet)
    applied = {r['host']: r['result']['changed'] for run in (first_slice, second_slice) for r in run.of(task=APPLY)}
    assert applied == {canary.name: False, second.name: True, third.name: True}
    # the first slice ran its hosts one at a time (batch 1): the canary's rerun, then the third host
    order = [r['host'] for r in sorted(first_slice.of(task=APPLY), key=lambda r: r['time'])]
    assert order == [canary.name, third.name]
