# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Probe the lab with real traffic and compare with the expected verdicts.

From every client container, against every PBX on that client's network:
TCP connect, UDP echo and ICMP echo, per service. The expected verdict per
(client address, service) comes from lab/expected.py reading the inventory
policy (lab/inventory: group_vars/all, group_vars/pbx, host_vars/<pbx>), or is
"accept" everywhere with --expect-all-open (the lab before any firewall).

    .venv/bin/python lab/probe.py                     # the demo policy
    .venv/bin/python lab/probe.py --expect-all-open   # no firewall yet
    .venv/bin/python lab/probe.py --policy other.yml --pbx pbx1 --client client-inet

Exit status: 0 when every probe matches, 1 on any mismatch, 2 on a usage or
lab error. Expected "drop" passes on timeout (silent drop) or on refusal
(e.g. a fail2ban REJECT); --strict-drop requires a timeout.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import expected  # noqa: E402  (lab/expected.py, the independent evaluator)

# (service, protocol, port) as docs/design.md "Built-in services" defines them.
PROBES = [
    ("sip", "udp", 5060),
    ("sip", "tcp", 5060),
    ("web", "tcp", 80),
    ("web", "tcp", 443),
    ("ssh", "tcp", 22),
    ("ami", "tcp", 5038),
    ("ajam", "tcp", 8088),
    ("cticlient", "tcp", 4222),
    ("icmp", "icmp", None),
]

# Runs inside a client container (its python3); all probes of that client in
# parallel. argv: JSON list of [proto, host, port], timeout in seconds.
IN_CONTAINER = r'''
import json, os, socket, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
probes, timeout = json.loads(sys.argv[1]), float(sys.argv[2])
def probe(p):
    proto, host, port = p
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        if proto == "tcp":
            with socket.create_connection((host, port), timeout=timeout):
                return ["open", "connected"]
        if proto == "udp":
            nonce = os.urandom(8).hex().encode()
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.connect((host, port))
                s.send(b"pbxops-probe " + nonce)
                while nonce not in s.recv(4096):
                    pass
            return ["open", "echo"]
        r = subprocess.run(["ping", "-n", "-q", "-c1", "-W1", host],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return ["open", "reply"] if r.returncode == 0 else ["closed", "no reply"]
    except TimeoutError:
        return ["closed", "timeout"]
    except ConnectionRefusedError:
        return ["closed", "refused"]
    except OSError as exc:
        return ["closed", exc.strerror or str(exc)]
with ThreadPoolExecutor(max(1, len(probes))) as pool:
    print(json.dumps(list(pool.map(probe, probes))))
'''


def vars_files(inv_dir, kind, name):
    """group_vars/NAME.yml|yaml or group_vars/NAME/*.yml (Ansible's layouts)."""
    base = os.path.join(inv_dir, kind, name)
    files = [base + ext for ext in (".yml", ".yaml", ".json") if os.path.isfile(base + ext)]
    if os.path.isdir(base):
        files += sorted(os.path.join(base, f) for f in os.listdir(base)
                        if f.endswith((".yml", ".yaml", ".json")))
    return files


def policy_for(args, lab, pbx):
    if args.expect_all_open:
        return None
    if args.policy:
        return expected.load_policy(*args.policy)
    inv = args.inventory or lab.get("policy_dir") or os.path.join(HERE, "inventory")
    files = (vars_files(inv, "group_vars", "all") + vars_files(inv, "group_vars", "pbx")
             + vars_files(inv, "host_vars", pbx))
    if not files:
        raise SystemExit("probe.py: no policy found under %s (use --policy or --expect-all-open)" % inv)
    policy = expected.load_policy(*files)
    if policy.get("pbx_firewall_ports") or policy.get("pbx_firewall_custom_rules"):
        print("probe.py: warning: pbx_firewall_ports/custom_rules are not modelled; "
              "probes use the default ports", file=sys.stderr)
    return policy


