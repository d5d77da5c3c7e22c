# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Part 5: reload safety under a steady stream of NEW connections.

Two 60-rule inventories (``policies.reload_pair``) both allow service A (sip: TCP and UDP
5060) from the client network and block service B (web TCP 80, iax UDP 4569); they differ
only in an unrelated network, so every re-apply really changes the rules. While the client
container (``pbxbench-client``, on the host's client network) streams NEW TCP connections and
UDP datagrams to A and B (``traffic_client.py``), the host is re-applied 50 times, alternating:

- this collection: one ``ansible-playbook`` whose single ``pbxops.firewall.iptables_ruleset``
  task loops 50 times (the module itself through Ansible, rollback confirmation included,
  ``persist: false``), i.e. its ``iptables-restore --noflush`` path;
- MikoPBX style, the same rules, same host, same client load: a script on the host that flushes
  INPUT and adds the rules back one ``iptables -A INPUT`` command at a time, final DROP last.
  Its reloads are paced to start at the collection's average interval, so both sides see the
  same number of reloads over the same time.

Before both, a control run without reloads checks the steady state (0 and 0, and answers flow).
Counted, on each probe's first packet (a SYN or a datagram): allowed ones dropped and blocked ones
accepted (see traffic_client.py for how that is told apart from a slow machine).
"""

import json
import os
import subprocess
import time

import lab
import policies

APPLIES = 50
WARMUP = 2.0
TAIL = 2.0
STOP_FILE = '/tmp/bench-stop'

PLAY = '''---
- name: Bench - re-apply alternating rulesets while traffic flows
  hosts: bench
  gather_facts: false
  tasks:
    - name: Re-apply with pbxops.firewall.iptables_ruleset
      pbxops.firewall.iptables_ruleset:
        ruleset: "{{ bench_rulesets[item % 2] }}"
        rollback_timeout: 30
        persist: false
      loop: "{{ range(bench_first, bench_first + bench_applies) | list }}"
      register: bench_applied

    - name: Every re-apply changed the rules
      ansible.builtin.assert:
        that: bench_applied.results | selectattr('changed') | list | length == bench_applies
        quiet: true
'''

MIKOPBX_DRIVER = r'''
set -u
interval=$1; count=$2
start=$(date +%s.%N)
i=1
while [ "$i" -le "$count" ]; do
  now=$(date +%s.%N)
  wait=$(awk "BEGIN{d = $start + ($i - 1) * $interval - $now; print (d > 0 ? d : 0)}")
  sleep "$wait"
  t0=$(date +%s%N)
  sh /tmp/bench-mikopbx-$((i % 2)).sh || exit 1
  t1=$(date +%s%N)
  echo "reload $i $(( (t1 - t0) / 1000000 ))"
  i=$((i + 1))
done
'''


class Responder:
    """Services A and B on host1 (bench/responder.py), for the whole reload benchmark."""

    STOP = '/tmp/bench-responder-stop'

    def __init__(self):
        lab.dexec(lab.HOST1, 'rm -f %s' % self.STOP)
        with open(os.path.join(lab.BENCH, 'responder.py')) as handle:
            script = handle.read()
        ports = {'tcp': sorted({policies.ALLOWED['tcp'], policies.BLOCKED['tcp']}),
                 'udp': sorted({policies.ALLOWED['udp'], policies.BLOCKED['udp']})}
        self.proc = subprocess.Popen(['docker', 'exec', '-i', lab.HOST1, 'python3', '-', json.dumps(ports),
                                      '--stop-file', self.STOP], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.proc.stdin.write(script)
        self.proc.stdin.close()
        line = self.proc.stdout.readline().strip()
        if line != 'ready':
            raise RuntimeError('responder did not start: %r %s' % (line, self.proc.stderr.read()))

    def stop(self):
        lab.dexec(lab.HOST1, 'touch %s' % self.STOP)
        out = self.proc.stdout.read()
        self.proc.wait(timeout=30)
        return json.loads(out.strip().splitlines()[-1])

    def kill(self):
        if self.proc.poll() is None:
            lab.dexec(lab.HOST1, 'touch %s' % self.STOP, check=False)
            self.proc.kill()


class Stream:
    """The client's traffic stream (a docker exec running traffic_client.py)."""

    def __init__(self, udp_base, log_path):
        lab.dexec(lab.CLIENT, 'rm -f %s' % STOP_FILE)
        with open(os.path.join(lab.BENCH, 'traffic_client.py')) as handle:
            script = handle.read()
        services = json.dumps({'allowed': policies.ALLOWED, 'blocked': policies.BLOCKED})
        self.stderr = open(log_path, 'w')
        self.proc = subprocess.Popen(
            ['docker', 'exec', '-i', lab.CLIENT, 'python3', '-', lab.HOST1_IP['cli'], services,
             '--stop-file', STOP_FILE, '--udp-base', str(udp_base), '--max-seconds', '1200'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.proc.stdin.write(script)
        self.proc.stdin.close()
        time.sleep(WARMUP)

    def stop(self):
        time.sleep(TAIL)
        lab.dexec(lab.CLIENT, 'touch %s' % STOP_FILE)
        out = self.proc.stdout.read()
        self.proc.wait(timeout=30)
        self.stderr.close()
        if self.proc.returncode != 0:
            with open(self.stderr.name) as handle:
                err = handle.read()[-2000:]
            raise RuntimeError('traffic client failed (rc=%d): %s %s' % (self.proc.returncode, out, err))
        return json.loads(out)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()


def _summary(stream, seconds, extra=None):
    stats = stream['stats']
    out = {
        'seconds': seconds,
        'stream_seconds': stream['seconds'],
        'probes': sum(s['sent'] for s in stats.values()),
        'allowed_sent': stats['allowed_tcp']['sent'] + stats['allowed_udp']['sent'],
        # a TCP probe whose first SYN went unanswered counts as dropped even if a retry got through
        'allowed_dropped': (stats['allowed_tcp']['timed_out'] + stats['allowed_tcp']['retry']
                            + stats['allowed_udp']['timed_out']),
        'blocked_sent': stats['blocked_tcp']['sent'] + stats['blocked_udp']['sent'],
        # symmetric: the verdict on each probe's first packet (a TCP probe whose first SYN was dropped
        # but a retransmitted one got in is reported apart, as blocked_accepted_on_retry)
        'blocked_accepted': stats['blocked_tcp']['first'] + stats['blocked_udp']['first'],
        'blocked_accepted_on_retry': stats['blocked_tcp']['retry'],
        'errors': sum(s['errors'] for s in stats.values()),
        'stats': stats,
        'anomalies': stream['anomalies'][:10],
    }
    out.update(extra or {})
    return out


def _apply_restore(ruleset_rules):
    lab.dexec(lab.HOST1, 'iptables-restore -w --noflush', stdin=policies.restore_text(ruleset_rules))


def run(log_dir=None, applies=APPLIES):
    log_dir = log_dir or lab.CACHE
    pair = policies.reload_pair(60)
    rulesets = [policies.compile_rules(nets) for nets in pair]
    rules = [r['ipv4'] for r in rulesets]
    assert rules[0] != rules[1] and len(rules[0]) == len(rules[1]) == 60
    inventory = lab.write_inventory(os.path.join(lab.CACHE, 'inventory-reload.yml'),
                                    [('host1', lab.HOST1_IP['mgmt'])])
    play = os.path.join(lab.CACHE, 'reload.yml')
    with open(play, 'w') as handle:
        handle.write(PLAY)
    extra = os.path.join(lab.CACHE, 'vars-reload.json')
    with open(extra, 'w') as handle:
        json.dump({'bench_rulesets': rulesets, 'bench_first': 1, 'bench_applies': applies}, handle)
    result = {'rules': 60, 'applies': applies, 'client_interval': 0.01}
    responder = Responder()
    try:
        _sides(result, rules, inventory, play, extra, log_dir, applies)
    except BaseException:
        responder.kill()
        raise
    result['responder'] = responder.stop()
    lab.say('reload safety: the responder answered %(answered)s; UDP receive errors on the host: %(udp_errors)s'
            % result['responder'])
    lab.dexec(lab.HOST1, 'rm -f /tmp/bench-mikopbx-*.sh')
    lab.reset(lab.HOST1)
    return result


def _sides(result, rules, inventory, play, extra, log_dir, applies):
    # Control: policy in place, no reloads.
    lab.reset(lab.HOST1)
    _apply_restore(rules[0])
    stream = Stream(10000, os.path.join(log_dir, 'reload-control-client.log'))
    time.sleep(4.0)
    result['control'] = _summary(stream.stop(), 4.0 + WARMUP + TAIL)
    lab.say('reload safety, control (no reloads): allowed dropped %d/%d, blocked accepted %d/%d'
            % (result['control']['allowed_dropped'], result['control']['allowed_sent'],
               result['control']['blocked_accepted'], result['control']['blocked_sent']))

    # This collection: 50 re-applies through Ansible and the module.
    lab.reset(lab.HOST1)
    _apply_restore(rules[0])     # the starting state (same rules the module would write)
    stream = Stream(17000, os.path.join(log_dir, 'reload-collection-client.log'))
    try:
        seconds, _proc = lab.ansible(['ansible-playbook', '-i', inventory, play, '-e', '@' + extra],
                                     log=os.path.join(log_dir, 'reload-collection.log'))
    except BaseException:
        stream.kill()
        raise
    result['collection'] = _summary(stream.stop(), seconds, {'per_apply': seconds / applies})
    lab.say('reload safety, collection: %d applies in %.1f s: allowed dropped %d/%d, blocked accepted %d/%d'
            % (applies, seconds, result['collection']['allowed_dropped'], result['collection']['allowed_sent'],
               result['collection']['blocked_accepted'], result['collection']['blocked_sent']))

    # MikoPBX style: same rules, flush + one command at a time, paced like the collection.
    lab.reset(lab.HOST1)
    for index in (0, 1):
        script = '\n'.join(policies.mikopbx_commands(rules[index])) + '\n'
        lab.dexec(lab.HOST1, 'cat >/tmp/bench-mikopbx-%d.sh' % index, stdin=script)
    lab.dexec(lab.HOST1, 'sh /tmp/bench-mikopbx-0.sh')
    interval = seconds / applies
    stream = Stream(24000, os.path.join(log_dir, 'reload-mikopbx-client.log'))
    start = time.perf_counter()
    try:
        proc = lab.dexec(lab.HOST1, 'cat >/tmp/bench-mikopbx-driver.sh && sh /tmp/bench-mikopbx-driver.sh %.3f %d'
                         % (interval, applies), stdin=MIKOPBX_DRIVER)
    except BaseException:
        stream.kill()
        raise
    miko_seconds = time.perf_counter() - start
    reload_ms = [int(line.split()[2]) for line in proc.stdout.splitlines() if line.startswith('reload ')]
    with open(os.path.join(log_dir, 'reload-mikopbx.log'), 'w') as handle:
        handle.write(proc.stdout)
    result['mikopbx'] = _summary(stream.stop(), miko_seconds, {
        'per_reload_ms': sum(reload_ms) / max(len(reload_ms), 1), 'interval': interval})
    lab.say('reload safety, MikoPBX style: %d reloads (%.0f ms each, one every %.2f s): allowed dropped %d/%d, '
            'blocked accepted %d/%d' % (len(reload_ms), result['mikopbx']['per_reload_ms'], interval,
                                        result['mikopbx']['allowed_dropped'], result['mikopbx']['allowed_sent'],
                                        result['mikopbx']['blocked_accepted'], result['mikopbx']['blocked_sent']))
