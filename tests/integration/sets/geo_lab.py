# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Clients in countries, in network namespaces (test harness of the countries and blocklists suite).

Addresses are taken at test time from Debian's tor-geoipdb (``/usr/share/tor/geoip`` and
``geoip6``), read here with a parser of this file's own (not the collection's), and are
configured only inside namespaces the suite creates: one namespace is the PBX (10.216.0.1,
fd16::1, the lab image's listener on the built-in service ports), every client is a
namespace of its own linked to the PBX by its own veth pair, with host routes in both
directions and no route anywhere else. Nothing is configured in the root namespace.
"""

import base64
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
LISTENER = os.path.join(REPO, 'lab', 'image', 'lab-listener')
PROBE = os.path.join(REPO, 'playbooks', 'files', 'pbx_firewall_probe.py')
TOR_GEOIPDB = ('/usr/share/tor/geoip', '/usr/share/tor/geoip6')
PBX4, PBX6 = '10.216.0.1', 'fd16::1'


def run(argv, data=None, timeout=60, check=True):
    proc = subprocess.run(argv, input=data, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError('%s failed (rc=%d): %s %s' % (argv, proc.returncode, proc.stdout, proc.stderr))
    return proc


def read_ranges(path, version):
    """[(first, last, CC)] of a tor-geoipdb file, in file order."""
    ranges = []
    with open(path) as handle:
        for line in handle:
            if line.startswith('#') or not line.strip():
                continue
            first, last, country = line.strip().split(',')
            if version == 4:
                ranges.append((int(first), int(last), country))
            else:
                ranges.append((int(ipaddress.IPv6Address(first)), int(ipaddress.IPv6Address(last)), country))
    return ranges


class Database(object):
    """Blocks of real countries, picked from tor-geoipdb: ``block(CC, version, n)`` is the n-th
    aligned /24 (IPv4) or /64 (IPv6) inside that country's ranges, as an ip_network; ``country_cidrs``
    gives the reference evaluator the CIDRs of the ranges the picked blocks lie in."""

    def __init__(self):
        self.ranges = {4: read_ranges(TOR_GEOIPDB[0], 4), 6: read_ranges(TOR_GEOIPDB[1], 6)}
        self.picked = []

    def block(self, country, version, index=0):
        width, size = (32, 8) if version == 4 else (128, 64)
        found = 0
        for first, last, code in self.ranges[version]:
            if code != country:
                continue
            start = (first + (1 << size) - 1) >> size << size
            while start + (1 << size) - 1 <= last:
                if found == index:
                    net = ipaddress.ip_network((start, width - size))
                    self.picked.append((first, last, code, version))
                    return net
                found += 1
                start += 1 << size
        raise AssertionError('tor-geoipdb has no %d blocks of /%d in %s' % (index + 1, width - size, country))

    def country_cidrs(self):
        """{CC: [CIDR]}: the database ranges the picked blocks lie in (enough for the reference)."""
        result = {}
        for first, last, code, version in self.picked:
            cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
            result.setdefault(code, []).extend(
                str(net) for net in ipaddress.summarize_address_range(cls(first), cls(last)))
        return result


def host(block, offset=10):
    return str(block.network_address + offset)


class GeoLab(object):
    """The PBX namespace and one namespace per client (``clients``: name -> [addresses])."""

    def __init__(self, clients):
        self.tag = secrets.token_hex(3)
        self.clients = clients
        self.ns = dict((name, 'pbxgeo-%s-%s' % (name, self.tag)) for name in ['pbx'] + sorted(clients))
        self.tmp = tempfile.mkdtemp(prefix='pbxfw-geo-')
        self.listener = None

    def argv(self, name, *argv):
        return ['ip', 'netns', 'exec', self.ns[name]] + list(argv)

    def up(self):
        for name in self.ns.values():
            run(['ip', 'netns', 'add', name])
        pbx = self.argv('pbx')
        run(pbx + ['ip', 'link', 'set', 'lo', 'up'])
        for index, name in enumerate(sorted(self.clients)):
            outer, inner = 'pgo%d%s' % (index, self.tag), 'pgi%d%s' % (index, self.tag)
            # created inside the PBX namespace: the pair never exists in the root namespace
            run(pbx + ['ip', 'link', 'add', outer, 'type', 'veth', 'peer', 'name', inner])
            run(pbx + ['ip', 'link', 'set', inner, 'netns', self.ns[name]])
            run(pbx + ['ip', 'addr', 'add', PBX4 + '/32', 'dev', outer])
            run(pbx + ['ip', 'addr', 'add', PBX6 + '/128', 'dev', outer, 'nodad'])
            run(pbx + ['ip', 'link', 'set', outer, 'up'])
            client = self.argv(name)
            run(client + ['ip', 'link', 'set', 'lo', 'up'])
            for address in self.clients[name]:
                six = ':' in address
                run(client + ['ip', 'addr', 'add', address + ('/128' if six else '/32'), 'dev', inner]
                    + (['nodad'] if six else []))
                run(pbx + ['ip', 'route', 'add', address, 'dev', outer])
            run(client + ['ip', 'link', 'set', inner, 'up'])
            run(client + ['ip', 'route', 'add', PBX4, 'dev', inner])
            if any(':' in address for address in self.clients[name]):
                # a client without an IPv6 address has no IPv6 route (its link-local address
                # would otherwise be its source, and the PBX could not tell its links apart)
                run(client + ['ip', '-6', 'route', 'add', PBX6, 'dev', inner])
        log = open(os.path.join(self.tmp, 'listener.log'), 'w')
        # every port of the built-in services (verify probes them all), and ssh
        env = dict(os.environ, LAB_TCP_PORTS='22,80,443,4222,5038,5060,5061,8088,8089,8222',
                   LAB_UDP_PORTS='4569,5060,10000,10100,10200')
        self.listener = subprocess.Popen(self.argv('pbx', sys.executable, LISTENER), stdout=log, stderr=log, env=env)
        log.close()
        return self

    def down(self):
        if self.listener is not None:
            self.listener.terminate()
            self.listener.wait(10)
        for name in self.ns.values():
            subprocess.run(['ip', 'netns', 'delete', name], check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def probe(self, name, probes, timeout=1.5):
        """Run the verify playbook's probe program in a client namespace; probes are
        (address, proto, port); returns their observed results (open, closed, ...) in order."""
        spec = {'timeout': timeout, 'parallel': 32, 'deadline': 60,
                'probes': [['pbx', address, 'x', proto, port, {'tcp': 'tcp', 'udp': 'sip'}[proto]]
                           for address, proto, port in probes]}
        arg = base64.b64encode(zlib.compress(json.dumps(spec).encode('utf-8'))).decode('ascii')
        out = run(self.argv(name, sys.executable, PROBE, arg), timeout=90).stdout
        return [r['observed'] for r in json.loads(out)['results']]
