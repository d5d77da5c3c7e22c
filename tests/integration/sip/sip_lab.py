# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SIP attack lab in network namespaces (test harness; also used by bench/).

One namespace is the PBX (10.215.0.1 and fd15::1, the stand-in of sip_pbx.py); every
client is its own namespace, linked to the PBX by its own veth pair: an attacker
(10.215.0.10, and fd15::10 and fd15::11 in one /64), an office phone (10.215.0.20,
``never_block``), a trunk (10.215.0.30) and an Internet phone (10.215.0.40). Only
these private addresses are used. Every tool run is bounded in count and time.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
PBX4, PBX6 = '10.215.0.1', 'fd15::1'
CLIENTS = {
    'atk': ['10.215.0.10/24', 'fd15::10/64', 'fd15::11/64'],
    'office': ['10.215.0.20/24'],
    'trunk': ['10.215.0.30/24'],
    'phone': ['10.215.0.40/24', 'fd15::40/64'],
}
SCANNERS = ['friendly-scanner', 'sipcli', 'sipvicious', 'VaxSIPUserAgent']
NETWORKS = [
    {'name': 'Office', 'subnet': '10.215.0.16/28', 'services': ['sip'], 'never_block': True},
    {'name': 'Internet', 'subnet': ['0.0.0.0/0', '::/0'], 'services': ['sip']},
]
POLICY = dict(trunks=['10.215.0.30'], sip_rate_limit=20, sip_scanner_agents=SCANNERS)
SVMAP = os.path.join(os.path.dirname(sys.executable), 'sipvicious_svmap')
SVWAR = os.path.join(os.path.dirname(sys.executable), 'sipvicious_svwar')


def run(argv, data=None, timeout=60, check=True):
    return subprocess.run(argv, input=data, capture_output=True, text=True, timeout=timeout,
                          check=check)


