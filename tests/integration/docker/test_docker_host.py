# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Docker-host mode against a real Docker engine, with real traffic.

The Docker host is a network namespace of its own (``pbxfw-dkr-<id>``) running a
private ``dockerd`` (own socket, data-root, exec-root, containerd namespace), started
with the same daemon settings as ``lab/docker.sh``. So the role can apply a real
policy to the "host" (INPUT and DOCKER-USER) and the test can kill and restart that
daemon, without touching this machine's own INPUT chain or the shared Docker engine
that a Molecule run or the demo lab may be using at the same time.

One container of the lab image publishes web (host 8080 -> container 80), SIP
(5060/udp -> 5060) and AMI (5038 -> 5038). Clients sit in their own namespaces, each
with a veth pair to the Docker host and its own subnet:

============  ===============  ============================================
client        address          policy
============  ===============  ============================================
office        10.231.1.2       Office LAN 10.231.1.0/24: sip, web; never_block
stranger      10.231.2.2       not listed
branch        10.231.4.2       Branches 10.231.4.0/22: sip, web
kiosk         10.231.5.2       Kiosks 10.231.5.0/24: block web (sip from Branches)
============  ===============  ============================================

``pbx_firewall_ports: {web_http: 8080}``: the published host port decides the service.

The tests share the lab (module scope) and run in file order: check mode, apply,
idempotence; fail2ban banning in DOCKER-USER; dockerd restarts; a flushed ruleset
with a restarted dockerd (as after a reboot) and the restore script; removal.
Each test brings the policy to the state it needs, so any one of them also runs alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
IMAGE = os.environ.get('LAB_IMAGE', 'pbxops/lab-pbx:bookworm')
ROLE = 'pbxops.firewall.pbx_firewall'
JAIL = 'pbx-web'
CONTAINER = 'pbxfw-dkr-pbx'
BRIDGE_CIDR = '10.231.250.1/24'      # Docker's default bridge inside the Docker-host namespace

# client name -> (client address, Docker host's address on that link); all /24
CLIENTS = {
    'office': ('10.231.1.2', '10.231.1.1'),
    'stranger': ('10.231.2.2', '10.231.2.1'),
    'branch': ('10.231.4.2', '10.231.4.1'),
    'kiosk': ('10.231.5.2', '10.231.5.1'),
}
NETWORKS = [
    {'name': 'Office LAN', 'subnet': '10.231.1.0/24', 'services': ['sip', 'web'],
     'never_block': True, 'local_network': True},
    {'name': 'Branches', 'subnet': '10.231.4.0/22', 'services': ['sip', 'web']},
    {'name': 'Kiosks', 'subnet': '10.231.5.0/24', 'block': ['web']},
]
# service -> (proto, published host port); the container listens on the mapped port
PROBES = {'web': ('tcp', 8080), 'sip': ('udp', 5060), 'ami': ('tcp', 5038)}
PUBLISH = ['8080:80/tcp', '5060:5060/udp', '5038:5038/tcp']
OPEN = {client: {service: True for service in PROBES} for client in CLIENTS}
EXPECTED = {
    'office': {'web': True, 'sip': True, 'ami': False},
    'stranger': {'web': False, 'sip': False, 'ami': False},
    'branch': {'web': True, 'sip': True, 'ami': False},
    'kiosk': {'web': False, 'sip': True, 'ami': False},
}

JUMP = '-A DOCKER-USER -j PBX-FW-DOCKER'
DOCKER_USER_BEFORE = ['-A DOCKER-USER -j RETURN']
DOCKER_USER_AFTER = [JUMP, '-A DOCKER-USER -j RETURN']
DOCKER_CHAINS = ('FORWARD', 'DOCKER', 'DOCKER-ISOLATION-STAGE-1', 'DOCKER-ISOLATION-STAGE-2')
# Chains in which dockerd writes one rule per published port in no fixed order: after a
# dockerd restart the same rules may come in another order (Docker's own churn).
DOCKER_UNORDERED = (('filter', 'DOCKER'), ('nat', 'DOCKER'), ('nat', 'POSTROUTING'))

