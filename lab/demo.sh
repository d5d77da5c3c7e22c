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
#                              (--check --diff first, then for real) and verify
#   lab/demo.sh create [--fresh] [--owner NAME]
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
# Lab layout (controller = this machine, on the mgmt bridge as .1):
#   network        subnet (+ IPv6 ULA fd42:201:N::/64, N = third octet)   members
#   pbxlab-mgmt    10.201.0.0/24     pbx1..3 (.11-.13)
#   pbxlab-office  10.201.10.0/24    pbx1..3 (.11-.13), client-office (.101)
#   pbxlab-vpn     10.201.20.0/24    pbx1..3 (.11-.13), client-vpn (.101)
#   pbxlab-inet    10.201.30.0/24    pbx1..3 (.11-.13), client-inet (.101), client-inet2 (.102)
# IPv6 is there for Asterisk's UDP IPv6 transport; the policy and probes are IPv4.
# Generated: lab/.cache/inventory.yml (group pbx), lab/.cache/probes.yml (verify's probe
# hosts), lab/.cache/lab.json.
set -euo pipefail

lab=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$lab/.." && pwd)
cache="$lab/.cache"
image=${LAB_IMAGE:-pbxops/lab-pbx:bookworm}
sid_image=${LAB_SID_IMAGE:-pbxops/lab-pbx:sid}
key="$cache/id_ed25519"
venv=${LAB_VENV:-$repo/.venv}
label=pbxops.lab=demo

# short name -> docker network, subnet prefix (/24)
nets=(mgmt office vpn inet)
declare -A net_name=([mgmt]=pbxlab-mgmt [office]=pbxlab-office [vpn]=pbxlab-vpn [inet]=pbxlab-inet)
declare -A net_prefix=([mgmt]=10.201.0 [office]=10.201.10 [vpn]=10.201.20 [inet]=10.201.30)
pbxs=(pbx1 pbx2 pbx3)
declare -A pbx_host=([pbx1]=11 [pbx2]=12 [pbx3]=13)
declare -A pbx_image=([pbx1]=$image [pbx2]=$sid_image [pbx3]=$sid_image)
declare -A pbx_iptables=([pbx1]=nft [pbx2]=nft [pbx3]=legacy)
clients=(client-office client-vpn client-inet client-inet2)
declare -A client_net=([client-office]=office [client-vpn]=vpn [client-inet]=inet [client-inet2]=inet)
declare -A client_host=([client-office]=101 [client-vpn]=101 [client-inet]=101 [client-inet2]=102)

say() { echo "demo.sh: $*"; }
die() { echo "demo.sh: $*" >&2; exit 1; }
ssh_opts=(-i "$key" -o BatchMode=yes -o ConnectTimeout=3 -o StrictHostKeyChecking=no
          -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)

# Refuse subnets that overlap a route of this machine other than our own bridges.
check_routes() {
  local subnets=()
  for n in "${nets[@]}"; do subnets+=("${net_prefix[$n]}.0/24"); done
  ip -o -4 route show | python3 -c '
import ipaddress, sys
ours = [ipaddress.ip_network(s) for s in sys.argv[1:]]
bad = []
for line in sys.stdin:
    words = line.split()
    dest, dev = words[0], words[words.index("dev") + 1] if "dev" in words else ""
    if dest == "default" or dev.startswith("pbxlab-"):
        continue
    try:
        net = ipaddress.ip_network(dest, strict=False)
    except ValueError:
        continue
    bad += ["%s overlaps route %s" % (o, line.strip()) for o in ours if o.overlaps(net)]
if bad:
    sys.exit("demo.sh: lab subnets collide with this machine\x27s routes:\n  " + "\n  ".join(bad))
' "${subnets[@]}"
}

ensure_networks() {
  for n in "${nets[@]}"; do
    local name=${net_name[$n]} subnet="${net_prefix[$n]}.0/24" have
    local subnet6="fd42:201:${net_prefix[$n]##*.}::/64"
    have=$(docker network inspect "$name" --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null || true)
    if [[ " $have" == *" $subnet "* && "$have" == *::* ]]; then
      continue
    elif [[ -n "$have" ]]; then
      die "network $name exists with subnets $have, expected $subnet $subnet6; run: lab/demo.sh down"
    fi
    say "network $name $subnet $subnet6"
    docker network create --driver bridge --subnet "$subnet" --gateway "${net_prefix[$n]}.1" \
      --ipv6 --subnet "$subnet6" --gateway "${subnet6%/64}1" \
      -o com.docker.network.bridge.name="$name" --label "$label" "$name" >/dev/null
  done
}

