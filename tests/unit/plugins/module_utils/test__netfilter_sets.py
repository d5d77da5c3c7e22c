# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_netfilter.py with large sets: member checks, ipset save parsing, sizes, --diff per set,
and the members-only refresh (sets_only)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf
from ansible_collections.pbxops.firewall.tests.unit.plugins.module_utils.test__netfilter import JUMP, table

RULE = '-A PBX-FIREWALL ! -i lo -m set --match-set pbxfw-blocklist4 src -j DROP'


def blocklist(entries, **extra):
    return dict({'name': 'pbxfw-blocklist4', 'family': 'inet', 'maxelem': 65536, 'entries': entries}, **extra)


# ------------------------------------------------------------------ members

def _slow_normalize(entry, family):
    """What normalize_entry gives for a hash:net member, the long way (ipaddress)."""
    net = ipaddress.ip_network(entry, strict=False)
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


ADDRESS_TEXT = st.one_of(
    st.builds(lambda v, n: '%s/%d' % (ipaddress.IPv4Address(v), n), st.integers(0, 2 ** 32 - 1), st.integers(1, 32)),
    st.builds(lambda v: str(ipaddress.IPv4Address(v)), st.integers(0, 2 ** 32 - 1)),
    st.builds(lambda v, n: '%s/%d' % (ipaddress.IPv6Address(v), n), st.integers(0, 2 ** 128 - 1),
              st.integers(1, 128)),
    st.builds(lambda v: ipaddress.IPv6Address(v).exploded.upper(), st.integers(0, 2 ** 128 - 1)),
)


@settings(max_examples=400, deadline=None)
@given(ADDRESS_TEXT)
def test_the_fast_member_check_gives_what_ipaddress_gives(entry):
    family = 'inet6' if ':' in entry else 'inet'
    assert nf.normalize_entry(entry, family, 'hash:net', 'e') == _slow_normalize(entry, family)


@pytest.mark.parametrize('entry, canonical', [
    ('10.1.2.0/24', '10.1.2.0/24'), ('10.1.2.3', '10.1.2.3'), ('2001:db8::/32', '2001:db8::/32'),
    ('10.1.2.3/24', None), ('10.1.2.3/32', None), ('10.1.2.0/024', None), ('2001:DB8::/32', None),
    ('10.1.2.0/0', None), ('010.1.2.0/24', None), ('10.1.2.0/', None),
])
def test_canonical_entries(entry, canonical):
    family = 'inet6' if ':' in entry else 'inet'
    assert nf._canonical_entry(entry, family) == canonical


def _canonical_network(version, value, length):
    """A network's canonical text (the host bits cleared), as ipset save prints a member."""
    net = ipaddress.ip_network((value, length), strict=False) if version == 4 else \
        ipaddress.IPv6Network((value, length), strict=False)
    return str(net.network_address) if length == net.max_prefixlen else str(net)


# members as a ruleset may give them: canonical ones, and the near misses a one-by-one check refuses
# or rewrites (host bits, /32, /0, a leading zero, upper case, a trailing slash, a flag, the other
# family, not a string)
MEMBER = st.one_of(
    st.builds(_canonical_network, st.just(4), st.integers(0, 2 ** 32 - 1), st.integers(0, 32)),
    st.builds(_canonical_network, st.just(6), st.integers(0, 2 ** 128 - 1), st.integers(0, 128)),
    st.builds(lambda v, n: '%s/%d' % (ipaddress.IPv4Address(v), n), st.integers(0, 2 ** 32 - 1), st.integers(0, 33)),
    st.builds(lambda v, n: '%s/%d' % (ipaddress.IPv6Address(v), n), st.integers(0, 2 ** 128 - 1),
              st.integers(0, 129)),
    st.sampled_from(['010.0.0.0/8', '10.0.0.0/08', '10.1', '10.0.0.0/', '2001:DB8::/32', '2001:db8:0::/48',
                     '10.0.0.0/8 nomatch', '10.0.0.0/8/8', ' 10.0.0.0/8', '::ffff:10.0.0.0/104', '::10.0.0.1',
                     '10.0.0.0\x00/8', '', '/8', '\u0661.0.0.0/8', 'fe80::/10', '0.0.0.0', '::']),
    st.sampled_from([None, 10, 1.5, b'10.0.0.0/8']),
)


@settings(max_examples=600, deadline=None)
@given(st.lists(MEMBER, max_size=6), st.sampled_from(['inet', 'inet6']))
def test_the_one_pass_check_accepts_exactly_what_the_member_check_keeps(entries, family):
    """_all_canonical says yes exactly when every member goes through _members unchanged by the
    one-by-one check (_canonical_entry): it refuses all the check refuses or rewrites."""
    one_by_one = all(isinstance(e, str) and ' ' not in e and nf._canonical_entry(e, family) == e for e in entries)
    assert nf._all_canonical(entries, family) == nf._all_canonical(entries, family, chunk=2) == one_by_one


