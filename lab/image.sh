#!/usr/bin/env bash
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Build a local lab image (no image registry needed):
#   pbxops/lab-pbx:bookworm  Debian 12, no Asterisk (the default),
#   pbxops/lab-pbx:sid       Debian sid with Asterisk 22 (--suite sid), or
#   pbxops/lab-pbx:hostfw    Debian 12 with the host firewall managers firewalld, ufw,
#                            nftables and iptables-persistent, none running (--suite hostfw).
#
#   lab/image.sh              # build if absent or if its inputs changed
#   lab/image.sh --suite sid  # the Asterisk image
#   lab/image.sh --force      # rebuild the image (reuses the cached rootfs)
#   lab/image.sh --rebuild-base   # also re-run debootstrap
#
# Two cached stages:
#   1. rootfs tarball  lab/.cache/rootfs-<suite>-<key>.tar  (debootstrap, ~1-2 min),
#      keyed by suite, package list and mirror;
#   2. the image, labelled pbxops.lab.hash=<hash of this script, lab/image/*, key>;
#      rebuilt (seconds) when that hash differs.
# Mirror: LAB_MIRROR, else the Debian mirror of this machine's apt sources.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache="$here/.cache"
suite=bookworm
pkgs=python3,openssh-server,openssh-client,iptables,ipset,iproute2,fail2ban,netcat-openbsd,procps,iputils-ping,sudo,ca-certificates

force=0
rebuild_base=0
while [[ $# -gt 0 ]]; do
  arg=$1; shift
  case $arg in
    --suite) suite=${1:?--suite needs bookworm, sid or hostfw}; shift ;;
    --suite=*) suite=${arg#--suite=} ;;
    --force) force=1 ;;
    --rebuild-base) force=1; rebuild_base=1 ;;
    -h|--help) sed -n '4,23p' "$0"; exit 0 ;;
    *) echo "image.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
# dist: the Debian release debootstrap installs for the image's suite; apt_pkgs: packages
# apt installs into the rootfs after debootstrap.
dist=$suite
apt_pkgs=
lab_debs=
case $suite in
  bookworm) ;;
  # Asterisk 22 is packaged in sid only; conntrack for the lab's call tests.
  sid) pkgs=$pkgs,asterisk,asterisk-modules,conntrack ;;
  # Debian 12 with the other firewall managers a PBX host may run (tests/integration/hostfw):
  # firewalld 1.3.3 (+ dbus for its bus), ufw 0.36.2, nftables.service, netfilter-persistent.
  # debootstrap cannot resolve firewalld's virtual dependencies (polkitd -> logind): apt adds
  # them. ufw Breaks iptables-persistent, so netfilter-persistent's packages are only kept in
  # /opt/lab-debs for a test that swaps them in (dpkg --purge ufw; dpkg -i ...persistent_*.deb).
  # python3-systemd (fail2ban's journal reader, which --no-install-recommends leaves out) waits
  # there too: a test shows the role refusing the LOG drops jail without it, then installs it.
  hostfw) dist=bookworm; apt_pkgs=conntrack,dbus,firewalld,ufw,nftables
          lab_debs=netfilter-persistent,iptables-persistent,python3-systemd ;;
  *) echo "image.sh: --suite must be bookworm, sid or hostfw, not '$suite'" >&2; exit 2 ;;
esac
image=${LAB_IMAGE:-pbxops/lab-pbx:$suite}

say() { echo "image.sh: $*"; }
t0=$SECONDS
elapsed() { echo "$((SECONDS - t0)) s"; }

# The first Debian mirror serving $dist in this machine's apt sources
# (one-line and deb822 formats), else deb.debian.org.
detect_mirror() {
  python3 - "$dist" <<'PY'
import glob, sys
suite = sys.argv[1]
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) \
      + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
