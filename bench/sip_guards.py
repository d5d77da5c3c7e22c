# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SIP guards under real attack tools: no firewall vs MikoPBX-style rules vs this collection.

    .venv/bin/python bench/sip_guards.py        # ~3 min; needs root, sipp, sipsak, sipvicious

Runs in the namespace lab of tests/integration/sip/sip_lab.py (its own private addresses),
under /tmp/pbxfw-kernel.lock when run by `make bench`. MikoPBX-style rules are the same
guards as MikoPBX writes them: after the established/related accept, the scanner name
matched anywhere in the packet, and the rate limit on every packet of a new flow.
Also measures host CPU (all cores, /proc/stat) per 10,000 SIP requests, guards vs no rules.
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests', 'integration', 'sip'))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), '.build'))

import sip_lab  # noqa: E402

RATE = sip_lab.POLICY['sip_rate_limit']
FLOOD = (200, 5)      # requests per second, seconds


def mikopbx_style():
    """MikoPBX's order and matches (ported to this lab's inventory)."""
    chain = '-A PBX-FIREWALL '
    rules = [chain + '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', chain + '-i lo -j ACCEPT']
    for agent in sip_lab.SCANNERS:
        for proto in ('udp', 'tcp'):
            rules.append(chain + '-p %s -m %s --dport 5060 -m string --string "%s" --algo bm -j DROP'
                         % (proto, proto, agent))
    for proto in ('udp', 'tcp'):
        rules.append(chain + '-p %s -m %s --dport 5060 -m hashlimit --hashlimit-above %d/sec '
                     '--hashlimit-burst %d --hashlimit-mode srcip --hashlimit-name miko -j DROP'
                     % (proto, proto, RATE, 2 * RATE))
    rules.append(chain + '-s 10.215.0.30/32 -j ACCEPT')
    rules.append(chain + '-p udp -m udp --dport 5060 -j ACCEPT')
    rules.append(chain + '-p tcp -m tcp --dport 5060 -j ACCEPT')
    rules.append(chain + '-j DROP')
    return {'ipv4': rules, 'ipv6': [], 'ipsets': []}


def collection():
    from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
    return _policy.firewall_ruleset(sip_lab.NETWORKS, **sip_lab.POLICY)


def _cpu_ticks():
    with open('/proc/stat') as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4], os.sysconf('SC_CLK_TCK')   # busy = all - idle - iowait


def attacks(lab):
    row = {}
    row['benign'] = len(sip_lab.benign_options(lab, 5098))
    atk = lab.exec_argv('atk')
    out = sip_lab.run(atk + [sip_lab.SVMAP, sip_lab.PBX4, '-p5060', '-P', '5098', '-t', '0.5'],
                      timeout=60, check=False).stdout
    row['svmap'] = 'found' if '%s:5060' % sip_lab.PBX4 in out else 'not found'
    out = sip_lab.run(atk + [sip_lab.SVWAR, '-e100-119', '-P', '5098', '-t', '0.3', sip_lab.PBX4],
                      timeout=90, check=False).stdout
    row['svwar'] = sum('| %d ' % n in out for n in range(100, 120))
    lab.sipp('atk', sip_lab.send() + sip_lab.RECV_200 + ''.join(
        sip_lab.send(agent='friendly-scanner', pause_ms=100) for _request in range(3)),
        rate=1, count=1, transport='t1', seconds=8)
    lab.sipp('atk', sip_lab.send(agent='Friendly-Scanner'), rate=10, count=3, seconds=8)
    lab.sipp('phone', sip_lab.send(user='sipcliente'), rate=10, count=3, seconds=8)
    lab.settle()
    row['tcp_scanner'] = len(lab.received(proto='tcp', ua='friendly-scanner'))
    row['other_case'] = len(lab.received(ua='Friendly-Scanner'))
    row['sipcliente'] = len(lab.received(src='10.215.0.40', method='OPTIONS'))
    for transport, key in (('u1', 'flood_socket'), ('un', 'flood_per_call')):
        before = len(lab.received(src='10.215.0.10', method='OPTIONS'))
        lab.sipp('atk', sip_lab.send(), rate=FLOOD[0], count=FLOOD[0] * FLOOD[1], transport=transport,
                 seconds=FLOOD[1] + 10)
        lab.settle()
        row[key] = len(lab.received(src='10.215.0.10', method='OPTIONS')) - before
    for where, source in (('trunk', '10.215.0.30'), ('office', '10.215.0.20')):
        lab.sipp(where, sip_lab.send(), rate=50, count=150, seconds=15)
        lab.settle()
        row[where] = len(lab.received(src=source, method='OPTIONS'))
    return row


