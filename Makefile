# One toolchain: every target installs what it needs (pinned, from requirements.lock) on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install demo test test-unit lint format typecheck synth layer bench clean

help:
	@echo "make demo   - run the modelship story locally (no AWS account needed)"
	@echo "make test   - run the whole test suite"
	@echo "make lint   - ruff, mypy and cfn-lint"
	@echo "make synth  - synthesize the CDK app into cdk.out (offline)"
	@echo "make layer  - build the Lambda dependency layer"
	@echo "make bench  - run benchmarks and write docs/performance.md"

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip sync --quiet --python $(PY) requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	touch $@

demo: $(STAMP)
	$(PY) -m modelship.demo

test: $(STAMP)
	$(PY) -m pytest

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) cdk.out layers/build .pytest_cache .mypy_cache .ruff_cache