found = []
for path in files:
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        continue
    if path.endswith(".sources"):
        for stanza in text.split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.split()
            if "deb" in fields.get("types", []) and suite in fields.get("suites", []) \
                    and fields.get("enabled", ["yes"])[0].lower() != "no":
                found += fields.get("uris", [])
    else:
        for line in text.splitlines():
            words = line.split("#", 1)[0].split()
            if words[:1] != ["deb"]:
                continue
            words = words[1:]
            if words and words[0].startswith("["):
                while words and not words[0].endswith("]"):
                    words.pop(0)
                words = words[1:]
            if len(words) >= 2 and words[1] == suite:
                found.append(words[0])
print((found or ["http://deb.debian.org/debian"])[0].rstrip("/"))
PY
}

mirror=${LAB_MIRROR:-$(detect_mirror)}
base_key=$(printf '%s\n' "$dist" "$pkgs" "$mirror" minbase ${apt_pkgs:+"$apt_pkgs" "$lab_debs" disabled} | sha256sum | cut -c1-12)
base_tar="$cache/rootfs-$suite-$base_key.tar"
hash=$(find "$here/image" -type f | sort | xargs cat "$here/image.sh" | cat - <(echo "$base_key") | sha256sum | cut -c1-16)

mkdir -p "$cache"
# One build at a time (demo, Molecule and benchmarks may all call this).
exec 9>"$cache/image.lock"
flock 9

"$here/docker.sh" >/dev/null

current=$(docker image inspect "$image" --format '{{ index .Config.Labels "pbxops.lab.hash" }}' 2>/dev/null || true)
if [[ $force -eq 0 && "$current" == "$hash" ]]; then
  say "$image is up to date (hash $hash)"
  exit 0
fi
if [[ -n "$current" ]]; then
  say "$image has hash ${current:-none}, inputs now $hash: rebuilding"
else
  say "$image is absent: building (hash $hash)"
fi

work=$(mktemp -d "$cache/build.XXXXXX")
cleanup() { rm -rf --one-file-system "$work"; }
trap cleanup EXIT

# Print one line per debootstrap phase and a dot per 20 lines, so the user sees
# it is alive; everything goes to the log.
progress() {
  awk -v logf="$1" '
    { print >> logf; fflush(logf) }
    /^[IEW]: / {
      phase = ($2 == "Validating") ? "Retrieving" : $2
      if (phase != last) { if (dots) printf "\n"; dots = 0; printf "  %s\n", $0; last = phase; fflush(); next }
    }
    { if (++n % 20 == 0) { printf "."; dots = 1; fflush() } }
    END { if (dots) printf "\n" }'
}

