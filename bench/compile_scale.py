# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compile scale: time, peak memory and rules per family for 1k, 10k and 100k networks.

Each size runs in a fresh Python process so that its peak RSS is its own.
The networks use at most five distinct service sets, as a large company's
inventory would; every subnet also has an IPv6 twin.
"""

import json
import os
import resource
import subprocess
import sys
import time

SIZES = (1000, 10000, 100000)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVICE_SETS = (['sip'], ['sip', 'web'], ['ssh', 'web'], ['ami', 'ajam'], ['icmp', 'sip'])


def networks(count):
    return [{'name': 'site-%d' % i,
             'subnet': ['10.%d.%d.%d/28' % (i >> 12, (i >> 4) & 255, (i & 15) << 4),
                        'fd00:%x:%x::/64' % (i >> 16, i & 0xffff)],
             'services': SERVICE_SETS[i % len(SERVICE_SETS)]}
            for i in range(count)]


def child(count):
    # the collection as ansible_collections.pbxops.firewall (make link / hack/link-collection.sh)
    sys.path.insert(0, os.path.join(REPO, '.build'))
    from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
    nets = networks(count)
    start = time.perf_counter()
    ruleset = _policy.firewall_ruleset(nets)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({'networks': count, 'seconds': seconds, 'peak_mib': peak_kib / 1024.0,
                      'rules_ipv4': len(ruleset['ipv4']), 'rules_ipv6': len(ruleset['ipv6']),
                      'ipsets': len(ruleset['ipsets'])}))


def measure(sizes=SIZES):
    results = []
    for count in sizes:
        out = subprocess.run([sys.executable, __file__, '--child', str(count)], check=True,
                             capture_output=True, text=True, env=os.environ).stdout
        results.append(json.loads(out))
    return results


def table(results):
    lines = ['| networks | compile s | peak RSS MiB | rules IPv4 | rules IPv6 | ipsets |',
             '| ---: | ---: | ---: | ---: | ---: | ---: |']
    for r in results:
        lines.append('| %d | %.2f | %.0f | %d | %d | %d |' % (
            r['networks'], r['seconds'], r['peak_mib'], r['rules_ipv4'], r['rules_ipv6'], r['ipsets']))
    return '\n'.join(lines)


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--child':
        child(int(sys.argv[2]))
    else:
        print('Compile scale (targets: 10k <= 1 s, 100k <= 10 s, peak RSS <= 300 MiB, '
              '10k over 5 service sets <= 64 rules per family)')
        print(table(measure()))
