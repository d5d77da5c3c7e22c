# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The exact text of the files the role owns (byte for byte what the role's Jinja templates
of earlier releases printed, so an upgraded host sees no change)."""

from __future__ import annotations

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import drops, files

HEAD = ('# Managed by Ansible (pbxops.firewall). Do not edit: changes are overwritten.\n'
        '# Owned by pbxops.firewall (role pbx_firewall): loopback and every network with\n'
        '# never_block: true. fail2ban never bans these addresses.\n'
        '[DEFAULT]\n')


def test_fail2ban_jail():
    assert files.fail2ban_jail(['127.0.0.0/8', '::1/128']) == HEAD + 'ignoreip = 127.0.0.0/8 ::1/128\n'
    assert files.fail2ban_jail(['127.0.0.0/8'], ['asterisk', 'sshd']) == HEAD + (
        'ignoreip = 127.0.0.0/8\n'
        '\n'
        '# Docker-host mode: these jails ban in DOCKER-USER, so their bans reach the ports\n'
        '# published for containers. Their rules see the packet after Docker\'s DNAT: the\n'
        '# jail\'s port must be the container port (docs/docker-host.md).\n'
        '\n'
        '[asterisk]\n'
        'chain = DOCKER-USER\n'
        '\n'
        '[sshd]\n'
        'chain = DOCKER-USER\n')


def test_asterisk_include_files():
    assert files.pjsip_localnet(['10.0.0.0/8', 'fd00::/64']) == (
        '; Managed by Ansible (pbxops.firewall). Do not edit: changes are overwritten.\n'
        '; Owned by pbxops.firewall (role pbx_firewall): every network with local_network: true.\n'
        '; Transports inherit it:  [transport-udp](pbx-firewall-localnet)\n'
        '[pbx-firewall-localnet](!)\n'
        'local_net=10.0.0.0/8\n'
        'local_net=fd00::/64\n')
    assert files.pjsip_localnet([]).endswith('[pbx-firewall-localnet](!)\n')
    assert files.chan_sip_localnet(['10.0.0.0/8']) == (
        '; Managed by Ansible (pbxops.firewall). Do not edit: changes are overwritten.\n'
        '; Owned by pbxops.firewall (role pbx_firewall): every network with local_network: true.\n'
        '; Included from the [general] section of sip.conf.\n'
        'localnet=10.0.0.0/8\n')


def test_role_files_names_every_file_and_the_template_section():
    found = files.role_files(['127.0.0.0/8'], ['10.0.0.0/8'], ['asterisk'])
    assert sorted(found) == ['chan_sip', 'fail2ban_filter', 'fail2ban_jail', 'pjsip', 'pjsip_template']
    assert found['pjsip_template'] == 'pbx-firewall-localnet' and '[asterisk]\n' in found['fail2ban_jail']
    assert found['fail2ban_filter'] == '' and '[pbx-firewall-drops]' not in found['fail2ban_jail']


def test_logged_drops_add_their_jail_after_the_docker_jails_and_the_filter():
    found = files.role_files(['127.0.0.0/8'], [], ['asterisk'], drops.Logging((10, 60), None))
    assert found['fail2ban_jail'].endswith('[asterisk]\nchain = DOCKER-USER\n\n'
                                           '# pbx_firewall_log_drops: ban the sources of repeated scanner and '
                                           'flood drops, on every port\n[pbx-firewall-drops]\nenabled = true\n'
                                           'filter = pbx-firewall-drops\nbanaction = %(banaction_allports)s\n'
                                           'backend = systemd\n')
    assert found['fail2ban_filter'] == drops.fail2ban_filter()
