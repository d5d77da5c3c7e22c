# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the reliability suite (on top of ``tests/integration/conftest.py``).

* ``playbook``: runs whole plays (roles, several hosts, play keywords) with
  ``ansible-playbook`` and returns every result with its host and task name;
* ``fail2ban``: a real fail2ban-server inside a network namespace, with its own socket,
  pid file, database, log and configuration under a temporary directory;
* ``ssh_fleet``: several sshd hosts, each in its own network namespace, reachable from
  the root namespace over a veth pair (the same layout as the ``ssh_host`` fixture);
* ``client``: a second namespace wired to the ``netns`` host, for real traffic probes;
* ``role_paths``: temporary fail2ban, Asterisk and persistence paths for role runs.

Only private addresses are used: 10.213.0.0/16 on veth pairs to the root namespace
(like ``ssh_host``), 10.214.0.0/16 between two test namespaces.
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest


class _LazySupport:
    """``_support`` imported on first use: initial conftests load before the repository's
    conftest installs Ansible's collection finder, so nothing from ``ansible_collections``
    may be imported at module level here."""

    def __getattr__(self, name):
        module = importlib.import_module('ansible_collections.pbxops.firewall.tests.integration.reliability._support')
        return getattr(module, name)


sup = _LazySupport()

PYTHON = sys.executable
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(PYTHON), 'ansible-playbook')
SSHD = shutil.which('sshd') or '/usr/sbin/sshd'


# ------------------------------------------------------------------------------------------
# ansible-playbook with whole plays
# ------------------------------------------------------------------------------------------

class PlayRun:
    """The outcome of one ansible-playbook run."""

    def __init__(self, rc, output, results, run_dir):
        self.rc = rc
        self.output = output
        self.results = results
        self.run_dir = run_dir

    def of(self, host=None, task=None, handler=None):
        return [r for r in self.results
                if (host is None or r['host'] == host) and (task is None or r['task'] == task)
                and (handler is None or r['handler'] is handler)]

    def one(self, host=None, task=None):
        found = self.of(host, task)
        assert len(found) == 1, (host, task, [(r['host'], r['task']) for r in self.results], self.output)
        return found[0]

    def changed_by_task(self, host):
        """{task name: changed} of one host (a task seen twice, e.g. a handler, keeps the last)."""
        return {r['task']: bool(r['result'].get('changed')) for r in self.of(host)}


class Playbook:
    """Runs plays given as data; inventory given as {host: vars} (written as JSON, i.e. YAML)."""

    def __init__(self, ansible):
        self.ansible = ansible              # the ``ansible`` fixture of tests/integration/conftest.py
        self.counter = 0

    def start(self, plays, hosts, netns=None, check=False, diff=False, tags=None):
        self.counter += 1
        run_dir = self.ansible.workdir / ('play%d' % self.counter)
        run_dir.mkdir(parents=True)
        (run_dir / 'playbook.yml').write_text(json.dumps(plays, indent=1))
        (run_dir / 'inventory.yml').write_text(json.dumps({'all': {'hosts': hosts}}, indent=1))
        argv = [ANSIBLE_PLAYBOOK, '-i', str(run_dir / 'inventory.yml'), str(run_dir / 'playbook.yml')]
        if check:
            argv.append('--check')
        if diff:
            argv.append('--diff')
        if tags:
            argv += ['--tags', tags]
        if netns is not None:
            argv = sup.ns_argv(netns, *argv)
        # the results callback of tests/integration/conftest.py, in its full (per host) shape
        env = self.ansible.env({'PBXFW_RESULTS': str(run_dir / 'results.json'), 'ANSIBLE_FORKS': '20'})
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                cwd=str(run_dir))
        return proc, run_dir

    @staticmethod
    def wait(started, timeout=400):
        proc, run_dir = started
        output = proc.communicate(timeout=timeout)[0]
        (run_dir / 'output.txt').write_text(output)
        path = run_dir / 'results.json'
        if not path.exists():
            raise AssertionError('ansible-playbook recorded no result (rc=%d):\n%s' % (proc.returncode, output))
        return PlayRun(proc.returncode, output, json.loads(path.read_text()), run_dir)

    def run(self, plays, hosts, **kwargs):
        return self.wait(self.start(plays, hosts, **kwargs))


