# pipl: every set-up step lives here. A fresh machine needs only python3, git and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP  := $(VENV)/.pipl-installed

.PHONY: help install lock demo test lint bench clean

help:
	@echo "make demo   set up, then run the demo: a real project, server, packages, installs"
	@echo "make test   set up, then run the test suite"
	@echo "make lint   ruff and mypy"
	@echo "make bench  benchmarks (bench/)"
	@echo "make lock   refresh uv.lock after changing dependencies"
	@echo "make clean  remove the virtualenv and caches"

$(STAMP): pyproject.toml pipl_pipe/pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	# bytecode compiled once here: every pipl command starts fast, even where
	# PYTHONDONTWRITEBYTECODE keeps Python from writing it
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --locked --compile-bytecode --python $(BIN)/python
	$(BIN)/python -m compileall -q pipl pipl_pipe/pipl_pipe
	touch $(STAMP)

# after changing dependencies in a pyproject.toml: refresh uv.lock (then commit it)
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv lock --python $(BIN)/python

install: $(STAMP)

demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check pipl pipl_pipe tests bench examples
	$(BIN)/ruff format --check pipl pipl_pipe tests bench examples
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
