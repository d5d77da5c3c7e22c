#!/usr/bin/env bash
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Install the Debian packages the test suite needs (integration tests, lab, Molecule).
# Idempotent: apt is skipped entirely when every package is already installed.
set -euo pipefail

PKGS=(
  iptables ipset fail2ban docker.io debootstrap iproute2 conntrack
  python3-systemd  # fail2ban's journal reader: the LOG drops jail reads the kernel messages there
  netcat-openbsd openssh-client openssh-server rsync socat tcpdump
  sip-tester sipsak  # real SIP load generator and probe for the SIP guard tests
  prometheus-node-exporter ulogd2  # the report's metrics served over HTTP; NFLOG drop logging
  shellcheck  # ansible-test sanity "shellcheck" is skipped (with only a warning) without it
  tor-geoipdb  # the country database (/usr/share/tor/geoip, geoip6) the country tests read
)

missing=()
for p in "${PKGS[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-debs: all ${#PKGS[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  SUDO=(sudo)
else
  SUDO=()
fi

echo "install-debs: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 NEEDRESTART_MODE=a apt-get update -qq \
  -o DPkg::Lock::Timeout=600
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 NEEDRESTART_MODE=a apt-get install -y -qq \
  -o DPkg::Lock::Timeout=600 \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}" </dev/null >/dev/null
echo "install-debs: done"
