# ha_airflow.aws — every target the README names. Run as root on Debian/Ubuntu (the test bed boots
# systemd-nspawn machines). `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt | sha1sum | cut -c1-12)
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Python 3.7 for Airflow 2.0.2 on test hosts: point this at your own build if it lives elsewhere.
export HA_AIRFLOW_PYTHON37 ?= /root/.pyenv/versions/3.7.16
SCENARIO ?=
SCENARIOS := $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

.PHONY: help setup venv host lint sanity unit integration preflight molecule wheelhouse test lab lab-down bench docs build clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

setup: host venv ## everything a fresh Debian/Ubuntu machine needs (as root): system packages, venv, test-bed base
	@tools/testbed/testbed base

host:
	@tools/setup-host.sh

venv: $(STAMP) .collections/ansible_collections/ha_airflow/aws

$(STAMP): requirements-dev.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --upgrade pip wheel
	@$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

.collections/ansible_collections/ha_airflow/aws:
	@mkdir -p $(@D) && ln -sfn ../../.. $@

lint: venv ## ansible-lint (production profile) and yamllint
	@yamllint --strict .
	@ansible-lint

sanity: venv ## ansible-test sanity on a copy laid out as ansible_collections/ha_airflow/aws
	@tests/sanity.sh

unit: venv ## pytest unit tests, no network
	@pytest -q tests/unit

integration: venv wheelhouse ## real Airflow in a Python 3.7 venv against a real PostgreSQL 15
	@tests/integration/run.sh

preflight: venv ## bad input fails before anything changes: the roles' preflight (one machine), the AWS twin's
	@pytest -q -p no:cacheprovider tests/preflight tests/twin

# Without SCENARIO: `aws` (moto only, mostly waiting on the API) runs beside the others, which boot machines one
# scenario at a time, every one of them even after a failure (the log shows them all); aws's log is printed when
# it ends, and any failing fails the target.
# The wheels of each Airflow's shipped constraints (.cache/wheelhouse), built once: the test hosts of ha, ha3 and
# smoke bind them read-only and pip installs offline, as from a mirror in China; integration installs from them too.
wheelhouse: venv ## build (once) the wheelhouses of Airflow 2.0.2 (Python 3.7) and 3.3.2 (Python 3.11)
	@tools/wheelhouse.sh 2.0.2 >/dev/null
	@tools/wheelhouse.sh 3.3.2 $${HA_AIRFLOW_PYTHON311:-/root/.pyenv/versions/3.11.7}/bin/python3.11 >/dev/null

molecule: venv wheelhouse ## one Molecule scenario (SCENARIO=name), or all of them
	@set -e; if [ -n "$(SCENARIO)" ]; then \
	  for s in $(SCENARIO); do echo "=== molecule test -s $$s"; molecule test -s $$s; done; \
	else \
	  mkdir -p build; echo "=== molecule test -s aws (in the background, log build/molecule-aws.log)"; \
	  (t0=$$(date +%s); molecule test -s aws > build/molecule-aws.log 2>&1; echo $$? > build/molecule-aws.rc; \
	   echo "=== molecule test -s aws: rc=$$(cat build/molecule-aws.rc) in $$(( $$(date +%s) - t0 )) s" \
	     >> build/molecule-aws.log) & \
	  rc=0; for s in $(filter-out aws,$(SCENARIOS)); do echo "=== molecule test -s $$s"; t0=$$(date +%s); \
	    src=0; molecule test -s $$s || src=$$?; [ "$$src" = 0 ] || rc=$$src; \
	    echo "=== molecule test -s $$s: rc=$$src in $$(( $$(date +%s) - t0 )) s"; done; \
	  wait; echo "=== molecule test -s aws"; tail -n 60 build/molecule-aws.log; \
	  aws_rc=$$(cat build/molecule-aws.rc); [ "$$rc" = 0 ] && [ "$$aws_rc" = 0 ]; \
	fi

test: setup lint build sanity unit integration preflight molecule ## set up, then run every test

docs: venv ## regenerate docs/roles.md and docs/modules.md from argument_specs and module DOCUMENTATION
	@python3 tools/gen_docs.py

build: venv ## the collection tarball
	@ansible-galaxy collection build --force --output-path build/

lab: setup ## the main job on the AWS twin, no account needed: site.yml provisions, configures, verifies (AIRFLOW_VERSION=...)
	@tools/lab/lab up

lab-down: venv ## teardown.yml against the twin, then remove everything 'make lab' created
	@tools/lab/lab down

bench: setup ## measurements, medians of 3 runs, one table (build/bench/bench.md, added to docs/bench.md); QUICK=1: one run
	@tools/bench/bench.py $(if $(QUICK),--quick)

clean: ## remove build output (not the venv or the test-bed base)
	@rm -rf build tests/output
