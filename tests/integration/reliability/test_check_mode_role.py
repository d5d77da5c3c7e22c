# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check mode of the whole role, across every artefact, against a host in a different state.

The host (a namespace, with the fail2ban configuration, the Asterisk configuration and
the boot files under a temporary directory) first gets the role with an OLD inventory
and carries foreign fail2ban rules and the administrator's Asterisk files. Then, with a
NEW inventory that changes the firewall, ignoreip and local_net:

1. ``--check --diff`` changes nothing (iptables-save of both backends and families,
   ipset save, every file: identical digests) and its diffs show the rule, ipset,
   ignoreip and local_net lines that would change;
2. a real run then changes exactly the tasks check mode said would change (per task,
   per loop item);
3. ``--check`` after the real run reports changed=0 and changes nothing.

chan_sip is asked for throughout, and no Asterisk runs in the namespace: every run, check
mode included, warns that nothing is written for chan_sip, and neither its include file
nor a line in the administrator's ``sip.conf`` ever appears.

Every file the role owns is kept by one task (``owned_files``); its result says per part
(fail2ban, asterisk) what changed, and its diffs are one per file.
"""

from __future__ import annotations

from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

OLD = [
    {'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['sip', 'web', 'ssh'],
     'local_network': True, 'never_block': True},
    {'name': 'Branch VPN', 'subnet': ['10.8.0.0/24', 'fd00:8::/64'], 'services': ['sip'], 'local_network': True},
    {'name': 'Sites', 'subnet': ['10.70.%d.0/24' % i for i in range(20)], 'services': ['web']},
    {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']},
]
NEW = [
    {'name': 'Office LAN', 'subnet': '192.168.20.0/24', 'services': ['sip', 'web', 'ssh', 'icmp'],
     'local_network': True, 'never_block': True},
    {'name': 'Branch VPN', 'subnet': ['10.9.0.0/24', 'fd00:9::/64'], 'services': ['sip'], 'block': ['web'],
     'local_network': True, 'never_block': True},
    {'name': 'Sites', 'subnet': ['10.70.%d.0/24' % i for i in range(21)], 'services': ['web']},
    {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']},
]
FOREIGN = ['-N f2b-sshd', '-A f2b-sshd -s 10.99.0.7/32 -j REJECT --reject-with icmp-port-unreachable',
           '-A f2b-sshd -j RETURN', '-I INPUT 1 -p tcp -m multiport --dports 22 -j f2b-sshd']


def _play(paths):
    return [{'hosts': 'all', 'gather_facts': False, 'module_defaults': paths.module_defaults(),
             'roles': [sup.ROLE]}]


def _host(paths, networks, **extra):
    return {'pbx': sup.local_host(pbx_firewall_networks=networks, pbx_firewall_asterisk_chan_sip=True,
                                  pbx_firewall_asterisk_pjsip_transports=['transport-udp'],
                                  **dict(paths.role_vars(), **extra))}


def _state(netns, paths):
    return dict(sup.digest_of(sup.snapshot(netns.name)), **paths.artefacts())


FILES_TASK = 'Keep the fail2ban and Asterisk files'
FIREWALL_TASK = 'Apply the owned iptables and ip6tables chains'


def _nothing_for_chan_sip(run, paths, sip_conf):
    """No Asterisk answers: the files task asked, warned, and wrote nothing for chan_sip."""
    files = run.one('pbx', FILES_TASK)
    asterisk = files['result']['parts']['asterisk']
    assert files['status'] == 'ok' and asterisk['running'] is False and asterisk['chan_sip'] is False, files
    warnings = ' '.join(files['warnings']).replace("\\'", "'")
    for fragment in ('Asterisk is not installed on this host', 'whether it has chan_sip',
                     'nothing is written for chan_sip', str(paths.asterisk_dir)):
        assert fragment in warnings, (fragment, files['warnings'])
    assert not any(path.endswith(('/sip_pbx_firewall.conf', '/sip.conf')) for path in asterisk['files'])
    assert not (paths.asterisk_dir / 'sip_pbx_firewall.conf').exists()
    assert (paths.asterisk_dir / 'sip.conf').read_text() == sip_conf


def _changes(run):
    """{task: changed} of the role's tasks, with loop items ({task: [changed per item]})."""
    found = {}
    for result in run.of('pbx'):
        outcome = result['result']
        assert result['status'] in ('ok', 'skipped'), (result['task'], outcome)
        if 'results' in outcome and isinstance(outcome['results'], list):
            found[result['task']] = [bool(item.get('changed')) for item in outcome['results']]
        else:
            found[result['task']] = bool(outcome.get('changed'))
    return found


def _changed_tasks(changes, handlers=False, run=None):
    names = {r['task'] for r in run.of('pbx', handler=handlers)} if run is not None else set(changes)
    return sorted(t for t, c in changes.items() if t in names and (any(c) if isinstance(c, list) else c))


def _diffs(run, task, path=None):
    """The before and after text of a task's diffs (of one file: the diff whose header ends
    with PATH)."""
    result = run.one('pbx', task)['result']
    diffs = result.get('diff') or []
    if isinstance(diffs, dict):
        diffs = [diffs]
    if path is not None:
        diffs = [d for d in diffs if str(d.get('before_header', '')).endswith(path)]
        assert len(diffs) == 1, (path, result.get('diff'))
    before = ''.join(str(d.get('before', '')) for d in diffs)
    after = ''.join(str(d.get('after', '')) for d in diffs)
    return before, after


def _parts(run):
    """{part: changed} as the files task reported it."""
    return {name: part['changed'] for name, part in run.one('pbx', FILES_TASK)['result']['parts'].items()}