@pytest.fixture
def playbook(ansible):
    return Playbook(ansible)


# ------------------------------------------------------------------------------------------
# temporary paths for role runs
# ------------------------------------------------------------------------------------------

PJSIP_CONF = '''; administrator's pjsip.conf (test)
[global]
type=global

[transport-udp]
type=transport
protocol=udp
bind=0.0.0.0:5060
'''
SIP_CONF = '''; administrator's sip.conf (test)
[general]
udpbindaddr=0.0.0.0:5060
'''


class RolePaths:
    """A fail2ban configuration tree, an Asterisk configuration directory and persistence dirs."""

    def __init__(self, root):
        self.root = root
        self.fail2ban_dir = root / 'fail2ban'
        self.jail_file = self.fail2ban_dir / 'jail.d' / 'pbx-firewall.local'
        self.asterisk_dir = root / 'asterisk'
        self.persist_dir = root / 'persist'
        self.unit_dir = root / 'systemd'
        self.metrics_script = root / 'sbin' / 'pbx-firewall-metrics'
        self.metrics_cron = root / 'cron.d' / 'pbx-firewall-metrics'
        self.metrics_script.parent.mkdir(parents=True)
        self.metrics_cron.parent.mkdir(parents=True)
        copy_fail2ban_config(self.fail2ban_dir)
        self.asterisk_dir.mkdir()
        (self.asterisk_dir / 'pjsip.conf').write_text(PJSIP_CONF)
        (self.asterisk_dir / 'sip.conf').write_text(SIP_CONF)

    def role_vars(self):
        return {
            'pbx_firewall_fail2ban_jail_file': str(self.jail_file),
            'pbx_firewall_asterisk_config_dir': str(self.asterisk_dir),
            'pbx_firewall_persist_dir': str(self.persist_dir),
            'pbx_firewall_unit_dir': str(self.unit_dir),
            'pbx_firewall_metrics_script': str(self.metrics_script),
            'pbx_firewall_metrics_cron_file': str(self.metrics_cron),
        }

    def module_defaults(self):
        """Play keyword, belt and braces: the module's boot files go under the temporary root."""
        return {sup.MODULE: {'persist_dir': str(self.persist_dir), 'unit_dir': str(self.unit_dir)}}

    def artefacts(self):
        """Digests of every file the role owns or edits."""
        return sup.tree_digests(self.jail_file, self.asterisk_dir, self.persist_dir, self.unit_dir,
                                self.fail2ban_dir / 'filter.d', self.metrics_script.parent, self.metrics_cron.parent)


def copy_fail2ban_config(target):
    """The distribution's fail2ban configuration without its enabled jails (they need system logs)."""
    shutil.copytree('/etc/fail2ban', str(target), symlinks=True)
    for name in os.listdir(str(target / 'jail.d')):
        os.unlink(str(target / 'jail.d' / name))


# What a role run would write on the machine itself if a path variable were not honoured.
REAL_HOST_PATHS = ('/etc/pbx-firewall', '/etc/systemd/system/pbx-firewall.service',
                   '/etc/systemd/system/multi-user.target.wants/pbx-firewall.service',
                   '/etc/systemd/system/docker.service.d/pbx-firewall.conf',
                   '/etc/fail2ban/jail.d/pbx-firewall.local', '/etc/asterisk/pjsip_pbx_firewall.conf',
                   '/etc/fail2ban/filter.d/pbx-firewall-drops.conf', '/usr/local/sbin/pbx-firewall-metrics',
                   '/etc/cron.d/pbx-firewall-metrics')


