# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ending flows after a blocking apply: 10,000 and 100,000 conntrack entries.

    .venv/bin/python bench/flows_scale.py      # ~10 min; needs root, conntrack, git

A network namespace of its own (`pbxbench-flows-*`, the host's address 10.217.0.1) allows
`Internet 0.0.0.0/0 [sip]`; then N answered UDP flows to port 5060 from 1,000 addresses
(10.217.1.1 onwards, N/1,000 ports each) are put into its conntrack table (`conntrack -R`),
and the policy changes to `Internet [web]`, so every one of them loses access. The blocking
apply is the `pbxops.firewall.iptables_ruleset` task run by `ansible-playbook` inside the
namespace (local connection: the action plugin confirms as over SSH) with
`rollback_timeout: 10`. Measured: the module's wall time and peak RSS (its interpreter is a
wrapper that times the module's process and reads its children's peak RSS), the flood's
entries left in the table afterwards, and whether the block stayed in force: the owned rules
are still the blocking ones once the rollback window is over.

Side by side: the collection before ending flows scaled (`OLD_REF`, one `conntrack -D`
process per flow, each walking the whole table, with the window already running), the same
task from a `git archive` of that commit. Its run is stopped after `--flows-cap` seconds
(default 180; the time all flows would take at the rate it reached is shown next to it);
then its host rolls back by itself, which the table reports as such.
"""

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), '.build'))

import lab  # noqa: E402

SIZES = (10000, 100000)
SOURCES = 1000
HOST = '10.217.0.1'
TIMEOUT = 10
CAP = 180
# main before issue 19's flows fix: one `conntrack -D` per flow, after the window started
OLD_REF = '6df1f65'
MODULE = 'pbxops.firewall.iptables_ruleset'

WRAPPER = '''#!%(python)s
"""ansible_python_interpreter of the benchmark: runs the module, logs its wall time and peak RSS."""
import json, resource, subprocess, sys, time
started = time.monotonic()
proc = subprocess.run([%(python)r] + sys.argv[1:])
with open(%(log)r, 'a') as handle:
    handle.write(json.dumps({'seconds': time.monotonic() - started, 'rc': proc.returncode,
                             'peak_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}) + '\\n')
sys.exit(proc.returncode)
'''


def source(index):
    return '10.217.%d.%d' % (1 + index // 250, 1 + index % 250)


def rulesets():
    from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
    internet = {'name': 'Internet', 'subnet': '0.0.0.0/0'}
    return (_policy.firewall_ruleset([dict(internet, services=['sip'])], ipv6=False),
            _policy.firewall_ruleset([dict(internet, services=['web'])], ipv6=False))


def collection_at(ref, root):
    """A collection tree of ``ref`` (git archive) under root/ansible_collections/pbxops/firewall."""
    target = os.path.join(root, 'ansible_collections', 'pbxops', 'firewall')
    os.makedirs(target)
    archive = subprocess.run(['git', '-C', lab.REPO, 'archive', ref], capture_output=True, check=True).stdout
    subprocess.run(['tar', '-x', '-C', target], input=archive, check=True)
    return root


class Namespace(object):
    """The benchmark's host: a network namespace with the address HOST."""

    def __init__(self):
        self.name = 'pbxbench-flows-%s' % secrets.token_hex(3)
        subprocess.run(['ip', 'netns', 'add', self.name], check=True)
        self.sh('ip link set lo up && ip addr add %s/32 dev lo' % HOST)

    def argv(self, *argv):
        return ['ip', 'netns', 'exec', self.name] + list(argv)

    def sh(self, command, data=None):
        return subprocess.run(self.argv('sh', '-c', command), input=data, capture_output=True, text=True,
                              check=True).stdout

    def owned_rules(self):
        return [line for line in self.sh('iptables-nft-save -t filter').splitlines()
                if line.startswith('-A PBX-FIREWALL ')]

    def flood_entries(self):
        """Entries of the flood's sources still in the table."""
        out = self.sh('conntrack -L -p udp --dport 5060 2>/dev/null || true')
        return sum(1 for line in out.splitlines() if 'src=10.217.' in line)

    def delete(self):
        subprocess.run(['ip', 'netns', 'delete', self.name], check=False)


