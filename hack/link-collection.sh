#!/usr/bin/env bash
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Make the repository importable as ansible_collections.pbxops.firewall:
#   .build/ansible_collections/pbxops/firewall -> <repo root>
# Used by ansible.cfg (collections_path = .build), pytest (conftest.py) and the Makefile.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ns_dir="$root/.build/ansible_collections/pbxops"
link="$ns_dir/firewall"

mkdir -p "$ns_dir"
if [[ -L "$link" && "$(readlink "$link")" == "$root" ]]; then
  exit 0
fi
rm -rf "$link"
ln -s "$root" "$link"
