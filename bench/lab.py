# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmark's own Docker lab: networks and containers named ``pbxbench-*``.

It reuses the demo lab's image (``lab/image.sh``) and Docker engine (``lab/docker.sh``)
but never touches the demo's ``pbxlab-*`` networks and containers. Everything it creates
carries the label ``pbxops.bench=1`` and is removed by :func:`Lab.destroy`.

Layout (controller = this machine, ``.1`` on every bridge):

    network          subnet           members
    pbxbench-mgmt    10.202.0.0/24    pbxbench-host1 .11, fleet pbxbench-h1..h20 .101-.120
    pbxbench-cli     10.202.10.0/24   pbxbench-host1 .11, pbxbench-client .101
"""

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
# State, logs and results live under lab/.cache/ (git-ignored and left out of the collection
# tarball by galaxy.yml's build_ignore: the SSH key there must never ship).
CACHE = os.path.join(REPO, 'lab', '.cache', 'bench')
IMAGE = os.environ.get('LAB_IMAGE', 'pbxops/lab-pbx:bookworm')
LABEL = 'pbxops.bench=1'
KEY = os.path.join(CACHE, 'id_ed25519')

NETWORKS = {
    'mgmt': ('pbxbench-mgmt', '10.202.0'),
    'cli': ('pbxbench-cli', '10.202.10'),
}
HOST1 = 'pbxbench-host1'
CLIENT = 'pbxbench-client'
HOST1_IP = {'mgmt': '10.202.0.11', 'cli': '10.202.10.11'}
# host1's lab-listener leaves the reload benchmark's ports (A: 5060 tcp+udp, B: 80 tcp, 4569 udp)
# to bench/responder.py
HOST1_ENV = {'LAB_TCP_PORTS': '5061,443,5038,8088,8089,4222,8222', 'LAB_UDP_PORTS': '10000,10100,10200'}
CLIENT_IP = '10.202.10.101'
FLEET_MAX = 20


def fleet_name(index):
    return 'pbxbench-h%d' % index


def fleet_ip(index):
    return '10.202.0.%d' % (100 + index)


SSH_OPTS = ['-i', KEY, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-o', 'StrictHostKeyChecking=no',
            '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ControlMaster=no',
            '-o', 'ControlPath=none']


def say(msg):
    print('bench: %s' % msg, flush=True)


def run(argv, check=True, capture=True, **kwargs):
    """subprocess.run with text output; raises with the command's stderr on failure."""
    proc = subprocess.run(argv, capture_output=capture, text=True, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError('%s failed (rc=%d): %s' % (' '.join(argv), proc.returncode,
                                                      (proc.stderr or proc.stdout or '').strip()[-2000:]))
    return proc


def docker(*args, check=True, **kwargs):
    return run(['docker'] + list(args), check=check, **kwargs)


def dexec(container, script, check=True, stdin=None):
    """Run a shell script in a container (setup and reset only: never timed)."""
    return docker('exec', '-i', container, 'sh', '-c', script, check=check, input=stdin)


def ssh_argv(address, *command):
    return ['ssh'] + SSH_OPTS + ['root@%s' % address] + list(command)


class Lab:
    """Containers and networks of one benchmark run."""

    def __init__(self):
        self.containers = []

    # -- engine, image, key ------------------------------------------------------------------

    def prepare(self):
        os.makedirs(CACHE, exist_ok=True)
        run(['bash', os.path.join(REPO, 'lab', 'docker.sh')], capture=False)
        run(['bash', os.path.join(REPO, 'lab', 'image.sh')], capture=False)
        if not os.path.exists(KEY):
            run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'pbxops-bench', '-f', KEY])
        self.destroy(quiet=True)     # leftovers of an interrupted run (ours only: label + name)
        self._check_routes()
        for name, prefix in NETWORKS.values():
            docker('network', 'create', '--driver', 'bridge', '--subnet', prefix + '.0/24',
                   '--gateway', prefix + '.1', '-o', 'com.docker.network.bridge.name=' + name,
                   '--label', LABEL, name)

    def _check_routes(self):
        ours = [ipaddress.ip_network(prefix + '.0/24') for _name, prefix in NETWORKS.values()]
        for line in run(['ip', '-o', '-4', 'route', 'show']).stdout.splitlines():
            words = line.split()
            if not words or words[0] == 'default':
                continue
            try:
                net = ipaddress.ip_network(words[0], strict=False)
            except ValueError:
                continue
            for mine in ours:
                if mine.overlaps(net):
                    raise RuntimeError('bench subnet %s overlaps the route %r of this machine' % (mine, line))

    # -- containers --------------------------------------------------------------------------

    def start(self, name, role, attachments, env=None):
        """attachments: [(net key, address)], the first one primary; env: extra variables."""
        first_net, first_ip = attachments[0]
        env_args = []
        for key, value in sorted((env or {}).items()):
            env_args += ['-e', '%s=%s' % (key, value)]
        docker('create', '--name', name, '--hostname', name, '--label', LABEL,
               '--cap-add', 'NET_ADMIN', '--cap-add', 'NET_RAW', '-e', 'LAB_ROLE=' + role, *env_args,
               '-v', KEY + '.pub:/run/lab/authorized_keys:ro',
               '--network', NETWORKS[first_net][0], '--ip', first_ip, IMAGE)
        self.containers.append(name)
        for net, address in attachments[1:]:
            docker('network', 'connect', '--ip', address, NETWORKS[net][0], name)
        docker('start', name)

    def start_many(self, specs):
        """specs: [(name, role, attachments[, env])]; start all, then wait for SSH on each."""
        for spec in specs:
            self.start(*spec)
        self.wait_ssh([spec[2][0][1] for spec in specs])

    @staticmethod
    def wait_ssh(addresses, timeout=90):
        deadline = time.monotonic() + timeout
        pending = list(addresses)
        while pending:
            left = []
            for address in pending:
                proc = subprocess.run(ssh_argv(address, 'test -x /usr/bin/python3'), capture_output=True,
                                      check=False)
                if proc.returncode != 0:
                    left.append(address)
            pending = left
            if not pending:
                break
            if time.monotonic() > deadline:
                raise RuntimeError('no SSH from %s after %d s' % (', '.join(pending), timeout))
            time.sleep(0.5)

    def broken(self):
        """Containers of this run that are not running (all of them when Docker does not answer)."""
        proc = docker('ps', '--filter', 'label=' + LABEL, '--filter', 'status=running', '--format', '{{.Names}}',
                      check=False)
        if proc.returncode != 0:
            return list(self.containers)
        running = set(proc.stdout.split())
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
        ids = docker('ps', '-aq', '--filter', 'label=' + LABEL, check=False).stdout.split()
        if ids:
            names = docker('ps', '-a', '--filter', 'label=' + LABEL, '--format', '{{.Names}}',
                           check=False).stdout.split()
            if not quiet:
                say('removing containers: %s' % ' '.join(sorted(names)))
            docker('rm', '-f', *ids, check=False)
        for name, _prefix in NETWORKS.values():
            inspect = docker('network', 'inspect', name, '--format', '{{json .Labels}}', check=False)
            if inspect.returncode != 0:
                continue
            labels = json.loads(inspect.stdout or 'null') or {}
            if labels.get('pbxops.bench') != '1':
                raise RuntimeError('network %s exists without the pbxops.bench label; not ours, '
                                   'refusing to remove it' % name)
            for _attempt in range(20):     # endpoints of removed containers go away asynchronously
                if docker('network', 'rm', name, check=False).returncode == 0:
                    break
                time.sleep(0.5)
            if not quiet:
                say('removed network %s' % name)
        self.containers = []


