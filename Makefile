# The two commands of the README: `make run` (the app) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench screenshot clean

run: $(VENV)/.installed
	$(BIN)/hitl-web dev

test: $(VENV)/.installed-test
	$(BIN)/python -m tests.ensure_browser
	$(BIN)/ruff check hitl_web tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check hitl_web tests bench
	$(BIN)/mypy

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench.run_all

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[bench]'
	touch $@

# Refreshes docs/run-waiting.png (the README's picture) from the browser test.
screenshot: $(VENV)/.installed-test
	HITL_UPDATE_SCREENSHOT=1 $(BIN)/python -m pytest -q tests/e2e -k test_approve_live

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
