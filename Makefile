# The two commands a new user runs: `make build` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: build test check bench schema clean debian-packages

# The live tests (tests/live) run real Redis, Node.js and Prometheus against a small Node.js app.
LIVE_APP := tests/live/app
NPM_STAMP := $(LIVE_APP)/node_modules/.obsgen-npm-ci

build: $(STAMP) schema
	$(BIN)/obsgen build

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The editor schema next to the specs is generated; keep it fresh.
schema: $(STAMP)
	@mkdir -p schema
	$(BIN)/obsgen schema > schema/obsgen-v1.schema.json.tmp && mv schema/obsgen-v1.schema.json.tmp schema/obsgen-v1.schema.json
	$(BIN)/obsgen schema project > schema/obsgen-project-v1.schema.json.tmp && mv schema/obsgen-project-v1.schema.json.tmp schema/obsgen-project-v1.schema.json

# `obsgen test` (the generated promtool proofs over out/) runs inside pytest, as
# tests/test_rules.py::test_the_committed_rule_tests_pass_in_promtool, in parallel with the rest;
# `obsgen check` first proves out/ is exactly what the specs compile to.
# Test modules run in parallel (pytest-xdist), each whole on one worker (--dist loadfile), so module
# fixtures are built once and tests/live (one file) runs against one test bed. PYTEST_WORKERS=0: no xdist.
PYTEST_WORKERS ?= auto

test: $(STAMP) debian-packages $(NPM_STAMP)
	$(BIN)/obsgen check
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile --durations=15

# Installs only what is missing.
debian-packages:
	scripts/ensure-debian-packages promtool=prometheus prometheus=prometheus redis-server=redis-server \
		node=nodejs npm=npm amtool=prometheus-alertmanager prometheus-alertmanager=prometheus-alertmanager

# The app's npm packages, exactly as locked; the stamp holds the lock file's digest (tests/live checks it too).
$(NPM_STAMP): $(LIVE_APP)/package-lock.json $(LIVE_APP)/package.json | debian-packages
	cd $(LIVE_APP) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	sha256sum $(LIVE_APP)/package-lock.json | cut -d' ' -f1 > $@

# Build times of synthetic fleets of 1, 100 and 1,000 services (tests/bench.py; docs/development.md#performance).
bench: $(STAMP)
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) .pytest_cache $(LIVE_APP)/node_modules