if [[ $rebuild_base -eq 1 || ! -s "$base_tar" ]]; then
  command -v debootstrap >/dev/null || { say "debootstrap not found; install it (hack/install-debs.sh)" >&2; exit 1; }
  rootfs="$work/rootfs"
  dlog="$cache/debootstrap-$suite.log"
  : >"$dlog"
  say "debootstrap $dist ($suite) from $mirror (log: $dlog)"
  # Two stages so that package scripts cannot start services (fail2ban,
  # sshd) on this machine: policy-rc.d denies that during the second stage.
  debootstrap --foreign --variant=minbase --include="$pkgs" "$dist" "$rootfs" "$mirror" 2>&1 \
    | progress "$dlog"
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod +x "$rootfs/usr/sbin/policy-rc.d"
  say "second stage (install and configure packages) [$(elapsed)]"
  chroot "$rootfs" /debootstrap/debootstrap --second-stage 2>&1 | progress "$dlog"
  if [[ -n $apt_pkgs ]]; then
    say "apt-get install $apt_pkgs [$(elapsed)]"
    # no saved rules from the build: they would be this machine's
    printf '%s\n' 'iptables-persistent iptables-persistent/autosave_v4 boolean false' \
      'iptables-persistent iptables-persistent/autosave_v6 boolean false' | chroot "$rootfs" debconf-set-selections
    chroot "$rootfs" sh -c "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${apt_pkgs//,/ }" \
      2>&1 | progress "$dlog"
    if [[ -n $lab_debs ]]; then
      mkdir -p "$rootfs/opt/lab-debs"
      chroot "$rootfs" sh -c "cd /opt/lab-debs && apt-get download ${lab_debs//,/ }" 2>&1 | progress "$dlog"
    fi
    # installed, not enabled: a test enables (links) and starts what it needs
    rm -f "$rootfs"/etc/systemd/system/multi-user.target.wants/{firewalld,ufw}.service
  fi
  rm -f "$rootfs/usr/sbin/policy-rc.d"
  # iptables-persistent's postinst saves the rules it sees, i.e. this machine's: never ship them.
  rm -f "$rootfs"/etc/iptables/rules.v4 "$rootfs"/etc/iptables/rules.v6
  # Slim down and drop what must be unique per container.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
         "$rootfs"/etc/ssh/ssh_host_* "$rootfs"/var/log/*.log
  : >"$rootfs/etc/machine-id"
  say "packing rootfs to $base_tar [$(elapsed)]"
  tar --numeric-owner -C "$rootfs" -cf "$base_tar.tmp" .
  mv "$base_tar.tmp" "$base_tar"
  rm -rf --one-file-system "$rootfs"
  # Old rootfs tarballs of other keys are dead weight.
  find "$cache" -maxdepth 1 -name "rootfs-$suite-*.tar" ! -name "$(basename "$base_tar")" -delete
else
  say "using cached rootfs $base_tar"
fi

# The image = the cached rootfs + the lab files, appended to a copy of the
# tarball (extracting it would take longer than the import itself).
overlay="$work/overlay"
# put FILE PATH [MODE]: lab/image/FILE becomes PATH in the image (mode 0644 unless given).
put() { install -D -m "${3:-0644}" "$here/image/$1" "$overlay/$2"; }
put lab-init usr/local/sbin/lab-init 0755
put lab-listener usr/local/sbin/lab-listener
put sshd_config etc/ssh/sshd_config.d/lab.conf
put jail.local etc/fail2ban/jail.d/lab.local
put sshd-filter.local etc/fail2ban/filter.d/sshd.local
put fail2ban.local etc/fail2ban/fail2ban.d/lab.local
if [[ $suite == sid ]]; then
  # Asterisk 22: the lab's PJSIP transports, phones and dialplan replace the samples.
  for conf in pjsip.conf extensions.conf pjsip_pbx_firewall.conf manager.conf logger.conf; do
    put "asterisk/$conf" "etc/asterisk/$conf"
  done
  put asterisk/jail.local etc/fail2ban/jail.d/asterisk.local
fi
cp "$base_tar" "$work/image.tar"
(cd "$overlay" && find . -type f | sort) >"$work/overlay.list"
# The rootfs may ship some of these (sid's asterisk package: /etc/asterisk/*); Docker
# refuses a tar with duplicate paths, so the overlay's files replace them.
tar --delete -f "$work/image.tar" -T "$work/overlay.list" 2>/dev/null || true
tar --numeric-owner --owner=0 --group=0 -C "$overlay" -rf "$work/image.tar" -T "$work/overlay.list"

say "importing $image [$(elapsed)]"
old_id=$(docker image inspect "$image" --format '{{.Id}}' 2>/dev/null || true)
docker import \
  -c 'CMD ["/usr/local/sbin/lab-init"]' \
  -c 'ENV LAB_ROLE=pbx' \
  -c "LABEL pbxops.lab.hash=$hash" \
  -c "LABEL pbxops.lab.base=$base_key" \
  -m "pbxops lab image ($suite: $dist, $mirror)" \
  "$work/image.tar" "$image" >/dev/null
new_id=$(docker image inspect "$image" --format '{{.Id}}')
if [[ -n "$old_id" && "$old_id" != "$new_id" ]]; then
  # Drop the old image if nothing uses it any more (running containers keep it).
  docker image rm "$old_id" >/dev/null 2>&1 || true
fi
say "built $image ($(docker image inspect "$image" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')) in $(elapsed)"
