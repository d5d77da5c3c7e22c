# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lab/fleet.py (the one fleet builder) and the two layouts built with it (demo, bench):
addresses, the generated Ansible inventory (read back with YAML), the layouts' separation.
Creating containers is covered by `lab/demo.sh up` and `make bench` (Docker)."""
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path[:0] = [os.path.join(ROOT, 'lab'), os.path.join(ROOT, 'bench')]

import fleet  # noqa: E402  pylint: disable=wrong-import-position
import demo_fleet  # noqa: E402  pylint: disable=wrong-import-position
import lab as bench_lab  # noqa: E402  pylint: disable=wrong-import-position


def test_network_addresses_ipv4_and_ula():
    net = fleet.Network('office', 'pbxlab-office', '10.201.10', ula='fd42:201')
    assert (net.subnet, net.subnet6) == ('10.201.10.0/24', 'fd42:201:10::/64')
    assert (net.address(11), net.address6(11)) == ('10.201.10.11', 'fd42:201:10::11')
    plain = fleet.Network('mgmt', 'pbxbench-mgmt', '10.202.0')
    assert (plain.subnet6, plain.address6(11)) == (None, None)


def test_inventory_reads_back(tmp_path):
    path = fleet.write_inventory(str(tmp_path / 'inv.yml'), 'pbx',
                                 [('pbx1', '10.201.0.11', {}), ('pbx3', '10.201.0.13', {'pbx_firewall_backend': 'legacy'})],
                                 '/k/id_ed25519', 'test', extra_vars={'x': [1, 'a']})
    with open(path) as handle:
        inv = yaml.safe_load(handle)
    assert inv['pbx']['hosts'] == {'pbx1': {'ansible_host': '10.201.0.11'},
                                   'pbx3': {'ansible_host': '10.201.0.13', 'pbx_firewall_backend': 'legacy'}}
    assert inv['pbx']['vars']['ansible_ssh_private_key_file'] == '/k/id_ed25519'
    assert inv['pbx']['vars']['x'] == [1, 'a']


def test_demo_layout():
    lab = demo_fleet.demo_fleet()
    pbxs = {p.name: p for p in demo_fleet.PBXS}
    assert [lab.address(pbxs[n], 'mgmt') for n in ('pbx1', 'pbx2', 'pbx3')] == ['10.201.0.11', '10.201.0.12', '10.201.0.13']
    assert [p.backend for p in demo_fleet.PBXS] == ['nft', 'nft', 'legacy']
    assert {c.name: lab.address(c) for c in demo_fleet.CLIENTS} == {
        'client-office': '10.201.10.101', 'client-vpn': '10.201.20.101', 'client-inet': '10.201.30.101',
        'client-inet2': '10.201.30.102'}


def test_demo_and_bench_fleets_never_share_names_subnets_or_labels():
    demo, bench = demo_fleet.demo_fleet(), bench_lab.Lab().fleet
    assert demo.label != bench.label
    assert not {n.name for n in demo.networks.values()} & {n.name for n in bench.networks.values()}
    assert not {n.prefix for n in demo.networks.values()} & {n.prefix for n in bench.networks.values()}
