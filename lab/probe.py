# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Probe the lab with real traffic: a thin wrapper around the pbxops.firewall.verify playbook.

The clients (client-office, client-vpn, client-inet, client-inet2) are the probe hosts
(lab/.cache/probes.yml, written by lab/demo.sh); the expectations come from each PBX's
compiled policy (lab/inventory), evaluated by the collection, as in production.

    .venv/bin/python lab/probe.py                       # every client -> every PBX
    .venv/bin/python lab/probe.py --limit 'pbx1,localhost,client-*'
    .venv/bin/python lab/probe.py -e pbx_firewall_verify_timeout=1

Extra arguments go to ansible-playbook. The whole matrix is written to
lab/.cache/verify.json. Exit status: ansible-playbook's (0: every probe matches).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CACHE = os.path.join(HERE, ".cache")


def main(argv):
    inventories = [os.path.join(CACHE, "inventory.yml"), os.path.join(CACHE, "probes.yml")]
    missing = [path for path in inventories if not os.path.isfile(path)]
    if missing:
        print("probe.py: %s missing; run lab/demo.sh up (or create)" % ", ".join(missing), file=sys.stderr)
        return 2
    os.environ.setdefault("ANSIBLE_CONFIG", os.path.join(REPO, "ansible.cfg"))
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    args = [playbook]
    for path in inventories + [os.path.join(HERE, "inventory") + "/"]:
        args += ["-i", path]
    args += ["pbxops.firewall.verify", "-e", "pbx_firewall_verify_report=%s" % os.path.join(CACHE, "verify.json")]
    os.execv(playbook, args + list(argv))
    return 2   # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