def cpu_per_10k(lab):
    """Busy CPU while the phone sends 10,000 requests at 1000/s (under a 1000/s limit)."""
    ticks0, hz = _cpu_ticks()
    t0 = time.time()
    lab.sipp('trunk', sip_lab.send(), rate=1000, count=10000, seconds=40)
    ticks1, _hz = _cpu_ticks()
    lab.settle()
    return {'cpu_seconds': (ticks1 - ticks0) / float(hz), 'wall': time.time() - t0,
            'delivered': len(lab.received(src='10.215.0.30', method='OPTIONS'))}


def run():
    results = {}
    for name, ruleset in (('none', None), ('mikopbx', mikopbx_style), ('collection', collection)):
        lab = sip_lab.Lab()
        try:
            lab.up()
            lab.start_pbx()
            if ruleset:
                lab.apply(ruleset())
            results[name] = attacks(lab)
        finally:
            lab.down()
    for name in ('none', 'collection'):
        lab = sip_lab.Lab()
        try:
            lab.up()
            lab.start_pbx()
            if name == 'collection':
                from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
                # the trunk exemption is off here so that every request runs the guards
                lab.apply(_policy.firewall_ruleset(sip_lab.NETWORKS, sip_rate_limit=1000,
                                                   sip_scanner_agents=sip_lab.SCANNERS))
            results['cpu_' + name] = cpu_per_10k(lab)
        finally:
            lab.down()
    return results


def run_locked(lock='/tmp/pbxfw-kernel.lock'):
    """run() holding the kernel lock the integration tests share."""
    import fcntl
    with open(lock, 'a') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        return run()


ROWS = (('svmap after a benign OPTIONS from the same port', 'svmap'),
        ('svwar (20 extensions, 10 exist) after a benign OPTIONS from the same port', 'svwar'),
        ('scanner UA over TCP 5060 (3 requests on one established connection)', 'tcp_scanner'),
        ('UA `Friendly-Scanner` (other case), 3 requests', 'other_case'),
        ('phone whose From user is `sipcliente`, 3 requests', 'sipcliente'),
        ('flood from one UDP socket, %d/s for %d s, limit %d/s' % (FLOOD + (RATE,)), 'flood_socket'),
        ('flood with a new socket per call, %d/s for %d s' % FLOOD, 'flood_per_call'),
        ('trunk at 50/s for 3 s (150)', 'trunk'),
        ('never_block office at 50/s for 3 s (150)', 'office'))


def render(results):
    lines = ['| attack (delivered to the PBX) | no firewall | MikoPBX-style rules | this collection |',
             '| --- | ---: | ---: | ---: |']
    for label, key in ROWS:
        lines.append('| %s | %s | %s | %s |' % (label, results['none'][key], results['mikopbx'][key],
                                                results['collection'][key]))
    none, coll = results['cpu_none'], results['cpu_collection']
    lines += ['', 'Host CPU (busy time of the whole machine, all cores, sender and stand-in included) '
              'while 10,000 SIP requests go to the PBX at 1000/s from one source under a 1000/s limit, '
              'so that every request runs the guards: no rules %.2f s, the collection\'s guards %.2f s '
              '(%d and %d delivered). Other work on the machine counts too: only a difference well '
              'above the run-to-run noise would mean the guards cost something.'
              % (none['cpu_seconds'], coll['cpu_seconds'], none['delivered'], coll['delivered'])]
    return '\n'.join(lines)


if __name__ == '__main__':
    measured = run()
    print(json.dumps(measured, indent=1))
    print(render(measured))
