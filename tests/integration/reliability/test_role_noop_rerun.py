# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A rerun of the whole role with nothing to change runs one module on the host,
in every configuration: the defaults, chan_sip asked for, named PJSIP transports,
Docker-host mode, logged drops with the metrics refresher, and a country network with a blocklist
file (their sets are compared member by member on the host, inside the same firewall module run).

The namespace host gets the role once (firewall, fail2ban jail.d file, PJSIP include file
and the include line in pjsip.conf, and what the configuration adds), then the same
inventory again with ``ansible_python_interpreter`` pointing to a wrapper that logs one line
per start of the interpreter before it execs Python. With a local connection and pipelining
every module execution is one start, including the modules an action plugin runs internally
(e.g. a stat inside ``copy``). The rerun must report changed=0, leave every byte as it was and
start the interpreter once: the firewall module, which also reads whether the owned files
already hold what the files task would leave (the files task then runs no module).
"""

from __future__ import annotations

import pytest

from ansible_collections.pbxops.firewall.tests.integration.reliability import _support as sup

NETWORKS = [
    {'name': 'Office LAN', 'subnet': '192.168.10.0/24', 'services': ['sip', 'web', 'ssh'],
     'local_network': True, 'never_block': True},
    {'name': 'Branch VPN', 'subnet': ['10.8.0.0/24', 'fd00:8::/64'], 'services': ['sip'], 'local_network': True},
    {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']},
]
MAX_MODULE_RUNS = 1
CONFIGURATIONS = {
    'defaults': {},
    # no Asterisk answers in the namespace: every run asks, warns and writes nothing for chan_sip
    'chan_sip': {'pbx_firewall_asterisk_chan_sip': True},
    'named_transports': {'pbx_firewall_asterisk_pjsip_transports': ['transport-udp']},
    'docker_host': {'pbx_firewall_docker': True, 'pbx_firewall_fail2ban_docker_jails': ['asterisk']},
    # logged drops (their log chains, fail2ban's jail and filter) and the metrics refresher (script, cron file)
    'observe': {'pbx_firewall_log_drops': True, 'pbx_firewall_metrics_interval': 5,
                'pbx_firewall_metrics_dir': '/var/lib/node-exporter-test'},
    # the database and the feed are written by the test (CSV "CIDR,CC", a FireHOL-style netset)
    'countries_blocklist': {'pbx_firewall_geoip_max_age_days': 0},
}
COUNTRY_NETWORK = {'name': 'Elsewhere', 'countries': ['DE', 'FR'], 'block': ['web']}


@pytest.mark.parametrize('configuration', sorted(CONFIGURATIONS))
def test_noop_rerun_changes_nothing_and_runs_one_module(configuration, netns, playbook, role_paths,
                                                        tmp_path):
    extra = dict(CONFIGURATIONS[configuration], pbx_firewall_networks=NETWORKS, **role_paths.role_vars())
    if configuration == 'countries_blocklist':
        (tmp_path / 'countries.csv').write_text('198.18.0.0/24,DE\n198.18.1.0/24,FR\nfd18::/48,DE\n')
        (tmp_path / 'feed.netset').write_text('# feed\n203.0.113.0/24\n2001:db8:bad::/48\n')
        extra.update(pbx_firewall_networks=NETWORKS + [COUNTRY_NETWORK],
                     pbx_firewall_geoip_db=str(tmp_path / 'countries.csv'),
                     pbx_firewall_blocklist_files=[str(tmp_path / 'feed.netset')])
    if configuration == 'docker_host':
        # the hook chain dockerd makes; the role jumps from it to its own chain
        netns.sh('iptables-nft -w -N DOCKER-USER && ip6tables-nft -w -N DOCKER-USER')
    play = [{'hosts': 'all', 'gather_facts': False, 'module_defaults': role_paths.module_defaults(),
             'roles': [sup.ROLE]}]
    first = playbook.run(play, {'pbx': sup.local_host(**extra)}, netns=netns.name)
    assert first.rc == 0, first.output
    assert role_paths.jail_file.exists() and (role_paths.asterisk_dir / 'pjsip_pbx_firewall.conf').exists()
    pjsip = (role_paths.asterisk_dir / 'pjsip.conf').read_text()
    assert pjsip.startswith('#include pjsip_pbx_firewall.conf\n')
    if configuration == 'named_transports':
        assert ('[transport-udp]\n; BEGIN pbxops.firewall local_net for transport-udp\nlocal_net=10.8.0.0/24\n'
                'local_net=192.168.10.0/24\nlocal_net=fd00:8::/64\n'
                '; END pbxops.firewall local_net for transport-udp\n') in pjsip
    if configuration == 'docker_host':
        assert '-A DOCKER-USER -j PBX-FW-DOCKER' in netns.save('nft')
        assert '[asterisk]\nchain = DOCKER-USER\n' in role_paths.jail_file.read_text()
    if configuration == 'observe':
        assert '-A PBX-FW-LOG-DEFAULT -m limit --limit 10/min' in netns.save('nft')
        assert '[pbx-firewall-drops]\nenabled = true\n' in role_paths.jail_file.read_text()
        assert (role_paths.fail2ban_dir / 'filter.d' / 'pbx-firewall-drops.conf').read_text().startswith(
            '# Managed by Ansible (pbxops.firewall).')
        assert role_paths.metrics_script.stat().st_mode & 0o777 == 0o755
        assert role_paths.metrics_script.read_text().startswith('#!/usr/bin/python3\n')
        assert ('*/5 * * * * root %s --backend auto --metrics-dir /var/lib/node-exporter-test'
                % role_paths.metrics_script) in role_paths.metrics_cron.read_text()
    if configuration == 'countries_blocklist':
        saved = netns.save('nft')
        assert '--match-set pbxfw-blocklist4 src' in saved and '--match-set pbxfw-cc4-' in saved, saved

    log = tmp_path / 'starts.log'
    wrapper = tmp_path / 'python-counted'
    wrapper.write_text('#!/bin/sh\necho "$$" >>%s\nexec %s "$@"\n' % (log, sup.PYTHON))
    wrapper.chmod(0o755)
    before = dict(sup.digest_of(sup.snapshot(netns.name)), **role_paths.artefacts())

    rerun = playbook.run(play, {'pbx': sup.local_host(ansible_python_interpreter=str(wrapper), **extra)},
                         netns=netns.name)
    assert rerun.rc == 0, rerun.output
    assert 'changed=0' in rerun.output, rerun.output
    assert dict(sup.digest_of(sup.snapshot(netns.name)), **role_paths.artefacts()) == before
    starts = log.read_text().split() if log.exists() else []
    ran = [r['task'] for r in rerun.of('pbx') if r['status'] != 'skipped']
    print('no-op rerun (%s): %d module runs on the host; tasks not skipped: %s' % (configuration, len(starts), ran))
    assert 1 <= len(starts) <= MAX_MODULE_RUNS, (len(starts), ran)
    files = rerun.one('pbx', 'Keep the fail2ban and Asterisk files')
    assert files['result']['ansible_facts']['pbx_firewall_changed'] == []
    assert [r['task'] for r in rerun.of('pbx', handler=True)] == []
    if configuration == 'chan_sip':
        assert files['result']['parts']['asterisk']['running'] is False
        assert any('nothing is written for chan_sip' in w for w in files['warnings']), files['warnings']
        assert not (role_paths.asterisk_dir / 'sip_pbx_firewall.conf').exists()


def test_a_hand_edit_after_a_noop_rerun_is_seen_and_put_back(netns, playbook, role_paths):
    """The firewall task's reading of the files is not blind: a file's mode, or a named transport's
    block, changed by hand since is "not current", so the files task runs its module: check mode
    reports the change with a diff, the real run puts both back and reloads Asterisk's part only."""
    extra = dict(CONFIGURATIONS['named_transports'], pbx_firewall_networks=NETWORKS, **role_paths.role_vars())
    play = [{'hosts': 'all', 'gather_facts': False, 'module_defaults': role_paths.module_defaults(),
             'roles': [sup.ROLE]}]
    hosts = {'pbx': sup.local_host(**extra)}
    assert playbook.run(play, hosts, netns=netns.name).rc == 0
    assert 'changed=0' in playbook.run(play, hosts, netns=netns.name).output
    pjsip = role_paths.asterisk_dir / 'pjsip.conf'
    wanted_pjsip = pjsip.read_text()
    pjsip.write_text(wanted_pjsip.replace('local_net=10.8.0.0/24\n', ''))
    role_paths.jail_file.chmod(0o600)

    check = playbook.run(play, hosts, netns=netns.name, check=True, diff=True)
    assert check.rc == 0 and 'changed=1' in check.output, check.output
    files = check.one('pbx', 'Keep the fail2ban and Asterisk files')
    assert files['result']['changed_parts'] == ['fail2ban', 'asterisk'], files['result']
    diffs = dict((d['before_header'], d) for d in files['result']['diff'])
    assert diffs['%s (mode 0600 (want 0644))' % role_paths.jail_file]['after'] == role_paths.jail_file.read_text()
    assert diffs[str(pjsip)]['after'] == wanted_pjsip and 'local_net=10.8.0.0/24' not in diffs[str(pjsip)]['before']
    assert role_paths.jail_file.stat().st_mode & 0o777 == 0o600

    fixed = playbook.run(play, hosts, netns=netns.name)
    assert fixed.rc == 0, fixed.output
    assert pjsip.read_text() == wanted_pjsip and role_paths.jail_file.stat().st_mode & 0o777 == 0o644
    files = fixed.one('pbx', 'Keep the fail2ban and Asterisk files')
    assert files['result']['ansible_facts']['pbx_firewall_changed'] == ['fail2ban', 'asterisk']