@pytest.mark.parametrize('entries', [
    ['203.0.113.0/24', '10.0.0.1/8'], ['203.0.113.0/24', '010.0.0.0/8'], ['10.1', '203.0.113.0/24'],
    ['203.0.113.0/24', '198.51.100.7/32'], ['203.0.113.0/24', '2001:db8::/32'], ['203.0.113.0/24', None],
    ['203.0.113.0/24', '203.0.113.9 nomatch'],
])
def test_a_set_with_one_member_out_of_canonical_form_is_checked_member_by_member(entries):
    """The member-by-member check names the bad member, or writes it as ipset save would."""
    assert not nf._all_canonical(entries, 'inet')
    try:
        expected = [nf.normalize_entry(e, 'inet', 'hash:net', 'ruleset.ipsets[0].entries[%d]' % i)
                    for i, e in enumerate(entries)]
    except ValueError as exc:
        with pytest.raises(ValueError) as excinfo:
            nf.validate_ruleset({'ipsets': [blocklist(entries)]})
        assert str(excinfo.value) == str(exc)
    else:
        assert nf.validate_ruleset({'ipsets': [blocklist(entries)]}).ipsets['pbxfw-blocklist4'].entries == \
            tuple(dict.fromkeys(expected))


def test_parse_ipset_save_keeps_the_hashsize_and_is_linear():
    count = 50000
    lines = ['create pbxfw-blocklist4 hash:net family inet hashsize 16384 maxelem 65536 bucketsize 12 initval 0x1']
    lines += ['add pbxfw-blocklist4 %s/24' % ipaddress.IPv4Address(0x0a000000 + 256 * i) for i in reversed(range(count))]
    sets = nf.parse_ipset_save('\n'.join(lines) + '\n')
    ipset = sets['pbxfw-blocklist4']
    assert (ipset.hashsize, ipset.maxelem, len(ipset.entries)) == (16384, 65536, count)
    assert ipset.entries[:2] == ('10.195.79.0/24', '10.195.78.0/24')  # as ipset printed them
    assert ipset.listed()[:2] == ('10.0.0.0/24', '10.0.1.0/24')        # sorted by address
    assert ipset == nf.IpSet('pbxfw-blocklist4', entries=reversed(ipset.entries))
    assert ipset.create_line() == 'create pbxfw-blocklist4 hash:net family inet hashsize 16384 maxelem 65536'
    assert ipset.create_line(hashsize=False) == 'create pbxfw-blocklist4 hash:net family inet maxelem 65536'


def test_entry_sort_key_orders_by_family_address_and_length():
    entries = ['2001:db8::/32', '10.0.0.0/8', '9.255.0.0/16', '10.0.0.0/16', 'x y', '10.0.0.5 nomatch', '::1']
    assert sorted(entries, key=nf.entry_sort_key) == [
        '9.255.0.0/16', '10.0.0.0/8', '10.0.0.0/16', '10.0.0.5 nomatch', '::1', '2001:db8::/32', 'x y']


@pytest.mark.parametrize('entries, members', [
    ('203.0.113.0/24\n198.51.100.7\n', ('203.0.113.0/24', '198.51.100.7')),
    ('203.0.113.0/24', ('203.0.113.0/24',)),
    ('', ()),
    ([], ()),
])
def test_members_as_one_string_a_member_per_line(entries, members):
    desired = nf.validate_ruleset({'ipsets': [blocklist(entries)]})
    assert desired.ipsets['pbxfw-blocklist4'].entries == members


def test_a_bad_line_of_the_string_form_is_named_by_its_index():
    with pytest.raises(ValueError) as excinfo:
        nf.validate_ruleset({'ipsets': [blocklist('203.0.113.0/24\n\n198.51.100.7')]})
    assert str(excinfo.value) == "ruleset.ipsets[0].entries[1]: must be an address or CIDR string, got ''"


def _live(entries, family='inet', name='pbxfw-blocklist4'):
    text = 'create %s hash:net family %s hashsize 1024 maxelem 65536\n' % (name, family)
    return nf.parse_ipset_save(text + ''.join('add %s %s\n' % (name, e) for e in entries))


def test_members_the_host_holds_are_trusted_and_the_others_checked():
    desired = nf.validate_ruleset({'ipsets': [blocklist('203.0.113.0/24\n198.51.100.7/32\n')]}, members=False)
    assert desired.ipsets['pbxfw-blocklist4'].unchecked is not None
    nf.check_members(desired, _live(['203.0.113.0/24']))
    assert desired.ipsets['pbxfw-blocklist4'].entries == ('203.0.113.0/24', '198.51.100.7')
    assert desired.ipsets['pbxfw-blocklist4'].unchecked is None


