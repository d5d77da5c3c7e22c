#!/usr/bin/env bash
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Run `ansible-test sanity` on a clean copy of the collection.
#
# ansible-test needs the collection at .../ansible_collections/<ns>/<name>, so the files
# git knows about (tracked + untracked-but-not-ignored) are copied to
# $TMP/ansible_collections/pbxops/firewall and tested there. Each sanity test gets its own
# virtualenv from PyPI (managed by ansible-test under ~/.ansible/test/venv); Galaxy is
# not needed.
#
# Usage: hack/sanity.sh [extra ansible-test sanity args, e.g. --test pylint]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ansible_test="${ANSIBLE_TEST:-$root/.venv/bin/ansible-test}"
python_version="${SANITY_PYTHON:-3.12}"

# Tests that cannot run on this machine for a platform reason. Each entry: name + why.
# None today: all 24 collection sanity tests run. Notes:
#  - compile/import run for Python 3.12 here (--python 3.12, the controller version); the
#    other host Pythons are covered by `make matrix` (noxfile.py: SANITY_PYTHON=3.6 ... 3.13).
#  - pslint needs pwsh (not packaged for Debian 12); it passes because the collection
#    has no PowerShell files. Add it here, with that reason, only if .ps1 files appear.
#  - shellcheck needs the Debian package shellcheck (installed by `make deps`).
skip_tests=()

# ansible-test bootstraps pip in its venvs with get-pip.py from ci-files.testing.ansible.com
# (not reachable from CI). Put our stand-in where ansible-test looks for a cached copy.
# Seeded for the tested Python and for the controller's (ansible-test builds venvs for both).
controller_python=$("${ansible_test%/ansible-test}/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
for version in "$python_version" "$controller_python"; do
  pip_version=$("${ansible_test%/ansible-test}/python" - "$version" <<'PY'
import sys

from ansible_test._internal.python_requirements import get_venv_packages


class _Python:  # only .version is used
    version = sys.argv[1]


print(get_venv_packages(_Python())['pip'])
PY
  )
  get_pip_cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
  if ! cmp -s "$root/hack/get-pip-offline.py" "$get_pip_cache"; then
    mkdir -p "$(dirname "$get_pip_cache")"
    cp "$root/hack/get-pip-offline.py" "$get_pip_cache"
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pbxops-sanity.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest="$tmp/ansible_collections/pbxops/firewall"
mkdir -p "$dest"

cd "$root"
# -z: NUL-separated, safe for any file name; deleted-but-tracked files are skipped.
git ls-files -z -co --exclude-standard \
  | while IFS= read -r -d '' f; do if [[ -e "$f" || -L "$f" ]]; then printf '%s\0' "$f"; fi; done \
  | rsync -a --from0 --files-from=- ./ "$dest/"

# ansible-test uses git to enumerate the collection's files; give it a repository.
cd "$dest"
git init -q
git add -A
git -c user.name=sanity -c user.email=sanity@localhost commit -q -m sanity --no-verify

args=(sanity --python "$python_version" --color no --local)
for t in "${skip_tests[@]}"; do
  args+=(--skip-test "$t")
done

echo "sanity: running ansible-test in $dest"
"$ansible_test" "${args[@]}" "$@"
