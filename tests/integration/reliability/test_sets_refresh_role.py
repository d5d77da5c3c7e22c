# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``--tags pbx_firewall_sets``: the refresh of the blocklist and country sets from a schedule.

After a full role run, the country database and the blocklist feed change. The tagged run
re-reads both and starts exactly one module on the host (counted as in
test_role_noop_rerun.py: a wrapper interpreter logs each start): the firewall module, which
swaps the members of the changed sets and leaves every rule, the fail2ban and Asterisk files
and the other sets as they are; the boot files get the new members. The same run again
changes nothing. An inventory whose rules changed meanwhile is not applied by the refresh
(a warning says so): a schedule never rolls out rule changes past the canary.
"""

from __future__ import annotations

from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

NETWORKS = [
    {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip', 'web']},
    {'name': 'Elsewhere', 'countries': ['DE'], 'block': ['web']},
]
TAG = 'pbx_firewall_sets'


def write(path, lines):
    path.write_text(''.join(line + '\n' for line in lines))
    return str(path)


def test_the_sets_tag_refreshes_members_only_in_one_module_run(netns, playbook, role_paths, tmp_path):
    database = write(tmp_path / 'countries.csv', ['198.18.0.0/24,DE', 'fd18::/48,DE'])
    feed = write(tmp_path / 'feed.netset', ['# feed', '203.0.113.0/24'])
    log = tmp_path / 'starts.log'
    wrapper = tmp_path / 'python-counted'
    wrapper.write_text('#!/bin/sh\necho "$$" >>%s\nexec %s "$@"\n' % (log, sup.PYTHON))
    wrapper.chmod(0o755)
    play = [{'hosts': 'all', 'gather_facts': False, 'module_defaults': role_paths.module_defaults(),
             'roles': [sup.ROLE]}]

    def host(networks=None, counted=False):
        extra = {'ansible_python_interpreter': str(wrapper)} if counted else {}
        return {'pbx': sup.local_host(pbx_firewall_networks=networks or NETWORKS, pbx_firewall_geoip_db=database,
                                      pbx_firewall_blocklist_files=[feed], pbx_firewall_geoip_max_age_days=0,
                                      **dict(role_paths.role_vars(), **extra))}

    def starts():
        count = len(log.read_text().split()) if log.exists() else 0
        log.write_text('')
        return count

    first = playbook.run(play, host(), netns=netns.name)
    assert first.rc == 0, first.output
    # what the sets hold is printed for the host (by the files task: no task of its own)
    assert 'pbx: country database: %s (' % database in first.output, first.output
    before = sup.snapshot(netns.name)
    files = role_paths.artefacts()
    members = sup.ipsets(before['ipset'])
    assert sorted(m[3] for m in members.values()) == sorted([['198.18.0.0/24'], ['203.0.113.0/24'], [], ['fd18::/48']])

    write(tmp_path / 'countries.csv', ['198.18.0.0/24,DE', '198.18.9.0/24,DE', 'fd18::/48,DE'])
    write(tmp_path / 'feed.netset', ['# feed', '203.0.113.0/24', '192.0.2.0/24'])
    refresh = playbook.run(play, host(counted=True), netns=netns.name, tags=TAG)
    assert refresh.rc == 0, refresh.output
    assert starts() == 1, refresh.output
    assert refresh.one('pbx', 'Apply the owned iptables and ip6tables chains')['result']['changed'] is True
    after = sup.snapshot(netns.name)
    for family in ('nft-ipv4', 'nft-ipv6', 'legacy-ipv4', 'legacy-ipv6'):
        assert sup.strip_save(after[family]) == sup.strip_save(before[family]), family
    refreshed = sup.ipsets(after['ipset'])
    assert set(refreshed) == set(members)
    assert sorted(m[3] for m in refreshed.values()) == sorted([
        ['192.0.2.0/24', '203.0.113.0/24'], ['198.18.0.0/24', '198.18.9.0/24'], [], ['fd18::/48']])
    changed_files = [path for path, digest in role_paths.artefacts().items() if files.get(path) != digest]
    assert changed_files == [str(role_paths.persist_dir / 'ipsets')], changed_files
    assert '198.18.9.0/24' in (role_paths.persist_dir / 'ipsets').read_text()

    again = playbook.run(play, host(counted=True), netns=netns.name, tags=TAG)
    assert again.rc == 0 and 'changed=0' in again.output, again.output
    assert starts() == 1

    # rules changed in the inventory: the refresh leaves them to a full run, and says so
    other = NETWORKS + [{'name': 'Office', 'subnet': '10.50.0.0/24', 'services': ['ssh']}]
    skipped = playbook.run(play, host(networks=other, counted=True), netns=netns.name, tags=TAG)
    assert skipped.rc == 0, skipped.output
    assert starts() == 1
    assert 'only set members were refreshed (a full run applies the rules)' in skipped.output
    assert sup.strip_save(sup.snapshot(netns.name)['nft-ipv4']) == sup.strip_save(before['nft-ipv4'])
