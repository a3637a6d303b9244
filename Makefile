# The two commands a new user runs: `make build` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: build test check bench schema clean

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

test: $(STAMP)
	scripts/ensure-debian-packages promtool=prometheus
	$(BIN)/obsgen check
	$(BIN)/obsgen test
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) .pytest_cache
