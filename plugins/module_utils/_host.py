# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Access to the managed host's netfilter tools for pbxops.firewall (private to this collection).

``Host`` finds the iptables, ip6tables and ipset binaries of the backend to manage
(detecting it when asked), reads the live filter tables and ipsets through
``iptables-save`` and ``ipset save``, and runs commands for the executor. It talks to the
host only through the module's ``get_bin_path``, ``run_command`` and ``fail_json``, so
tests drive it with a fake module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.pbxops.firewall.plugins.module_utils import _netfilter as nf


class Host:
    """Binaries, backend and live state of the managed host."""

    def __init__(self, module, backend):
        self.module = module
        iptables = module.get_bin_path('iptables', required=True)
        _rc, out, err = module.run_command([iptables, '--version'])
        default = 'nft' if 'nf_tables' in (out + err) else 'legacy'
        # the backend of plain ``iptables`` (what other tools on the host, firewalld, use)
        self.default_backend = default
        self.saves = {}
        self.tools = {}
        self.warnings = []
        if backend == 'auto':
            backend = self._detect(default)
        self.backend = backend
        for family, prefix in (('ipv4', 'iptables'), ('ipv6', 'ip6tables')):
            save = self._bin(prefix, '-save', backend, default)
            restore = self._bin(prefix, '-restore', backend, default)
            cmd = self._bin(prefix, '', backend, default)
            if save and restore and cmd:
                self.saves[family] = save
                self.tools[family] = restore
                self.tools[family + '_cmd'] = cmd
            elif family == 'ipv4':
                module.fail_json(msg='%s-%s-restore/-save (or %s-restore/-save reporting the %s backend) not '
                                     'found on the host; install iptables or choose another backend'
                                     % (prefix, backend, prefix, backend))
        self.tools['ipset'] = module.get_bin_path('ipset')
        # optional: ending the flows of addresses that lost access (``_conntrack``)
        self.tools['ip'] = module.get_bin_path('ip')
        self.tools['ss'] = module.get_bin_path('ss')

    def _bin(self, prefix, suffix, backend, default):
        path = self.module.get_bin_path('%s-%s%s' % (prefix, backend, suffix))
        if path is None and backend == default:
            path = self.module.get_bin_path(prefix + suffix)
        return path

    def _detect(self, default):
        """The default backend, unless only the other one holds rules."""
        other = 'legacy' if default == 'nft' else 'nft'
        other_save = self.module.get_bin_path('iptables-%s-save' % other)
        own_save = self._bin('iptables', '-save', default, default)
        if not other_save or not own_save:
            return default

        def has_rules(save):
            # no "-t filter": reading must not instantiate a table; lines end at '\n' only
            rc, out, _err = self.module.run_command([save])
            return rc == 0 and any(line.startswith('-A ') for line in out.split('\n'))

        if not has_rules(own_save) and has_rules(other_save):
            return other
        return default

    def read_family(self, family, required):
        """The live filter Table of one family with its rule counters, or None (with a warning)
        when not required."""
        rc, out, err = self.module.run_command([self.saves[family], '-c'])
        if rc != 0:
            if required:
                self.module.fail_json(msg='%s failed (rc=%d): %s' % (self.saves[family], rc, err.strip()))
            self.warnings.append('%s failed (rc=%d: %s); %s is left alone'
                                 % (self.saves[family], rc, err.strip(), family))
            return None
        try:
            return nf.filter_table(out)
        except ValueError as exc:
            self.module.fail_json(msg='cannot parse %s output: %s' % (self.saves[family], exc))

    def read_tables(self, want_v6):
        """{family: Table} of every family the host has tools for (IPv6 required with IPv6 rules)."""
        tables = {}
        for family in nf.FAMILIES:
            if family in self.saves:
                table = self.read_family(family, required=(family == 'ipv4' or want_v6))
                if table is not None:
                    tables[family] = table
        return tables

    def read_sets(self, required):
        """Every live ipset ({name: IpSet}); {} without ipset (fails when ``required``)."""
        if not self.tools['ipset']:
            if required:
                self.module.fail_json(msg='the ruleset has ipsets but the ipset binary was not found on the host; '
                                          'install ipset')
            return {}
        # into a file: run_command gathers output by appending bytes, which takes seconds for the
        # 15 MB a few countries' sets print (measured: 4.9 s, 0.5 s through the file)
        path = os.path.join(self.module.tmpdir, 'ipset.save')
        rc, _out, err = self.module.run_command([self.tools['ipset'], 'save', '-file', path])
        if rc == 0:
            with open(path) as handle:
                out = handle.read()
            os.unlink(path)
        if rc != 0:
            if required:
                self.module.fail_json(msg='ipset save failed (rc=%d): %s' % (rc, err.strip()))
            self.warnings.append('ipset save failed (rc=%d: %s); ipsets are left alone' % (rc, err.strip()))
            return {}
        try:
            return nf.parse_ipset_save(out)
        except ValueError as exc:
            self.module.fail_json(msg='cannot parse ipset save output: %s' % exc)

    def run(self, argv, data=None):
        """(rc, stdout, stderr) of ``argv`` with ``data`` as standard input; the executor's ``run``."""
        return self.module.run_command(argv, data=data, binary_data=True)
