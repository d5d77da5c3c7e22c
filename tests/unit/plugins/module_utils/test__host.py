# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host access with a fake module: binaries, backend detection, reading the live state."""

from __future__ import annotations

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils._host import Host
from ansible_collections.pbxops.firewall.tests.unit.plugins.module_utils.fake_module import Failed, FakeModule

NFT_VERSION = (0, 'iptables v1.8.9 (nf_tables)\n', '')
LEGACY_VERSION = (0, 'iptables v1.8.9 (legacy)\n', '')
BOTH = ['iptables', 'ipset'] + ['%s-%s%s' % (p, b, s) for p in ('iptables', 'ip6tables')
                                for b in ('nft', 'legacy') for s in ('', '-save', '-restore')]
EMPTY_SAVE = (0, '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n', '')
RULES_SAVE = (0, '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j f2b-sshd\nCOMMIT\n', '')


def module(bins=BOTH, **answers):
    table = {'/usr/sbin/iptables': NFT_VERSION}
    table.update({'/usr/sbin/' + k.replace('_', '-'): v for k, v in answers.items()})
    return FakeModule(bins, table, default=EMPTY_SAVE)


def test_binaries_of_the_chosen_backend():
    host = Host(module(), 'legacy')
    assert host.backend == 'legacy'
    assert host.saves == {'ipv4': '/usr/sbin/iptables-legacy-save', 'ipv6': '/usr/sbin/ip6tables-legacy-save'}
    assert host.tools == {'ipv4': '/usr/sbin/iptables-legacy-restore', 'ipv4_cmd': '/usr/sbin/iptables-legacy',
                          'ipv6': '/usr/sbin/ip6tables-legacy-restore', 'ipv6_cmd': '/usr/sbin/ip6tables-legacy',
                          'ipset': '/usr/sbin/ipset', 'ip': None, 'ss': None}


def test_the_optional_flow_tools_are_found_when_present():
    host = Host(module(BOTH + ['ip', 'ss']), 'nft')
    assert [host.tools[name] for name in ('ip', 'ss')] == ['/usr/sbin/ip', '/usr/sbin/ss']


def test_plain_names_serve_the_default_backend_and_ipv6_is_optional():
    bins = ['iptables', 'iptables-save', 'iptables-restore']
    host = Host(FakeModule(bins, {'/usr/sbin/iptables': LEGACY_VERSION}), 'auto')
    assert host.backend == 'legacy'
    assert host.saves == {'ipv4': '/usr/sbin/iptables-save'}
    assert host.tools['ipset'] is None
    with pytest.raises(Failed, match='iptables-nft-restore/-save .* not found on the host'):
        Host(FakeModule(bins, {'/usr/sbin/iptables': LEGACY_VERSION}), 'nft')


@pytest.mark.parametrize('own, other, expected', [
    (EMPTY_SAVE, EMPTY_SAVE, 'nft'),
    (EMPTY_SAVE, RULES_SAVE, 'legacy'),
    (RULES_SAVE, RULES_SAVE, 'nft'),
    (EMPTY_SAVE, (1, '', 'no kernel module'), 'nft'),
])
def test_auto_follows_the_backend_that_holds_rules(own, other, expected):
    fake = module(iptables_nft_save=own, iptables_legacy_save=other)
    assert Host(fake, 'auto').backend == expected
    # reading does not name a table (that would instantiate it)
    assert ['/usr/sbin/iptables-nft-save'] in [argv for argv, _data in fake.calls]


def test_detection_reads_lines_at_newline_only():
    # '\u2028-A ' after a foreign comment must not count as a rule line of its own
    odd = (0, '*filter\n:INPUT ACCEPT [0:0]\n# "x\u2028-A INPUT"\nCOMMIT\n', '')
    assert Host(module(iptables_legacy_save=odd), 'auto').backend == 'nft'


def test_read_family_parses_a_foreign_rule_with_a_line_separator():
    foreign = '-A INPUT -m comment --comment "a\u2028b\u0085c" -j ACCEPT'
    save = (0, '*filter\n:INPUT ACCEPT [0:0]\n%s\n-A INPUT -j PBX-FIREWALL\n:PBX-FIREWALL - [0:0]\nCOMMIT\n' % foreign, '')
    host = Host(module(iptables_nft_save=save), 'nft')
    table = host.read_family('ipv4', required=True)
    assert table.rules['INPUT'] == [foreign, '-A INPUT -j PBX-FIREWALL']
    assert host.read_tables(want_v6=False)['ipv4'] == table
    assert sorted(host.read_tables(want_v6=False)) == ['ipv4', 'ipv6']


def test_read_failures():
    host = Host(module(ip6tables_nft_save=(1, '', 'no ip6_tables\n')), 'nft')
    with pytest.raises(Failed, match=r'ip6tables-nft-save failed \(rc=1\): no ip6_tables'):
        host.read_tables(want_v6=True)
    assert sorted(host.read_tables(want_v6=False)) == ['ipv4']
    assert host.warnings == ['/usr/sbin/ip6tables-nft-save failed (rc=1: no ip6_tables); ipv6 is left alone']
    bad = Host(module(iptables_nft_save=(0, '-A INPUT -j ACCEPT\n', '')), 'nft')
    with pytest.raises(Failed, match='cannot parse /usr/sbin/iptables-nft-save output: .* before any table'):
        bad.read_family('ipv4', required=True)


def test_read_sets():
    save = (0, 'create pbxfw-a hash:net family inet hashsize 1024 maxelem 10\nadd pbxfw-a 10.0.0.0/8\n', '')
    host = Host(module(ipset=save), 'nft')
    assert list(host.read_sets(required=True)) == ['pbxfw-a']
    failing = Host(module(ipset=(1, '', 'kernel says no\n')), 'nft')
    assert failing.read_sets(required=False) == {}
    assert failing.warnings == ['ipset save failed (rc=1: kernel says no); ipsets are left alone']
    with pytest.raises(Failed, match='ipset save failed'):
        failing.read_sets(required=True)
    without = Host(module(bins=[b for b in BOTH if b != 'ipset']), 'nft')
    assert without.read_sets(required=False) == {}
    with pytest.raises(Failed, match='install ipset'):
        without.read_sets(required=True)


def test_run_passes_stdin_as_is():
    fake = module()
    Host(fake, 'nft').run(['/usr/sbin/ipset', 'restore'], 'create x\n')
    assert fake.calls[-1] == (['/usr/sbin/ipset', 'restore'], 'create x\n')
