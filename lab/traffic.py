# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unwanted traffic from a lab client, for the demo's report and the lab's report test.

The tools run on this machine inside the client container's network namespace (nsenter),
so the lab image needs none of them: sipvicious' svmap (the venv), sipp (Debian
sip-tester), Python for TCP probes. Only the lab's own addresses; every run is bounded.

    .venv/bin/python lab/traffic.py demo              a scan and blocked connection attempts from
                                                      client-inet to every PBX
    .venv/bin/python lab/traffic.py flood-all SECONDS a SIP flood from client-inet to every PBX at
                                                      once (the demo's report runs during it)
    .venv/bin/python lab/traffic.py scan  CLIENT ADDRESS
    .venv/bin/python lab/traffic.py flood CLIENT ADDRESS [RATE SECONDS]
    .venv/bin/python lab/traffic.py probe CLIENT ADDRESS PORT COUNT
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache")
BIN = os.path.dirname(sys.executable)
SVMAP = os.path.join(BIN, "sipvicious_svmap")

# One SIP OPTIONS per call, from one UDP socket (sipp -t u1); sipp makes the lines CR LF.
SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="pbxfw-lab-flood">
  <send>
    <![CDATA[

      OPTIONS sip:100@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "flood" <sip:flood@[local_ip]>;tag=[call_number]
      To: <sip:100@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 OPTIONS
      Max-Forwards: 70
      User-Agent: lab-flood
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""

# TCP connection attempts with a timeout shorter than the first SYN retransmission (1 s):
# one SYN per attempt, so a dropped attempt is exactly one dropped packet.
PROBE = """import socket, sys
address, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
opened = 0
for _n in range(count):
    try:
        socket.create_connection((address, port), timeout=0.3).close()
        opened += 1
    except OSError:
        pass
print(opened)
"""


def netns(container):
    """The argv prefix that runs a command of this machine in ``container``'s network namespace."""
    pid = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", container], capture_output=True, text=True,
                         check=True).stdout.strip()
    return ["nsenter", "-t", pid, "-n"]


def address_of(container):
    with open(os.path.join(CACHE, "lab.json")) as handle:
        lab = json.load(handle)
    return next(c["address"] for c in lab["clients"] if c["container"] == container)


def scan(client, address):
    """svmap against ``address`` (its User-Agent is friendly-scanner); returns its output."""
    argv = netns(client) + [SVMAP, address, "-p5060", "-t", "0.3"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False).stdout


def flood(client, address, rate=100, seconds=4, background=False):
    """``rate`` SIP OPTIONS a second for ``seconds`` from one socket of ``client`` to ``address``."""
    scenario = os.path.join(CACHE, "flood.xml")
    with open(scenario, "w") as out:
        out.write(SCENARIO)
    count = rate * seconds
    argv = netns(client) + [
        "sipp", "%s:5060" % address, "-sf", scenario, "-r", str(rate), "-m", str(count), "-l", str(count),
        "-t", "u1", "-i", address_of(client), "-nostdin", "-timeout", "%ds" % (seconds + 15),
        "-default_behaviors", "none", "-trace_err", "-error_file", os.devnull]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if background:
        return proc
    proc.wait(seconds + 30)
    return proc


def probe(client, address, port, count):
    """``count`` TCP connection attempts to ``address``:``port``; returns how many opened."""
    argv = netns(client) + [sys.executable, "-c", PROBE, address, str(port), str(count)]
    return int(subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout)


def pbx_addresses():
    """{PBX: its address on the Internet network (client-inet's)}."""
    with open(os.path.join(CACHE, "lab.json")) as handle:
        lab = json.load(handle)
    return {name: lab["pbx"][name]["addresses"]["inet"] for name in sorted(lab["pbx"])}


def demo():
    """From client-inet to every PBX: a scan and connection attempts the policy drops (web:
    blocked for the Internet network; ssh: no network allows it from there, the final drop)."""
    for name, address in pbx_addresses().items():
        print("traffic.py: client-inet -> %s (%s): svmap scan, 5 x web, 5 x ssh" % (name, address), flush=True)
        scan("client-inet", address)
        probe("client-inet", address, 80, 5)
        probe("client-inet", address, 22, 5)


def flood_all(seconds):
    """A SIP flood over the rate limit (100/s) from client-inet to every PBX at once."""
    print("traffic.py: client-inet -> %s: SIP flood 100/s for %d s" % (", ".join(pbx_addresses()), seconds),
          flush=True)
    procs = [flood("client-inet", address, 100, seconds, background=True) for address in pbx_addresses().values()]
    for proc in procs:
        proc.wait(seconds + 30)


def main(argv):
    if argv[:1] == ["demo"] and len(argv) == 1:
        demo()
    elif argv[:1] == ["flood-all"] and len(argv) == 2:
        flood_all(int(argv[1]))
    elif argv[:1] == ["scan"] and len(argv) == 3:
        print(scan(argv[1], argv[2]))
    elif argv[:1] == ["flood"] and len(argv) in (3, 5):
        flood(argv[1], argv[2], *[int(a) for a in argv[3:]])
    elif argv[:1] == ["probe"] and len(argv) == 5:
        print(probe(argv[1], argv[2], int(argv[3]), int(argv[4])))
    else:
        sys.stderr.write(__doc__.split("\n\n")[2] + "\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
