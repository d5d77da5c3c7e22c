# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Logged drops against the real kernel: NFLOG through ulogd2, rate-limited per reason.

The PBX namespace gets a compiled policy with ``log_drops`` (NFLOG group 7, 5 lines a minute
per reason, so a burst of 5) and a real ulogd2 inside it writing LOGEMU lines. The client
sends 20 packets of each of four reasons, all within a second: each reason logs exactly 5
lines with its prefix ``pbxfw <reason> `` and the source address, while the counters, on the
rules that carry the reasons, count all 20. The role's fail2ban filter, run by the real
fail2ban-regex over those lines, matches the scanner and flood lines only, and a real
fail2ban-server in the namespace, with the role's jail section, bans both of their sources.
(The kernel's LOG target is silent in a namespace unless net.netfilter.nf_log_all_netns=1,
a machine-wide switch: NFLOG needs none, which is why it is tested here.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

from ansible_collections.pbxops.firewall.plugins.module_utils._reasons import FAIL2BAN_JAIL
from ansible_collections.pbxops.firewall.plugins.plugin_utils import _policy
from ansible_collections.pbxops.firewall.plugins.plugin_utils._policy import drops
from ansible_collections.pbxops.firewall.tests.integration.plugins.modules._traffic import BAD, STRANGER, send

GROUP = 7
BURST = 5          # log_rate 5/minute: a burst of 5
EACH = 20           # packets sent per reason
NETWORKS = [{'name': 'Bad', 'subnet': '10.223.0.8/29', 'block': ['iax']},
            {'name': 'Internet', 'subnet': '0.0.0.0/0', 'services': ['sip']}]
SCANNER = (b'OPTIONS sip:100@10.223.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.223.0.40\r\n'
           b'User-Agent: friendly-scanner\r\n\r\n')
REQUEST = SCANNER.replace(b'friendly-scanner', b'Yealink')
ULOGD_PLUGINS = '/usr/lib/x86_64-linux-gnu/ulogd'
ULOGD_CONF = '''[global]
logfile="%(dir)s/ulogd.log"
loglevel=3
%(plugins)s
stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,print1:PRINTPKT,emu1:LOGEMU
[log1]
group=%(group)d
[emu1]
file="%(dir)s/syslogemu.log"
sync=1
'''


def ulogd(netns, workdir):
    plugins = '\n'.join('plugin="%s/ulogd_%s.so"' % (ULOGD_PLUGINS, name) for name in (
        'inppkt_NFLOG', 'raw2packet_BASE', 'filter_IFINDEX', 'filter_IP2STR', 'filter_PRINTPKT', 'output_LOGEMU'))
    conf = workdir / 'ulogd.conf'
    conf.write_text(ULOGD_CONF % {'dir': workdir, 'plugins': plugins, 'group': GROUP})
    proc = subprocess.Popen(netns.argv('ulogd', '-c', str(conf)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while 'entering main loop' not in _read(workdir / 'ulogd.log'):
        assert proc.poll() is None and time.time() < deadline, _read(workdir / 'ulogd.log')
        time.sleep(0.1)
    return proc


def _read(path):
    return path.read_text() if path.exists() else ''


def fail2ban(netns, workdir, log_file):
    """fail2ban-server in the namespace: the distribution's configuration without its jails, the
    role's filter, and the role's jail section reading ``log_file``. Returns (process, client argv)."""
    conf = workdir / 'f2b'
    shutil.copytree('/etc/fail2ban', str(conf), symlinks=True)
    for name in os.listdir(str(conf / 'jail.d')):
        os.unlink(str(conf / 'jail.d' / name))
    socket = workdir / 'f2b.sock'
    (conf / 'fail2ban.local').write_text('[Definition]\nlogtarget = %s\nsocket = %s\npidfile = %s\ndbfile = :memory:\n'
                                         % (workdir / 'fail2ban.log', socket, workdir / 'f2b.pid'))
    (conf / 'filter.d' / ('%s.conf' % FAIL2BAN_JAIL)).write_text(drops.fail2ban_filter())
    jail = drops.fail2ban_jail(drops.Logging((BURST, 60), GROUP), log_file=str(log_file))
    (conf / 'jail.d' / 'pbx-firewall.local').write_text('\n'.join(jail + ['backend = polling', 'maxretry = 3', '']))
    proc = subprocess.Popen(netns.argv('fail2ban-server', '-f', '-x', '-c', str(conf), '-s', str(socket), '-p',
                                       str(workdir / 'f2b.pid')), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, netns.argv('fail2ban-client', '-s', str(socket))


def test_each_reason_logs_at_most_its_rate_and_fail2ban_matches_scanner_and_flood(
        netns, client, ansible, counters_state, tmp_path, needs):
    needs(shutil.which('ulogd'), 'ulogd2 is not installed (hack/install-debs.sh)')
    needs(shutil.which('fail2ban-server'), 'fail2ban is not installed (hack/install-debs.sh)')
    ruleset = _policy.firewall_ruleset(NETWORKS, ipv6=False, sip_rate_limit=1, sip_scanner_agents=['friendly-scanner'],
                                       log_drops=True, log_rate='%d/minute' % BURST, nflog_group=GROUP)
    applied = ansible.local(netns, [{'pbxops.firewall.iptables_ruleset': dict(
        ruleset=ruleset, backend='nft', persist=False, rollback_timeout=0)}])[0]
    assert applied['_status'] == 'ok' and applied['changed'], applied
    daemon = ulogd(netns, tmp_path)
    try:
        send(client, BAD, 4569, EACH)                           # block (network Bad)
        send(client, STRANGER, 9, EACH)                         # default
        send(client, STRANGER, 5060, EACH, payload=SCANNER)     # scanner
        send(client, BAD, 5060, EACH, payload=REQUEST)          # flood: 1/s, a burst of 2 passes
        time.sleep(2)                                           # NFLOG's flush timeout is 1 s
    finally:
        daemon.terminate()
        daemon.wait(10)
    lines = _read(tmp_path / 'syslogemu.log').splitlines()
    logged = {}
    for line in lines:
        found = re.search(r' pbxfw (\w+) +IN=\S+ .* SRC=(\S+) ', line)
        assert found, line
        logged.setdefault(found.group(1), set()).add(found.group(2))
        logged[found.group(1) + ' lines'] = logged.get(found.group(1) + ' lines', 0) + 1
    assert logged == {'block': {BAD}, 'block lines': BURST, 'default': {STRANGER}, 'default lines': BURST,
                      'scanner': {STRANGER}, 'scanner lines': BURST, 'flood': {BAD}, 'flood lines': BURST}

    report = ansible.local(netns, [{'pbxops.firewall.firewall_report': {'backend': 'nft', 'metrics_dir': ''}}])[0]
    counted = {d['reason']: d['packets'] for d in report['drops'] if d['packets']}
    assert counted == {'block': EACH, 'default': EACH, 'scanner': EACH, 'flood': EACH - 2}

    log_file = tmp_path / 'syslogemu.log'
    filter_file = tmp_path / 'filter.conf'
    filter_file.write_text(drops.fail2ban_filter())
    regex = subprocess.run(['fail2ban-regex', str(log_file), str(filter_file)], capture_output=True,
                           text=True, check=True).stdout
    assert re.search(r'^Lines: %d lines, 0 ignored, %d matched, %d missed' % (4 * BURST, 2 * BURST, 2 * BURST),
                     regex, re.M), regex

    server, client = fail2ban(netns, tmp_path, log_file)
    try:
        deadline = time.time() + 30
        banned = ''
        while time.time() < deadline and not (BAD in banned and STRANGER in banned):
            time.sleep(0.5)
            banned = subprocess.run(client + ['get', FAIL2BAN_JAIL, 'banned'], capture_output=True,
                                    text=True, check=False).stdout
        assert sorted(re.findall(r"'([0-9.]+)'", banned)) == sorted([BAD, STRANGER]), banned
        chain = netns.sh('iptables-save -t filter | grep -- "-A f2b-%s "' % FAIL2BAN_JAIL)
        assert '-s %s/32' % BAD in chain and '-s %s/32' % STRANGER in chain, chain
    finally:
        subprocess.run(client + ['stop'], capture_output=True, check=False)
        server.wait(20)
