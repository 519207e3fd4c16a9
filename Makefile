# tocsin — one entry point for people and CI. `make help` lists the targets.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: help demo test lint typecheck unit bench clean sysdeps assets

help:  ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

sysdeps:  ## Install what the tests start: Mosquitto (MQTT tests) and Debian's Chromium (console tests)
	@command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; } || \
	  echo "mosquitto not available: MQTT end-to-end tests will be skipped"
	@test -x /usr/bin/chromium || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium not available: the console's browser tests will fail (set TOCSIN_BROWSER=skip to skip them)"

assets:  ## Build the console's map library from the npm registry (Leaflet; not committed)
	@bash web/build.sh

demo: $(STAMP) assets  ## Set up and run the console with demo data on http://127.0.0.1:8080
	$(BIN)/tocsin demo

lint: $(STAMP)  ## ruff (lint + format check)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

typecheck: $(STAMP)  ## mypy --strict
	$(BIN)/mypy

unit: $(STAMP) assets  ## pytest only
	$(BIN)/pytest -q

test: sysdeps lint typecheck unit  ## Set up and run every check (what CI runs)

bench: $(STAMP)  ## Ingest benchmark against Prometheus Alertmanager (prints a table)
	$(BIN)/python bench/ingest.py

clean:  ## Remove the environment and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
