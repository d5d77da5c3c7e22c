#!/usr/bin/env bash
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# The demo fleet: three PBX containers and their clients on Docker networks.
# A mixed fleet: pbx1 is Debian 12 without Asterisk (image pbxops/lab-pbx:bookworm);
# pbx2 and pbx3 run a real Asterisk 22 (pbxops/lab-pbx:sid), pbx3 on the
# iptables-legacy backend. Clients use the bookworm image.
#
#   lab/demo.sh up [--fresh]   start docker, build the image, bring the lab up
#                              (keeps running containers; --fresh recreates them),
#                              then, if playbooks/rollout.yml exists, roll out
#                              (--check --diff first, then for real), verify, send a
#                              scan and a flood from client-inet and print the report
#                              (pbxops.firewall.report), read during the flood
#   lab/demo.sh create [--fresh] [--owner NAME [--take-demo]]
#                              the lab only: docker, image, networks, containers,
#                              SSH, generated files; no rollout (Molecule's create).
#                              --owner NAME claims the lab for NAME (.cache/lab.owner)
#                              and refuses a lab that exists without that claim
#                              (e.g. a running demo); `up` refuses a claimed lab
#   lab/demo.sh probe [ARGS]   pbxops.firewall.verify against the running lab (lab/probe.py)
#   lab/demo.sh status         list the lab's containers and networks
#   lab/demo.sh ssh pbx1 [CMD] ssh into a PBX as the controller does
#   lab/demo.sh down|destroy [--owner NAME]
#                              remove containers and networks (keeps image, cache);
#                              with --owner only a lab that NAME claimed
#
# Lab layout (networks pbxlab-mgmt/office/vpn/inet, 10.201.{0,10,20,30}.0/24 + IPv6 ULA):
# lab/demo_fleet.py, built by lab/fleet.py (the benchmarks' fleet builder too).
# Generated: lab/.cache/inventory.yml (group pbx), lab/.cache/probes.yml (verify's probe
# hosts), lab/.cache/lab.json.
set -euo pipefail

lab=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$lab/.." && pwd)
cache="$lab/.cache"
image=${LAB_IMAGE:-pbxops/lab-pbx:bookworm}
key="$cache/id_ed25519"
venv=${LAB_VENV:-$repo/.venv}
label=pbxops.lab=demo

# The fleet layout (networks, containers, addresses) lives in lab/demo_fleet.py and is
# built by lab/fleet.py, the one fleet builder that the benchmarks (bench/lab.py) use too.
fleet() { python3 "$lab/demo_fleet.py" "$@"; }

say() { echo "demo.sh: $*"; }
die() { echo "demo.sh: $*" >&2; exit 1; }
ssh_opts=(-i "$key" -o BatchMode=yes -o ConnectTimeout=3 -o StrictHostKeyChecking=no
          -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)

# ansible-playbook with this repo as pbxops.firewall.
ansible_env() {
  if [[ -f "$repo/ansible.cfg" ]]; then
    export ANSIBLE_CONFIG="$repo/ansible.cfg"
  fi
  # Make the collection importable either way (ansible.cfg may point here too).
  local ns="$repo/.build/ansible_collections/pbxops"
  mkdir -p "$ns"
  if [[ "$(readlink "$ns/firewall" 2>/dev/null)" != "$repo" ]]; then
    rm -rf "$ns/firewall"
    ln -s "$repo" "$ns/firewall"
  fi
  if [[ ! -f "$repo/ansible.cfg" ]]; then
    export ANSIBLE_COLLECTIONS_PATH="$repo/.build"
  fi
  export ANSIBLE_HOST_KEY_CHECKING=False
}

run_timed() {
  local t=$SECONDS rc=0
  echo "+ ${*/#$repo\//}"
  "$@" || rc=$?
  say "($((SECONDS - t)) s, exit $rc)"
  return $rc
}

# Lab containers and networks that exist now, one per line (empty: no lab).
lab_leftovers() { fleet leftovers; }

# Who claimed the lab (create --owner): empty for the demo's own lab.
owner_file="$cache/lab.owner"
lab_owner() { cat "$owner_file" 2>/dev/null || true; }

# The lab without a rollout. --fresh recreates it. --owner NAME: the lab is NAME's
# (Molecule's): refuse one that exists without NAME's claim, claim it before
# creating anything (so `down --owner NAME` cleans up after a failed create too).
# Without --owner, refuse a lab someone else claimed. --take-demo (with --owner): an
# unclaimed lab, the one `make demo` left up, is removed and replaced (a test run on a
# machine where the demo ran first); a lab another owner claimed is still refused.
cmd_create() {
  local fresh=0 owner="" take_demo=0 t0=$SECONDS
  while (($#)); do
    case $1 in
      --fresh) fresh=1 ;;
      --owner) owner=${2:-}; [[ -n "$owner" ]] || die "create: --owner needs a name"; shift ;;
      --take-demo) take_demo=1 ;;
      *) die "create: unknown argument $1 (--fresh, --owner NAME, --take-demo)" ;;
    esac
    shift
  done
  "$lab/docker.sh"
  mkdir -p "$cache"
  local found have
  found=$(lab_leftovers)
  have=$(lab_owner)
  if [[ -z "$found" ]]; then
    rm -f "$owner_file"   # a claim on a lab that no longer exists
    have=""
  elif [[ -z "$have" && -n "$owner" ]] && ((take_demo)); then
    say "the demo's lab is up; $owner replaces it (make demo brings it back)"
    cmd_down
  elif [[ "$have" != "$owner" ]]; then
    die "the lab exists and belongs to ${have:-the demo (make demo)}, not ${owner:-the demo}:
  ${found//$'\n'/$'\n'  }
refusing to take it over; remove it with 'lab/demo.sh down' (make demo-down) first"
  fi
  "$lab/image.sh"
  "$lab/image.sh" --suite sid
  if [[ ! -f "$key" ]]; then
    ssh-keygen -q -t ed25519 -N '' -C pbxops-lab -f "$key"
    say "generated SSH key $key"
  fi
  ((fresh)) && cmd_down
  [[ -n "$owner" ]] && echo "$owner" >"$owner_file"
  fleet create
  prune_images
  say "lab up in $((SECONDS - t0)) s"
}

