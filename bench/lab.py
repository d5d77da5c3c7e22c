# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmark's own Docker lab: networks and containers named ``pbxbench-*``.

Built with the lab's one fleet builder (``lab/fleet.py``, which the demo and Molecule use
through ``lab/demo_fleet.py``), on the demo's image (``lab/image.sh``) and Docker engine
(``lab/docker.sh``), but never touching the demo's ``pbxlab-*`` networks and containers.
Everything it creates carries the label ``pbxops.bench=1`` and is removed by
:func:`Lab.destroy`. This file keeps only the benchmark's layout and its Ansible helpers.

Layout (controller = this machine, ``.1`` on every bridge):

    network          subnet           members
    pbxbench-mgmt    10.202.0.0/24    pbxbench-host1 .11, fleet pbxbench-h1..hN .101-.(100+N) (N <= 149),
                                      verify's probe pbxbench-probe .250
    pbxbench-cli     10.202.10.0/24   pbxbench-host1 .11, pbxbench-client .101
"""

import os
import resource
import shutil
import signal
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(REPO, 'lab'))

import fleet  # noqa: E402  pylint: disable=wrong-import-position

# State, logs and results live under lab/.cache/ (git-ignored and left out of the collection
# tarball by galaxy.yml's build_ignore: the SSH key there must never ship).
CACHE = os.path.join(REPO, 'lab', '.cache', 'bench')
IMAGE = os.environ.get('LAB_IMAGE', 'pbxops/lab-pbx:bookworm')
LABEL = 'pbxops.bench=1'
KEY = os.path.join(CACHE, 'id_ed25519')

NETWORKS = [fleet.Network('mgmt', 'pbxbench-mgmt', '10.202.0'), fleet.Network('cli', 'pbxbench-cli', '10.202.10')]
HOST1 = 'pbxbench-host1'
CLIENT = 'pbxbench-client'
HOST1_IP = {'mgmt': '10.202.0.11', 'cli': '10.202.10.11'}
# host1's lab-listener leaves the reload benchmark's ports (A: 5060 tcp+udp, B: 80 tcp, 4569 udp)
# to bench/responder.py
HOST1_ENV = {'LAB_TCP_PORTS': '5061,443,5038,8088,8089,4222,8222', 'LAB_UDP_PORTS': '10000,10100,10200'}
CLIENT_IP = '10.202.10.101'


def fleet_name(index):
    return 'pbxbench-h%d' % index


def fleet_ip(index):
    return '10.202.0.%d' % (100 + index)


SSH_OPTS = fleet.ssh_opts(KEY)


def say(msg):
    print('bench: %s' % msg, flush=True)


# subprocess.run with text output, raising a RuntimeError (fleet.FleetError) with the stderr.
run = fleet.run
docker = fleet.docker


def dexec(container, script, check=True, stdin=None):
    """Run a shell script in a container (setup and reset only: never timed)."""
    return docker('exec', '-i', container, 'sh', '-c', script, check=check, input=stdin)


def ssh_argv(address, *command):
    return ['ssh'] + SSH_OPTS + ['root@%s' % address] + list(command)


def _address(attachment):
    """(net key, '10.202.x.y') -> (net key, y): the fleet builder's attachment."""
    net, address = attachment
    return net, int(address.rsplit('.', 1)[1])


class Lab:
    """Containers and networks of one benchmark run (a lab/fleet.py fleet)."""

    def __init__(self):
        self.containers = []
        self.fleet = fleet.Fleet(LABEL, NETWORKS, KEY, tag='bench', announce=False)

    # -- engine, image, key ------------------------------------------------------------------

    def prepare(self):
        os.makedirs(CACHE, exist_ok=True)
        run(['bash', os.path.join(REPO, 'lab', 'docker.sh')], capture=False)
        run(['bash', os.path.join(REPO, 'lab', 'image.sh')], capture=False)
        if not os.path.exists(KEY):
            run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'pbxops-bench', '-f', KEY])
        self.destroy(quiet=True)     # leftovers of an interrupted run (ours only: label + name)
        self.fleet.check_routes()
        self.fleet.ensure_networks(down_hint='the benchmark removes its lab at the end of a run')

    # -- containers --------------------------------------------------------------------------

    def start(self, name, role, attachments, env=None):
        """attachments: [(net key, address)], the first one primary; env: extra variables."""
        self.fleet.ensure(fleet.Member(name, role, IMAGE, [_address(a) for a in attachments], env=env))
        self.containers.append(name)

    def start_many(self, specs):
        """specs: [(name, role, attachments[, env])]; start all, then wait for SSH on each."""
        for spec in specs:
            self.start(*spec)
        self.wait_ssh([spec[2][0][1] for spec in specs])

    def wait_ssh(self, addresses, timeout=90):
        self.fleet.wait_ssh(addresses, timeout)

    def broken(self):
        """Containers of this run that are not running (all of them when Docker does not answer)."""
        running = self.fleet.running()
        if running is None:
            return list(self.containers)
        return [name for name in self.containers if name not in running]

    def intact(self):
        return not self.broken()

    def remove(self, names):
        names = [n for n in names if n in self.containers]
        if names:
            docker('rm', '-f', *names, check=False)
            self.containers = [c for c in self.containers if c not in names]

    def destroy(self, quiet=False):
        """Remove every pbxbench container (label) and network (name + label)."""
        self.fleet.destroy(quiet=quiet)
        self.containers = []


