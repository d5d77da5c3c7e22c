#!/usr/bin/env bash
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# `make ee-check`: ansible-builder with the built tarball, offline (no image build, no Galaxy).
#  1. consumer: the tarball installed as an EE installs it, then ansible-builder's own
#     introspection script (the one that runs inside the image build) reads our
#     meta/execution-environment.yml and must list netaddr and jmespath for pbxops.firewall;
#     `ansible-builder create` for an EE definition that lists this collection must succeed.
#  2. ours: `ansible-builder create -f extensions/ee/execution-environment.yml` must succeed
#     and put this version's tarball into the build context.
#  3. the collection's own meta/execution-environment.yml, as a definition of its own:
#     `ansible-builder create` on it must write a context whose Containerfile installs the
#     requirement files, and those files must be the tarball's requirements.txt and bindep.txt.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$root/.venv/bin"
version=$("$bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$root/galaxy.yml")
tarball="$root/dist/pbxops-firewall-$version.tar.gz"
[[ -s "$tarball" ]] || { echo "ee-check: $tarball missing (make build)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pbxops-ee.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() { echo "ee-check: FAIL: $*"; exit 1; }

# --- 1. consumer ---------------------------------------------------------------------
"$bin/ansible-galaxy" collection install --offline --force -p "$tmp/collections" "$tarball" >/dev/null 2>&1
mkdir -p "$tmp/consumer"
cat >"$tmp/consumer/execution-environment.yml" <<YAML
---
version: 3
images:
  base_image:
    name: quay.io/centos/centos:stream9
dependencies:
  python_interpreter:
    package_system: python3.12
    python_path: /usr/bin/python3.12
  ansible_core:
    package_pip: ansible-core
  ansible_runner:
    package_pip: ansible-runner
  galaxy:
    collections:
      - name: /build/collections/$(basename "$tarball")
        type: file
additional_build_files:
  - src: $tarball
    dest: collections
YAML
"$bin/ansible-builder" create -f "$tmp/consumer/execution-environment.yml" \
  --context "$tmp/consumer/context" --output-filename Containerfile >/dev/null
[[ -s "$tmp/consumer/context/_build/collections/$(basename "$tarball")" ]] || fail "consumer context lacks the tarball"
grep -q 'introspect.py introspect' "$tmp/consumer/context/Containerfile" || fail "consumer Containerfile has no introspection step"
# The introspection the image build runs, on the installed collection, with the script
# ansible-builder just put into the context.
"$bin/python" "$tmp/consumer/context/_build/scripts/introspect.py" introspect \
  --write-pip "$tmp/pip.txt" --write-bindep "$tmp/bindep.txt" "$tmp/collections" >"$tmp/introspect.out"
for dep in netaddr jmespath; do
  grep -Eq "^$dep.*# from collection pbxops\.firewall" "$tmp/pip.txt" \
    || { cat "$tmp/introspect.out" "$tmp/pip.txt"; fail "introspection did not list $dep for pbxops.firewall"; }
done
echo "ee-check: consumer EE: ansible-builder create OK; introspection of the installed tarball gives:"
sed 's/^/  pip: /' "$tmp/pip.txt"
if [[ -s "$tmp/bindep.txt" ]]; then sed 's/^/  bindep: /' "$tmp/bindep.txt"; else echo "  bindep: (none)"; fi

# --- 2. ours ---------------------------------------------------------------------------
grep -q "pbxops-firewall-$version.tar.gz" "$root/extensions/ee/execution-environment.yml" \
  || fail "extensions/ee/execution-environment.yml does not name pbxops-firewall-$version.tar.gz"
grep -q "pbxops-firewall-$version.tar.gz" "$root/extensions/ee/requirements.yml" \
  || fail "extensions/ee/requirements.yml does not name pbxops-firewall-$version.tar.gz"
"$bin/ansible-builder" create -f "$root/extensions/ee/execution-environment.yml" \
  --context "$tmp/ours" --output-filename Containerfile >/dev/null
cmp -s "$tarball" "$tmp/ours/_build/collections/$(basename "$tarball")" || fail "our EE context lacks $(basename "$tarball")"
grep -q "pbxops-firewall-$version.tar.gz" "$tmp/ours/_build/requirements.yml" || fail "our EE does not install the tarball"
echo "ee-check: our EE (extensions/ee): ansible-builder create OK, installs $(basename "$tarball")"

# --- 3. meta/execution-environment.yml itself -----------------------------------------
# Its paths are relative to the collection root (how the introspection above reads them);
# `ansible-builder create` reads a definition's paths relative to the definition's folder.
# So the installed collection's file is given to it from the collection root, where both
# readings name the same files.
installed="$tmp/collections/ansible_collections/pbxops/firewall"
cp "$installed/meta/execution-environment.yml" "$installed/execution-environment.yml"
"$bin/ansible-builder" create -f "$installed/execution-environment.yml" \
  --context "$tmp/meta" --output-filename Containerfile >"$tmp/meta.out" 2>&1 \
  || { cat "$tmp/meta.out"; fail "ansible-builder create on meta/execution-environment.yml failed"; }
rm "$installed/execution-environment.yml"
for dep in requirements.txt bindep.txt; do
  cmp -s "$installed/$dep" "$tmp/meta/_build/$dep" || fail "the meta/execution-environment.yml context's _build/$dep is not the collection's $dep"
  grep -q "^COPY _build/$dep $dep\$" "$tmp/meta/Containerfile" || fail "its Containerfile does not copy _build/$dep"
done
grep -q 'introspect.py introspect --user-pip=requirements.txt --user-bindep=bindep.txt' "$tmp/meta/Containerfile" \
  || fail "its Containerfile does not install the requirement files"
grep -q '^FROM ' "$tmp/meta/Containerfile" || fail "its Containerfile has no FROM"
echo "ee-check: meta/execution-environment.yml: ansible-builder create OK; its context installs the collection's requirements.txt and bindep.txt"
