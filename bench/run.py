# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make bench`: every benchmark in one run, printed side by side and written to
docs/benchmarks.md with the chart docs/benchmarks.png.

    .venv/bin/python bench/run.py                 # everything (~15-25 min on 2 cores)
    .venv/bin/python bench/run.py --quick         # smaller sizes, for trying the harness
    .venv/bin/python bench/run.py --parts apply,noop --no-write

Parts (each in its own file):
    compile  compile_scale.py  compile 1k / 10k / 100k networks: time, peak RSS, rules
    apply    apply_compare.py  60 / 600 rules: this collection vs an ansible.builtin.iptables loop
                               vs a bare iptables-restore over ssh (+ ansible -m ping)
    noop     noop_rerun.py     no-op rerun of the pbx_firewall role: changed=0, module runs, time
    reload   reload_safety.py  50 re-applies under client traffic, vs a MikoPBX-style reload
    fleet    fleet_scale.py    the role on 1 / 10 / 20 hosts, forks = hosts, next to ansible -m ping, and
                               where the controller's CPU goes (profile_role.py); drift and verify at the
                               largest size; `--parts fleet` rewrites just the page's fleet section
                               (`--fleet-sizes 1,20,50,100 --fleet-profile 20`: issue 21's table);
                               with `--fleet-ab COMMIT` instead (fleet_ab.py): at one size (20), this
                               tree and COMMIT alternating in `--fleet-repeats` rounds (3), and the
                               floor of the role's shape; rewrites just that part of the fleet section
    sip      sip_guards.py     real SIP attack tools: no firewall vs MikoPBX-style vs the collection,
                               CPU per 10,000 requests (namespaces, under /tmp/pbxfw-kernel.lock);
                               `--parts sip` rewrites just the page's SIP section
    flows    flows_scale.py    end 10,000 / 100,000 flows after a blocking apply: time, peak RSS,
                               block in force; vs the per-flow `conntrack -D` of the old code
                               (namespaces); `--parts flows` rewrites just the page's flows section
    sets     sets_scale.py     ten countries (tor-geoipdb) and a 50,000-entry blocklist: compile (cold
                               and warm cache), apply vs the floor, no-op, refresh, ipset memory, RSS,
                               side by side with git BASE; `--parts sets` rewrites just the page's sets
                               section
    counters counter_cost.py   a no-op rerun of the module with and without the drop counters
                               (this collection vs git BASE, alternating); `--parts counters`
                               rewrites just the page's counters section

The lab is the benchmark's own (containers and networks named pbxbench-*, see lab.py); it is
removed at the end of the run, also after a failure or Ctrl-C. Logs: lab/.cache/bench/logs/.
"""

import argparse
import json
import os
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lab  # noqa: E402
import report  # noqa: E402

PARTS = ('compile', 'apply', 'noop', 'reload', 'fleet', 'sip', 'flows', 'sets', 'counters')
# the parts that use the Docker lab (the others build network namespaces of their own)
LAB_PARTS = ('apply', 'noop', 'reload', 'fleet', 'sets', 'counters')
# parts whose section of the page a run of that part alone rewrites
SECTIONS = ('sip', 'flows', 'counters', 'sets')
AB_SIZE = 20        # the fleet size of --fleet-ab


def write(results):
    """Write what a run's results give: a part alone its section of the page (the fleet part with
    --fleet-ab just its A/B subsection), every part the whole page; anything else, and a quick run,
    a preview in the cache."""
    parts, quick = results['parts'], results.get('quick')
    if results.get('fleet_ab') and not quick:
        report.write_fleet_ab_section(results)
        lab.say('wrote the A/B part of the fleet section of %s' % os.path.relpath(report.DOC, lab.REPO))
    elif parts == ['fleet'] and not quick:
        report.write_fleet_section(results)
        lab.say('wrote the fleet section and the fleet rows of the summary of %s' % os.path.relpath(report.DOC, lab.REPO))
    elif len(parts) == 1 and parts[0] in SECTIONS and not quick:
        report.write_section(parts[0], results[parts[0]])
        lab.say('wrote the %s section of %s' % (parts[0], os.path.relpath(report.DOC, lab.REPO)))
    else:
        if quick or set(parts) != set(PARTS):
            # a partial or quick run never overwrites the published page: preview in the cache
            md, png = os.path.join(lab.CACHE, 'benchmarks-preview.md'), os.path.join(lab.CACHE, 'benchmarks-preview.png')
        else:
            md, png = report.DOC, report.PNG
        report.write_docs(results, md, png)
        lab.say('wrote %s and %s' % (os.path.relpath(md, lab.REPO), os.path.relpath(png, lab.REPO)))


def _terminate(signum, _frame):
    raise KeyboardInterrupt('signal %d' % signum)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--parts', default=','.join(PARTS), help='comma-separated subset of %s' % ', '.join(PARTS))
    parser.add_argument('--quick', action='store_true', help='small sizes (not for the published numbers)')
    parser.add_argument('--no-write', action='store_true', help='print only; leave docs/ alone')
    parser.add_argument('--fleet-sizes', help='comma-separated host counts of the fleet part (default %s)'
                        % ','.join(str(n) for n in (1, 10, 20)))
    parser.add_argument('--fleet-profile', type=int, metavar='N',
                        help='the fleet size at which the controller\'s CPU is broken down per task (default: the largest)')
    parser.add_argument('--fleet-repeats', type=int, metavar='N',
                        help='runs of each side per fleet size, the best one counts (default 2); with --fleet-ab: '
                             'rounds, the medians count (default 3)')
    parser.add_argument('--fleet-ab', metavar='COMMIT',
                        help='the fleet part at one size (--fleet-sizes, default %d): this tree and git COMMIT\'s '
                             'collection alternating, and the floor of the role\'s shape (only with --parts fleet)'
                        % AB_SIZE)
    parser.add_argument('--flows-cap', type=int, default=180,
                        help='seconds after which the old per-flow code\'s blocking apply is stopped (flows part)')
    parser.add_argument('--loop-limit', type=int, default=15 * 60,
                        help='seconds after which the 600-rule builtin loop is stopped and extrapolated')
    parser.add_argument('--render', metavar='RESULTS_JSON',
                        help='measure nothing: print and write the page (or the section) from a saved results '
                             'file (lab/.cache/bench/results.json of an earlier run)')
    args = parser.parse_args()
    if args.render:
        with open(args.render) as handle:
            results = json.load(handle)
        print(report.render_text(results))
        if not args.no_write:
            write(results)
        return 0
    parts = [p.strip() for p in args.parts.split(',') if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error('unknown parts: %s' % ', '.join(sorted(unknown)))
    if args.fleet_ab and parts != ['fleet']:
        parser.error('--fleet-ab goes with --parts fleet alone')
    if args.fleet_ab and args.fleet_sizes and ',' in args.fleet_sizes:
        parser.error('--fleet-ab measures one size: --fleet-sizes N')
    signal.signal(signal.SIGTERM, _terminate)

    log_dir = os.path.join(lab.CACHE, 'logs')
    os.makedirs(log_dir, exist_ok=True)
    t0 = time.perf_counter()
    results = {'parts': parts, 'quick': args.quick, 'machine': report.machine_info(),
               'load_start': os.getloadavg()}
    lab.say('load average at start: %.2f %.2f %.2f' % results['load_start'])
    the_lab = lab.Lab()
    failed = None
    retried = []

    def host1_lab():
        """(Re)start host1 (+ the client when the reload part runs) in a fresh lab."""
        the_lab.destroy(quiet=True)
        the_lab.prepare()
        specs = [(lab.HOST1, 'pbx', [('mgmt', lab.HOST1_IP['mgmt']), ('cli', lab.HOST1_IP['cli'])],
                  lab.HOST1_ENV)]
        if 'reload' in parts:
            specs.append((lab.CLIENT, 'client', [('cli', lab.CLIENT_IP)]))
        the_lab.start_many(specs)
        results['machine']['iptables_host1'] = lab.dexec(lab.HOST1, 'iptables --version').stdout.strip()
        time.sleep(2)

    def guarded(name, func, relab):
        """Run one part; when the lab broke under it (containers gone, e.g. someone else restarted
        the Docker daemon), rebuild the lab with relab() and run the part once more."""
        try:
            return func()
        except Exception as exc:
            if the_lab.intact():
                raise
            lab.say('%s: the lab broke during the part (%s); containers not running: %s. Rebuilding it and '
                    'running %s once more' % (name, str(exc).splitlines()[0][:200],
                                              ', '.join(the_lab.broken()) or 'docker not answering', name))
            retried.append(name)
            relab()
            return func()

    try:
        if 'compile' in parts:
            import compile_scale
            lab.say('compile scale...')
            sizes = (1000, 10000) if args.quick else compile_scale.SIZES
            results['compile'] = compile_scale.measure(sizes)
            for row in results['compile']:
                lab.say('compile %6d networks: %.2f s, peak RSS %.0f MiB, rules IPv4/IPv6 %d/%d, ipsets %d'
                        % (row['networks'], row['seconds'], row['peak_mib'], row['rules_ipv4'],
                           row['rules_ipv6'], row['ipsets']))
        if set(parts) & {'apply', 'noop', 'reload', 'sets', 'counters'}:
            host1_lab()
        elif 'fleet' in parts:
            the_lab.prepare()
        if set(parts) & {'apply', 'noop', 'reload', 'fleet', 'sets', 'counters'}:
            results['machine'].update(report.lab_info())
        if 'apply' in parts:
            import apply_compare
            results['apply'] = guarded('apply', lambda: apply_compare.run(
                sizes=(60,) if args.quick else (60, 600), loop_limit=args.loop_limit, log_dir=log_dir), host1_lab)
        if 'noop' in parts:
            import noop_rerun
            results['noop'] = guarded('noop', lambda: noop_rerun.run(log_dir=log_dir), host1_lab)
        if 'reload' in parts:
            import reload_safety
            results['reload'] = guarded('reload', lambda: reload_safety.run(
                log_dir=log_dir, applies=10 if args.quick else 50), host1_lab)
        if 'sets' in parts:
            import sets_scale
            lab.say('countries and blocklists (tor-geoipdb, a 50,000-entry feed)...')
            repeats = 1 if args.quick else 3
            results['sets'] = guarded('sets', lambda: sets_scale.run(log_dir=log_dir, repeats=repeats), host1_lab)
        if 'counters' in parts:
            import counter_cost
            results['counters'] = guarded('counters', lambda: counter_cost.run(
                repeats=3 if args.quick else 5, log_dir=log_dir), host1_lab)
        if set(parts) & {'apply', 'noop', 'reload', 'sets', 'counters'}:
            the_lab.remove([lab.HOST1, lab.CLIENT])
        if 'fleet' in parts:
            def fresh_lab():
                the_lab.destroy(quiet=True)
                the_lab.prepare()
            if args.fleet_ab:
                import fleet_ab
                results['fleet_ab'] = guarded('fleet', lambda: fleet_ab.run(
                    the_lab, args.fleet_ab, size=int(args.fleet_sizes or (2 if args.quick else AB_SIZE)),
                    rounds=args.fleet_repeats or (1 if args.quick else 3), log_dir=log_dir), fresh_lab)
            else:
                import fleet_scale
                if args.fleet_sizes:
                    sizes = tuple(int(n) for n in args.fleet_sizes.split(','))
                else:
                    sizes = (1, 5) if args.quick else fleet_scale.SIZES
                results['fleet'] = guarded('fleet', lambda: fleet_scale.run(
                    the_lab, sizes=sizes, log_dir=log_dir, repeats=args.fleet_repeats or 2,
                    profile_at=args.fleet_profile), fresh_lab)
        if 'sip' in parts:
            import sip_guards
            lab.say('SIP guards under attack tools (waits for /tmp/pbxfw-kernel.lock)...')
            results['sip'] = sip_guards.run_locked()
        if 'flows' in parts:
            import flows_scale
            lab.say('ending flows after a blocking apply...')
            results['flows'] = flows_scale.run(sizes=(10000,) if args.quick else flows_scale.SIZES,
                                               cap=args.flows_cap, log_dir=log_dir)
    except (Exception, KeyboardInterrupt) as exc:
        failed = exc
        traceback.print_exc()
    finally:
        if the_lab.containers or set(parts) & set(LAB_PARTS):
            lab.say('cleaning up the benchmark lab')
            the_lab.destroy()
    results['retried'] = retried

    results['seconds'] = time.perf_counter() - t0
    results['load_end'] = os.getloadavg()
    for name in ('results.json', 'results-%s.json' % time.strftime('%Y%m%d-%H%M%S')):   # latest + kept copy
        with open(os.path.join(lab.CACHE, name), 'w') as handle:
            json.dump(results, handle, indent=1, default=str)
    text = report.render_text(results)
    print()
    print(text)
    if failed is not None:
        lab.say('FAILED: %s (partial results in lab/.cache/bench/results.json; docs/ not written)' % failed)
        return 1
    if not args.no_write:
        write(results)
    lab.say('total %.0f s (%.1f min)' % (results['seconds'], results['seconds'] / 60))
    return 0


if __name__ == '__main__':
    sys.exit(main())
