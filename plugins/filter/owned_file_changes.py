# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: owned_file_changes
short_description: Which owned files must be written or removed, from one find result
version_added: 0.1.0
author: pbxops.firewall contributors
description:
  - Compares the files an C(ansible.builtin.find) run saw on a host (with C(get_checksum=true))
    with the files a role wants there, and returns the files to write and the files to remove.
  - A present file is written when it is missing or its SHA-1 checksum, mode, owner or group
    differ from the wanted ones; a file that already matches is left out, so nothing runs on
    the host for it. An absent file is removed when the find result shows it.
  - The role P(pbxops.firewall.pbx_firewall#role) uses it for its fail2ban and Asterisk files.
seealso:
  - plugin: pbxops.firewall.pbx_firewall_policy
    plugin_type: filter
    description: The policy whose files the role compares.
options:
  _input:
    description: The C(files) list of an C(ansible.builtin.find) result (C(path), C(checksum), C(mode), C(pw_name), C(gr_name)).
    type: list
    elements: dict
    required: true
  wanted:
    description:
      - The owned files, each a mapping with C(path) (absolute), C(part) (the part of the role the
        file belongs to, for grouping the removals), C(present) (boolean) and C(content) (the text
        of the file; required when C(present) is true).
    type: list
    elements: dict
    required: true
  owner:
    description: The owner every owned file has.
    type: str
    default: root
  group:
    description: The group every owned file has.
    type: str
    default: root
  mode:
    description: The mode every owned file has, in octal.
    type: str
    default: '0644'
"""

EXAMPLES = r"""
- name: Look for the owned files
  ansible.builtin.find:
    paths: [/etc/fail2ban/jail.d]
    patterns: [pbx-firewall.local]
    get_checksum: true
  register: probe

- name: Decide what to write
  ansible.builtin.set_fact:
    changes: >-
      {{ probe.files | pbxops.firewall.owned_file_changes([{'path': '/etc/fail2ban/jail.d/pbx-firewall.local',
           'part': 'fail2ban', 'present': true, 'content': lookup('ansible.builtin.template', 'jail.j2')}]) }}
  # -> {'write': {'/etc/fail2ban/jail.d/pbx-firewall.local': '...'}, 'remove': {'fail2ban': []},
  #     'found': []}     (on a host without the file)
"""

RETURN = r"""
_value:
  description: What to do.
  type: dict
  contains:
    write:
      description: Path to the content to write, for every present file that is missing or differs.
      type: dict
    remove:
      description: Part to the sorted paths to remove; every part of O(wanted) has a key.
      type: dict
    found:
      description: The wanted paths that exist on the host, sorted.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.pbxops.firewall.plugins.plugin_utils._filter_support import to_plain
from ansible_collections.pbxops.firewall.plugins.plugin_utils._owned_files import owned_file_changes as _changes


def owned_file_changes(found, wanted, owner='root', group='root', mode='0644'):
    try:
        return _changes(to_plain(found), to_plain(wanted), owner=to_plain(owner), group=to_plain(group),
                        mode=to_plain(mode))
    except ValueError as exc:
        raise AnsibleFilterError('pbxops.firewall.owned_file_changes: %s' % exc) from exc


class FilterModule(object):
    def filters(self):
        return {'owned_file_changes': owned_file_changes}
