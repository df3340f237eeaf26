# Set-up and checks. Needs only Python 3.11+ and make: everything else is installed into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[cli]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[cli,eboekhouden,postgres,celery]' -r requirements-dev.txt
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/crmconnect demo

test: lint typecheck unit docs

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks scripts examples
	$(BIN)/ruff format --check src tests benchmarks scripts examples

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

unit: $(VENV)/.installed-dev
	$(BIN)/pytest

docs: $(VENV)/.installed-dev
	$(BIN)/mkdocs build --strict --quiet --site-dir site

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/kvk_bulk_match.py
	$(BIN)/python benchmarks/eboekhouden_push.py
	$(BIN)/python benchmarks/digitalefactuur_snapshot.py
	$(BIN)/python benchmarks/import_check.py

clean:
	rm -rf $(VENV) .venv-wheelcheck site .mypy_cache .ruff_cache .pytest_cache
