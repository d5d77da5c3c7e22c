# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Part 8: countries and blocklists at scale (the real tor-geoipdb, a 50,000-entry feed).

The policy: the management network (ssh), Internet [sip], a network that allows web from ten
countries (DE, US, CN, RU, FR, GB, NL, BR, IN, JP) and a blocklist file of 50,000 entries
(addresses and /24s drawn with a fixed seed from public space).

- **compile**: ``firewall_ruleset`` in a fresh Python process (its peak RSS is its own), with an
  empty country-database cache (cold: the database is parsed) and again with the cache the
  first run left (warm: what every further host and run costs);
- **prefixes**: DE, CN, US and RU in tor-geoipdb, before merging (every database range as
  CIDRs) and after (per country, and the ten countries of the network together);
- **apply** on ``pbxbench-host1`` over SSH: one ``pbxops.firewall.iptables_ruleset`` task whose
  ruleset the filter compiles in the task (warm cache), with rollback confirmation and boot
  files (``persist: true``), from a clean host (median of 3); the floor: one ``ansible -m
  ping`` plus the same ipsets and chains through one ``ssh`` each (``ipset restore``,
  ``iptables-restore --noflush``); the rerun with nothing to change; a members-only refresh
  (``sets_only``) after 1,000 entries of the feed changed; the ipsets' kernel memory (``ipset
  list -t``, "Size in memory"); the module's peak RSS on the host;
- **role**: the ``pbx_firewall`` role with and without the countries and the blocklist: a no-op
  rerun must stay changed=0 with the same module runs.