# One client's probes, all at once: TCP must read the listener's greeting, UDP must get
# its datagram echoed. Prints {service: reached}.
PROBE = r'''
import concurrent.futures, json, socket, sys

host, timeout, checks = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])

def tcp(port):
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            return conn.recv(64).startswith(b'lab-listener')
    except OSError:
        return False

def udp(port):
    token = b'pbxfw-dkr-probe'
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(token, (host, port))
            return sock.recvfrom(64)[0] == token
        except OSError:
            return False

with concurrent.futures.ThreadPoolExecutor(len(checks)) as pool:
    futures = {name: pool.submit(tcp if proto == 'tcp' else udp, port) for name, (proto, port) in checks.items()}
print(json.dumps({name: future.result() for name, future in futures.items()}))
'''

FAIL2BAN_FILTER = '''[Definition]
failregex = ^pbx-web-test: authentication failure from <HOST>$
ignoreregex =
datepattern = {NONE}
'''


def run(argv, check=True, **kwargs):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError('%s failed (rc=%d):\n%s\n%s' % (argv, proc.returncode, proc.stdout, proc.stderr))
    return proc


def wait_for(what, predicate, timeout, interval=0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %s s waiting for %s' % (timeout, what))
        time.sleep(interval)


def parse_tables(text):
    """{table: {chain: [rule, ...]}} from iptables-save output (declaration order, no counters)."""
    tables = {}
    chains = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#') or line == 'COMMIT':
            continue
        if line.startswith('*'):
            chains = tables.setdefault(line[1:], {})
        elif line.startswith(':'):
            chains.setdefault(line[1:].split()[0], [])
        elif line.startswith('-A '):
            chains.setdefault(line.split()[1], []).append(line)
    return tables


def unordered(tables):
    """A copy of {table: {chain: rules}} in which dockerd's per-port rules are sorted."""
    copy = {table: dict(chains) for table, chains in tables.items()}
    for table, chain in DOCKER_UNORDERED:
        if chain in copy.get(table, {}):
            copy[table][chain] = sorted(copy[table][chain])
    return copy


def owned_lines(text):
    """The lines of an iptables-save text that mention a chain the collection owns."""
    return [line for line in text.splitlines() if 'PBX-FIREWALL' in line or 'PBX-FW-' in line]


class Namespace:
    """A network namespace; ``argv`` is what the conftest's Ansible runner needs."""

    def __init__(self, name):
        self.name = name

    def argv(self, *argv):
        return ['ip', 'netns', 'exec', self.name] + list(argv)

    def sh(self, command, check=True):
        return run(self.argv('sh', '-c', command), check=check).stdout

    def tables(self, tool='iptables-save'):
        return parse_tables(self.sh(tool))


class Lab:
    """The Docker host namespace, its private dockerd, the PBX container and the clients."""

    def __init__(self, stack):
        self.stack = stack
        self.id = secrets.token_hex(3)
        self.tmp = tempfile.mkdtemp(prefix='pbxfw-dkr-', dir='/tmp')   # short: unix socket paths
        stack.callback(self._remove_tmp)
        self.host = Namespace('pbxfw-dkr-%s' % self.id)
        self.clients = {}
        self.sock = os.path.join(self.tmp, 'docker.sock')
        self.pidfile = os.path.join(self.tmp, 'docker.pid')
        self.log = os.path.join(self.tmp, 'dockerd.log')
        self.dockerd = None
        self.persist_dir = os.path.join(self.tmp, 'persist')
        self.unit_dir = os.path.join(self.tmp, 'systemd')
        self.f2b_dir = os.path.join(self.tmp, 'fail2ban')
        self.jail_file = os.path.join(self.f2b_dir, 'jail.d', 'pbx-firewall.local')
        self.auth_log = os.path.join(self.tmp, 'web-auth.log')
        self.applied = False
        self.before = None      # netfilter state of the Docker host before the first apply

    # -- set-up and clean-up ---------------------------------------------------------------

    def setup(self):
        self._add_namespace(self.host)
        run(['ip', '-n', self.host.name, 'link', 'set', 'lo', 'up'])
        for index, (name, (address, gateway)) in enumerate(sorted(CLIENTS.items())):
            client = Namespace('pbxfw-dkr-%s-%s' % (self.id, name))
            self._add_namespace(client)
            outer, inner = 'pfd%s%da' % (self.id, index), 'pfd%s%db' % (self.id, index)
            run(['ip', 'link', 'add', outer, 'netns', self.host.name, 'type', 'veth',
                 'peer', 'name', inner, 'netns', client.name])
            run(['ip', '-n', self.host.name, 'addr', 'add', gateway + '/24', 'dev', outer])
            run(['ip', '-n', self.host.name, 'link', 'set', outer, 'up'])
            run(['ip', '-n', client.name, 'link', 'set', 'lo', 'up'])
            run(['ip', '-n', client.name, 'addr', 'add', address + '/24', 'dev', inner])
            run(['ip', '-n', client.name, 'link', 'set', inner, 'up'])
            run(['ip', '-n', client.name, 'route', 'add', 'default', 'via', gateway])
            self.clients[name] = client
        self._fail2ban_config()
        with open(os.path.join(self.tmp, 'daemon.json'), 'w') as handle:
            handle.write('{}\n')        # not /etc/docker/daemon.json
        self.stack.callback(self._stop_everything)
        self.start_dockerd()
        self._load_image()
        # --init: the listener gets SIGTERM through docker-init, so stopping dockerd does not
        # wait out the stop timeout
        self.docker('run', '-d', '--name', CONTAINER, '--restart', 'always', '--init',
                    *[arg for spec in PUBLISH for arg in ('-p', spec)],
                    IMAGE, 'python3', '/usr/local/sbin/lab-listener')
        self.wait_for_pbx()

    def _add_namespace(self, namespace):
        run(['ip', 'netns', 'add', namespace.name])
        self.stack.callback(run, ['ip', 'netns', 'delete', namespace.name], check=False)

    def _fail2ban_config(self):
        """A private copy of /etc/fail2ban: own socket, pid file, in-memory database, one test jail."""
        shutil.copytree('/etc/fail2ban', self.f2b_dir, symlinks=True)
        for sub in ('jail.d', 'fail2ban.d'):      # e.g. Debian's sshd jail, local settings
            for name in os.listdir(os.path.join(self.f2b_dir, sub)):
                os.unlink(os.path.join(self.f2b_dir, sub, name))
        open(self.auth_log, 'w').close()
        settings = (os.path.join(self.tmp, 'fail2ban.log'), self.f2b_sock, os.path.join(self.tmp, 'fail2ban.pid'))
        files = {
            'fail2ban.local': '[Definition]\nloglevel = INFO\nlogtarget = %s\nsocket = %s\npidfile = %s\n'
                              'dbfile = :memory:\n' % settings,
            'filter.d/pbx-web-test.conf': FAIL2BAN_FILTER,
            # The jail's rule in DOCKER-USER sees the packet after Docker's DNAT: the port
            # is the container's (80), not the published one (8080).
            'jail.local': '[%s]\nenabled = true\nport = 80\nprotocol = tcp\nfilter = pbx-web-test\n'
                          'logpath = %s\nbackend = polling\nmaxretry = 1\nfindtime = 600\nbantime = 600\n'
                          'banaction = iptables-multiport\nusedns = no\n' % (JAIL, self.auth_log),
        }
        for name, content in files.items():
            with open(os.path.join(self.f2b_dir, name), 'w') as handle:
                handle.write(content)

    @property
    def f2b_sock(self):
        return os.path.join(self.tmp, 'fail2ban.sock')

    def _load_image(self):
        save = subprocess.Popen(['docker', 'save', IMAGE], stdout=subprocess.PIPE)
        load = run(self.docker_argv('load', '-q'), stdin=save.stdout)
        save.stdout.close()
        assert save.wait() == 0, 'docker save %s failed' % IMAGE
        assert IMAGE in load.stdout, load.stdout

    def _stop_everything(self):
        if os.path.exists(self.sock):
            self.docker('rm', '-f', CONTAINER, check=False)
        self.stop_dockerd()
        # containerd-shim processes of this daemon outlive a killed dockerd
        for pid in self._own_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _own_pids(self):
        pids = []
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            try:
                with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                    cmdline = handle.read().decode('utf-8', 'replace')
            except OSError:
                continue
            if self.tmp in cmdline or 'pbxfw-dkr-%s' % self.id in cmdline:
                pids.append(int(entry))
        return [pid for pid in pids if pid != os.getpid()]

    def _remove_tmp(self):
        # dockerd bind-mounts its data-root (and overlay2 mounts under it); a killed
        # daemon leaves them behind
        with open('/proc/self/mounts') as handle:
            mounts = [line.split()[1] for line in handle]
        for mount in sorted((m for m in mounts if m == self.tmp or m.startswith(self.tmp + '/')),
                            key=len, reverse=True):
            run(['umount', '-l', mount], check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the private Docker engine ---------------------------------------------------------

    def docker_argv(self, *args):
        return ['docker', '-H', 'unix://' + self.sock] + list(args)

    def docker(self, *args, check=True):
        return run(self.docker_argv(*args), check=check).stdout

    def start_dockerd(self):
        """Start dockerd in the host namespace the way lab/docker.sh does (same daemon settings,
        stale pid file removed), isolated from the machine's own engine."""
        if os.path.exists(self.pidfile):
            with open(self.pidfile) as handle:
                old = handle.read().strip()
            assert not (old and os.path.exists('/proc/%s' % old)), 'dockerd %s still runs' % old
            os.unlink(self.pidfile)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.sock)
        argv = ['nsenter', '--net=/run/netns/%s' % self.host.name, 'dockerd',
                '--storage-driver=overlay2', '--exec-opt', 'native.cgroupdriver=cgroupfs',
                '--iptables=true', '--ip-forward=true', '--pidfile=%s' % self.pidfile,
                # isolation from the machine's own engine
                '--config-file=%s' % os.path.join(self.tmp, 'daemon.json'),
                '--host=unix://%s' % self.sock, '--data-root=%s' % os.path.join(self.tmp, 'data'),
                '--exec-root=%s' % os.path.join(self.tmp, 'exec'), '--bip=%s' % BRIDGE_CIDR,
                '--containerd-namespace=pbxfw-dkr-%s' % self.id,
                '--containerd-plugins-namespace=pbxfw-dkr-%s-plugins' % self.id]
        with open(self.log, 'a') as log:
            self.dockerd = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            start_new_session=True)
        try:
            wait_for('the private dockerd', lambda: run(self.docker_argv('info'), check=False).returncode == 0
                     or self.dockerd.poll() is not None, 60)
        finally:
            if self.dockerd.poll() is not None:
                with open(self.log) as log:
                    tail = ''.join(log.readlines()[-20:])
                raise AssertionError('dockerd exited (rc=%s):\n%s' % (self.dockerd.returncode, tail))

    def stop_dockerd(self, sig=signal.SIGTERM):
        if self.dockerd is None or self.dockerd.poll() is not None:
            return
        containerd = self._containerd_pid()
        self.dockerd.send_signal(sig)
        try:
            self.dockerd.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.dockerd.kill()
            self.dockerd.wait()
        # dockerd's own containerd shuts down after it; a dockerd started meanwhile finds it
        # "still running", waits for it and gives up ("timeout waiting for containerd to start")
        if containerd:
            wait_for('containerd %d to exit' % containerd, lambda: not os.path.exists('/proc/%d' % containerd), 30)

    def _containerd_pid(self):
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(self.tmp, 'exec', 'containerd', 'containerd.pid')) as handle:
                return int(handle.read().strip())
        return None

    def restart_dockerd(self, sig=signal.SIGTERM, while_down=None):
        self.stop_dockerd(sig)
        if while_down is not None:
            while_down()
        self.start_dockerd()
        self.wait_for_pbx()

    def wait_for_pbx(self):
        """Until the container (restart policy always) answers on its own bridge address."""
        def ready():
            address = self.docker('inspect', '-f', '{{.NetworkSettings.IPAddress}}', CONTAINER, check=False).strip()
            return address and run(self.host.argv(sys.executable, '-c', PROBE, address, '1', '{"web": ["tcp", 80]}'),
                                   check=False).stdout.strip() == '{"web": true}'
        wait_for('the PBX container to answer', ready, 60, interval=0.5)

    # -- observations -----------------------------------------------------------------------

    def probe(self, timeout=1.0):
        """{client: {service: reached}} from every client at once, to the host's address on its link."""
        started = {}
        checks = json.dumps({service: list(spec) for service, spec in PROBES.items()})
        for name, client in self.clients.items():
            argv = client.argv(sys.executable, '-c', PROBE, CLIENTS[name][1], str(timeout), checks)
            started[name] = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        result = {}
        for name, proc in started.items():
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
            result[name] = json.loads(out)
        return result

    def filter_rules(self):
        return self.host.tables()['filter']

    def docker_state(self):
        """Docker's own chains (filter) and the whole nat table, as iptables-save prints them."""
        tables = self.host.tables()
        return {'filter': {c: tables['filter'].get(c) for c in DOCKER_CHAINS}, 'nat': tables['nat']}

    def full_save(self):
        """iptables-save and ip6tables-save of the Docker host (no comments, zeroed policy counters),
        and ipset save."""
        return {tool: '\n'.join(re.sub(r'\[\d+:\d+\]$', '[0:0]', line)
                                for line in self.host.sh(tool).splitlines() if not line.startswith('#'))
                for tool in ('iptables-save', 'ip6tables-save', 'ipset save')}

    # -- Ansible ------------------------------------------------------------------------------

    def role_vars(self, **extra):
        values = {
            'pbx_firewall_networks': NETWORKS,
            'pbx_firewall_ports': {'web_http': 8080},
            'pbx_firewall_docker': True,
            'pbx_firewall_fail2ban_docker_jails': [JAIL],
            'pbx_firewall_fail2ban_jail_file': self.jail_file,
            'pbx_firewall_fail2ban_required': True,
            'pbx_firewall_asterisk': False,
            'pbx_firewall_rollback_timeout': 20,
            'pbx_firewall_persist': True,
            # persistence files, boot unit and docker.service drop-in go to the test's
            # directory, never to this machine's /etc
            'pbx_firewall_persist_dir': self.persist_dir,
            'pbx_firewall_unit_dir': self.unit_dir,
        }
        values.update(extra)
        return values

    def role(self, ansible, check=False, diff=False, **extra):
        """Run the role inside the Docker host namespace (connection local); returns every task result.

        Persistence goes to the test's directory (role_vars), never to /etc.
        """
        tasks = [{
            'name': 'Docker host',
            'vars': self.role_vars(**extra),
            'block': [{'name': 'pbx_firewall', 'ansible.builtin.include_role': {'name': ROLE}}],
        }]
        results = ansible.local(self.host, tasks, check=check, diff=diff)
        failed = [r for r in results if r['_status'] not in ('ok', 'skipped')]
        assert not failed, results[-1]['_output']
        return results

    def apply(self, ansible):
        if self.before is None:
            self.before = self.full_save()
            self.tables_before = self.host.tables()
            self.docker_before = self.docker_state()
        results = self.role(ansible)
        self.applied = True
        return results

    def ensure_applied(self, ansible):
        if not self.applied:
            self.apply(ansible)
        assert self.probe() == EXPECTED

    def remove(self, ansible):
        results = self.role(ansible, pbx_firewall_enabled=False)
        self.applied = False
        return results

    # -- fail2ban --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def fail2ban(self):
        """A real fail2ban-server in the Docker host namespace, with the test's own paths."""
        log = open(os.path.join(self.tmp, 'fail2ban-server.out'), 'w')
        proc = subprocess.Popen(['nsenter', '--net=/run/netns/%s' % self.host.name, 'fail2ban-server', '-f', '-x',
                                 '-c', self.f2b_dir, '-s', self.f2b_sock,
                                 '-p', os.path.join(self.tmp, 'fail2ban.pid')],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        try:
            wait_for('fail2ban-server', lambda: self.f2b('status', JAIL, check=False).returncode == 0
                     or proc.poll() is not None, 30)
            assert proc.poll() is None, self._read('fail2ban-server.out') + self._read('fail2ban.log')
            yield proc
        finally:
            self.f2b('stop', check=False)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def f2b(self, *args, check=True):
        return run(['fail2ban-client', '-c', self.f2b_dir, '-s', self.f2b_sock] + list(args), check=check)

    def banned(self):
        return set(re.findall(r'\d+\.\d+\.\d+\.\d+', self.f2b('get', JAIL, 'banned').stdout))

    def _read(self, name):
        path = os.path.join(self.tmp, name)
        if not os.path.exists(path):
            return ''
        with open(path) as handle:
            return handle.read()


def changed_results(results):
    return [r for r in results if r.get('changed')]


def firewall_result(results):
    found = [r for r in results if 'rolled_back' in r]
    assert len(found) == 1, results
    return found[0]


def host_files():
    """The machine's own files the role would write with its defaults: must never change."""
    paths = ['/etc/pbx-firewall', '/etc/systemd/system/pbx-firewall.service',
             '/etc/systemd/system/docker.service.d/pbx-firewall.conf', '/etc/fail2ban/jail.d/pbx-firewall.local']
    state = {}
    for path in paths:
        if os.path.isdir(path):
            state[path] = sorted(os.listdir(path))
        elif os.path.exists(path):
            with open(path) as handle:
                state[path] = handle.read()
        else:
            state[path] = None
    return state


def root_namespace_owned():
    return {tool: owned_lines(run([tool]).stdout) for tool in ('iptables-save', 'ip6tables-save')}


@pytest.fixture(scope='module')
def lab(integration_env, needs):
    for tool in ('docker', 'dockerd', 'nsenter', 'fail2ban-server', 'fail2ban-client', 'iptables-save'):
        needs(shutil.which(tool), '%s is not installed (hack/install-debs.sh)' % tool)
    # the machine's engine only supplies the lab image; the test runs its own dockerd
    run(['bash', os.path.join(REPO, 'lab', 'docker.sh')])
    run(['bash', os.path.join(REPO, 'lab', 'image.sh')])
    machine = {'files': host_files(), 'netfilter': root_namespace_owned()}
    with contextlib.ExitStack() as stack:
        lab = Lab(stack)
        lab.machine = machine
        lab.setup()
        yield lab


# ---------------------------------------------------------------------------------------------


def test_check_mode_then_apply_then_idempotent(lab, ansible):
    if lab.applied:
        lab.remove(ansible)
    assert lab.filter_rules()['DOCKER-USER'] == DOCKER_USER_BEFORE
    assert lab.probe() == OPEN, 'without a policy every published port must answer every client'
    before = lab.full_save()

    results = lab.role(ansible, check=True, diff=True)
    firewall = firewall_result(results)
    assert firewall['changed'] is True
    after_text = firewall['diff']['after']
    assert ':PBX-FW-DOCKER' in after_text and JUMP in after_text, after_text
    assert '--ctorigdstport 8080' in after_text, after_text
    assert lab.full_save() == before, 'check mode changed the netfilter state'
    assert not os.path.exists(lab.jail_file) and not os.path.exists(lab.persist_dir)

    results = lab.apply(ansible)
    assert firewall_result(results)['changed'] is True
    assert firewall_result(results)['rolled_back'] is False
    rules = lab.filter_rules()
    assert rules['DOCKER-USER'] == DOCKER_USER_AFTER
    assert lab.docker_state() == lab.docker_before, "Docker's own chains changed"
    docker_chain = rules['PBX-FW-DOCKER']
    # Packets not to a published port leave first; the SIP guards then see every packet of
    # a published SIP flow, so their jumps come before the established/related return.
    established = docker_chain.index(
        '-A PBX-FW-DOCKER -m conntrack --ctstate RELATED,ESTABLISHED '
        '-m comment --comment "pbx-firewall: established, related" -j RETURN')
    assert docker_chain[0] == (
        '-A PBX-FW-DOCKER -m conntrack ! --ctstate DNAT '
        '-m comment --comment "pbx-firewall: not to a published port" -j RETURN')
    guard_jumps = docker_chain[1:established]
    assert guard_jumps and all('--ctorigdstport 5060 -m conntrack --ctdir ORIGINAL' in rule
                               and rule.endswith('-j PBX-FW-SIP') for rule in guard_jumps), guard_jumps
    assert ('-A PBX-FW-DOCKER -s 10.231.5.0/24 -p tcp -m conntrack --ctorigdstport 8080 '
            '-m comment --comment "pbxfw:block web network=Kiosks" -j DROP') in docker_chain, docker_chain
    assert rules['INPUT'] == ['-A INPUT -j PBX-FIREWALL']
    with open(lab.jail_file) as handle:
        jail = handle.read()
    assert jail.endswith('\n[%s]\nchain = DOCKER-USER\n' % JAIL), jail
    assert 'ignoreip = 10.231.1.0/24 127.0.0.0/8 ::1/128\n' in jail, jail
    assert os.access(os.path.join(lab.persist_dir, 'restore'), os.X_OK)

    assert lab.probe() == EXPECTED

    state = lab.full_save()
    results = lab.role(ansible)
    assert changed_results(results) == [], 'the second run reported changes'
    facts = [r['ansible_facts'] for r in results if 'pbx_firewall_changed' in r.get('ansible_facts', {})]
    assert facts == [{'pbx_firewall_changed': []}]
    assert lab.full_save() == state


def test_fail2ban_bans_reach_the_published_port(lab, ansible):
    lab.ensure_applied(ansible)
    office, branch = CLIENTS['office'][0], CLIENTS['branch'][0]
    with lab.fail2ban():
        assert lab.f2b('get', JAIL, 'ignoreip').stdout.count('10.231.1.0/24') == 1
        assert lab.filter_rules()['DOCKER-USER'] == DOCKER_USER_AFTER   # fail2ban's jump comes at the first ban

        lab.f2b('set', JAIL, 'banip', branch)
        rules = lab.filter_rules()
        # fail2ban inserts its jump first; ours stays after it, Docker's RETURN last
        assert rules['DOCKER-USER'] == ['-A DOCKER-USER -p tcp -m multiport --dports 80 -j f2b-%s' % JAIL,
                                        JUMP, '-A DOCKER-USER -j RETURN'], rules['DOCKER-USER']
        banned = dict(EXPECTED, branch={'web': False, 'sip': True, 'ami': False})
        assert lab.probe() == banned
        lab.f2b('set', JAIL, 'unbanip', branch)
        assert lab.probe() == EXPECTED

        # detection from the log: the never_block office is ignored, the branch banned
        with open(lab.auth_log, 'a') as handle:
            for address in (office, branch):
                handle.write('pbx-web-test: authentication failure from %s\n' % address)
        wait_for('fail2ban to ban %s' % branch, lambda: branch in lab.banned(), 20)
        assert lab.banned() == {branch}
        assert lab.probe() == banned
        lab.f2b('set', JAIL, 'unbanip', branch)
    # fail2ban stopped: its chain and jump are gone, ours is untouched
    assert lab.filter_rules()['DOCKER-USER'] == DOCKER_USER_AFTER
    assert lab.probe() == EXPECTED


def test_dockerd_restart_keeps_the_protection(lab, ansible):
    """dockerd stopped (SIGTERM, as systemctl restart docker does) or killed (SIGKILL), then
    started as lab/docker.sh does: DOCKER-USER keeps our jump throughout."""
    lab.ensure_applied(ansible)
    owned = owned_lines(lab.host.sh('iptables-save'))
    for how in (signal.SIGTERM, signal.SIGKILL):
        down = {}
        lab.restart_dockerd(how, while_down=lambda: down.update(lab.filter_rules()))
        # dockerd 20.10 leaves DOCKER-USER alone when it stops and when it starts (it adds
        # its RETURN only when missing); it rebuilds only its own chains
        assert down['DOCKER-USER'] == DOCKER_USER_AFTER, how
        assert lab.filter_rules()['DOCKER-USER'] == DOCKER_USER_AFTER, how
        assert owned_lines(lab.host.sh('iptables-save')) == owned, how
        assert unordered(lab.docker_state()) == unordered(lab.docker_before), how
        assert lab.probe() == EXPECTED, how
    assert changed_results(lab.role(ansible, check=True)) == [], 'drift after dockerd restarts'


def test_flushed_tables_and_dockerd_start_need_the_restore_script(lab, ansible):
    """As after a reboot: the boot unit restores the owned chains before Docker exists (no
    DOCKER-USER yet, so no jump); dockerd then creates DOCKER-USER without our jump. Running
    the restore script once dockerd is up (ExecStartPost of docker.service) closes the gap."""
    lab.ensure_applied(ansible)
    restore = os.path.join(lab.persist_dir, 'restore')
    owned = owned_lines(lab.host.sh('iptables-save'))

    def reboot():
        lab.host.sh('for t in filter nat; do iptables -t $t -F; iptables -t $t -X; done; ip6tables -F; ip6tables -X')
        lab.host.sh(restore)      # pbx-firewall.service, before docker.service
        rules = lab.filter_rules()
        assert 'DOCKER-USER' not in rules and rules['INPUT'] == ['-A INPUT -j PBX-FIREWALL']

    lab.restart_dockerd(while_down=reboot)
    rules = lab.filter_rules()
    assert rules['DOCKER-USER'] == DOCKER_USER_BEFORE, 'dockerd started with a fresh DOCKER-USER'
    assert 'PBX-FW-DOCKER' in rules
    gap = lab.probe()
    assert gap['stranger']['web'] and gap['kiosk']['web'], 'published ports are open until the jump is back'

    drift = lab.role(ansible, check=True, diff=True)
    firewall = firewall_result(drift)
    assert firewall['changed'] is True
    assert JUMP not in firewall['diff']['before'] and JUMP in firewall['diff']['after']

    # what docker.service runs once dockerd is up: the role's drop-in
    with open(os.path.join(lab.unit_dir, 'docker.service.d', 'pbx-firewall.conf')) as handle:
        exec_start_post = [line.split('=', 1)[1] for line in handle.read().splitlines()
                           if line.startswith('ExecStartPost=')]
    assert exec_start_post == ['-' + restore]
    lab.host.sh(exec_start_post[0].lstrip('-'))
    assert lab.filter_rules()['DOCKER-USER'] == DOCKER_USER_AFTER
    assert owned_lines(lab.host.sh('iptables-save')) == owned
    assert lab.probe() == EXPECTED
    lab.host.sh(restore)          # again (a later dockerd restart): the same rules
    assert owned_lines(lab.host.sh('iptables-save')) == owned


def test_docker_off_then_remove_leaves_the_host_as_before(lab, ansible):
    lab.ensure_applied(ansible)
    input_chain = lab.filter_rules()['PBX-FIREWALL']

    # pbx_firewall_docker: false takes away only the Docker part
    results = lab.role(ansible, pbx_firewall_docker=False)
    assert firewall_result(results)['changed'] is True
    rules = lab.filter_rules()
    assert 'PBX-FW-DOCKER' not in rules and rules['DOCKER-USER'] == DOCKER_USER_BEFORE
    assert rules['PBX-FIREWALL'] == input_chain and rules['INPUT'] == ['-A INPUT -j PBX-FIREWALL']
    with open(lab.jail_file) as handle:
        assert 'DOCKER-USER' not in handle.read()
    assert not os.path.exists(os.path.join(lab.unit_dir, 'docker.service.d', 'pbx-firewall.conf'))
    assert lab.probe() == OPEN

    results = lab.remove(ansible)
    assert firewall_result(results)['changed'] is True
    now = lab.full_save()
    assert unordered(lab.host.tables()) == unordered(lab.tables_before)
    assert now['ipset save'] == lab.before['ipset save']
    assert owned_lines(now['ip6tables-save']) == []
    assert lab.filter_rules()['DOCKER-USER'] == DOCKER_USER_BEFORE
    assert not os.path.exists(lab.jail_file) and not os.path.exists(lab.persist_dir)
    assert not os.path.exists(os.path.join(lab.unit_dir, 'pbx-firewall.service'))
    assert not os.path.exists(os.path.join(lab.unit_dir, 'docker.service.d', 'pbx-firewall.conf'))
    assert lab.probe() == OPEN
    # this machine's own netfilter state and files were never involved
    assert root_namespace_owned() == lab.machine['netfilter']
    assert host_files() == lab.machine['files']