class Lab(object):
    def __init__(self):
        tag = uuid.uuid4().hex[:5]
        self.tag = tag
        self.ns = {'pbx': 'h8sip-pbx-%s' % tag}
        self.ns.update((name, 'h8sip-%s-%s' % (name, tag)) for name in CLIENTS)
        self.tmp = tempfile.mkdtemp(prefix='pbxfw-sip-')
        self.procs = []
        self.log = None

    def exec_argv(self, name):
        return ['ip', 'netns', 'exec', self.ns[name]]

    def up(self):
        for name in self.ns.values():
            run(['ip', 'netns', 'add', name])
        pbx = self.exec_argv('pbx')
        run(pbx + ['ip', 'link', 'set', 'lo', 'up'])
        # one veth pair per client; the PBX's addresses sit on every PBX-side end (Linux
        # allows that), each client's addresses get a host route back over its own pair
        for index, (name, addresses) in enumerate(sorted(CLIENTS.items())):
            outer, inner = 'h8o%d%s' % (index, self.tag), 'h8i%d%s' % (index, self.tag)
            run(['ip', 'link', 'add', outer, 'type', 'veth', 'peer', 'name', inner])
            run(['ip', 'link', 'set', outer, 'netns', self.ns['pbx']])
            run(['ip', 'link', 'set', inner, 'netns', self.ns[name]])
            run(pbx + ['ip', 'addr', 'add', PBX4 + '/32', 'dev', outer])
            run(pbx + ['ip', 'addr', 'add', PBX6 + '/128', 'dev', outer, 'nodad'])
            run(pbx + ['ip', 'link', 'set', outer, 'up'])
            client = self.exec_argv(name)
            run(client + ['ip', 'link', 'set', 'lo', 'up'])
            for address in addresses:
                extra = ['nodad'] if ':' in address else []
                run(client + ['ip', 'addr', 'add', address, 'dev', inner] + extra)
                run(pbx + ['ip', 'route', 'add', address.split('/')[0], 'dev', outer])
            run(client + ['ip', 'link', 'set', inner, 'up'])
        return self

    @staticmethod
    def stop(proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def down(self):
        for proc in self.procs:
            self.stop(proc)
        for name in self.ns.values():
            subprocess.run(['ip', 'netns', 'delete', name], check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- the PBX stand-in --------------------------------------------------------
    def start_pbx(self, where='pbx', originate=None):
        log = os.path.join(self.tmp, '%s-%d.jsonl' % (where, len(self.procs)))
        argv = self.exec_argv(where) + [sys.executable, os.path.join(HERE, 'sip_pbx.py'), log]
        if originate:
            argv += ['--originate'] + [str(x) for x in originate]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout.readline().strip() == 'ready'
        self.procs.append(proc)
        if where == 'pbx':
            self.log = log
        return log

    def received(self, log=None, **where):
        """Messages the stand-in logged, filtered by equal fields (src=..., kind=...)."""
        result = []
        with open(log or self.log) as handle:
            for line in handle:
                entry = json.loads(line)
                if all(entry.get(key) == value for key, value in where.items()):
                    result.append(entry)
        return result

    def settle(self, seconds=0.5):
        time.sleep(seconds)

    # --- firewall ----------------------------------------------------------------
    def apply(self, ruleset, backend='nft'):
        """Load a compiled ruleset (docs/ruleset-format.md) into the PBX namespace."""
        pbx = self.exec_argv('pbx')
        text = []
        for ipset in ruleset.get('ipsets', []):
            text.append('create %s hash:net family %s maxelem %d'
                        % (ipset['name'], ipset['family'], ipset['maxelem']))
            text += ['add %s %s' % (ipset['name'], e) for e in ipset['entries']]
        if text:
            run(pbx + ['ipset', 'restore'], '\n'.join(text) + '\n')
        for family, tool in (('ipv4', 'iptables'), ('ipv6', 'ip6tables')):
            rules = ruleset[family]
            if not rules:
                continue
            chains = sorted({line.split()[1] for line in rules})
            lines = ['*filter'] + [':%s - [0:0]' % c for c in chains] + rules
            lines += ['-A INPUT -j PBX-FIREWALL', 'COMMIT', '']
            run(pbx + ['%s-%s-restore' % (tool, backend), '--noflush'], '\n'.join(lines))

    def save(self, tool='iptables'):
        return run(self.exec_argv('pbx') + ['%s-save' % tool]).stdout

    # --- tools -------------------------------------------------------------------
    def scenario_file(self, sends):
        path = os.path.join(self.tmp, 'scenario-%s.xml' % uuid.uuid4().hex[:6])
        with open(path, 'w') as handle:
            handle.write(SCENARIO % {'sends': sends})
        return path

    def sipp(self, where, scenario, rate, count, transport='u1', local_port=None,
             source=None, target=PBX4, seconds=30):
        """sipp as a client: ``count`` calls of ``scenario`` (the text of one <send>)."""
        path = self.scenario_file(scenario)
        argv = self.exec_argv(where) + [
            'sipp', '[%s]:5060' % target if ':' in target else '%s:5060' % target,
            '-sf', path, '-r', str(rate), '-m', str(count), '-l', str(count), '-t', transport,
            '-nostdin', '-timeout', '%ds' % seconds, '-timeout_error', '-max_socket', '5000',
            # no BYE after a call, no abort on a late answer: only the scenario's requests
            '-default_behaviors', 'none',
            '-trace_err', '-error_file', os.path.join(self.tmp, 'sipp-err.log')]
        if local_port:
            argv += ['-p', str(local_port)]
        if source is None:
            family = [a for a in CLIENTS[where] if (':' in a) == (':' in target)]
            source = family[0].split('/')[0]
        argv += ['-i', source]
        return run(argv, timeout=seconds + 15, check=False)


SCENARIO = '''<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="pbxfw-sip-test">
%(sends)s
</scenario>
'''


def benign_options(lab, local_port):
    """sipsak: one harmless OPTIONS from ``local_port`` (also its sending port: -S)."""
    run(lab.exec_argv('atk') + ['sipsak', '-s', 'sip:100@%s' % PBX4, '-S', '-l', str(local_port),
                                '-H', CLIENTS['atk'][0].partition('/')[0]], timeout=30, check=False)
    time.sleep(0.3)
    return [e for e in lab.received(src=CLIENTS['atk'][0].partition('/')[0])
            if e['sport'] == local_port and e['ua'].startswith('sipsak')]


RECV_200 = '  <recv response="200"/>\n'


def send(user='alice', agent='Yealink SIP-T46S', method='OPTIONS', pause_ms=0):
    """One sipp <send> of a request (sipp turns the lines into CR LF)."""
    text = '''  <send>
    <![CDATA[

      %(method)s sip:100@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "%(user)s" <sip:%(user)s@[local_ip]>;tag=[call_number]
      To: <sip:100@[remote_ip]>
      Call-ID: [call_id]
      CSeq: [cseq] %(method)s
      Max-Forwards: 70
      User-Agent: %(agent)s
      Contact: <sip:%(user)s@[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
''' % {'method': method, 'user': user, 'agent': agent}
    if pause_ms:
        text += '  <pause milliseconds="%d"/>\n' % pause_ms
    return text
