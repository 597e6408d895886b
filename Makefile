# Switchboard — the two commands a fresh machine needs: `make demo` and `make test`.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
# dbt must be on PATH for dagster-dbt; the venv is never "activated" by hand.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := true
STAMP := $(VENV)/.installed
# The demo's UI ports on 127.0.0.1: `make demo DAGSTER_PORT=3001 STREAMLIT_PORT=8502` when these are taken.
DAGSTER_PORT   ?= 3000
STREAMLIT_PORT ?= 8501

.PHONY: install manifest demo test test-fast bench lint clean

$(STAMP): requirements.lock pyproject.toml scripts/bootstrap.sh
	scripts/bootstrap.sh
	touch $(STAMP)

install: $(STAMP)

manifest: install
	$(BIN)/python -c "from resources.dbt import ensure_manifest; ensure_manifest()"

demo: install manifest
	$(BIN)/switchboard demo --dagster-port $(DAGSTER_PORT) --streamlit-port $(STREAMLIT_PORT)

test: install manifest
	scripts/ensure-postgres.sh
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --durations=15

test-fast: install manifest
	$(BIN)/python -m pytest -q -m "not slow and not postgres"

bench: install manifest
	$(BIN)/python -m bench.run_bench

lint: install
	$(BIN)/ruff check .
	$(BIN)/python -m dagster definitions validate -f definitions.py

# derived files only: the demo's and the benchmark's data, dbt's target and logs, caches. The
# warehouse, serving copy, dlt state and Webex tokens under data/ stay (tokens rotate: a lost one
# means authorising the integration again)
clean:
	rm -rf data/demo data/bench dbt_project/target dbt_project/logs .pytest_cache .ruff_cache .tmp_dagster_home_*
