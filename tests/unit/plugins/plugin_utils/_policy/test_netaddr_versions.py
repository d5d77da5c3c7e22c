# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The address cases against the oldest netaddr the collection accepts and the newest.

requirements.txt declares ``netaddr>=0.8.0`` (Debian 12's python3-netaddr, which reads
``010.0.0.0/8`` as 8.0.0.0/8 and ``10.1`` as 10.0.0.1 on its own). The same table of
addresses goes through the core in a Python process whose netaddr is 0.8.0 and in
this one (the virtualenv's, the newest from PyPI): the results must be identical and
equal to the table. netaddr 0.7.19, older than supported, gives one "install netaddr
>= 0.8.0" line. The old versions are installed with pip into .build/netaddr/<version>
(PyPI, once; the directory is reused).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import model, outputs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))))
BUILD = os.path.join(ROOT, '.build')
OLDEST = '0.8.0'
TOO_OLD = '0.7.19'

# (address or CIDR, what fail2ban_ignoreip's extra turns it into, or the start of the error)
CASES = [
    ('10.0.0.0/8', '10.0.0.0/8'),
    (' 192.168.10.0/24 ', '192.168.10.0/24'),
    ('203.0.113.5', '203.0.113.5/32'),
    ('2001:DB8::/32', '2001:db8::/32'),
    ('2001:0db8:0000::1', '2001:db8::1/128'),
    ('64:ff9b::192.0.2.1', '64:ff9b::c000:201/128'),
    ('010.0.0.0/8', "ERROR '010.0.0.0/8' is not a valid IPv4 or IPv6 address or CIDR: leading zeros"),
    ('192.168.010.0/24', "ERROR '192.168.010.0/24' is not a valid IPv4 or IPv6 address or CIDR: "
                         "leading zeros"),
    ('10.1', "ERROR '10.1' is not a valid IPv4 or IPv6 address or CIDR: an IPv4 address is four"),
    ('10', "ERROR '10' is not a valid IPv4 or IPv6 address or CIDR: an IPv4 address is four"),
    ('10.0.0.0 garbage/8', "ERROR '10.0.0.0 garbage/8' is not a valid IPv4 or IPv6 address or "
                           "CIDR: it contains ' '"),
    ('0x0a000000', "ERROR '0x0a000000' is not a valid IPv4 or IPv6 address or CIDR: it contains 'x'"),
    ('١٠.0.0.0/8', "ERROR '١٠.0.0.0/8' is not a valid IPv4 or IPv6 address or CIDR: numbers are "
                   "written with the ASCII digits 0-9 only"),
    ('10.0.0.0/²', "ERROR '10.0.0.0/²' is not a valid IPv4 or IPv6 address or CIDR: numbers are "
                   "written with the ASCII digits 0-9 only"),
    ('127.1', "ERROR '127.1' is not a valid IPv4 or IPv6 address or CIDR: an IPv4 address is four"),
    ('::ffff:10.0.0.1', "ERROR '::ffff:10.0.0.1' is an IPv4-mapped IPv6 subnet"),
]

# Run in the other interpreter: the cases through the core, as JSON.
PROBE = r'''
import json, sys
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import model, outputs
cases = json.loads(sys.stdin.read())
result = {'version': model.netaddr.__version__, 'file': model.netaddr.__file__, 'cases': []}
try:
    model.require_netaddr()
except model.MissingDependency as exc:
    result['missing'] = str(exc)
for text in cases:
    try:
        result['cases'].append(','.join(c for c in outputs.fail2ban_ignoreip([], extra=[text])
                                        if c not in ('127.0.0.0/8', '::1/128')))
    except Exception as exc:
        result['cases'].append('ERROR ' + str(exc).split(': ', 1)[1])
print(json.dumps(result))
'''


def _run_cases():
    results = []
    for text, _expected in CASES:
        try:
            results.append(','.join(c for c in outputs.fail2ban_ignoreip([], extra=[text])
                                    if c not in ('127.0.0.0/8', '::1/128')))
        except ValueError as exc:
            results.append('ERROR ' + str(exc).split(': ', 1)[1])
    return results


def _check(results):
    assert len(results) == len(CASES)
    for (text, expected), got in zip(CASES, results):
        if expected.startswith('ERROR'):
            assert got.startswith(expected), (text, got)
        else:
            assert got == expected, (text, got)


def _netaddr_dir(version):
    """netaddr==version installed with pip into .build/netaddr/<version> (once)."""
    target = os.path.join(BUILD, 'netaddr', version)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # pytest-xdist workers install it once
        if not os.path.isdir(os.path.join(target, 'netaddr')):
            subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
                            '--disable-pip-version-check', '--target', target,
                            'netaddr==%s' % version], check=True, timeout=300)
    return target


def _probe(version):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([_netaddr_dir(version), BUILD]))
    done = subprocess.run([sys.executable, '-c', PROBE], input=json.dumps([c[0] for c in CASES]),
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_newest_netaddr():
    assert model.netaddr_version() >= model.NETADDR_MIN
    _check(_run_cases())


def test_the_oldest_accepted_netaddr_gives_the_same_results():
    probe = _probe(OLDEST)
    assert probe['version'] == OLDEST and os.path.join('netaddr', OLDEST) in probe['file']
    assert 'missing' not in probe
    assert probe['cases'] == _run_cases()
    _check(probe['cases'])


def test_an_older_netaddr_is_one_install_line():
    probe = _probe(TOO_OLD)
    assert probe['version'] == TOO_OLD
    assert probe['missing'] == ('netaddr 0.7.19 is too old: install netaddr >= 0.8.0 on the '
                                'controller (pip install "netaddr>=0.8.0")')
    assert set(probe['cases']) == {'ERROR ' + probe['missing'].split(': ', 1)[1]}


@pytest.mark.parametrize('text, expected', [
    ('0.8.0', (0, 8, 0)), ('1.3.0', (1, 3, 0)), ('0.7.19', (0, 7, 19)), ('1.0.0.post1', (1, 0, 0)),
    ('2', (2, 0, 0)), ('1.2rc1', (1, 2, 0)),
])
def test_netaddr_version_parsing(text, expected):
    class Fake(object):
        __version__ = text
    assert model.netaddr_version(Fake) == expected
