# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_ctnetlink.py against the real kernel: entries made by ``conntrack -I`` in a
fresh network namespace, read and deleted over ctnetlink, checked with ``conntrack -L``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from ansible_collections.pbxops.firewall.plugins.module_utils import _ctnetlink as ctn

ENTRIES = [
    # a UDP flow nobody answered yet
    '-p udp -s 10.9.1.1 -d 10.9.0.1 --sport 4000 --dport 5060',
    # an answered TCP connection
    '-p tcp --state ESTABLISHED -u SEEN_REPLY,ASSURED -s 10.9.1.2 -d 10.9.0.1 --sport 40000 --dport 5038',
    # ICMP: not a flow the module ends
    '-p icmp -s 10.9.1.2 -d 10.9.0.1 --icmp-type 8 --icmp-code 0 --icmp-id 7',
    # answered by another address than it was sent to: DNATed, forwarded
    '-p tcp --state ESTABLISHED -s 10.9.1.3 -d 10.9.0.1 --sport 5000 --dport 8080 -r 172.17.0.2 -q 10.9.1.3 '
    '--reply-port-src 80 --reply-port-dst 5000',
    # a flow in conntrack zone 7
    '-p udp -s 10.9.1.4 -d 10.9.0.1 --sport 4000 --dport 5060 -w 7',
    '-p udp -s fd00::9 -d fd00::1 --sport 4001 --dport 5060',
]
UDP = ctn.Flow('ipv4', 'udp', '10.9.1.1', '10.9.0.1', 4000, 5060)
TCP = ctn.Flow('ipv4', 'tcp', '10.9.1.2', '10.9.0.1', 40000, 5038)
ZONED = ctn.Flow('ipv4', 'udp', '10.9.1.4', '10.9.0.1', 4000, 5060, 7)
UDP6 = ctn.Flow('ipv6', 'udp', 'fd00::9', 'fd00::1', 4001, 5060)


def _in_netns(netns, code):
    """Run ``code`` (with ``ctn`` imported) in the namespace; returns what it printed as a list of lines."""
    script = ('import sys\nsys.path[:0] = %r\n'
              'from ansible_collections.pbxops.firewall.plugins.module_utils import _ctnetlink as ctn\n%s'
              % (sys.path, code))
    proc = subprocess.run(netns.argv(sys.executable, '-c', script), capture_output=True, text=True, check=False,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.fixture
def table(netns, needs):
    needs(shutil.which('conntrack'), 'conntrack is not installed')
    for entry in ENTRIES:
        netns.sh('conntrack -I %s -t 120 2>/dev/null' % entry)
    return netns


def test_dump_reads_the_tcp_and_udp_flows_to_this_host(table):
    lines = _in_netns(table, '''
import json
with ctn.Table() as table:
    for family in ('ipv4', 'ipv6'):
        dump = table.dump(family)
        print(json.dumps([sorted(dump.flows), sorted(dump.answered), dump.complete]))
''')
    assert [json.loads(line) for line in lines] == [
        [sorted([list(UDP), list(TCP), list(ZONED)]), [list(TCP)], True], [[list(UDP6)], [], True]]


def test_delete_removes_exactly_the_given_flows_and_a_missing_one_is_no_error(table):
    lines = _in_netns(table, '''
flows = [ctn.Flow(*f) for f in %r] + [ctn.Flow('ipv4', 'udp', '10.9.1.99', '10.9.0.1', 1, 2)]
with ctn.Table() as table:
    print(table.delete(flows))
    print(table.delete(flows[:1], stop=lambda: True))
''' % ([tuple(UDP), tuple(ZONED), tuple(UDP6)],))
    assert lines == ['(4, {})', '(0, {})']
    left = table.sh('conntrack -L -o extended 2>/dev/null; conntrack -L -f ipv6 -o extended 2>/dev/null')
    assert 'sport=40000' in left and 'type=8' in left and 'dport=8080' in left
    assert 'sport=4000 ' not in left and 'sport=4001' not in left, left


def test_many_flows_in_one_socket(table):
    """10,000 entries: read and deleted in batches (the acknowledgements keep up)."""
    lines = ['-I -p udp -s 10.10.%d.%d -d 10.9.0.1 --sport %d --dport 5060 -t 120' % (n // 250, n % 250 + 1, 1024 + n)
             for n in range(10000)]
    proc = subprocess.run(table.argv('conntrack', '-R', '-'), input='\n'.join(lines) + '\n', capture_output=True,
                          text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = _in_netns(table, '''
with ctn.Table() as table:
    dump = table.dump('ipv4')
    many = [f for f in dump.flows if f.source.startswith('10.10.')]
    print(len(many))
    print(table.delete(many)[0])
    print(len(table.dump('ipv4').flows))
''')
    assert out == ['10000', '10000', '3']
