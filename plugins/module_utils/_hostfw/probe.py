# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reading the host's other firewall managers (private to pbxops.firewall).

The only file of ``_hostfw`` that touches the host, and only to read: files, and commands
that print state (``firewall-cmd --state``, ``--list-all-zones``, ``nft -j list ruleset``,
``iptables -S``...). It runs in check mode too. ``Facts`` holds the raw texts; the pure
files of this package parse and judge them. Commands run through ``run(argv)`` (the
module's ``run_command``) and binaries are found with ``which(name)`` (``get_bin_path``),
so the unit tests can drive it without a host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.pbxops.firewall.plugins.module_utils import _persist
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import firewalld as fwd
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import firewalld_plan
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import nftables as nft
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw.settings import parse_settings
from ansible_collections.pbxops.firewall.plugins.module_utils._hostfw import ufw as ufwm

# systemd "enabled" is a symlink in a .wants directory (made by deb-systemd-helper even
# without a running systemd); a unit masked in /etc is not enabled
UNIT_DIRS = ('/etc/systemd/system',)
WANTS = ('multi-user.target.wants', 'sysinit.target.wants', 'basic.target.wants', 'network-pre.target.wants')
PERSISTENT_FILES = ('/etc/iptables/rules.v4', '/etc/iptables/rules.v6')


def read_text(path):
    """A file's text, or None when it does not exist or cannot be read."""
    try:
        with open(path, 'rb') as handle:
            return handle.read().decode('utf-8', 'replace')
    except (IOError, OSError):
        return None


def unit_enabled(name, unit_dirs=UNIT_DIRS):
    for directory in unit_dirs:
        unit = os.path.join(directory, name)
        if os.path.islink(unit) and os.readlink(unit) == '/dev/null':
            return False
        if any(os.path.lexists(os.path.join(directory, wants, name)) for wants in WANTS):
            return True
    return False


class Facts(object):
    """What the host runs besides the collection: raw texts and flags, read once."""

    def __init__(self):
        self.firewalld = None        # dict, see read_firewalld; None when not installed
        self.ufw = None              # dict, see read_ufw
        self.nft = None              # nftables.Ruleset; None without the nft tool
        self.nft_error = None
        self.nftables_service = None  # dict: enabled, conf text
        self.persistent = None       # dict: enabled, files {path: text}


class Probe(object):
    """Reads the facts through ``run(argv) -> (rc, out, err)`` and ``which(name) -> path``."""

    def __init__(self, run, which, read=read_text, enabled=unit_enabled, exists=os.path.exists,
                 stat=_persist.read_file):
        self.run = run
        self.which = which
        self.read = read
        self.enabled = enabled
        self.exists = exists
        self.stat = stat

    def gather(self):
        facts = Facts()
        facts.firewalld = self.read_firewalld()
        facts.ufw = self.read_ufw()
        nft_bin = self.which('nft')
        if nft_bin:
            rc, out, err = self.run([nft_bin, '-j', 'list', 'ruleset'])
            if rc == 0:
                try:
                    facts.nft = nft.Ruleset(out)
                except ValueError as exc:
                    facts.nft_error = str(exc)
            else:
                facts.nft_error = 'nft -j list ruleset failed (rc=%d): %s' % (rc, err.strip())
        if nft_bin or self.exists(nft.CONF_PATH):
            facts.nftables_service = {'enabled': self.enabled('nftables.service'), 'conf': self.read(nft.CONF_PATH)}
        if self.which('netfilter-persistent') or any(self.exists(p) for p in PERSISTENT_FILES):
            facts.persistent = {'enabled': self.enabled('netfilter-persistent.service'),
                                'files': dict((p, self.read(p)) for p in PERSISTENT_FILES if self.exists(p))}
        return facts

    def read_firewalld(self):
        cmd = self.which('firewall-cmd')
        if not cmd:
            return None
        files = dict((p, self.stat(p)) for p in (fwd.POLICY_PATH, fwd.DIRECT_PATH, firewalld_plan.RUN_RECORD))
        found = {'cmd': cmd, 'enabled': self.enabled('firewalld.service'), 'running': False,
                 'conf': parse_settings(self.read(fwd.CONF_PATH)), 'files': files, 'record': None,
                 'version': (), 'zones': {}, 'policies': {}, 'services': {}}
        record = files[firewalld_plan.RUN_RECORD]['content']
        if record:
            try:
                found['record'] = json.loads(record)
            except ValueError:
                found['record'] = None
        rc, out, _err = self.run([cmd, '--state'])
        found['running'] = rc == 0 and out.strip() == 'running'
        # firewall-cmd --version asks the daemon; firewall-offline-cmd knows it without one
        offline = self.which('firewall-offline-cmd')
        version_cmd = cmd if found['running'] or not offline else offline
        found['version'] = fwd.parse_version(self.run([version_cmd, '--version'])[1])
        if not found['running']:
            return found
        found['zones'] = fwd.parse_listing(self.run([cmd, '--list-all-zones'])[1])
        # 1.3 marks a zone "(active)" only while it has interfaces or sources: every other packet
        # goes to the default zone, which it does not mark
        default = self.run([cmd, '--get-default-zone'])[1].strip()
        if default in found['zones']:
            found['zones'][default]['flags'].add('default')
        found['policies'] = fwd.parse_listing(self.run([cmd, '--list-all-policies'])[1])
        # the service definitions of the zones the traffic arrives in (for the warning about
        # what the policy drops that they let in)
        for zone in found['zones'].values():
            if not zone['flags'] & set(['active', 'default']):
                continue
            for service in fwd.words(zone, 'services'):
                if service not in found['services']:
                    found['services'][service] = self.read_service(service)
        return found

    def read_service(self, name):
        """(ports, protocols) of a firewalld service definition; ([], []) when unreadable."""
        for directory in reversed(fwd.SERVICE_DIRS):
            text = self.read(os.path.join(directory, name + '.xml'))
            if text:
                try:
                    return fwd.parse_service(text)
                except Exception:   # a broken definition: firewalld would not load it either
                    return [], []
        return [], []

    def read_ufw(self):
        cmd = self.which('ufw')
        if not cmd and not self.exists(ufwm.CONF_PATH):
            return None
        found = {'conf': parse_settings(self.read(ufwm.CONF_PATH)),
                 'defaults': parse_settings(self.read(ufwm.DEFAULTS_PATH)),
                 'rules': dict((f, self.read(p)) for f, p in ufwm.USER_RULES.items())}
        return found