def test_check_mode_predicts_the_real_run_and_changes_nothing(netns, playbook, role_paths):
    paths = role_paths
    for command in FOREIGN:
        netns.sh('iptables-nft -w %s' % command)
    admin_files = {name: (paths.asterisk_dir / name).read_text() for name in ('pjsip.conf', 'sip.conf')}
    foreign_only = sup.filter_chains(netns.save('nft'))

    # the existing, different state
    old = playbook.run(_play(paths), _host(paths, OLD), netns=netns.name)
    assert old.rc == 0, old.output
    _nothing_for_chan_sip(old, paths, admin_files['sip.conf'])
    assert 'PBX-FIREWALL' in netns.save('nft')
    existing = _state(netns, paths)
    jail_before = paths.jail_file.read_text()
    assert 'ignoreip = 127.0.0.0/8 192.168.10.0/24 ::1/128' in jail_before

    # 1. check + diff: nothing changes, the diffs show what would
    check = playbook.run(_play(paths), _host(paths, NEW), netns=netns.name, check=True, diff=True)
    assert check.rc == 0, check.output
    assert _state(netns, paths) == existing
    predicted = _changes(check)

    before, after = _diffs(check, FIREWALL_TASK)
    old_ssh, new_ssh = ('-A PBX-FIREWALL -s 192.168.%d.0/24 -p tcp -m multiport --dports 22,' % n for n in (10, 20))
    assert old_ssh in before and old_ssh not in after
    assert new_ssh in after and new_ssh not in before
    assert 'add pbxfw-web-a4-' in after and '10.70.20.0/24' in after and '10.70.20.0/24' not in before
    before, after = _diffs(check, FILES_TASK, '/jail.d/pbx-firewall.local')
    assert 'ignoreip = 127.0.0.0/8 192.168.10.0/24 ::1/128' in before
    assert 'ignoreip = 10.9.0.0/24 127.0.0.0/8 192.168.20.0/24 ::1/128 fd00:9::/64' in after
    before, after = _diffs(check, FILES_TASK, '/pjsip_pbx_firewall.conf')
    assert 'local_net=10.8.0.0/24' in before and 'local_net=10.9.0.0/24' in after
    assert 'local_net=10.8.0.0/24' not in after
    _nothing_for_chan_sip(check, paths, admin_files['sip.conf'])
    before, after = _diffs(check, FILES_TASK, '/pjsip.conf')
    assert 'local_net=fd00:8::/64' in before and 'local_net=fd00:9::/64' in after

    # 2. the real run changes exactly what check mode predicted
    real = playbook.run(_play(paths), _host(paths, NEW), netns=netns.name)
    assert real.rc == 0, real.output
    done = _changes(real)
    role_tasks = {r['task'] for r in real.of('pbx', handler=False)}
    assert ({t: c for t, c in predicted.items() if t in role_tasks}
            == {t: c for t, c in done.items() if t in role_tasks})
    assert _changed_tasks(done, run=real) == sorted([FIREWALL_TASK, FILES_TASK])
    assert _parts(check) == _parts(real) == {'fail2ban': True, 'asterisk': True, 'metrics': False}
    assert sorted(real.one('pbx', FILES_TASK)['result']['parts']['asterisk']['files']) == sorted(
        str(paths.asterisk_dir / name) for name in ('pjsip.conf', 'pjsip_pbx_firewall.conf'))
    _nothing_for_chan_sip(real, paths, admin_files['sip.conf'])
    # the same handlers were notified in both runs
    assert sorted(r['task'] for r in check.of('pbx', handler=True)) == sorted(r['task'] for r in real.of('pbx', handler=True))
    assert real.one('pbx', FILES_TASK)['result']['ansible_facts']['pbx_firewall_changed'] == \
        check.one('pbx', FILES_TASK)['result']['ansible_facts']['pbx_firewall_changed'] == \
        ['firewall', 'fail2ban', 'asterisk']
    applied = _state(netns, paths)
    assert applied != existing
    assert 'ignoreip = 10.9.0.0/24 127.0.0.0/8 192.168.20.0/24 ::1/128 fd00:9::/64' in paths.jail_file.read_text()
    assert sup.filter_chains(netns.save('nft'))['INPUT'][:2] == [
        '-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd', '-A INPUT -j PBX-FIREWALL']

    # 3. after the real run: check reports changed=0, changes nothing; a real run is a no-op too
    recheck = playbook.run(_play(paths), _host(paths, NEW), netns=netns.name, check=True, diff=True)
    assert recheck.rc == 0, recheck.output
    assert _changed_tasks(_changes(recheck)) == []
    assert 'changed=0' in recheck.output
    _nothing_for_chan_sip(recheck, paths, admin_files['sip.conf'])
    assert _state(netns, paths) == applied

    # 4. pbx_firewall_enabled: false takes back every owned chain, file and line, and nothing else
    removed = playbook.run(_play(paths), _host(paths, NEW, pbx_firewall_enabled=False), netns=netns.name)
    assert removed.rc == 0, removed.output
    assert sup.filter_chains(netns.save('nft')) == foreign_only
    assert sorted(p.name for p in paths.asterisk_dir.iterdir()) == sorted(admin_files)
    assert {name: (paths.asterisk_dir / name).read_text() for name in admin_files} == admin_files
    assert not paths.jail_file.exists()
    assert not paths.persist_dir.exists()
    # and no empty directory it made (multi-user.target.wants/, docker.service.d/)
    assert sorted(str(p.relative_to(paths.unit_dir)) for p in paths.unit_dir.rglob('*')) == []