# -- Ansible ---------------------------------------------------------------------------------

def write_inventory(path, hosts, group='bench', extra_vars=None):
    """hosts: [(inventory name, address)]."""
    return fleet.write_inventory(path, group, [(name, address, {}) for name, address in hosts], KEY,
                                 'Generated by bench/ (pbxbench-* containers).', extra_vars)


_RUN_COUNTER = [0]


def ansible_env(forks=None, extra=None):
    """Environment for ansible(-playbook): the repo's ansible.cfg and a fresh SSH control
    directory per run, so that every measured run pays for its own SSH connections."""
    _RUN_COUNTER[0] += 1
    cp_dir = os.path.join(CACHE, 'cp', '%d-%d' % (os.getpid(), _RUN_COUNTER[0]))
    os.makedirs(cp_dir, exist_ok=True)
    env = dict(os.environ)
    env.update({
        'ANSIBLE_CONFIG': os.path.join(REPO, 'ansible.cfg'),
        'ANSIBLE_HOST_KEY_CHECKING': 'False',
        'ANSIBLE_SSH_CONTROL_PATH_DIR': cp_dir,
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'PATH': os.path.join(REPO, '.venv', 'bin') + os.pathsep + os.environ.get('PATH', ''),
    })
    if forks:
        env['ANSIBLE_FORKS'] = str(forks)
    env.update(extra or {})
    return env, cp_dir


def close_masters(cp_dir):
    """End the SSH ControlMaster processes of one run (ours: they live in cp_dir)."""
    for entry in os.listdir(cp_dir) if os.path.isdir(cp_dir) else []:
        subprocess.run(['ssh', '-o', 'ControlPath=' + os.path.join(cp_dir, entry), '-O', 'exit', 'x'],
                       capture_output=True, check=False)
    shutil.rmtree(cp_dir, ignore_errors=True)


class Timeout(Exception):
    """An ansible run took longer than its time limit (it was stopped)."""


_CGROUP_COUNTER = [0]


class CpuGroup:
    """The CPU seconds of one command and of everything it starts, daemons included.

    ``getrusage(RUSAGE_CHILDREN)`` misses the SSH ControlMaster processes: ssh puts them in the
    background, they are re-parented away and nobody waits for them, yet they do the
    encryption of every session. A cgroup of its own (cgroup v1 ``cpuacct``, or v2 ``cpu.stat``)
    counts every process the command starts, wherever it is re-parented. The child joins the
    group before it executes (``enter`` as ``preexec_fn``). Without a usable cgroup file
    system ``close()`` returns None and the caller falls back to ``RUSAGE_CHILDREN``."""

    def __init__(self):
        _CGROUP_COUNTER[0] += 1
        name = 'pbxbench-%d-%d' % (os.getpid(), _CGROUP_COUNTER[0])
        self.path = None
        for root, usage in (('/sys/fs/cgroup/cpuacct', 'cpuacct.usage'), ('/sys/fs/cgroup/unified', 'cpu.stat'),
                            ('/sys/fs/cgroup', 'cpu.stat')):
            if os.path.exists(os.path.join(root, usage)) or os.path.exists(os.path.join(root, 'cgroup.procs')):
                try:
                    os.mkdir(os.path.join(root, name))
                except OSError:
                    continue
                if os.path.exists(os.path.join(root, name, usage)):
                    self.path, self.usage = os.path.join(root, name), usage
                    break
                os.rmdir(os.path.join(root, name))

    def enter(self):
        """Move the calling process into the group (in the child, before exec)."""
        if self.path:
            with open(os.path.join(self.path, 'cgroup.procs'), 'w') as handle:
                handle.write(str(os.getpid()))

    def _read(self):
        with open(os.path.join(self.path, self.usage)) as handle:
            text = handle.read()
        if self.usage == 'cpuacct.usage':
            return int(text) / 1e9
        return int(dict(line.split() for line in text.splitlines())['usage_usec']) / 1e6

    def close(self, wait=10.0):
        """Wait (bounded) until every process of the group has ended, then remove the group.
        Returns its CPU seconds, or None without a cgroup."""
        if not self.path:
            return None
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with open(os.path.join(self.path, 'cgroup.procs')) as handle:
                if not handle.read().split():
                    break
            time.sleep(0.1)
        seconds = self._read()
        try:
            os.rmdir(self.path)
        except OSError:
            pass
        return seconds


