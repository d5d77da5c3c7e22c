# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host-firewall lab of tests/integration/hostfw (lab/hostfw_fleet.py).

PBX containers of the image ``pbxops/lab-pbx:hostfw`` (Debian 12 with firewalld 1.3.3,
ufw 0.36.2, nftables and netfilter-persistent's packages, none running) with real sshd,
fail2ban and stand-in services on three Docker networks, and two client containers that
``pbxops.firewall.verify`` probes from. The role runs over SSH as it would against a
real host; every verdict is checked with real packets (verify's matrix).

``HostfwLab.fresh(name)`` gives a new container for one PBX (each test module starts clean);
the ``hostfw_lab`` fixture (conftest.py) builds the image, the networks and the clients.

Policy (POLICY, lab/hostfw/group_vars/pbx.yml): Management 10.203.0.0/24 ssh; Office LAN
10.203.10.0/24 sip, web, ssh, icmp; Internet 10.203.30.0/24 sip, block web. From each client verify probes every port
of every service of the policy on the PBX's office and internet addresses.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LAB = os.path.join(REPO, 'lab')
sys.path.insert(0, LAB)

import hostfw_fleet  # noqa: E402  pylint: disable=wrong-import-position,import-error

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
# the lab's policy (also Molecule's, extensions/molecule/firewalld)
with open(os.path.join(LAB, 'hostfw', 'group_vars', 'pbx.yml')) as _handle:
    POLICY = yaml.safe_load(_handle)
FIREWALL_TASK = 'Apply the owned iptables and ip6tables chains'
# everything a refusal or check mode must leave byte-identical but packet counters (the traffic
# of the run itself moves them); nft prints a warning per iptables-nft table on stderr
STATE_COMMANDS = (
    ('iptables-save', r"iptables-save | grep -v '^#' | sed -E 's/\[[0-9]+:[0-9]+\]$/[0:0]/'"),
    ('ip6tables-save', r"ip6tables-save | grep -v '^#' | sed -E 's/\[[0-9]+:[0-9]+\]$/[0:0]/'"),
    ('nft list ruleset', r"nft list ruleset 2>/dev/null | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'"))


def run(argv, check=True, timeout=600, **kwargs):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                          timeout=timeout, cwd=REPO, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError('%s failed (rc=%d):\n%s' % (' '.join(argv), proc.returncode, proc.stdout[-6000:]))
    return proc


_WARNING_RE = re.compile(r"^WarningSummary\(event=Event\(msg=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")


def warning_text(recorded):
    """The message of a warning as the results callback recorded it (ansible-core 2.19+ records
    the repr of its WarningSummary)."""
    match = _WARNING_RE.match(recorded)
    return ast.literal_eval(match.group(1)) if match else recorded


class Play(object):
    """One ansible-playbook run: rc, output and every task result (host, task, status, result,
    warnings)."""

    def __init__(self, proc, results):
        self.rc = proc.returncode
        self.output = proc.stdout
        self.results = results
        for result in results:
            result['warnings'] = [warning_text(w) for w in result.get('warnings') or []]

    def task(self, name, host=None):
        found = [r for r in self.results if r['task'] == name and (host is None or r['host'] == host)]
        assert len(found) == 1, (name, [r['task'] for r in self.results], self.output[-4000:])
        return found[0]

    def firewall(self):
        return self.task(FIREWALL_TASK)

    def host_firewall_line(self, host):
        """The one line the firewall task printed for ``host`` about its other firewall managers."""
        lines = [line for line in self.output.splitlines() if line.startswith('%s: host firewall' % host)]
        assert len(lines) == 1, (lines, self.output[-4000:])
        return lines[0]


class Pbx(object):
    """One PBX container of the lab."""

    def __init__(self, lab, name):
        self.lab = lab
        self.name = name
        member = hostfw_fleet.member(name)
        self.address = lab.fleet.address(member, 'mgmt')

    def sh(self, command, check=True):
        return run(['docker', 'exec', self.name, 'sh', '-c', command], check=check).stdout

    def state(self):
        """{what: text} of everything a refusal or check mode must leave byte-identical."""
        return {what: self.sh(command) for what, command in STATE_COMMANDS}

    def digests(self, *roots):
        """{path: sha256 (or symlink target)} of every file below ``roots`` in the container."""
        script = ('import hashlib, json, os, sys\n'
                  'out = {}\n'
                  'for root in sys.argv[1:]:\n'
                  '    for d, dirs, files in os.walk(root):\n'
                  '        for f in files:\n'
                  '            p = os.path.join(d, f)\n'
                  '            out[p] = ("-> " + os.readlink(p)) if os.path.islink(p) else '
                  'hashlib.sha256(open(p, "rb").read()).hexdigest()\n'
                  'print(json.dumps(out, sort_keys=True))\n')
        return json.loads(run(['docker', 'exec', self.name, 'python3', '-c', script] + list(roots)).stdout)

    def start_firewalld(self):
        self.sh(hostfw_fleet.START_FIREWALLD)

    def stop_firewalld(self):
        """Stop firewalld the way systemd does (SIGTERM) and wait until it is gone."""
        self.sh(hostfw_fleet.STOP_FIREWALLD)


class HostfwLab(object):
    def __init__(self, workdir, home):
        self.workdir = workdir
        self.home = home
        self.fleet = hostfw_fleet.the_fleet()
        self.counter = 0

    def fresh(self, name):
        """A new container for PBX ``name`` (networks and clients are kept)."""
        hostfw_fleet.create([name])
        return Pbx(self, name)

    def inventory(self, pbx, host_vars=None):
        """Inventory (JSON) of one PBX with the policy, and the two clients as probe hosts."""
        key = hostfw_fleet.KEY
        common = {'ansible_user': 'root', 'ansible_ssh_private_key_file': key,
                  'ansible_python_interpreter': '/usr/bin/python3',
                  'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'}
        member = hostfw_fleet.member(pbx.name)
        pbx_vars = dict(common, ansible_host=pbx.address,
                        pbx_firewall_verify_addresses=[self.fleet.address(member, k) for k in ('office', 'inet')])
        pbx_vars.update(POLICY)
        pbx_vars.update(host_vars or {})
        probes = {}
        for client in hostfw_fleet.CLIENTS:
            probes[client.name] = dict(common, ansible_host=self.fleet.address(client),
                                       pbx_firewall_probe_reach=[self.fleet.networks[client.attachments[0][0]].subnet])
        return {'all': {'children': {'pbx': {'hosts': {pbx.name: pbx_vars}},
                                     'pbx_firewall_probes': {'hosts': probes}}}}

    def playbook(self, pbx, playbook, host_vars=None, args=(), check=False, diff=False):
        """ansible-playbook ``playbook`` (a path or a collection playbook) against ``pbx``."""
        self.counter += 1
        run_dir = self.workdir / ('run%d' % self.counter)
        run_dir.mkdir()
        (run_dir / 'inventory.json').write_text(json.dumps(self.inventory(pbx, host_vars), indent=1))
        argv = [ANSIBLE_PLAYBOOK, '-i', str(run_dir / 'inventory.json'), playbook] + list(args)
        argv += ['--check'] if check else []
        argv += ['--diff'] if diff else []
        env = dict(os.environ, ANSIBLE_CONFIG=str(self.home / 'ansible.cfg'),
                   ANSIBLE_CALLBACK_PLUGINS=str(self.home / 'callback_plugins'),
                   ANSIBLE_CALLBACKS_ENABLED='pbxfw_results', ANSIBLE_NOCOLOR='1', ANSIBLE_HOST_KEY_CHECKING='False',
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.build'), ANSIBLE_FORKS='10',
                   PBXFW_RESULTS=str(run_dir / 'results.json'))
        proc = run(argv, check=False, env=env)
        (run_dir / 'output.txt').write_text(proc.stdout)
        results = json.loads((run_dir / 'results.json').read_text()) if (run_dir / 'results.json').exists() else []
        return Play(proc, results)

    def role(self, pbx, host_vars=None, check=False, diff=False):
        path = self.workdir / 'role.yml'
        if not path.exists():
            path.write_text(json.dumps([{'name': 'The role', 'hosts': 'pbx', 'gather_facts': False,
                                         'roles': [{'role': 'pbxops.firewall.pbx_firewall'}]}]))
        return self.playbook(pbx, str(path), host_vars, check=check, diff=diff)

    def remove(self, pbx, host_vars=None):
        return self.playbook(pbx, 'pbxops.firewall.remove', host_vars, args=['-e', 'pbx_firewall_hosts=pbx'])

    def verify(self, pbx, name, host_vars=None):
        """pbxops.firewall.verify from both clients against ``pbx``: (play, report)."""
        report = self.workdir / ('verify-%s.json' % name)
        play = self.playbook(pbx, 'pbxops.firewall.verify', host_vars,
                             args=['-e', 'pbx_firewall_hosts=pbx', '-e', 'pbx_firewall_verify_report=%s' % report])
        with open(str(report)) as handle:
            return play, json.load(handle)


_EMPTY_BASE_CHAIN = re.compile(r'\tchain (INPUT|FORWARD|OUTPUT) \{\n\t\ttype filter hook \w+ priority filter; '
                               r'policy accept;\n\t\}\n\n?')


def ruleset_as_configured(text):
    """``nft list ruleset`` without the empty accept-policy base chains of iptables-nft's filter
    tables: iptables-nft creates them whenever an iptables command touches a table that a
    flush (firewalld's start, reload and stop) left empty; they accept everything and hold no
    rule, so they configure nothing."""
    return re.sub(r'(table ip6? filter \{)\n\}', r'\1\n}', _EMPTY_BASE_CHAIN.sub('', text)).replace(
        '{\n\n\t', '{\n\t')


def mismatches(report):
    """Sorted (probe, service, proto, port, expected, observed) of a verify report's mismatches."""
    return sorted((r['probe'], r['service'], r['proto'], r['port'], r['expected'], r['observed'])
                  for r in report['mismatches'])


def tally(report):
    """'N of M probes match' with the counts (for the test output and the closing note)."""
    counts = report['counts']
    return '%d of %d probes match (%s)' % (counts['match'], len(report['rows']),
                                           ', '.join('%s %d' % kv for kv in sorted(counts.items()) if kv[1]))


def digest(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()
