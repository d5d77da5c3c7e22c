#!/usr/bin/env bash
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Make sure a Docker daemon answers. Idempotent: does nothing when `docker info`
# already works. Otherwise starts dockerd in the background (no service manager
# on these machines) and waits for its socket.
#
#   lab/docker.sh            # start if needed
#   DOCKERD_WAIT=120 lab/docker.sh
#
# Daemon settings: overlay2 storage, cgroupfs cgroup driver (the hosts use hybrid
# cgroups without systemd), iptables management on (the lab uses Docker's bridge
# networking and DOCKER-USER).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache="$here/.cache"
log="$cache/dockerd.log"
wait_s=${DOCKERD_WAIT:-60}

say() { echo "docker.sh: $*"; }

if docker info >/dev/null 2>&1; then
  say "daemon already running ($(docker info --format '{{.ServerVersion}} {{.Driver}} {{.CgroupDriver}}' 2>/dev/null))"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  say "dockerd not found; install docker.io (hack/install-debs.sh)" >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  say "dockerd must be started as root" >&2
  exit 1
fi

mkdir -p "$cache"

# A stale pid file or socket from a killed daemon makes dockerd refuse to start.
pidfile=/var/run/docker.pid
if [[ -f $pidfile ]]; then
  oldpid=$(cat "$pidfile" 2>/dev/null || true)
  if [[ -n $oldpid ]] && kill -0 "$oldpid" 2>/dev/null; then
    say "dockerd (pid $oldpid) exists but does not answer yet; waiting for it"
  else
    say "removing stale $pidfile"
    rm -f "$pidfile" /var/run/docker.sock
  fi
fi

# Docker's bridge networking needs forwarding; dockerd turns it on itself, but
# only when it manages iptables, which we want anyway.
# After a killed dockerd its containerd lingers for a second or two; a new dockerd
# started meanwhile fails with "containerd is still running".
ctr_pid=$(cat /var/run/docker/containerd/containerd.pid 2>/dev/null || true)
if ! pgrep -x dockerd >/dev/null 2>&1 && [[ -n $ctr_pid ]]; then
  for _ in $(seq 50); do kill -0 "$ctr_pid" 2>/dev/null || break; sleep 0.2; done
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  say "starting dockerd (overlay2, cgroupfs, iptables on); log: $log"
  # The daemon outlives this script: it must not inherit our open descriptors
  # (e.g. `flock /tmp/pbxfw-lab.lock` or image.sh's lock), or it holds those locks
  # for as long as it runs.
  (
    for fd in "/proc/$BASHPID/fd"/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
    exec nohup dockerd \
      --storage-driver=overlay2 \
      --exec-opt native.cgroupdriver=cgroupfs \
      --iptables=true \
      --ip-forward=true \
      --pidfile="$pidfile" \
      >>"$log" 2>&1 </dev/null
  ) &
  disown || true
fi

for ((i = 0; i < wait_s * 2; i++)); do
  if docker info >/dev/null 2>&1; then
    say "daemon ready after $((i / 2)) s ($(docker info --format '{{.ServerVersion}} {{.Driver}} {{.CgroupDriver}}'))"
    exit 0
  fi
  if ((i % 10 == 9)); then
    say "waiting for the daemon... ($(((i + 1) / 2)) s)"
  fi
  sleep 0.5
done

say "dockerd did not answer within ${wait_s} s; last log lines:" >&2
tail -n 20 "$log" >&2 || true
exit 1
