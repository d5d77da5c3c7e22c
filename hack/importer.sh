#!/usr/bin/env bash
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# galaxy-importer on the built tarball with the offline settings of hack/galaxy-importer.cfg
# (run by nox, noxfile.py `importer`, IMPORTER_BIN = the bin/ of its venv). Fails on an
# import error and on any WARNING or ERROR line in its log: Galaxy shows those to users.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tarball=${1:?usage: hack/importer.sh TARBALL}
: "${IMPORTER_BIN:?IMPORTER_BIN: the bin/ directory of the galaxy-importer venv}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pbxops-importer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export PATH="$IMPORTER_BIN:$PATH" GALAXY_IMPORTER_CONFIG="$root/hack/galaxy-importer.cfg"
export HOME="$tmp" ANSIBLE_LOCAL_TEMP="$tmp/.ansible/tmp" ANSIBLE_NOCOLOR=1

set +e
"$IMPORTER_BIN/python" -m galaxy_importer.main "$tarball" >"$tmp/out.log" 2>&1
rc=$?
set -e
mkdir -p "$root/.build"
tee "$root/.build/galaxy-importer.log" <"$tmp/out.log"
if [[ $rc -ne 0 ]] || [[ ! -s "$tmp/importer_result.json" ]]; then
  echo "importer: galaxy-importer failed ($rc)"
  exit 1
fi
if grep -E '^(WARNING|ERROR)|: (WARNING|ERROR)' "$root/.build/galaxy-importer.log"; then
  echo "importer: galaxy-importer reported the lines above"
  exit 1
fi
echo "importer: galaxy-importer accepted $(basename "$tarball") with no warning"
