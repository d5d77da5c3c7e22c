#!/usr/bin/env bash
# Copyright: (c) 2026, pbxops.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# `make build-check`, part 1: the tarball holds what a user needs (plugins, role, playbooks,
# meta, the guides, the changelog, the license, the READMEs) and none of the development-only
# trees that galaxy.yml build_ignore keeps out. Prints its file count and size.
set -euo pipefail

tarball=${1:?usage: hack/tarball-contents.sh TARBALL}
listing=$(tar -tzf "$tarball" | sed 's|^\./||' | grep -v '/$')

required=(
  README.md COPYING MANIFEST.json FILES.json requirements.txt bindep.txt
  meta/runtime.yml meta/execution-environment.yml
  plugins/modules/iptables_ruleset.py plugins/action/iptables_ruleset.py
  plugins/filter/firewall_ruleset.py plugins/filter/fail2ban_ignoreip.py
  plugins/filter/asterisk_localnet.py plugins/filter/select_networks.py
  plugins/doc_fragments/network_filters.py plugins/doc_fragments/message_names.py
  roles/pbx_firewall/README.md roles/pbx_firewall/meta/argument_specs.yml roles/pbx_firewall/tasks/main.yml
  playbooks/rollout.yml playbooks/drift.yml playbooks/remove.yml playbooks/verify.yml
  playbooks/files/pbx_firewall_probe.py
  docs/ruleset-format.md docs/docker-host.md
  changelogs/changelog.yaml
)
missing=0
for path in "${required[@]}"; do
  if ! grep -qxF "$path" <<<"$listing"; then echo "build-check: $path missing from the tarball"; missing=1; fi
done
# Every docs/*.md guide of the checkout ships (design.md, benchmarks.md, ...).
for md in docs/*.md; do
  [[ -e "$md" ]] || continue
  if ! grep -qxF "$md" <<<"$listing"; then echo "build-check: $md missing from the tarball"; missing=1; fi
done

dev_only='^(bench|lab|hack|tests|extensions|\.cache|\.nox|\.venv|\.build|\.git|\.ci|dist)/|^docs/benchmarks\.png$|^(noxfile\.py|Makefile|requirements-dev\.txt|conftest\.py|pytest\.ini|ansible\.cfg|\.ansible-lint)$|(^|/)(__pycache__|\.pytest_cache|\.hypothesis)(/|$)'
if unwanted=$(grep -E "$dev_only" <<<"$listing"); then
  echo "build-check: development-only files in the tarball (galaxy.yml build_ignore):"
  while IFS= read -r line; do echo "  $line"; done <<<"$unwanted"
  missing=1
fi
[[ $missing -eq 0 ]] || exit 1
echo "build-check: $(basename "$tarball"): $(wc -l <<<"$listing") files, $(stat -c %s "$tarball") bytes; user content present, no development tree"