def ansible(argv, forks=None, env_extra=None, log=None, check=True, timeout=None, launcher=None, prefix=()):
    """Run an ansible command from the repo root; returns (seconds, CompletedProcess).

    The CompletedProcess carries ``controller_cpu``: the CPU seconds of the command and every
    process it started, SSH ControlMasters included (``CpuGroup``; ``RUSAGE_CHILDREN`` where
    no cgroup can be made). With ``timeout``, a run still going after that many seconds is
    stopped (its own process group: ansible-playbook and its forks) and Timeout is raised.
    ``launcher``: argv put before the command's Python script (``bench/instrument.py``);
    ``prefix``: the command it runs behind (``ip netns exec NAME``)."""
    env, cp_dir = ansible_env(forks, env_extra)
    binary = os.path.join(REPO, '.venv', 'bin', argv[0])
    if launcher:
        binary_argv = [os.path.join(REPO, '.venv', 'bin', 'python')] + launcher + ['--', binary] + argv[1:]
    else:
        binary_argv = [binary] + argv[1:]
    group = CpuGroup()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    child = subprocess.Popen(list(prefix) + binary_argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=group.enter)
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
        close_masters(cp_dir)
        group.close()
        raise Timeout('%s: stopped after %d s' % (' '.join(argv[:2]), timeout))
    except BaseException:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait()
        close_masters(cp_dir)
        group.close()
        raise
    seconds = time.perf_counter() - start
    proc = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    close_masters(cp_dir)
    proc.controller_cpu = group.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.controller_cpu is None:
        proc.controller_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if log:
        with open(log, 'w') as handle:
            handle.write('$ %s\n# %.2f s, rc=%d\n%s\n--- stderr\n%s' % (
                ' '.join(argv), seconds, proc.returncode, proc.stdout, proc.stderr))
    if check and proc.returncode != 0:
        raise RuntimeError('%s failed (rc=%d), log %s:\n%s\n%s' % (
            ' '.join(argv[:2]), proc.returncode, log, proc.stdout[-3000:], proc.stderr[-2000:]))
    return seconds, proc


# -- host state -------------------------------------------------------------------------------

RESET_FIREWALL = r'''
set -u
for t in iptables ip6tables; do
  while $t -w -D INPUT -j PBX-FIREWALL 2>/dev/null; do :; done
  $t -w -F INPUT 2>/dev/null
  for c in $($t -w -S 2>/dev/null | awk '$1 == "-N" && ($2 == "PBX-FIREWALL" || $2 ~ /^PBX-FW-/) {print $2}'); do
    $t -w -F "$c"; $t -w -X "$c"
  done
done
for s in $(ipset list -n 2>/dev/null | grep '^pbxfw-'); do ipset destroy "$s"; done
rm -rf /run/pbx-firewall
'''
# The role's files too (fail2ban jail.d file, Asterisk include), for a clean role apply. A
# PBX has an Asterisk configuration: hosts of the bookworm image (no Asterisk installed) get
# a pjsip.conf with one transport, so the role's Asterisk part runs as on a PBX (no Asterisk
# answers: the reload handler finds none and reports it).
RESET_ROLE = RESET_FIREWALL + r'''
rm -rf /etc/pbx-firewall /etc/systemd/system/pbx-firewall.service \
       /etc/systemd/system/multi-user.target.wants/pbx-firewall.service \
       /etc/systemd/system/docker.service.d/pbx-firewall.conf \
       /etc/fail2ban/jail.d/pbx-firewall.local /etc/asterisk/pjsip_pbx_firewall.conf
mkdir -p /etc/asterisk
[ -f /etc/asterisk/pjsip.conf ] || printf '[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0:5060\n' \
  >/etc/asterisk/pjsip.conf
sed -i '/^#include pjsip_pbx_firewall.conf$/d' /etc/asterisk/pjsip.conf
exit 0
'''


def reset(container, role=False):
    dexec(container, RESET_ROLE if role else RESET_FIREWALL + 'exit 0\n')


def filter_state(container):
    """The rules that matter for comparing sides: owned chain(s) and INPUT, in order."""
    out = dexec(container, 'iptables-save -t filter').stdout
    keep = []
    for line in out.splitlines():
        if line.startswith(('-A INPUT', '-A PBX-FIREWALL', '-A PBX-FW-')) or \
                line.startswith((':PBX-FIREWALL', ':PBX-FW-')):
            keep.append(line.split(' [')[0] if line.startswith(':') else line)
    return keep