Side by side in the same run, this collection (A) and git ``BASE`` (B: main before the
compile converted the database's rows a column at a time, kept the countries' ranges in
binary and read a plain IPv4 feed without a call per line, and before the rollback's
deadline got a file of its own, so that the spec with the boot files is written once): the
compiles alternate A, B; the applies, the no-op reruns and the refreshes alternate A, B on
the same host, each variant's collection on the controller and shipped to the host by
Ansible (``ANSIBLE_COLLECTIONS_PATH``). The goals are judged on A.
"""

import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
COUNTRIES = ['DE', 'US', 'CN', 'RU', 'FR', 'GB', 'NL', 'BR', 'IN', 'JP']
COUNTED = ['DE', 'CN', 'US', 'RU']
FEED_SIZE = 50000
TOR_GEOIPDB = ('/usr/share/tor/geoip', '/usr/share/tor/geoip6')
GOALS = {'compile': 2.0, 'over_floor': 2.0}
# main before the cold-compile changes of session 28 (columns, binary ranges cache, plain feeds)
BASE = '6f95377'
VARIANTS = ('this', 'base')


def networks():
    return [
        {'name': 'Management', 'subnet': '10.202.0.0/24', 'services': ['ssh'], 'never_block': True},
        {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']},
        {'name': 'Ten countries', 'countries': COUNTRIES, 'services': ['web']},
    ]


def write_feed(path, size=FEED_SIZE, seed=22, changed=0):
    """``size`` entries (3 in 4 a /24, the rest addresses) in 11.0.0.0-126.255.255.255, one per
    line, FireHOL style; ``changed`` of them replaced by others (a refreshed feed)."""
    rng = random.Random(seed)
    entries = set()
    while len(entries) < size:
        value = rng.randrange(11 << 24, 127 << 24)
        entries.add('%d.%d.%d.0/24' % (value >> 24, (value >> 16) & 255, (value >> 8) & 255)
                    if rng.random() < 0.75 else
                    '%d.%d.%d.%d' % (value >> 24, (value >> 16) & 255, (value >> 8) & 255, value & 255))
    entries = sorted(entries)
    other = random.Random(seed + 1)
    for index in other.sample(range(size), changed):
        value = other.randrange(128 << 24, 160 << 24)
        entries[index] = '%d.%d.%d.0/24' % (value >> 24, (value >> 16) & 255, (value >> 8) & 255)
    with open(path, 'w') as handle:
        handle.write('# bench feed: %d entries\n' % size + ''.join(e + '\n' for e in entries))
    return path


def _members(spec):
    """An ipset's members (the compiler writes a large set's as one string, a member per line)."""
    entries = spec['entries']
    return [e for e in entries.split('\n') if e] if isinstance(entries, str) else entries


# ------------------------------------------------------------------------------------ compile

def child(feed, cache, root):
    """One compile in this fresh process with the collection under ``root``: prints seconds,
    peak RSS, rules and set sizes."""
    sys.path.insert(0, root)
    os.environ['PBX_FIREWALL_CACHE_DIR'] = cache
    from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
    start = time.perf_counter()
    cpu = time.process_time()
    ruleset = _policy.firewall_ruleset(networks(), blocklist_files=[feed], geoip_max_age_days=0,
                                       sip_scanner_agents=[])
    print(json.dumps({'seconds': time.perf_counter() - start, 'cpu': time.process_time() - cpu,
                      'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                      'rules_ipv4': len(ruleset['ipv4']), 'rules_ipv6': len(ruleset['ipv6']),
                      'sets': dict((s['name'], len(_members(s))) for s in ruleset['ipsets'])}))


def _compile(feed, cache, root):
    out = subprocess.run([sys.executable, __file__, '--child', feed, cache, root], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def collections_root(variant):
    """The directory holding ``ansible_collections`` for a variant (BASE: extracted from git)."""
    import counter_cost
    import lab
    if variant == 'this':
        return os.path.join(REPO, '.build')
    return counter_cost.base_collection(os.path.join(lab.CACHE, 'sets-base'), BASE)


def _lines(data, country, version):
    """The ranges of a tor-geoipdb file's lines of one country (GB: also the lines spelt UK),
    as they are in the file."""
    import ipaddress
    sys.path.insert(0, os.path.join(REPO, '.build'))
    from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy.geoip import DATABASE_ALIASES
    ends = tuple(b',' + code.encode('ascii') for code in (country,) + DATABASE_ALIASES.get(country, ()))
    spans = []
    for line in data.split(b'\n'):
        if line.startswith(b'#') or not line.endswith(ends):
            continue
        first, last, _code = line.split(b',')
        if version == 4:
            spans.append((int(first), int(last)))
        else:
            spans.append((int(ipaddress.IPv6Address(first.decode())), int(ipaddress.IPv6Address(last.decode()))))
    return spans


def prefix_counts():
    """Per country of COUNTED and for the ten together, per family: the database lines, their
    prefixes before merging (each line as CIDRs) and after (the merged ranges as CIDRs)."""
    sys.path.insert(0, os.path.join(REPO, '.build'))
    from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import prefixes
    counts = dict((country, {}) for country in COUNTED + ['ten'])
    for version, path in ((4, TOR_GEOIPDB[0]), (6, TOR_GEOIPDB[1])):
        with open(path, 'rb') as handle:
            data = handle.read()
        width = prefixes.WIDTH[version]
        every = []
        for country in COUNTRIES:
            spans = _lines(data, country, version)
            every += spans
            if country in COUNTED:
                counts[country][version] = {
                    'lines': len(spans), 'before': sum(len(prefixes.to_prefixes([span], width)) for span in spans),
                    'after': len(prefixes.to_prefixes(prefixes.merge(spans), width))}
        counts['ten'][version] = {
            'lines': len(every), 'before': sum(len(prefixes.to_prefixes([span], width)) for span in every),
            'after': len(prefixes.to_prefixes(prefixes.merge(every), width))}
    return counts


def measure_compile(cache_root, roots, repeats=3):
    """Cold and warm compiles of each variant (``roots``: {variant: collections root}), A and B
    in turn; each variant has its own country-database cache."""
    import lab
    feed = write_feed(os.path.join(lab.CACHE, 'sets-feed-50k.netset'))
    caches = dict((v, os.path.join(cache_root, 'sets-cache-%s' % v)) for v in roots)
    cold, warm = {}, dict((v, []) for v in roots)
    for _attempt in range(repeats):
        for variant, root in sorted(roots.items(), reverse=True):      # this, base, this, ...
            shutil.rmtree(caches[variant], ignore_errors=True)
            cold.setdefault(variant, []).append(_compile(feed, caches[variant], root))
    for _attempt in range(repeats):
        for variant, root in sorted(roots.items(), reverse=True):
            warm[variant].append(_compile(feed, caches[variant], root))
    result = {'feed': feed, 'cache': caches['this'], 'variants': {}}
    for variant in roots:
        best = min(warm[variant], key=lambda r: r['seconds'])
        result['variants'][variant] = {
            'cold': cold[variant], 'warm': warm[variant], 'sets': best['sets'],
            'cold_median': statistics.median(r['seconds'] for r in cold[variant]),
            'warm_median': statistics.median(r['seconds'] for r in warm[variant]),
            'cold_peak_mib': max(r['peak_mib'] for r in cold[variant]),
            'warm_peak_mib': max(r['peak_mib'] for r in warm[variant])}
        lab.say('sets compile (%s): cold %s s, warm %s s (peak %.0f MiB); sets %s'
                % (variant, ', '.join('%.2f' % r['seconds'] for r in cold[variant]),
                   ', '.join('%.2f' % r['seconds'] for r in warm[variant]), best['peak_mib'], best['sets']))
    this = result['variants']['this']
    result.update(cold_median=this['cold_median'], warm_median=this['warm_median'])
    counts = prefix_counts()
    for country, per in sorted(counts.items()):
        lab.say('prefixes %s: IPv4 %d -> %d, IPv6 %d -> %d'
                % (country, per[4]['before'], per[4]['after'], per[6]['before'], per[6]['after']))
    result['prefixes'] = counts
    return result


# ------------------------------------------------------------------------------------ apply

PLAY = '''---
- name: Bench - ten countries and a 50,000-entry blocklist with pbxops.firewall.iptables_ruleset
  hosts: bench
  gather_facts: false
  tasks:
    - name: Apply (the filter compiles the policy in the task)
      pbxops.firewall.iptables_ruleset:
        ruleset: "{{ bench_networks | pbxops.firewall.firewall_ruleset(blocklist_files=[bench_feed],
                     geoip_max_age_days=0, sip_scanner_agents=[]) }}"
        rollback_timeout: 30
        persist: true
        sets_only: "{{ bench_sets_only | default(false) }}"
'''
RSS_WRAPPER = '/usr/local/bin/bench-python3-rss'
RSS_LOG = '/run/bench-rss.log'
INSTALL_RSS_WRAPPER = '''cat >%s <<'EOF'
#!/usr/bin/python3
import resource, subprocess, sys
rc = subprocess.call(['/usr/bin/python3'] + sys.argv[1:])
with open('%s', 'a') as log:
    log.write('%%d\\n' %% resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)
EOF
chmod 0755 %s
''' % (RSS_WRAPPER, RSS_LOG, RSS_WRAPPER)
RESET_PERSIST = 'rm -rf /etc/pbx-firewall /etc/systemd/system/pbx-firewall.service ' \
                '/etc/systemd/system/multi-user.target.wants/pbx-firewall.service'


def _restore_texts(ruleset):
    ipsets = []
    for spec in ruleset['ipsets']:
        ipsets.append('create %s hash:net family %s hashsize %d maxelem %d'
                      % (spec['name'], spec['family'], spec.get('hashsize', 1024), spec['maxelem']))
        ipsets += ['add %s %s' % (spec['name'], entry) for entry in _members(spec)]
    chains = {}
    for family in ('ipv4', 'ipv6'):
        names = sorted({line.split()[1] for line in ruleset[family]})
        chains[family] = '\n'.join(['*filter'] + [':%s - [0:0]' % c for c in names] + ruleset[family]
                                   + ['-A INPUT -j PBX-FIREWALL', 'COMMIT', ''])
    return '\n'.join(ipsets) + '\n', chains


def _ssh(lab, text, *command):
    start = time.perf_counter()
    proc = subprocess.run(lab.ssh_argv(lab.HOST1_IP['mgmt'], *command), input=text, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError('%s failed: %s' % (' '.join(command), proc.stderr))
    return time.perf_counter() - start


def _floor(lab, ruleset, repeats):
    ipset_text, chains = _restore_texts(ruleset)
    runs = []
    for _attempt in range(repeats):
        lab.reset(lab.HOST1)
        runs.append(_ssh(lab, ipset_text, 'ipset', 'restore')
                    + _ssh(lab, chains['ipv4'], 'iptables-restore', '-w', '--noflush')
                    + _ssh(lab, chains['ipv6'], 'ip6tables-restore', '-w', '--noflush'))
    state = lab.filter_state(lab.HOST1)
    lab.reset(lab.HOST1)
    return statistics.median(runs), state


def _ipset_memory(lab):
    """{set: bytes} of the owned ipsets ("Size in memory" of ipset list -t)."""
    memory = {}
    name = None
    for line in lab.dexec(lab.HOST1, 'ipset list -t').stdout.splitlines():
        if line.startswith('Name: '):
            name = line.split(': ', 1)[1]
        elif line.startswith('Size in memory: ') and name and name.startswith('pbxfw-'):
            memory[name] = int(line.split(': ', 1)[1])
    return memory


def _variant_env(compiled, roots, variant):
    """What an ansible run of a variant needs: its collection and its (warm) database cache."""
    env = {'PBX_FIREWALL_CACHE_DIR': os.path.join(os.path.dirname(compiled['cache']), 'sets-cache-%s' % variant)}
    if variant != 'this':
        env['ANSIBLE_COLLECTIONS_PATH'] = roots[variant]
    return env


def run_apply(compiled, roots, repeats=3, log_dir=None):
    import lab
    sys.path.insert(0, os.path.join(REPO, '.build'))
    os.environ['PBX_FIREWALL_CACHE_DIR'] = compiled['cache']        # warm, as every further run
    from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
    log_dir = log_dir or lab.CACHE
    feed = compiled['feed']
    ruleset = _policy.firewall_ruleset(networks(), blocklist_files=[feed], geoip_max_age_days=0,
                                       sip_scanner_agents=[])
    host_vars = {'bench_networks': networks(), 'bench_feed': feed}
    inventory = lab.write_inventory(os.path.join(lab.CACHE, 'inventory-sets.yml'),
                                    [('host1', lab.HOST1_IP['mgmt'])], extra_vars=host_vars)
    counted = lab.write_inventory(os.path.join(lab.CACHE, 'inventory-sets-rss.yml'),
                                  [('host1', lab.HOST1_IP['mgmt'])],
                                  extra_vars=dict(host_vars, ansible_python_interpreter=RSS_WRAPPER))
    play = os.path.join(lab.CACHE, 'apply-sets.yml')
    with open(play, 'w') as handle:
        handle.write(PLAY)
    envs = dict((v, _variant_env(compiled, roots, v)) for v in roots)

    pings = [lab.ansible(['ansible', '-i', inventory, 'host1', '-m', 'ansible.builtin.ping'], env_extra=envs['this'],
                         log=os.path.join(log_dir, 'sets-ping-%d.log' % i))[0] for i in range(repeats)]
    restore, state_floor = _floor(lab, ruleset, repeats)
    floor = statistics.median(pings) + restore
    lab.say('sets floor: ping %.2f s + restores %.2f s = %.2f s' % (statistics.median(pings), restore, floor))

    lab.dexec(lab.HOST1, INSTALL_RSS_WRAPPER)
    applies = dict((v, []) for v in roots)
    rss = dict((v, []) for v in roots)
    state = memory = None
    for i in range(repeats):
        for variant in sorted(roots, reverse=True):                    # this, base, this, ...
            lab.reset(lab.HOST1)
            lab.dexec(lab.HOST1, RESET_PERSIST + '; : >%s' % RSS_LOG)
            seconds, _proc = lab.ansible(['ansible-playbook', '-i', counted, play], env_extra=envs[variant],
                                         log=os.path.join(log_dir, 'sets-apply-%s-%d.log' % (variant, i)))
            applies[variant].append(seconds)
            rss[variant] += [int(x) for x in lab.dexec(lab.HOST1, 'cat %s' % RSS_LOG).stdout.split()]
            if variant == 'this':
                state, memory = lab.filter_state(lab.HOST1), _ipset_memory(lab)
    lab.dexec(lab.HOST1, 'rm -f %s %s' % (RSS_WRAPPER, RSS_LOG))

    reruns = {}
    for variant in sorted(roots, reverse=True):
        lab.reset(lab.HOST1)
        lab.dexec(lab.HOST1, RESET_PERSIST)
        lab.ansible(['ansible-playbook', '-i', inventory, play], env_extra=envs[variant],
                    log=os.path.join(log_dir, 'sets-first-%s.log' % variant))
        noop, proc = lab.ansible(['ansible-playbook', '-i', inventory, play], env_extra=envs[variant],
                                 log=os.path.join(log_dir, 'sets-noop-%s.log' % variant))
        noop_changed = 'changed=0' not in proc.stdout
        write_feed(feed, changed=1000)
        try:
            refresh, proc = lab.ansible(['ansible-playbook', '-i', inventory, play, '-e', 'bench_sets_only=true'],
                                        env_extra=envs[variant],
                                        log=os.path.join(log_dir, 'sets-refresh-%s.log' % variant))
        finally:
            write_feed(feed)
        reruns[variant] = {'noop': noop, 'noop_changed': noop_changed, 'refresh': refresh,
                           'refresh_changed': 'changed=1' in proc.stdout}
    lab.reset(lab.HOST1)
    lab.dexec(lab.HOST1, RESET_PERSIST)
    variants = {}
    for variant in roots:
        apply = statistics.median(applies[variant])
        variants[variant] = dict(reruns[variant], apply=apply, apply_runs=applies[variant], over_floor=apply - floor,
                                 module_peak_mib=max(rss[variant]) / 1024.0 if rss[variant] else None)
        lab.say('sets apply (%s): %s s (median %.2f, %.2f over the floor), module peak RSS %s MiB, no-op %.2f s '
                '(changed: %s), refresh of 1,000 feed entries %.2f s'
                % (variant, ', '.join('%.2f' % s for s in applies[variant]), apply, apply - floor,
                   '%.0f' % (max(rss[variant]) / 1024.0) if rss[variant] else '-', reruns[variant]['noop'],
                   reruns[variant]['noop_changed'], reruns[variant]['refresh']))
    this = variants['this']
    result = dict(this, variants=variants, ping=statistics.median(pings), restore=restore, floor=floor,
                  same_rules=state == state_floor, ipset_memory=memory,
                  members=dict((s['name'], len(_members(s))) for s in ruleset['ipsets']),
                  rules_ipv4=len(ruleset['ipv4']), rules_ipv6=len(ruleset['ipv6']))
    lab.say('sets: ipset memory %.1f MiB, the same rules and sets as the floor: %s'
            % (sum(memory.values()) / 1048576.0, result['same_rules']))
    return result


# ------------------------------------------------------------------------------------ role

def run_role(compiled, log_dir=None):
    """The role's no-op rerun with and without the countries and the blocklist: changed and
    module runs (noop_rerun.py's counting)."""
    import lab
    import noop_rerun
    log_dir = log_dir or lab.CACHE
    play = os.path.join(lab.CACHE, 'role.yml')
    with open(play, 'w') as handle:
        handle.write(noop_rerun.PLAY)
    env = {'PBX_FIREWALL_CACHE_DIR': compiled['cache']}
    base = [networks()[0], networks()[1]]
    result = {}
    for label, extra in (('without', {'pbx_firewall_networks': base}),
                         ('with', {'pbx_firewall_networks': networks(), 'pbx_firewall_geoip_max_age_days': 0,
                                   'pbx_firewall_blocklist_files': [compiled['feed']]})):
        inventory = lab.write_inventory(os.path.join(lab.CACHE, 'inventory-sets-role.yml'),
                                        [('host1', lab.HOST1_IP['mgmt'])], extra_vars=extra)
        counted = lab.write_inventory(os.path.join(lab.CACHE, 'inventory-sets-role-counted.yml'),
                                      [('host1', lab.HOST1_IP['mgmt'])],
                                      extra_vars=dict(extra, ansible_python_interpreter=noop_rerun.WRAPPER))
        lab.reset(lab.HOST1, role=True)
        lab.dexec(lab.HOST1, noop_rerun.INSTALL_WRAPPER)
        lab.ansible(['ansible-playbook', '-i', inventory, play], env_extra=env,
                    log=os.path.join(log_dir, 'sets-role-%s-first.log' % label))
        lab.dexec(lab.HOST1, ': >%s' % noop_rerun.COUNT_LOG)
        seconds, proc = lab.ansible(['ansible-playbook', '-i', counted, play], env_extra=env,
                                    log=os.path.join(log_dir, 'sets-role-%s-noop.log' % label))
        runs = len(lab.dexec(lab.HOST1, 'cat %s' % noop_rerun.COUNT_LOG).stdout.split())
        result[label] = {'seconds': seconds, 'changed': 'changed=0' not in proc.stdout, 'module_runs': runs}
        lab.say('role no-op rerun %s countries and blocklist: %.2f s, changed=%s, %d module runs'
                % (label, seconds, result[label]['changed'], runs))
    lab.dexec(lab.HOST1, 'rm -f %s %s' % (noop_rerun.WRAPPER, noop_rerun.COUNT_LOG))
    lab.reset(lab.HOST1, role=True)
    return result


def run(log_dir=None, repeats=3):
    import lab
    roots = dict((v, collections_root(v)) for v in VARIANTS)
    if roots['base'] is None:
        lab.say('sets: git has no commit %s here (a shallow clone?): measured without BASE' % BASE)
        del roots['base']
    compiled = measure_compile(lab.CACHE, roots, repeats)
    return {'base': BASE if 'base' in roots else None, 'compile': compiled,
            'apply': run_apply(compiled, roots, repeats, log_dir), 'role': run_role(compiled, log_dir)}


def _met(ok):
    return 'yes' if ok else 'NO'


def _changed(flag):
    return 'changed' if flag else 'changed=0'


def table(s):
    c, a, r = s['compile'], s['apply'], s['role']
    cv, av = c['variants'], a['variants']
    this_c, this_a = cv['this'], av['this']
    base = s.get('base')

    def both(variants, render):
        """The cells of this collection and of BASE ('-' when it was not measured)."""
        return [render(variants['this']), render(variants['base']) if 'base' in variants else '-']

    def row(measure, cells, goal='', met=''):
        return '| %s | %s | %s | %s | %s |' % (measure, cells[0], cells[1], goal, met)

    lines = [
        '| measure | this collection | BASE %s | goal | met |' % (base or '(not measured)'),
        '| --- | ---: | ---: | --- | --- |',
        row('compile, cold cache (parse the database; median of 3)',
            both(cv, lambda v: '%.2f s, peak %.0f MiB' % (v['cold_median'], v['cold_peak_mib'])),
            '≤ %.0f s' % GOALS['compile'], _met(this_c['cold_median'] <= GOALS['compile'])),
        row('compile, warm cache (median of 3)',
            both(cv, lambda v: '%.2f s, peak %.0f MiB' % (v['warm_median'], v['warm_peak_mib'])),
            '≤ %.0f s' % GOALS['compile'], _met(this_c['warm_median'] <= GOALS['compile'])),
        row('set members (IPv4 / IPv6): countries, blocklist',
            both(cv, lambda v: ', '.join('%s %d' % (k, n) for k, n in sorted(v['sets'].items())))),
        row('apply, clean host (median of 3)', both(av, lambda v: '%.2f s' % v['apply'])),
        row('floor: ping %.2f s + ipset and iptables restores %.2f s' % (a['ping'], a['restore']),
            ['%.2f s' % a['floor'], '%.2f s' % a['floor']]),
        row('apply over the floor', both(av, lambda v: '%+.2f s' % v['over_floor']),
            '≤ +%.0f s' % GOALS['over_floor'], _met(this_a['over_floor'] <= GOALS['over_floor'])),
        row('the same rules and sets as the floor', ['yes' if a['same_rules'] else 'NO', '']),
        row('module peak RSS on the host (clean apply)',
            both(av, lambda v: '%.0f MiB' % v['module_peak_mib'] if v['module_peak_mib'] else '-')),
        row('ipsets in the kernel ("Size in memory")', ['%.1f MiB' % (sum(a['ipset_memory'].values()) / 1048576.0),
                                                        '']),
        row('rerun with nothing to change', both(av, lambda v: '%.2f s, %s' % (v['noop'], _changed(v['noop_changed']))),
            'changed=0', _met(not this_a['noop_changed'])),
        row('refresh after 1,000 feed entries changed (sets_only)',
            both(av, lambda v: '%.2f s%s' % (v['refresh'], '' if v['refresh_changed'] else ', NOT changed')),
            'changed', _met(this_a['refresh_changed'])),
        row('role no-op rerun without / with countries and blocklist',
            ['%d / %d module runs, %s / %s' % (
                r['without']['module_runs'], r['with']['module_runs'], _changed(r['without']['changed']),
                _changed(r['with']['changed'])), ''],
            'same runs, changed=0',
            _met(r['with']['module_runs'] == r['without']['module_runs'] and not r['with']['changed'])),
    ]
    prefix_lines = ['| country | IPv4 lines | IPv4 prefixes before merging | after | IPv6 lines | IPv6 prefixes '
                    'before | after |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |']
    for country in COUNTED + ['ten']:
        per = c['prefixes'][country]
        prefix_lines.append('| %s | %s | %d | %d | %s | %d | %d |' % (
            country if country != 'ten' else 'the ten together', per[4]['lines'] or '-', per[4]['before'],
            per[4]['after'], per[6]['lines'] or '-', per[6]['before'], per[6]['after']))
    return '\n'.join(lines) + '\n\n' + '\n'.join(prefix_lines)


if __name__ == '__main__':
    if len(sys.argv) == 5 and sys.argv[1] == '--child':
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit('run it with bench/run.py --parts sets')
