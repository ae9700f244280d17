# The README names `make demo` and `make test`; everything else here serves those two.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Re-install when the pinned dependencies change.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
JARS_STAMP := $(VENV)/.jars-resolved
# pytest worker processes for `make test` (each test module runs whole on one worker, so a
# module's fixtures are built once); TEST_WORKERS=0 runs the suite in this process.
# Modules are handed out in collection order (tests/conftest.py puts the compose lab, the
# longest, first), not xdist's default of the most tests first.
TEST_WORKERS ?= 2

.PHONY: demo test setup lint typecheck unit services hostile notebooks notebooks-check clean help

help:
	@echo "make demo   - set up, then run the main job on local Spark (report under reports/)"
	@echo "make test   - set up, then ruff, mypy and pytest"
	@echo "make setup  - virtual environment, Python dependencies, Delta and S3A jars"
	@echo "make hostile - the hostile-input suite's long profile: 25 drawn landings, shrunk on failure"
	@echo "make notebooks - re-execute notebooks/ on the demo warehouse and rewrite their .ipynb"
	@echo "make notebooks-check - the committed notebook outputs equal a fresh run's"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "lakelab needs Python 3.11, found " + sys.version.split()[0]' \
	  || { echo "make: set PYTHON=/path/to/python3.11"; exit 2; }
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

$(JARS_STAMP): $(STAMP) lakelab/jvm.py
	$(BIN)/lakelab setup
	@touch $@

setup: $(STAMP) $(JARS_STAMP)

demo: setup
	$(BIN)/lakelab demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

services: $(STAMP)
	bash cluster/install-services.sh

unit: setup
	$(BIN)/pytest

test: setup lint typecheck services
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

# `make test` runs tests/hostile with its short `ci` profile (two landings, fixed seed).
hostile: setup
	HYPOTHESIS_PROFILE=long $(BIN)/pytest tests/hostile

# The analysts' notebooks on the demo's warehouse (LAKELAB_WAREHOUSE=... for another): `notebooks`
# executes notebooks/NN_*.py and rewrites each paired .ipynb with the outputs; `notebooks-check`
# executes them again and fails if the committed outputs differ beyond volatile fields
# (notebooks/README.md). Both need Gold: `make demo` builds it.
notebooks: setup
	$(BIN)/python -m lakelab.notebooks run

notebooks-check: setup
	$(BIN)/python -m lakelab.notebooks check

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache data .state
