# pipl: every set-up step lives here. A fresh machine needs only python3, git and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP  := $(VENV)/.pipl-installed
# the demo's own environment: pipl and what it runs, without the dev group (pytest,
# playwright, ruff, mypy...), which only `make test` and `make lint` use
DEMO_VENV  := .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.pipl-installed

.PHONY: help install install-demo lock demo test lint api bench clean

help:
	@echo "make demo   set up, then run the demo: a real project, server, packages, installs"
	@echo "make test   set up, then run the test suite"
	@echo "make lint   ruff and mypy"
	@echo "make api    write what is made from the API's operations (client functions, docs table)"
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

$(DEMO_STAMP): pyproject.toml pipl_pipe/pyproject.toml uv.lock
	test -x $(DEMO_VENV)/bin/python || $(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	UV_PROJECT_ENVIRONMENT=$(DEMO_VENV) $(DEMO_VENV)/bin/uv sync --locked --no-dev \
	    --compile-bytecode --python $(DEMO_VENV)/bin/python
	$(DEMO_VENV)/bin/python -m compileall -q pipl pipl_pipe/pipl_pipe
	touch $(DEMO_STAMP)

install-demo: $(DEMO_STAMP)

demo: install-demo
	PATH="$(CURDIR)/$(DEMO_VENV)/bin:$$PATH" bash examples/demo.sh

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check pipl pipl_pipe tests bench examples
	$(BIN)/ruff format --check pipl pipl_pipe tests bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

api: install
	$(BIN)/python -m pipl.api.codegen
	$(BIN)/python -m pipl.api.openapi docs/api.md

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(DEMO_VENV) .pytest_cache .mypy_cache .ruff_cache