def flood(ns, count):
    """``count`` answered UDP flows to HOST:5060 from SOURCES addresses."""
    per_source = max(count // SOURCES, 1)
    lines = ['-I -p udp -s %s -d %s --sport %d --dport 5060 -u SEEN_REPLY,ASSURED -t 900'
             % (source(n // per_source), HOST, 1024 + n % per_source) for n in range(count)]
    ns.sh('conntrack -R - >/dev/null 2>&1', data='\n'.join(lines) + '\n')


def playbook(workdir, ruleset, python):
    """Write a one-task playbook applying ``ruleset``; returns its argv (inventory, playbook, vars)."""
    with open(os.path.join(workdir, 'vars.json'), 'w') as handle:
        json.dump({'ruleset': ruleset}, handle)
    with open(os.path.join(workdir, 'inventory'), 'w') as handle:
        handle.write('target ansible_connection=local ansible_python_interpreter=%s\n' % python)
    with open(os.path.join(workdir, 'play.json'), 'w') as handle:
        json.dump([{'hosts': 'target', 'gather_facts': False, 'tasks': [
            {'name': 'apply', MODULE: {'ruleset': '{{ ruleset }}', 'backend': 'nft', 'persist': False,
                                       'rollback_timeout': TIMEOUT}}]}], handle)
    return ['ansible-playbook', '-i', os.path.join(workdir, 'inventory'), os.path.join(workdir, 'play.json'),
            '-e', '@' + os.path.join(workdir, 'vars.json')]


def _log_lines(path):
    try:
        with open(path) as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except OSError:
        return []


def measure(count, collections, cap, log_dir, label):
    """One side at one size: the blocking apply's time, peak RSS and outcome."""
    allow, block = rulesets()
    workdir = tempfile.mkdtemp(prefix='flows-', dir=lab.CACHE)
    python = os.path.join(workdir, 'python')
    log = os.path.join(workdir, 'modules.jsonl')
    with open(python, 'w') as handle:
        handle.write(WRAPPER % {'python': sys.executable, 'log': log})
    os.chmod(python, 0o755)
    env = {'ANSIBLE_COLLECTIONS_PATH': collections, 'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
           'ANSIBLE_STDOUT_CALLBACK': 'bench_json'}
    ns = Namespace()
    try:
        lab.ansible(playbook(workdir, allow, python), env_extra=env, prefix=ns.argv(),
                    log=os.path.join(log_dir, 'flows-%s-%d-allow.log' % (label, count)))
        flood(ns, count)
        row = {'entries': ns.flood_entries(), 'stopped': False}
        argv = playbook(workdir, block, python)
        run_log = os.path.join(log_dir, 'flows-%s-%d-block.log' % (label, count))
        try:
            seconds, proc = lab.ansible(argv, env_extra=env, prefix=ns.argv(), log=run_log, check=False,
                                        timeout=cap)
            tasks = json.loads(proc.stdout[proc.stdout.index('{'):])['tasks']
            row['task'] = tasks[0]['hosts']['target']['status']
        except lab.Timeout:
            seconds, row['stopped'], row['task'] = cap, True, 'stopped'
        row['seconds'] = seconds
        module = _log_lines(log)[-1] if not row['stopped'] else None
        row['module_seconds'] = module['seconds'] if module else None
        row['peak_mib'] = module['peak_kib'] / 1024.0 if module else None
        # the window is over when the task has returned (confirmed or rolled back); a stopped
        # run's watcher acts at its deadline: wait for it
        deadline = time.time() + (TIMEOUT + 30 if row['stopped'] else 0)
        blocking = [r for r in block['ipv4'] if r.startswith('-A PBX-FIREWALL ')]
        while True:
            row['in_force'] = ns.owned_rules() == blocking
            if not row['in_force'] or time.time() >= deadline:
                break
            time.sleep(1)
        row['left'] = ns.flood_entries()
        return row
    finally:
        ns.delete()


def run(sizes=SIZES, cap=CAP, old_ref=OLD_REF, log_dir=None):
    """Both sides at every size. Needs the kernel lock of the integration tests (the caller's)."""
    log_dir = log_dir or os.path.join(lab.CACHE, 'logs')
    os.makedirs(log_dir, exist_ok=True)
    old = collection_at(old_ref, tempfile.mkdtemp(prefix='flows-old-', dir=lab.CACHE))
    new = os.path.join(lab.REPO, '.build')
    results = {'timeout': TIMEOUT, 'cap': cap, 'old_ref': old_ref, 'sources': SOURCES, 'sizes': []}
    for count in sizes:
        row = {'flows': count}
        for side, collections in (('collection', new), ('per_flow', old)):
            lab.say('flows: %d, %s...' % (count, side))
            row[side] = measure(count, collections, cap, log_dir, side)
            lab.say('flows: %d, %s: %s' % (count, side, json.dumps(row[side])))
        results['sizes'].append(row)
    return results


def _cell(side):
    if not side['stopped']:
        return '%.1f s (module %.1f s)' % (side['seconds'], side['module_seconds'])
    ended = side['entries'] - side['left']
    if ended <= 0:
        return 'stopped after %d s, none ended' % side['seconds']
    return 'stopped after %d s (%d ended; all at that rate: ~%d s)' % (
        side['seconds'], ended, side['seconds'] * side['entries'] / ended)


def render(results):
    lines = ['| flows | this collection: time | peak RSS | entries left | block in force | '
             'per-flow `conntrack -D` (%s): time | entries left | block in force |' % results['old_ref'],
             '| ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |']
    for row in results['sizes']:
        new, old = row['collection'], row['per_flow']
        lines.append('| %d | %s | %.0f MiB | %d | %s | %s | %d of %d | %s |' % (
            row['flows'], _cell(new), new['peak_mib'] or 0, new['left'], 'yes' if new['in_force'] else '**no**',
            _cell(old), old['left'], old['entries'],
            'yes' if old['in_force'] else '**no** (rolled back)'))
    return '\n'.join(lines)


if __name__ == '__main__':
    measured = run(sizes=tuple(int(a) for a in sys.argv[1:]) or SIZES)
    print(json.dumps(measured, indent=1))
    print(render(measured))