cmd_up() {
  local t0=$SECONDS
  [[ -z "${1:-}" || "${1:-}" == --fresh ]] || die "up: unknown argument $1 (--fresh)"
  cmd_create "$@"

  if [[ ! -f "$repo/playbooks/rollout.yml" ]]; then
    say "playbooks/rollout.yml does not exist yet: lab is up, no rollout"
    return 0
  fi
  ansible_env
  local pb=("$venv/bin/ansible-playbook" -i "$cache/inventory.yml" -i "$lab/inventory/" pbxops.firewall.rollout)
  say "rollout preview (--check --diff)"
  run_timed "${pb[@]}" --check --diff
  say "rollout"
  run_timed "${pb[@]}"
  say "verifying real traffic (pbxops.firewall.verify)"
  run_timed "$venv/bin/python" "$lab/probe.py"
  asterisk_view
  say "unwanted traffic from client-inet: a SIP scan, blocked and unlisted ports (lab/traffic.py)"
  run_timed "$venv/bin/python" "$lab/traffic.py" demo
  say "a SIP flood from client-inet on every PBX for 20 s; the report reads them during it"
  "$venv/bin/python" "$lab/traffic.py" flood-all 20 &
  local flood=$!
  sleep 3
  say "what the firewall stopped (pbxops.firewall.report; the whole report: lab/.cache/report.json)"
  run_timed "$venv/bin/ansible-playbook" -i "$cache/inventory.yml" -i "$lab/inventory/" pbxops.firewall.report \
    -e "pbx_firewall_report_file=$cache/report.json" >"$cache/report.log"
  wait "$flood"
  python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["lines"]))' "$cache/report.json"
  say "demo done in $((SECONDS - t0)) s"
}

# Asterisk's own view of local_net, per PBX that runs one: every PJSIP transport's
# local_net lines as `pjsip show transport` prints them.
asterisk_view() {
  local p tag backend t
  say "Asterisk's own view (pjsip show transport NAME | grep local_net)"
  while read -r -u 3 p tag backend; do
    if ! docker exec "$p" sh -c 'command -v asterisk' >/dev/null 2>&1; then
      echo "  $p: no Asterisk ($tag, iptables $backend)"
      continue
    fi
    echo "  $p: $(docker exec "$p" asterisk -rx 'core show version' | cut -d' ' -f1-2) (iptables $backend)"
    for t in $(docker exec "$p" asterisk -rx 'pjsip show transports' \
               | awk '$1 == "Transport:" && $2 !~ /^</ {print $2}'); do
      echo "    [$t]"
      docker exec "$p" asterisk -rx "pjsip show transport $t" | grep -E '^ *(local_net|external_signaling_address) ' \
        | sed 's/^ */      /'
    done
  done 3< <(fleet pbxs)
}

cmd_down() {
  fleet down
  prune_images
  rm -f "$owner_file"
}

# down --owner NAME: only a lab that NAME claimed; leave anyone else's alone.
cmd_destroy() {
  local owner=""
  case ${1:-} in
    "") ;;
    --owner) owner=${2:-}; [[ -n "$owner" ]] || die "down: --owner needs a name" ;;
    *) die "down: unknown argument $1 (--owner NAME)" ;;
  esac
  if [[ -n "$owner" && "$(lab_owner)" != "$owner" ]]; then
    local found
    found=$(lab_leftovers)
    if [[ -n "$found" ]]; then
      say "the lab belongs to $(lab_owner | grep . || echo 'the demo'), not $owner: leaving it alone"
    else
      say "no lab to remove"
    fi
    return 0
  fi
  cmd_down
}

# Images of earlier builds that containers kept alive (lab/image.sh --force).
prune_images() {
  docker image prune -f --filter label=pbxops.lab.hash >/dev/null 2>&1 || true
}

cmd_status() {
  if ! docker info >/dev/null 2>&1; then
    say "docker is not running (lab/docker.sh starts it)"
    return 0
  fi
  docker image ls "${image%%:*}" --format 'image: {{.Repository}}:{{.Tag}} {{.ID}} {{.CreatedSince}} {{.Size}}'
  docker network ls --filter "label=$label" --format 'network: {{.Name}}'
  [[ -s "$owner_file" ]] && echo "claimed by: $(lab_owner) (lab/demo.sh create --owner)"
  local names
  names=$(docker ps -a --filter "label=$label" --format '{{.Names}}' | sort)
  if [[ -z "$names" ]]; then
    say "lab is down"
    return 0
  fi
  for c in $names; do
    docker inspect "$c" --format '{{.Name}} {{.State.Status}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}' \
      | sed 's#^/##'
  done
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  create) shift; cmd_create "$@" ;;
  down|destroy) shift; "$lab/docker.sh" >/dev/null; cmd_destroy "$@" ;;
  status) cmd_status ;;
  probe) shift; exec "$venv/bin/python" "$lab/probe.py" "$@" ;;
  ssh)
    shift
    host=$(fleet address "${1:-}" 2>/dev/null) || die "usage: lab/demo.sh ssh pbx1|pbx2|pbx3 [CMD]"
    shift
    exec ssh "${ssh_opts[@]}" "root@$host" "$@" ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
