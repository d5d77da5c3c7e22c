# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one fleet builder of the lab: Docker networks and containers from a layout.

Used by the demo and Molecule (through lab/demo_fleet.py, which lab/demo.sh calls) and by
the benchmarks (bench/lab.py). A caller describes its fleet with parameters: a label that
marks everything it creates, networks (name, /24 prefix, optional IPv6 ULA), members
(name, role, image, iptables backend, environment, network attachments) and an SSH key;
this module creates, waits for SSH, writes an Ansible inventory and removes the fleet.
It builds no image (lab/image.sh does) and starts no Docker engine (lab/docker.sh does).
Standard library only: lab/demo.sh runs it with the system python3.
"""
import ipaddress
import json
import subprocess
import time


class FleetError(RuntimeError):
    """The fleet cannot be built or removed as asked (the message says why and what to do)."""


def run(argv, check=True, capture=True, **kwargs):
    """subprocess.run with text output; raises FleetError with the command's stderr on failure."""
    proc = subprocess.run(argv, capture_output=capture, text=True, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise FleetError("%s failed (rc=%d): %s" % (" ".join(argv), proc.returncode,
                                                    (proc.stderr or proc.stdout or "").strip()[-2000:]))
    return proc


def docker(*args, check=True, **kwargs):
    return run(["docker"] + list(args), check=check, **kwargs)


def ssh_opts(key, connect_timeout=5):
    """ssh options for the fleet's root login by key (no host key checks: containers are new)."""
    return ["-i", key, "-o", "BatchMode=yes", "-o", "ConnectTimeout=%d" % connect_timeout,
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ControlMaster=no", "-o", "ControlPath=none"]


class Network:
    """A Docker bridge network whose Linux bridge carries the network's name.

    prefix: the first three octets of its /24 (gateway .1); ula: the IPv6 ULA prefix base
    (e.g. "fd42:201"), giving <ula>:<third octet>::/64, or None for IPv4 only."""

    def __init__(self, key, name, prefix, ula=None):
        self.key, self.name, self.prefix, self.ula = key, name, prefix, ula

    @property
    def subnet(self):
        return "%s.0/24" % self.prefix

    @property
    def subnet6(self):
        return "%s:%s::/64" % (self.ula, self.prefix.rsplit(".", 1)[1]) if self.ula else None

    def address(self, host):
        return "%s.%d" % (self.prefix, host)

    def address6(self, host):
        return "%s:%s::%d" % (self.ula, self.prefix.rsplit(".", 1)[1], host) if self.ula else None


class Member:
    """One container: attachments [(network key, host number)], the first one primary."""

    def __init__(self, name, role, image, attachments, backend="nft", env=None):
        self.name, self.role, self.image = name, role, image
        self.attachments, self.backend, self.env = list(attachments), backend, dict(env or {})


class Fleet:
    """Networks and containers marked with one label ("key=value")."""

    def __init__(self, label, networks, key, tag, announce=True):
        self.label = label
        self.networks = {net.key: net for net in networks}
        self.key = key
        self.tag = tag
        self.announce = announce

    def say(self, msg):
        print("%s: %s" % (self.tag, msg), flush=True)

    def address(self, member, net_key=None):
        """A member's IPv4 address on net_key (default: its primary network)."""
        for key, host in member.attachments:
            if net_key in (None, key):
                return self.networks[key].address(host)
        raise FleetError("%s is not on network %s" % (member.name, net_key))

    # -- networks ---------------------------------------------------------------------------

    def check_routes(self):
        """Refuse subnets that overlap a route of this machine other than our own bridges."""
        ours = [ipaddress.ip_network(net.subnet) for net in self.networks.values()]
        own_devs = {net.name for net in self.networks.values()}
        bad = []
        for line in run(["ip", "-o", "-4", "route", "show"]).stdout.splitlines():
            words = line.split()
            if not words or words[0] == "default":
                continue
            if "dev" in words and words[words.index("dev") + 1] in own_devs:
                continue
            try:
                net = ipaddress.ip_network(words[0], strict=False)
            except ValueError:
                continue
            bad += ["%s overlaps route %s" % (mine, line.strip()) for mine in ours if mine.overlaps(net)]
        if bad:
            raise FleetError("lab subnets collide with this machine's routes:\n  " + "\n  ".join(bad))

    def ensure_networks(self, down_hint):
        """Create the networks that are missing; keep those with the expected subnets."""
        for net in self.networks.values():
            proc = docker("network", "inspect", net.name, "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
                          check=False)
            have = proc.stdout.split() if proc.returncode == 0 else []
            want = [s for s in (net.subnet, net.subnet6) if s]
            if have and sorted(have) == sorted(want):
                continue
            if have:
                raise FleetError("network %s exists with subnets %s, expected %s; run: %s"
                                 % (net.name, " ".join(have), " ".join(want), down_hint))
            if self.announce:
                self.say("network %s %s" % (net.name, " ".join(want)))
            argv = ["network", "create", "--driver", "bridge", "--subnet", net.subnet, "--gateway", net.address(1)]
            if net.ula:
                argv += ["--ipv6", "--subnet", net.subnet6, "--gateway", net.address6(1)]
            docker(*argv, "-o", "com.docker.network.bridge.name=" + net.name, "--label", self.label, net.name)

    # -- containers -------------------------------------------------------------------------

    def ensure(self, member):
        """Start a member unless it already runs its current image; True when (re)created."""
        img_id = docker("image", "inspect", member.image, "--format", "{{.Id}}").stdout.strip()
        cur = docker("inspect", member.name, "--format", "{{.Image}} {{.State.Status}}", check=False)
        if cur.returncode == 0:
            if cur.stdout.split() == [img_id, "running"]:
                return False
            docker("rm", "-f", member.name)
        (first, host), rest = member.attachments[0], member.attachments[1:]
        net = self.networks[first]
        if self.announce:
            self.say("container %s (%s, %s, iptables %s) %s%s" % (
                member.name, member.role, member.image.rsplit(":", 1)[-1], member.backend, net.address(host),
                " +%d" % len(rest) if rest else ""))
        env_args = []
        for name, value in sorted(dict(member.env, LAB_ROLE=member.role, LAB_IPTABLES=member.backend).items()):
            env_args += ["-e", "%s=%s" % (name, value)]
        ip_args = ["--ip", net.address(host)] + (["--ip6", net.address6(host)] if net.ula else [])
        docker("create", "--name", member.name, "--hostname", member.name, "--label", self.label,
               "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", *env_args,
               "-v", self.key + ".pub:/run/lab/authorized_keys:ro",
               "--network", net.name, *ip_args, member.image)
        for key, host in rest:
            other = self.networks[key]
            ip_args = ["--ip", other.address(host)] + (["--ip6", other.address6(host)] if other.ula else [])
            docker("network", "connect", *ip_args, other.name, member.name)
        docker("start", member.name)
        return True

    def wait_ssh(self, addresses, timeout):
        """Wait until root can log in by key on every address and python3 is there."""
        deadline = time.monotonic() + timeout
        pending = list(addresses)
        while pending:
            pending = [a for a in pending if subprocess.run(
                ["ssh"] + ssh_opts(self.key) + ["root@%s" % a, "test -x /usr/bin/python3"],
                capture_output=True, check=False).returncode != 0]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise FleetError("no SSH from %s after %d s" % (", ".join(pending), timeout))
            time.sleep(0.5)

    def running(self):
        """Names of the fleet's running containers, or None when Docker does not answer."""
        proc = docker("ps", "--filter", "label=" + self.label, "--filter", "status=running",
                      "--format", "{{.Names}}", check=False)
        return set(proc.stdout.split()) if proc.returncode == 0 else None

    def leftovers(self):
        """What of the fleet exists now, one line per container and network (empty: nothing)."""
        lines = docker("ps", "-a", "--filter", "label=" + self.label, "--format", "container {{.Names}} ({{.Status}})",
                       check=False).stdout.splitlines()
        for net in self.networks.values():
            if docker("network", "inspect", net.name, check=False).returncode == 0:
                lines.append("network %s" % net.name)
        return lines

    def destroy(self, quiet=False):
        """Remove every container with the label and the fleet's networks (only ours: label)."""
        names = sorted(docker("ps", "-a", "--filter", "label=" + self.label, "--format", "{{.Names}}",
                              check=False).stdout.split())
        if names:
            if not quiet:
                self.say("removing containers: %s" % " ".join(names))
            docker("rm", "-f", *names, check=False)
        label_key, _sep, label_value = self.label.partition("=")
        for net in self.networks.values():
            inspect = docker("network", "inspect", net.name, "--format", "{{json .Labels}}", check=False)
            if inspect.returncode != 0:
                continue
            labels = json.loads(inspect.stdout or "null") or {}
            if labels.get(label_key) != label_value:
                raise FleetError("network %s exists without the label %s; not ours, refusing to remove it"
                                 % (net.name, self.label))
            for _attempt in range(20):     # endpoints of removed containers go away asynchronously
                if docker("network", "rm", net.name, check=False).returncode == 0:
                    break
                time.sleep(0.5)
            if docker("network", "inspect", net.name, check=False).returncode == 0:
                attached = docker("network", "inspect", net.name, "--format",
                                  "{{range .Containers}}{{.Name}} {{end}}", check=False).stdout.strip()
                self.say("warning: could not remove network %s; attached: %s" % (net.name, attached))
            elif not quiet:
                self.say("removed network %s" % net.name)


def inventory_group(group, hosts, key=None, extra_vars=None):
    """YAML lines of one inventory group: hosts [(name, address or None, {hostvar: value})];
    with key, group vars for root's login by that key (and extra_vars)."""
    lines = ["%s:" % group, "  hosts:"]
    for name, address, hostvars in hosts:
        lines.append("    %s:%s" % (name, "" if address or hostvars else " {}"))
        if address:
            lines.append("      ansible_host: %s" % address)
        lines += ["      %s: %s" % (k, json.dumps(v)) for k, v in sorted((hostvars or {}).items())]
    if key:
        lines += ["  vars:",
                  "    ansible_user: root",
                  "    ansible_ssh_private_key_file: %s" % key,
                  "    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
                  "    ansible_python_interpreter: /usr/bin/python3"]
        lines += ["    %s: %s" % (k, json.dumps(v)) for k, v in sorted((extra_vars or {}).items())]
    return lines


def write_inventory(path, group, hosts, key, header, extra_vars=None):
    """An Ansible YAML inventory of one group whose hosts root logs in to by key."""
    return write_lines(path, ["# %s" % line for line in header.splitlines()] + inventory_group(group, hosts, key, extra_vars))


def write_lines(path, lines):
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path
