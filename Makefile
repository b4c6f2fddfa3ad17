# The two commands of the README: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SITE ?= site_configs/local.toml
CAMPAIGN ?= examples/campaigns/demo.toml

.PHONY: setup system-deps demo test test-fast lint typecheck clean

# llm-local builds llama-cpp-python from source the first time (minutes; pip caches it).
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,llm-local]'
	touch $@

system-deps:
	bash scripts/install-system-deps.sh

setup: system-deps $(VENV)/.installed

demo: setup
	$(BIN)/lassi-hpc run $(CAMPAIGN) --site $(SITE)
	$(BIN)/lassi-hpc status $(dir $(CAMPAIGN))../../results/demo
	$(BIN)/lassi-hpc report $(dir $(CAMPAIGN))../../results/demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# The whole suite, every tier this machine can run (CI runs exactly this).
test: lint typecheck
	$(BIN)/pytest

# Skips the slow tier; for quick iterations while developing.
test-fast: setup
	$(BIN)/pytest -m "not slow"

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