@pytest.mark.parametrize('live', [
    _live(['203.0.113.0/24']),                                       # held elsewhere in the set
    _live(['203.0.113.300'], family='inet6'),                        # another family: not trusted
    _live(['203.0.113.300'], name='pbxfw-other'),                    # another set: not trusted
    {},                                                              # no ipset on the host
])
def test_a_bad_member_the_host_does_not_hold_is_refused(live):
    desired = nf.validate_ruleset({'ipsets': [blocklist(['203.0.113.0/24', '203.0.113.300'])]}, members=False)
    with pytest.raises(ValueError) as excinfo:
        nf.check_members(desired, live)
    assert str(excinfo.value).startswith("ruleset.ipsets[0].entries[1]: ")


def test_maxelem_is_checked_with_the_trusted_members():
    desired = nf.validate_ruleset({'ipsets': [blocklist(['203.0.113.0/24', '198.51.100.7'], maxelem=1)]},
                                  members=False)
    with pytest.raises(ValueError) as excinfo:
        nf.check_members(desired, _live(['203.0.113.0/24', '198.51.100.7']))
    assert str(excinfo.value) == 'ruleset.ipsets[0].maxelem: is smaller than the 2 entries, got 1'


@pytest.mark.parametrize('item, message', [
    (blocklist([], hashsize=1000), "ruleset.ipsets[0].hashsize: must be a power of two, at least 64, got 1000"),
    (blocklist([], hashsize=True), 'ruleset.ipsets[0].hashsize: must be a power of two, at least 64, got True'),
    (blocklist([], source='a\nb'), "ruleset.ipsets[0].source: must be one line of text, got 'a\\nb'"),
    (blocklist([], source=5), 'ruleset.ipsets[0].source: must be one line of text, got 5'),
])
def test_ipset_options_refused(item, message):
    with pytest.raises(ValueError) as excinfo:
        nf.validate_ruleset({'ipsets': [item]})
    assert str(excinfo.value) == message


def test_hashsize_and_source_are_not_compared():
    live_set = blocklist(['203.0.113.0/24'], hashsize=1024, source='blocklist: feed')
    desired = nf.validate_ruleset({'ipv4': [RULE], 'ipsets': [live_set]})
    live = nf.parse_ipset_save('create pbxfw-blocklist4 hash:net family inet hashsize 4096 maxelem 65536\n'
                               'add pbxfw-blocklist4 203.0.113.0/24\n')
    plan = nf.compute_plan({'ipv4': table(['-A INPUT -j PBX-FIREWALL', RULE])}, live, desired)
    assert not plan.changed
    # a change is created with the desired hashsize (a temporary set swapped in)
    changed = nf.validate_ruleset({'ipv4': [RULE], 'ipsets': [blocklist(['198.51.100.0/24'], hashsize=2048)]})
    plan = nf.compute_plan({'ipv4': table(['-A INPUT -j PBX-FIREWALL', RULE])}, live, changed)
    assert plan.ipset_create[0] == 'create %s hash:net family inet hashsize 2048 maxelem 65536' % nf.swap_name(
        'pbxfw-blocklist4')
    assert plan.ipset_swap == ['swap %s pbxfw-blocklist4' % nf.swap_name('pbxfw-blocklist4'),
                               'destroy %s' % nf.swap_name('pbxfw-blocklist4')]
    assert not plan.families['ipv4'].changed


# ------------------------------------------------------------------ --diff

def _members(count, start=0x0a000000):
    return ['%s/24' % ipaddress.IPv4Address(start + 256 * i) for i in range(count)]


def test_diff_lists_the_first_members_added_and_removed_with_counts():
    before_sets = nf.parse_ipset_save('create pbxfw-blocklist4 hash:net family inet maxelem 65536\n'
                                      + ''.join('add pbxfw-blocklist4 %s\n' % e for e in _members(50000)))
    after = nf.validate_ruleset({'ipsets': [blocklist(_members(49998)[2:] + _members(70, 0x0b000000),
                                                      source='blocklist: feed.txt (50066 entries)')]})
    before = nf.render_owned({}, before_sets, (), other_sets=after.ipsets, side='removed')
    after_text = nf.render_owned({}, after.ipsets, (), other_sets=before_sets, side='added')
    assert before.split('\n') == [
        '# ipsets',
        'create pbxfw-blocklist4 hash:net family inet maxelem 65536  # 50000 members, 4 removed',
        'add pbxfw-blocklist4 10.0.0.0/24', 'add pbxfw-blocklist4 10.0.1.0/24',
        'add pbxfw-blocklist4 10.195.78.0/24', 'add pbxfw-blocklist4 10.195.79.0/24', '']
    assert after_text.split('\n') == [
        '# ipsets',
        'create pbxfw-blocklist4 hash:net family inet maxelem 65536  # 50066 members, 70 added',
    ] + ['add pbxfw-blocklist4 11.0.%d.0/24' % i for i in range(10)] + [
        '# ... and 60 more added', '# from blocklist: feed.txt (50066 entries)', '']


