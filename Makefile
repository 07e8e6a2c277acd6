# 一网 Yiwang — everything people do, as make targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test e2e bench lint install demo clean schema

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade "pip>=24"
	@$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)
	@scripts/ensure-system-packages

run: install
	@$(BIN)/yiwang migrate --noinput -v0
	@$(BIN)/yiwang demo
	@$(BIN)/yiwang serve

demo: install
	@$(BIN)/yiwang migrate --noinput -v0
	@$(BIN)/yiwang demo

test: install
	@$(BIN)/pytest -m "not e2e" -n 2 --dist loadfile

e2e: install
	@scripts/ensure-system-packages --browser
	@$(BIN)/pytest -m e2e tests

bench: install
	@$(BIN)/python bench/bench_catalog.py --items 100000 --db both

schema: install
	@$(BIN)/yiwang spectacular --fail-on-warn --validate --file docs/openapi.yaml

lint: install
	@$(BIN)/python -m ruff check src tests bench || echo "(install ruff to lint: $(BIN)/pip install ruff)"

clean:
	rm -rf $(VENV) var build src/*.egg-info