@pytest.fixture
def role_paths(tmp_path, integration_env, needs):
    needs(os.path.isdir('/etc/fail2ban') and shutil.which('fail2ban-client'), 'fail2ban is not installed')
    root = tmp_path / 'host'
    root.mkdir()
    existing = {p for p in REAL_HOST_PATHS if os.path.lexists(p)}
    yield RolePaths(root)
    leaked = [p for p in REAL_HOST_PATHS if os.path.lexists(p) and p not in existing]
    for path in leaked:     # created by this test's role runs: take them back off the machine
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    assert not leaked, 'a role run wrote to the machine itself instead of the temporary paths: %s' % leaked


# ------------------------------------------------------------------------------------------
# fail2ban inside a namespace
# ------------------------------------------------------------------------------------------

FAIL2BAN_FILTER = r'''[Definition]
failregex = ^\s*pbxrel auth failure from <HOST>$
ignoreregex =
datepattern = {^LN-BEG}%%Y-%%m-%%d %%H:%%M:%%S
'''


class Fail2ban:
    """fail2ban-server in a namespace: own socket, pid file, database, log, configuration."""

    JAIL = 'pbxrel'

    def __init__(self, ns_name, root):
        self.ns = ns_name
        self.root = root
        self.conf = root / 'conf'
        self.socket = root / 'f2b.sock'
        self.pidfile = root / 'f2b.pid'
        self.log = root / 'fail2ban.log'
        self.watched = root / 'pbx-auth.log'
        self.proc = None
        copy_fail2ban_config(self.conf)
        (self.conf / 'fail2ban.local').write_text(
            '[Definition]\nloglevel = INFO\nlogtarget = %s\nsocket = %s\npidfile = %s\ndbfile = %s\n'
            % (self.log, self.socket, self.pidfile, root / 'fail2ban.sqlite3'))
        (self.conf / 'filter.d' / 'pbxrel.conf').write_text(FAIL2BAN_FILTER)
        (self.conf / 'jail.local').write_text('\n'.join([
            '[%s]' % self.JAIL,
            'enabled = true',
            'filter = pbxrel',
            'logpath = %s' % self.watched,
            'backend = polling',
            'banaction = iptables-multiport',
            'port = 5060,5061',
            'protocol = udp',
            'maxretry = 3',
            'findtime = 1h',
            'bantime = 1d',
            '',
        ]))
        self.watched.write_text('')

    def start(self):
        out = open(str(self.root / 'server.out'), 'w')
        self.proc = subprocess.Popen(sup.ns_argv(self.ns, 'fail2ban-server', '-f', '-x', '-c', str(self.conf),
                                                 '-s', str(self.socket), '-p', str(self.pidfile)),
                                     stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        out.close()
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError('fail2ban-server did not start: %s\n%s' % (
                    (self.root / 'server.out').read_text(), self.log.read_text() if self.log.exists() else ''))
            status = self.client('status', self.JAIL, check=False)
            if 'Currently banned' in status:
                return
            time.sleep(0.2)

    def client(self, *args, check=True):
        proc = sup.run(sup.ns_argv(self.ns, 'fail2ban-client', '-s', str(self.socket), *args), check=check)
        return proc.stdout

    def ban(self, *addresses):
        self.client('set', self.JAIL, 'banip', *addresses)

    def fail(self, address, times=3):
        """Log ``times`` authentication failures of ``address`` (the jail bans at maxretry=3)."""
        stamp = time.strftime('%Y-%m-%d %H:%M:%S')
        with open(str(self.watched), 'a') as handle:
            for _n in range(times):
                handle.write('%s pbxrel auth failure from %s\n' % (stamp, address))

    def banned(self):
        """{address} fail2ban reports as banned in the jail."""
        text = self.client('get', self.JAIL, 'banned').strip()
        return set(json.loads(text.replace("'", '"'))) if text not in ('', '[]') else set()

    def pid(self):
        return int(self.pidfile.read_text().strip())

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.client('stop', check=False)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def fail2ban(netns, tmp_path, needs):
    needs(shutil.which('fail2ban-server'), 'fail2ban is not installed')
    root = tmp_path / 'f2b'
    root.mkdir()
    server = Fail2ban(netns.name, root)
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------
# several sshd hosts, each in its own namespace
# ------------------------------------------------------------------------------------------

class FleetHost:
    """sshd in its own namespace; the controller is the root namespace end of a veth pair."""

    def __init__(self, name, ns, address, controller, key, workdir):
        self.name = name
        self.ns = ns
        self.address = address
        self.controller = controller
        self.key = key
        self.workdir = workdir
        self.proc = None

    def inventory_vars(self, **extra):
        values = {
            'ansible_host': self.address, 'ansible_user': 'root', 'ansible_ssh_private_key_file': self.key,
            'ansible_python_interpreter': PYTHON,
            'ansible_ssh_common_args': '-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no',
        }
        values.update(extra)
        return values

    def reachable(self, timeout=1.0):
        try:
            with socket.create_connection((self.address, 22), timeout=timeout) as conn:
                conn.settimeout(timeout)
                return conn.recv(4).startswith(b'SSH-')
        except OSError:
            return False

    def login(self, command='true', timeout=15):
        """A brand-new SSH login (no connection sharing); returns the completed process."""
        return subprocess.run(
            ['ssh', '-o', 'ControlMaster=no', '-o', 'ControlPath=none', '-o', 'BatchMode=yes',
             '-o', 'ConnectTimeout=5', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=no',
             '-o', 'LogLevel=ERROR', '-i', self.key, 'root@%s' % self.address, command],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, check=False)


def _free_veth_index(taken):
    used = sup.run(['ip', '-4', 'route', 'show', 'root', '10.213.0.0/16']).stdout
    for _n in range(1000):
        index = secrets.randbelow(250) + 1
        if '10.213.%d.' % index not in used and index not in taken:
            return index
    raise AssertionError('no free 10.213.X.0/30 for a veth pair')


@pytest.fixture
def ssh_fleet(integration_env, tmp_path, needs):
    """Factory: ``ssh_fleet(count)`` -> [FleetHost]; everything is removed afterwards."""
    needs(os.path.exists(SSHD), 'openssh-server (sshd) is not installed')
    created = []       # (namespace, outer veth, FleetHost)
    taken = set()

    def make(count):
        hosts = []
        for number in range(count):
            ns = 'pbxr-%s' % secrets.token_hex(4)
            sup.run(['ip', 'netns', 'add', ns])
            outer = 'pbxrh%s' % secrets.token_hex(3)
            created.append([ns, None, None])
            sup.run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
            index = _free_veth_index(taken)
            taken.add(index)
            controller, address = '10.213.%d.1' % index, '10.213.%d.2' % index
            inner = 'pbxrp%s' % secrets.token_hex(3)
            sup.run(['ip', 'link', 'add', outer, 'type', 'veth', 'peer', 'name', inner])
            created[-1][1] = outer
            sup.run(['ip', 'link', 'set', inner, 'netns', ns])
            sup.run(['ip', 'addr', 'add', controller + '/30', 'dev', outer])
            sup.run(['ip', 'link', 'set', outer, 'up'])
            sup.run(['ip', '-n', ns, 'addr', 'add', address + '/30', 'dev', inner])
            sup.run(['ip', '-n', ns, 'link', 'set', inner, 'up'])
            workdir = tmp_path / ('sshd-%s' % ns)
            workdir.mkdir()
            for key in ('host_key', 'user_key'):
                sup.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'pbxfw-test', '-f', str(workdir / key)])
            shutil.copy(str(workdir / 'user_key.pub'), str(workdir / 'authorized_keys'))
            (workdir / 'sshd_config').write_text('\n'.join([
                'ListenAddress %s' % address, 'Port 22', 'HostKey %s' % (workdir / 'host_key'),
                'PidFile %s' % (workdir / 'sshd.pid'), 'AuthorizedKeysFile %s' % (workdir / 'authorized_keys'),
                'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
                'UsePAM no', 'StrictModes no', 'Subsystem sftp internal-sftp', 'LogLevel ERROR', 'MaxStartups 50',
                '',
            ]))
            os.makedirs('/run/sshd', 0o755, exist_ok=True)
            host = FleetHost('pbx%d' % number, ns, address, controller, str(workdir / 'user_key'), workdir)
            log = open(str(workdir / 'sshd.log'), 'w')
            host.proc = subprocess.Popen(sup.ns_argv(ns, SSHD, '-D', '-e', '-f', str(workdir / 'sshd_config')),
                                         stdout=log, stderr=log)
            log.close()
            created[-1][2] = host
            hosts.append(host)
        deadline = time.time() + 15
        for host in hosts:
            while not host.reachable():
                if host.proc.poll() is not None or time.time() > deadline:
                    raise AssertionError('sshd did not start: %s' % (host.workdir / 'sshd.log').read_text())
                time.sleep(0.1)
        return hosts

    try:
        yield make
    finally:
        for ns, outer, host in created:
            if host is not None and host.proc is not None:
                host.proc.terminate()
                try:
                    host.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    host.proc.kill()
                    host.proc.wait()
            if outer is not None:
                sup.run(['ip', 'link', 'delete', outer], check=False)
            sup.run(['ip', 'netns', 'delete', ns], check=False)