def run_client(client, targets, timeout):
    """targets: list of (pbx, service, proto, port, host) -> list of (status, detail)."""
    spec = json.dumps([[proto, host, port] for _pbx, _service, proto, port, host in targets])
    cmd = ["docker", "exec", client["container"], "python3", "-c", IN_CONTAINER, spec, str(timeout)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 4 + 30, check=False)
    except subprocess.TimeoutExpired:
        return [("error", "docker exec timed out")] * len(targets)
    if out.returncode != 0:
        detail = (out.stderr.strip().splitlines() or ["exit %d" % out.returncode])[-1]
        return [("error", detail)] * len(targets)
    return [tuple(r) for r in json.loads(out.stdout)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--lab", default=os.path.join(HERE, ".cache", "lab.json"))
    parser.add_argument("--inventory", help="inventory dir with group_vars/ host_vars/ (default: lab/inventory)")
    parser.add_argument("--policy", nargs="+", metavar="VARS.yml",
                        help="vars files holding pbx_firewall_networks (replaces the inventory lookup)")
    parser.add_argument("--expect-all-open", action="store_true", help="expect every probe to be accepted")
    parser.add_argument("--strict-drop", action="store_true", help="a drop must be a timeout, not a refusal")
    parser.add_argument("--pbx", action="append", help="only this PBX (repeatable)")
    parser.add_argument("--client", action="append", help="only this client (repeatable)")
    parser.add_argument("--service", action="append", help="only this service (repeatable)")
    parser.add_argument("--timeout", type=float, default=1.5)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only mismatches and the summary")
    args = parser.parse_args(argv)

    try:
        with open(args.lab, encoding="utf-8") as handle:
            lab = json.load(handle)
    except OSError as exc:
        print("probe.py: cannot read %s (%s); run lab/demo.sh up" % (args.lab, exc.strerror), file=sys.stderr)
        return 2
    pbxs = [p for p in sorted(lab["pbx"]) if not args.pbx or p in args.pbx]
    clients = [c for c in lab["clients"] if not args.client or c["name"] in args.client]
    probes = [p for p in PROBES if not args.service or p[0] in args.service]
    if not (pbxs and clients and probes):
        print("probe.py: nothing to probe (check --pbx/--client/--service)", file=sys.stderr)
        return 2
    policies = {pbx: policy_for(args, lab, pbx) for pbx in pbxs}

    # What each client probes: every PBX address on the client's own network.
    plan = {}
    for client in clients:
        plan[client["name"]] = [
            (pbx, service, proto, port, lab["pbx"][pbx]["addresses"][client["network"]])
            for pbx in pbxs if client["network"] in lab["pbx"][pbx]["addresses"]
            for service, proto, port in probes
        ]
    started = time.monotonic()
    with ThreadPoolExecutor(max(1, len(clients))) as pool:
        observed = dict(zip(plan, pool.map(
            lambda name: run_client(next(c for c in clients if c["name"] == name), plan[name], args.timeout),
            plan)))
    elapsed = time.monotonic() - started

    results = []
    for client in clients:
        for (pbx, service, proto, port, host), (status, detail) in zip(plan[client["name"]], observed[client["name"]]):
            if policies[pbx] is None:
                want, why = "accept", "--expect-all-open"
            else:
                want, why = expected.verdict(policies[pbx], client["address"], service)
            if want == "accept":
                ok = status == "open"
            else:
                ok = status == "closed" and (detail in ("timeout", "no reply") or not args.strict_drop)
            results.append({
                "client": client["name"], "source": client["address"], "pbx": pbx, "target": host,
                "service": service, "probe": proto if port is None else "%s/%d" % (proto, port),
                "expected": want, "observed": status, "detail": detail, "reason": why, "passed": ok,
            })

    report(results, clients, pbxs, probes, args.quiet)
    failed = sum(not r["passed"] for r in results)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"elapsed": elapsed, "results": results}, handle, indent=2)
    print("probe.py: %.1f s" % elapsed)
    print("%d probes, %d passed, %d failed" % (len(results), len(results) - failed, failed))
    return 1 if failed else 0


def report(results, clients, pbxs, probes, quiet):
    """Matrix: one row per client -> PBX, one column per probe. A cell is the
    observed verdict (ACCEPT / drop); a mismatch is marked !! and detailed below."""
    cols = ["%s %s" % (s, proto if port is None else "%s/%d" % (proto, port)) for s, proto, port in probes]
    index = {(r["client"], r["pbx"], "%s %s" % (r["service"], r["probe"])): r for r in results}
    if not quiet:
        print("observed verdicts (ACCEPT = answered, drop = no answer; !! = not what the policy expects)")
        header = "%-28s" % "client -> pbx"
        print(header + " ".join("%-9s" % c.split()[0][:9] for c in cols))
        print(" " * 28 + " ".join("%-9s" % c.split()[1][:9] for c in cols))
        for client in clients:
            for pbx in pbxs:
                cells = []
                for col in cols:
                    r = index.get((client["name"], pbx, col))
                    if r is None:
                        cells.append("%-9s" % "")
                        continue
                    word = "ACCEPT" if r["observed"] == "open" else ("drop" if r["observed"] == "closed" else "ERROR")
                    cells.append("%-9s" % (word + ("" if r["passed"] else "!!")))
                print("%-28s" % ("%s -> %s" % (client["name"], pbx)) + " ".join(cells))
    bad = [r for r in results if not r["passed"]]
    if bad:
        print("mismatches:")
        for r in bad:
            print("  %-13s %-14s -> %-5s %-13s %-19s expected %-6s observed %-6s (%s); policy: %s" % (
                r["client"], r["source"], r["pbx"], r["target"], r["service"] + " " + r["probe"],
                r["expected"], r["observed"], r["detail"], r["reason"]))


if __name__ == "__main__":
    sys.exit(main())
