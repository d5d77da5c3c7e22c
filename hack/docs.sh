#!/usr/bin/env bash
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Documentation checks on the built tarball (dist/), run by nox (noxfile.py: docs_lint,
# docs) with DOCS_BIN = the bin/ of a venv holding antsibull-docs, Sphinx and myst-parser.
#
#   hack/docs.sh lint    antsibull-docs lint-collection-docs --plugin-docs
#   hack/docs.sh build   the docs site: antsibull-docs sphinx-init + collection + sphinx-build,
#                        plugins and role from the tarball, the guides from docs/*.md;
#                        output in .build/docs/site/build/html
#
# The build fails on any Sphinx warning except the ones an offline machine cannot avoid:
# intersphinx inventories that cannot be fetched, and the Ansible-docsite labels that
# antsibull-docs' pages reference through those inventories (listed below by name).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=${1:?usage: hack/docs.sh lint|build}
: "${DOCS_BIN:?DOCS_BIN: the bin/ directory of the docs venv}"
export PATH="$DOCS_BIN:$PATH"

version=$(python - "$root/galaxy.yml" <<'PY'
import sys
import yaml
print(yaml.safe_load(open(sys.argv[1]))['version'])
PY
)
tarball="$root/dist/pbxops-firewall-$version.tar.gz"
[[ -s "$tarball" ]] || { echo "docs: $tarball missing (make build)"; exit 1; }

work="$root/.build/docs"
rm -rf "$work"
mkdir -p "$work"
cd "$work"  # away from the repository's ansible.cfg
# The collection exactly as a user installs it, installed OUTSIDE this git checkout:
# antsibull-docs' linter copies the collection it checks, and when that directory lies inside
# a git work tree it copies only the files git tracks there. The installed files are ignored
# by git (.build/), so the linter checked an empty collection and passed whatever the docs
# said (a Markdown-style link in the role's argument specs went through that way).
installed=$(mktemp -d)
trap 'rm -rf "$installed"' EXIT
ansible-galaxy collection install --offline --force -p "$installed/collections" "$tarball" >/dev/null 2>&1
unset ANSIBLE_CONFIG  # no repository ansible.cfg: the collection as a user has it
export ANSIBLE_COLLECTIONS_PATH="$installed/collections" ANSIBLE_NOCOLOR=1
collection="$installed/collections/ansible_collections/pbxops/firewall"
if git -C "$collection" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "docs: $collection is inside a git work tree (TMPDIR?): the linter would check an empty copy"
  exit 1
fi

if [[ "$mode" == lint ]]; then
  antsibull-docs lint-collection-docs --plugin-docs "$collection"
  echo "docs: antsibull-docs lint-collection-docs --plugin-docs: no errors"
  exit 0
fi
[[ "$mode" == build ]] || { echo "docs: unknown mode $mode (lint|build)"; exit 2; }

site="$work/site"
mkdir -p "$site"
chmod 700 "$site"  # antsibull-docs refuses a destination others can write
cd "$site"
antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$site" \
  --project pbxops.firewall --title pbxops.firewall --copyright 'pbxops.firewall contributors' \
  --index-rst-source "$root/hack/docs/index.rst" pbxops.firewall >/dev/null
cat >>conf.py <<'PY'

# pbxops.firewall: the guides are Markdown (docs/*.md), read with MyST.
extensions.append('myst_parser')
myst_heading_anchors = 3
PY
mkdir -p rst
chmod og-w rst
antsibull-docs --config-file antsibull-docs.cfg collection --cleanup everything --fail-on-error \
  --use-current --dest-dir rst pbxops.firewall

# Guides: every docs/*.md of the checkout (design.md is listed when it exists), with images.
mkdir -p rst/guides
guides=()
for name in ruleset-format docker-host design benchmarks; do
  if [[ -f "$root/docs/$name.md" ]]; then guides+=("$name"); fi
done
for md in "$root"/docs/*.md; do
  name=$(basename "$md" .md)
  [[ " ${guides[*]} " == *" $name "* ]] || guides+=("$name")
done
cp "$root"/docs/*.md rst/guides/
# A guide's link out of docs/ (e.g. ../README.md) points at the repository (galaxy.yml).
repository=$(python - "$root/galaxy.yml" <<'PY'
import sys
import yaml
print(yaml.safe_load(open(sys.argv[1]))['repository'].rstrip('/'))
PY
)
sed -i -E "s#\]\(\.\./([^)]*)\)#](${repository}/blob/main/\1)#g" rst/guides/*.md
find "$root/docs" -maxdepth 1 -name '*.png' -exec cp {} rst/guides/ \;
{
  printf 'Guides\n======\n\n.. toctree::\n   :maxdepth: 1\n\n'
  printf '   %s\n' "${guides[@]}"
} >rst/guides/index.rst
echo "docs: guides: ${guides[*]}"

set +e
sphinx-build -M html rst build -c . -q -w warnings.log --keep-going >sphinx.out 2>&1
rc=$?
set -e
if [[ $rc -ne 0 ]] && [[ ! -s warnings.log ]]; then cat sphinx.out; echo "docs: sphinx-build failed ($rc)"; exit 1; fi

# Tolerated: intersphinx offline (the warning and its indented detail lines), and the
# labels of the Ansible docsite that antsibull-docs pages link to through intersphinx.
offline_labels='ansible_configuration_settings|action_plugins|common_return_values|module_docs_fragments|playbooks_tags|playbooks_filters|plugin_filters'
python - warnings.log "$offline_labels" <<'PY'
import re
import sys

path, labels = sys.argv[1], sys.argv[2]
lines = open(path, encoding='utf-8').read().splitlines()
offline = any('failed to reach any of the inventories' in line for line in lines)
own, tolerated, in_intersphinx = [], 0, False
for line in lines:
    if 'failed to reach any of the inventories' in line:
        in_intersphinx, tolerated = True, tolerated + 1
        continue
    if in_intersphinx and line.startswith('intersphinx inventory '):
        continue
    in_intersphinx = False
    if offline and re.search(r"WARNING: undefined label: '(%s)' \[ref\.ref\]$" % labels, line):
        tolerated += 1
        continue
    if line.strip():
        own.append(line)
print('docs: %d tolerated offline warning(s) (intersphinx)' % tolerated)
if own:
    print('docs: warnings of our own:')
    print('\n'.join(own))
    sys.exit(1)
PY
[[ -s build/html/index.html ]] || { echo "docs: no build/html/index.html"; exit 1; }
for page in collections/pbxops/firewall/iptables_ruleset_module collections/pbxops/firewall/firewall_ruleset_filter \
            collections/pbxops/firewall/pbx_firewall_role guides/ruleset-format; do
  [[ -s "build/html/$page.html" ]] || { echo "docs: $page.html missing"; exit 1; }
done
echo "docs: site built: $site/build/html/index.html (guides: ${guides[*]})"
