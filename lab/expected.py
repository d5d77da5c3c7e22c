# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Expected firewall verdicts, read straight from docs/design.md "Policy semantics".

Independent of the collection on purpose: lab/probe.py compares real traffic
with this, so it must not share code with plugins/plugin_utils/_policy/.

For a new packet from SOURCE to SERVICE:
  - no network defined                    -> accept (nothing is dropped)
  - SOURCE is a trunk and SERVICE is sip  -> accept
  - among the networks whose subnet contains SOURCE and that mention SERVICE
    (in `services` or `block`), the longest prefix decides: services -> accept,
    block -> drop (if networks of equal prefix disagree, or one network lists
    the service in both, drop wins);
  - nothing matches                       -> drop
Not modelled: SIP scanner / rate-limit rules, pbx_firewall_custom_rules, trunk
host names (only literal addresses and CIDRs).

    python3 lab/expected.py FILE.yml [FILE.yml ...] SOURCE SERVICE
    python3 lab/expected.py FILE.yml --table SOURCE [SOURCE ...]
"""
import ipaddress
import sys

SERVICES = ("sip", "iax", "web", "ssh", "ami", "ajam", "icmp", "cticlient")


def load_policy(*paths):
    """Merge the top-level keys of YAML vars files (later files win)."""
    import yaml  # PyYAML ships with ansible-core

    policy = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            policy.update(yaml.safe_load(handle) or {})
    return policy


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _networks(value):
    """CIDR strings (or bare addresses) -> ip_network objects."""
    return [ipaddress.ip_network(str(item).strip(), strict=False) for item in _as_list(value)]


def verdict(policy, source, service):
    """Return (verdict, reason) with verdict "accept" or "drop"."""
    addr = ipaddress.ip_address(source)
    networks = policy.get("pbx_firewall_networks") or []
    if not networks:
        return "accept", "no network defined: nothing is dropped"

    if service == "sip":
        for trunk in _as_list(policy.get("pbx_firewall_trunks")):
            try:
                trunk_nets = _networks(trunk)
            except ValueError:
                continue  # a host name: resolved by the collection, not here
            if any(addr in net for net in trunk_nets if net.version == addr.version):
                return "accept", "trunk %s" % trunk

    best = -1
    deciders = []  # (name, accept?) of the networks at the longest prefix so far
    for net in networks:
        allows = service in _as_list(net.get("services"))
        blocks = service in _as_list(net.get("block"))
        if not (allows or blocks):
            continue
        for subnet in _networks(net.get("subnet")):
            if subnet.version != addr.version or addr not in subnet:
                continue
            if subnet.prefixlen > best:
                best, deciders = subnet.prefixlen, []
            if subnet.prefixlen == best:
                deciders.append((net.get("name"), allows and not blocks))

    if not deciders:
        return "drop", "no network containing %s mentions %s" % (source, service)
    names = ", ".join(sorted({name for name, _verdict in deciders}))
    if all(ok for _name, ok in deciders):
        return "accept", "%s (/%d) allows %s" % (names, best, service)
    return "drop", "%s (/%d) blocks %s" % (names, best, service)


def main(argv):
    if "--table" in argv:
        i = argv.index("--table")
        policy = load_policy(*argv[:i])
        for source in argv[i + 1:]:
            for service in SERVICES:
                print("%-18s %-10s %-6s %s" % ((source, service) + verdict(policy, source, service)))
        return 0
    if len(argv) < 3:
        print("usage: expected.py FILE.yml [...] SOURCE SERVICE | FILE.yml [...] --table SOURCE [...]",
              file=sys.stderr)
        return 2
    print("%s: %s" % verdict(load_policy(*argv[:-2]), argv[-2], argv[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