# ------------------------------------------------------------------------------------------
# a client namespace wired to the ``netns`` host
# ------------------------------------------------------------------------------------------

class Client:
    """A namespace with several source addresses on a veth pair to the host namespace."""

    def __init__(self, ns, host_address, addresses):
        self.ns = ns
        self.host_address = host_address
        self.addresses = addresses

    def tcp_probe(self, source, port, timeout=1.0):
        """'open', 'refused' (RST: the packet reached the stack) or 'dropped' (no answer)."""
        code = ('import socket,sys\n'
                's=socket.socket()\n'
                's.settimeout(%r)\n'
                's.bind((%r,0))\n'
                'try:\n'
                '    s.connect((%r,%d)); print("open")\n'
                'except ConnectionRefusedError: print("refused")\n'
                'except (socket.timeout, TimeoutError): print("dropped")\n'
                % (timeout, source, self.host_address, port))
        return sup.run(sup.ns_argv(self.ns, PYTHON, '-c', code)).stdout.strip()


@pytest.fixture
def client(netns):
    ns = 'pbxrc-%s' % secrets.token_hex(4)
    sup.run(['ip', 'netns', 'add', ns])
    try:
        sup.run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
        index = secrets.randbelow(250) + 1
        host_address = '10.214.%d.1' % index
        addresses = ['10.214.%d.%d' % (index, n) for n in (2, 3, 4)]
        inner, outer = 'pbxrv%s' % secrets.token_hex(3), 'pbxrw%s' % secrets.token_hex(3)
        sup.run(['ip', '-n', ns, 'link', 'add', outer, 'type', 'veth', 'peer', 'name', inner])
        sup.run(['ip', '-n', ns, 'link', 'set', inner, 'netns', netns.name])
        sup.run(['ip', '-n', netns.name, 'addr', 'add', host_address + '/24', 'dev', inner])
        sup.run(['ip', '-n', netns.name, 'link', 'set', inner, 'up'])
        for address in addresses:
            sup.run(['ip', '-n', ns, 'addr', 'add', address + '/24', 'dev', outer])
        sup.run(['ip', '-n', ns, 'link', 'set', outer, 'up'])
        yield Client(ns, host_address, addresses)
    finally:
        sup.run(['ip', 'netns', 'delete', ns], check=False)