def test_diff_lists_every_member_a_small_set_adds():
    """The sets of ordinary networks (a few dozen subnets) are shown in full, as before sets grew large."""
    before_sets = nf.parse_ipset_save('create pbxfw-blocklist4 hash:net family inet maxelem 65536\n'
                                      + ''.join('add pbxfw-blocklist4 %s\n' % e for e in _members(20)))
    after = nf.validate_ruleset({'ipsets': [blocklist(_members(20) + _members(nf.DIFF_ALL_MEMBERS, 0x0b000000))]})
    after_text = nf.render_owned({}, after.ipsets, (), other_sets=before_sets, side='added')
    added = [line for line in after_text.split('\n') if line.startswith('add ')]
    assert added == ['add pbxfw-blocklist4 %s' % e for e in _members(nf.DIFF_ALL_MEMBERS, 0x0b000000)]
    assert '# ...' not in after_text


def test_diff_of_an_unchanged_set_is_one_identical_line_on_both_sides():
    sets = nf.parse_ipset_save('create pbxfw-blocklist4 hash:net family inet hashsize 8192 maxelem 65536\n'
                               + ''.join('add pbxfw-blocklist4 %s\n' % e for e in _members(3000)))
    desired = nf.validate_ruleset({'ipsets': [blocklist(_members(3000), hashsize=1024, source='x')]})
    before = nf.render_owned({}, sets, (), other_sets=desired.ipsets, side='removed')
    after = nf.render_owned({}, desired.ipsets, (), other_sets=sets, side='added')
    assert before == after == '# ipsets\ncreate pbxfw-blocklist4 hash:net family inet maxelem 65536  # 3000 members\n'


# ------------------------------------------------------------------ sets_only

LIVE_SAVE = ('create pbxfw-blocklist4 hash:net family inet maxelem 65536\nadd pbxfw-blocklist4 203.0.113.0/24\n'
             'create pbxfw-ssh-a4-1 hash:net family inet maxelem 65536\nadd pbxfw-ssh-a4-1 10.0.0.0/8\n')


def test_sets_only_changes_members_of_sets_the_host_has_and_nothing_else():
    live = {'ipv4': table([JUMP, RULE, '-A PBX-FIREWALL -s 10.9.0.0/16 -j ACCEPT'])}
    sets = nf.parse_ipset_save(LIVE_SAVE)
    desired = nf.validate_ruleset({
        'ipv4': [RULE, '-A PBX-FIREWALL -s 10.8.0.0/16 -j ACCEPT'],       # the rules differ: not applied
        'ipsets': [blocklist(['198.51.100.0/24'], hashsize=1024),
                   {'name': 'pbxfw-cc4-12345678', 'family': 'inet', 'entries': ['5.0.0.0/16']}]})
    effective, warnings = nf.sets_only(live, sets, desired)
    assert warnings == [
        'only the members of sets the host has were refreshed; not on the host: pbxfw-cc4-12345678 (a full run '
        'creates them)',
        'the owned ipv4 rules on the host differ from the ruleset; only set members were refreshed (a full run '
        'applies the rules)']
    plan = nf.compute_plan(live, sets, effective)
    assert not plan.families['ipv4'].changed
    assert plan.ipset_swap == ['swap %s pbxfw-blocklist4' % nf.swap_name('pbxfw-blocklist4'),
                               'destroy %s' % nf.swap_name('pbxfw-blocklist4')]
    assert plan.ipset_destroy == []                              # pbxfw-ssh-a4-1 stays
    assert list(plan.after_sets) == ['pbxfw-blocklist4', 'pbxfw-ssh-a4-1']
    assert plan.after_sets['pbxfw-blocklist4'].entries == ('198.51.100.0/24',)


def test_sets_only_with_nothing_new_changes_nothing():
    live = {'ipv4': table([JUMP, RULE])}
    sets = nf.parse_ipset_save(LIVE_SAVE)
    desired = nf.validate_ruleset({'ipv4': [RULE], 'ipsets': [blocklist(['203.0.113.0/24'])]})
    effective, warnings = nf.sets_only(live, sets, desired)
    assert warnings == []
    assert not nf.compute_plan(live, sets, effective).changed
