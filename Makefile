# pbxops.firewall developer and CI entry points. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# Tools started by other tools (ansible-test, ansible-lint, molecule) come from the venv too.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Python 3.12 is required: Debian 12's python3 (3.11) stops at ansible-core 2.19.
BOOTSTRAP_PYTHON := $(shell if command -v pyenv >/dev/null 2>&1; then echo "$$(pyenv root)/versions/3.12.1/bin/python3"; else echo python3.12; fi)

PYTEST_ARGS ?=
DIST := dist

# Tool venvs (nox: docs, galaxy-importer, the support matrix) are cached by content: the
# directory name is a hash of what decides their contents, so a change builds fresh ones.
NOX_HASH := $(shell cat noxfile.py requirements.txt requirements-dev.txt hack/requirements-*.txt | sha256sum | cut -c1-12)
NOX_ENVDIR := .cache/nox/$(NOX_HASH)
NOX := $(BIN)/nox --envdir $(NOX_ENVDIR) --reuse-venv yes --no-color
# `make test` runs the matrix's lowest and highest cells; `make matrix` runs all of it.
MATRIX_CI_SESSIONS := "unit(2.16)" "unit(2.21)" "sanity(3.6)" "sanity(3.13)"

# ---------------------------------------------------------------------------------------
# Extra steps run by `make test` after the standard ones (e.g. molecule scenarios).
# Later issues extend this list:   TEST_EXTRA += molecule
TEST_EXTRA :=
TEST_EXTRA += molecule
# Release checks (issue 14): on the built tarball, then the support matrix's corners.
TEST_EXTRA += docs-lint importer ee-check docs matrix-ci
# ---------------------------------------------------------------------------------------

TEST_STEPS := unit integration sanity lint changelog-lint build-check $(TEST_EXTRA)

.PHONY: help venv deps link unit integration sanity lint changelog-lint test bench \
        demo demo-down molecule build build-check clean docs docs-lint importer ee-check \
        matrix matrix-ci nox-envdir

help:
	@echo "targets: venv deps unit integration sanity lint changelog-lint test"
	@echo "         build build-check bench demo demo-down molecule clean"
	@echo "         docs docs-lint importer ee-check matrix matrix-ci"
	@echo "test runs: deps venv, then $(TEST_STEPS)"

venv: $(VENV)/.stamp

$(VENV)/.stamp: requirements-dev.txt requirements.txt
	@if [[ -x $(BIN)/python ]] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then \
	  echo "venv: $(VENV) is not Python 3.12, recreating"; rm -rf $(VENV); fi
	@if [[ ! -x $(BIN)/python ]]; then \
	  echo "venv: creating $(VENV) with $(BOOTSTRAP_PYTHON)"; "$(BOOTSTRAP_PYTHON)" -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

deps:
	bash hack/install-debs.sh

# .build/ansible_collections/pbxops/firewall -> repo root (ansible.cfg collections_path)
link:
	@bash hack/link-collection.sh

# A suite directory without any test file is reported and skipped; otherwise pytest's
# exit status counts (including 5 = "no tests collected").
define run_pytest
	@if [[ -d $(1) ]] && find $(1) -name 'test_*.py' -print -quit | grep -q .; then \
	  echo "$(BIN)/pytest -q $(1) $(PYTEST_ARGS)"; $(BIN)/pytest -q $(1) $(PYTEST_ARGS); \
	else echo "$(1): no tests yet, skipped"; fi
endef

unit: venv link
	$(call run_pytest,tests/unit)

# Real kernel tests (network namespaces, iptables): need root.
integration: venv link
	$(call run_pytest,tests/integration)

sanity: venv
	bash hack/sanity.sh

lint: venv link
	$(BIN)/ansible-lint

changelog-lint: venv
	$(BIN)/antsibull-changelog lint

# Fail on the first failing step.
test: deps venv
	@for step in $(TEST_STEPS); do \
	  echo "=== make $$step"; \
	  $(MAKE) --no-print-directory $$step || { echo "=== make $$step FAILED"; exit 1; }; \
	done
	@echo "=== make test: all steps passed ($(TEST_STEPS))"

# Benchmarks (bench/run.py; ~15-25 min): its own pbxbench-* containers, removed at the end;
# prints the tables and rewrites docs/benchmarks.md and docs/benchmarks.png.
bench: deps venv link
	$(BIN)/python bench/run.py $(BENCH_ARGS)

demo: deps venv link
	bash lab/demo.sh up

demo-down:
	bash lab/demo.sh down

# Molecule scenarios (extensions/molecule/*), run from the collection root. They use
# the lab fleet (lab/demo.sh create/destroy; needs root for Docker); a lab `make demo`
# left up is replaced, one another owner claimed is refused. MOLECULE_ARGS: e.g. -s default.
MOLECULE_ARGS ?= --all
molecule: venv link
	$(BIN)/molecule test $(MOLECULE_ARGS)

build: venv
	$(BIN)/ansible-galaxy collection build --force --output-path $(DIST)/

# Install the built tarball offline into a scratch collections path and render a
# plugin's docs from there (proves the artifact is complete, not the checkout).
build-check: build
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	tarball=$$(ls -t $(CURDIR)/$(DIST)/pbxops-firewall-*.tar.gz | head -n1); \
	echo "build-check: $$tarball"; \
	bash hack/tarball-contents.sh "$$tarball"; \
	cd "$$tmp"; \
	export ANSIBLE_COLLECTIONS_PATH="$$tmp"; \
	ansible-galaxy collection install --offline --force -p "$$tmp" "$$tarball"; \
	PAGER=cat ansible-doc -t filter pbxops.firewall.firewall_ruleset >/dev/null && echo "build-check: ansible-doc -t filter pbxops.firewall.firewall_ruleset renders from the installed tarball"

# Only this content hash's tool venvs are kept (other hash-named dirs are removed).
nox-envdir: venv
	@mkdir -p $(NOX_ENVDIR)
	@find .cache/nox -mindepth 1 -maxdepth 1 -regextype posix-extended -regex '.*/[0-9a-f]{12}' \
	  ! -name $(NOX_HASH) -exec rm -rf {} +

docs-lint: build nox-envdir
	$(NOX) -s docs -- lint

docs: build nox-envdir
	$(NOX) -s docs -- build

importer: build nox-envdir
	$(NOX) -s importer

ee-check: build
	bash hack/ee-check.sh

# The support matrix (README "Support matrix"; sessions in noxfile.py).
matrix: venv link nox-envdir
	$(NOX) -s unit sanity

matrix-ci: venv link nox-envdir
	$(NOX) -s $(MATRIX_CI_SESSIONS)

clean:
	rm -rf .build $(DIST) tests/output .pytest_cache .cache