# -- Ansible ---------------------------------------------------------------------------------

def write_inventory(path, hosts, group='bench', extra_vars=None):
    """hosts: [(inventory name, address)]."""
    lines = ['# Generated by bench/ (pbxbench-* containers).', '%s:' % group, '  hosts:']
    for name, address in hosts:
        lines += ['    %s:' % name, '      ansible_host: %s' % address]
    lines += ['  vars:',
              '    ansible_user: root',
              '    ansible_ssh_private_key_file: %s' % KEY,
              '    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null',
              '    ansible_python_interpreter: /usr/bin/python3']
    for key, value in sorted((extra_vars or {}).items()):
        lines.append('    %s: %s' % (key, json.dumps(value)))
    with open(path, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    return path


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


def ansible(argv, forks=None, env_extra=None, log=None, check=True, timeout=None):
    """Run an ansible command from the repo root; returns (seconds, CompletedProcess).

    With ``timeout``, a run still going after that many seconds is stopped (its own process
    group: ansible-playbook and its forks) and Timeout is raised."""
    env, cp_dir = ansible_env(forks, env_extra)
    binary = os.path.join(REPO, '.venv', 'bin', argv[0])
    start = time.perf_counter()
    child = subprocess.Popen([binary] + argv[1:], cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
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
        raise Timeout('%s: stopped after %d s' % (' '.join(argv[:2]), timeout))
    except BaseException:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait()
        close_masters(cp_dir)
        raise
    seconds = time.perf_counter() - start
    proc = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    close_masters(cp_dir)
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
# The role's files too (fail2ban jail.d file, Asterisk include), for a clean role apply.
RESET_ROLE = RESET_FIREWALL + r'''
rm -rf /etc/pbx-firewall /etc/systemd/system/pbx-firewall.service \
       /etc/systemd/system/multi-user.target.wants/pbx-firewall.service \
       /etc/systemd/system/docker.service.d/pbx-firewall.conf \
       /etc/fail2ban/jail.d/pbx-firewall.local /etc/asterisk/pjsip_pbx_firewall.conf
[ -f /etc/asterisk/pjsip.conf ] && sed -i '/^#include pjsip_pbx_firewall.conf$/d' /etc/asterisk/pjsip.conf
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