# Start container $1 unless it already runs the current image; $2 = role,
# $3 = image, $4 = iptables backend (nft or legacy), remaining args = "net:host"
# attachments (the first one is the primary; IPv4 .host and IPv6 ::host).
ensure_container() {
  local name=$1 role=$2 img=$3 backend=$4; shift 4
  local img_id cur_id state
  img_id=$(docker image inspect "$img" --format '{{.Id}}')
  cur_id=$(docker inspect "$name" --format '{{.Image}}' 2>/dev/null || true)
  state=$(docker inspect "$name" --format '{{.State.Status}}' 2>/dev/null || true)
  if [[ "$cur_id" == "$img_id" && "$state" == running ]]; then
    return
  fi
  [[ -n "$cur_id" ]] && docker rm -f "$name" >/dev/null
  local first=${1%%:*} host=${1##*:}; shift
  say "container $name ($role, ${img##*:}, iptables $backend) ${net_prefix[$first]}.$host${*:+ +$#}"
  docker create --name "$name" --hostname "$name" --label "$label" \
    --cap-add NET_ADMIN --cap-add NET_RAW -e LAB_ROLE="$role" -e LAB_IPTABLES="$backend" \
    -v "$key.pub:/run/lab/authorized_keys:ro" \
    --network "${net_name[$first]}" --ip "${net_prefix[$first]}.$host" \
    --ip6 "fd42:201:${net_prefix[$first]##*.}::$host" \
    "$img" >/dev/null
  for att in "$@"; do
    local n=${att%%:*} h=${att##*:}
    docker network connect --ip "${net_prefix[$n]}.$h" --ip6 "fd42:201:${net_prefix[$n]##*.}::$h" \
      "${net_name[$n]}" "$name"
  done
  docker start "$name" >/dev/null
}

wait_ssh() {
  local deadline=$((SECONDS + 60)) pending=("${pbxs[@]}") left
  while ((${#pending[@]})); do
    left=()
    for p in "${pending[@]}"; do
      ssh "${ssh_opts[@]}" "root@${net_prefix[mgmt]}.${pbx_host[$p]}" true 2>/dev/null || left+=("$p")
    done
    pending=("${left[@]}")
    ((${#pending[@]})) || break
    ((SECONDS < deadline)) || die "no SSH from ${pending[*]} after 60 s (docker logs ${pending[0]})"
    sleep 1
  done
  say "SSH answers on ${pbxs[*]}"
}

write_files() {
  {
    echo "# Generated by lab/demo.sh up; use with -i lab/inventory/ for the policy."
    echo "pbx:"
    echo "  hosts:"
    for p in "${pbxs[@]}"; do
      echo "    $p:"
      echo "      ansible_host: ${net_prefix[mgmt]}.${pbx_host[$p]}"
      # Docker puts its DNS rules into each container's nft tables, so the module's
      # "auto" would pick nft on the legacy host too: name its backend.
      if [[ ${pbx_iptables[$p]} == legacy ]]; then echo "      pbx_firewall_backend: legacy"; fi
    done
    echo "  vars:"
    echo "    ansible_user: root"
    echo "    ansible_ssh_private_key_file: $key"
    echo "    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    echo "    ansible_python_interpreter: /usr/bin/python3"
  } >"$cache/inventory.yml"

  local first=1 sep
  {
    printf '{\n  "image": "%s",\n  "inventory": "%s",\n  "policy_dir": "%s",\n' \
      "$image" "$cache/inventory.yml" "$lab/inventory"
    printf '  "networks": {\n'
    sep=""
    for n in "${nets[@]}"; do
      printf '%s    "%s": {"name": "%s", "subnet": "%s.0/24", "gateway": "%s.1"}' \
        "$sep" "$n" "${net_name[$n]}" "${net_prefix[$n]}" "${net_prefix[$n]}"
      sep=$',\n'
    done
    printf '\n  },\n  "pbx": {\n'
    sep=""
    for p in "${pbxs[@]}"; do
      printf '%s    "%s": {"container": "%s", "addresses": {' "$sep" "$p" "$p"
      local s2=""
      for n in "${nets[@]}"; do
        printf '%s"%s": "%s.%s"' "$s2" "$n" "${net_prefix[$n]}" "${pbx_host[$p]}"
        s2=", "
      done
      printf '}}'
      sep=$',\n'
    done
    printf '\n  },\n  "clients": [\n'
    sep=""
    for c in "${clients[@]}"; do
      printf '%s    {"name": "%s", "container": "%s", "address": "%s.%s", "network": "%s"}' \
        "$sep" "$c" "$c" "${net_prefix[${client_net[$c]}]}" "${client_host[$c]}" "${client_net[$c]}"
      sep=$',\n'
    done
    printf '\n  ]\n}\n'
  } >"$cache/lab.json"
  python3 -m json.tool "$cache/lab.json" >/dev/null || die "wrote invalid $cache/lab.json"
  write_probes
  say "wrote $cache/inventory.yml, $cache/probes.yml and $cache/lab.json"
}

# The clients as pbxops.firewall.verify probe hosts, each reaching the PBXs on its own
# network only, and the PBX addresses they probe. Only verify reads this file (rollout's
# default pbx_firewall_hosts is all hosts: clients must never be in its inventory).
write_probes() {
  {
    echo "# Generated by lab/demo.sh; for pbxops.firewall.verify only:"
    echo "#   -i lab/.cache/inventory.yml -i lab/.cache/probes.yml -i lab/inventory/"
    echo "pbx:"
    echo "  hosts:"
    for p in "${pbxs[@]}"; do
      echo "    $p:"
      echo "      pbx_firewall_verify_addresses:"
      for n in office vpn inet; do echo "        - ${net_prefix[$n]}.${pbx_host[$p]}"; done
    done
    echo "pbx_firewall_probes:"
    echo "  hosts:"
    for c in "${clients[@]}"; do
      echo "    $c:"
      echo "      ansible_host: ${net_prefix[${client_net[$c]}]}.${client_host[$c]}"
      echo "      pbx_firewall_probe_reach: [${net_prefix[${client_net[$c]}]}.0/24]"
    done
    echo "  vars:"
    echo "    ansible_user: root"
    echo "    ansible_ssh_private_key_file: $key"
    echo "    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    echo "    ansible_python_interpreter: /usr/bin/python3"
  } >"$cache/probes.yml"
}

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
lab_leftovers() {
  docker ps -a --filter "label=$label" --format 'container {{.Names}} ({{.Status}})'
  for n in "${nets[@]}"; do
    docker network inspect "${net_name[$n]}" >/dev/null 2>&1 && echo "network ${net_name[$n]}"
  done
  return 0
}

# Who claimed the lab (create --owner): empty for the demo's own lab.
owner_file="$cache/lab.owner"
lab_owner() { cat "$owner_file" 2>/dev/null || true; }

# The lab without a rollout. --fresh recreates it. --owner NAME: the lab is NAME's
# (Molecule's): refuse one that exists without NAME's claim, claim it before
# creating anything (so `down --owner NAME` cleans up after a failed create too).
# Without --owner, refuse a lab someone else claimed.
cmd_create() {
  local fresh=0 owner="" t0=$SECONDS
  while (($#)); do
    case $1 in
      --fresh) fresh=1 ;;
      --owner) owner=${2:-}; [[ -n "$owner" ]] || die "create: --owner needs a name"; shift ;;
      *) die "create: unknown argument $1 (--fresh, --owner NAME)" ;;
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
  check_routes
  ensure_networks
  for p in "${pbxs[@]}"; do
    local atts=()
    for n in "${nets[@]}"; do atts+=("$n:${pbx_host[$p]}"); done
    ensure_container "$p" pbx "${pbx_image[$p]}" "${pbx_iptables[$p]}" "${atts[@]}"
  done
  for c in "${clients[@]}"; do
    ensure_container "$c" client "$image" nft "${client_net[$c]}:${client_host[$c]}"
  done
  wait_ssh
  prune_images
  write_files
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
  say "demo done in $((SECONDS - t0)) s"
}

# Asterisk's own view of local_net, per PBX that runs one: every PJSIP transport's
# local_net lines as `pjsip show transport` prints them.
asterisk_view() {
  local p t
  say "Asterisk's own view (pjsip show transport NAME | grep local_net)"
  for p in "${pbxs[@]}"; do
    if ! docker exec "$p" sh -c 'command -v asterisk' >/dev/null 2>&1; then
      echo "  $p: no Asterisk (${pbx_image[$p]##*:}, iptables ${pbx_iptables[$p]})"
      continue
    fi
    echo "  $p: $(docker exec "$p" asterisk -rx 'core show version' | cut -d' ' -f1-2) (iptables ${pbx_iptables[$p]})"
    for t in $(docker exec "$p" asterisk -rx 'pjsip show transports' \
               | awk '$1 == "Transport:" && $2 !~ /^</ {print $2}'); do
      echo "    [$t]"
      docker exec "$p" asterisk -rx "pjsip show transport $t" | grep -E '^ *(local_net|external_signaling_address) ' \
        | sed 's/^ */      /'
    done
  done
}

cmd_down() {
  local ids=()
  mapfile -t ids < <(docker ps -aq --filter "label=$label" 2>/dev/null || true)
  if ((${#ids[@]})); then
    say "removing containers: $(docker ps -a --filter "label=$label" --format '{{.Names}}' | sort | tr '\n' ' ')"
    docker rm -f "${ids[@]}" >/dev/null
  fi
  for n in "${nets[@]}"; do
    local name=${net_name[$n]} _
    docker network inspect "$name" >/dev/null 2>&1 || continue
    # Docker releases the endpoints of removed containers asynchronously.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      docker network rm "$name" >/dev/null 2>&1 && break
      sleep 0.5
    done
    if docker network inspect "$name" >/dev/null 2>&1; then
      say "warning: could not remove network $name; attached: $(docker network inspect "$name" \
        --format '{{range .Containers}}{{.Name}} {{end}}')" >&2
    else
      say "removed network $name"
    fi
  done
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
    [[ -n "${1:-}" && -n "${pbx_host[$1]:-}" ]] || die "usage: lab/demo.sh ssh pbx1|pbx2|pbx3 [CMD]"
    host=${net_prefix[mgmt]}.${pbx_host[$1]}; shift
    exec ssh "${ssh_opts[@]}" "root@$host" "$@" ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
