# One toolchain: every target installs what it needs (pinned, from requirements.lock) on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
# npm ci: the CDK CLI and the IAM policy evaluator, pinned in package-lock.json.
NODE_STAMP := node_modules/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# jsii names the Node majors whose end-of-life banner to silence; Node 20 here.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install demo load test test-unit lint format typecheck synth layer bench clean

help:
	@echo "make demo      - run the modelship story locally (no AWS account needed)"
	@echo "make test      - run the whole test suite"
	@echo "make test-unit - run the unit tier alone (no moto, no emulator; fast)"
	@echo "make lint      - ruff, mypy, import-direction contracts and cfn-lint"
	@echo "make synth     - synthesize the CDK app into cdk.out (offline)"
	@echo "make layer     - build the Lambda dependency layer"
	@echo "make bench     - run benchmarks and write docs/performance.md"
	@echo "make load      - load through a canary on the emulator (locust), figures into docs/performance.md"

install: $(STAMP)

# aws-cdk-lib and its dependency aws-cdk.cloud-assembly-schema both ship
# aws_cdk/cloud_assembly_schema/__init__.py, and uv installs in parallel, so either copy could
# win. aws-cdk-lib's must (jsii resolves aws-cdk-lib.cloud_assembly_schema types from it), as
# when pip installs the dependency first: aws-cdk-lib is reinstalled last.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip sync --quiet --python $(PY) requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps --reinstall-package aws-cdk-lib \
		"aws-cdk-lib==$$(sed -n 's/^aws-cdk-lib==//p' requirements.lock)"
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	touch $@

# Each emulator worker (demo, e2e tests, load) is a fresh interpreter, and PYTHONDONTWRITEBYTECODE
# keeps it from caching: bytecode for the virtualenv's packages (as the layer ships it), compiled
# once (about 40 s), keeps every cold start from compiling scikit-learn, boto3 and the rest.
BYTECODE_STAMP := $(VENV)/.bytecode
$(BYTECODE_STAMP): $(STAMP)
	$(PY) -m compileall -q -j 0 $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') > /dev/null
	touch $@

# IAM enforcement (on by default) runs the policy evaluator from node_modules.
# Time runs 30x faster in the demo (modelship.demo.DEMO_TIME_SCALE): a canary's bake sees a
# thirtieth of the requests it would on AWS at the same rate, so the demo's deployment judges
# a canary step on 20 requests a side (verdictMinRequests, 100 by default). `make synth`
# afterwards writes cdk.out with cdk.json's settings alone.
DEMO_CONTEXT := -c verdictMinRequests=20
demo: $(STAMP) $(NODE_STAMP) $(BYTECODE_STAMP) layer
	$(SYNTH) $(DEMO_CONTEXT)
	$(PY) -m modelship.demo

# Not part of `make test` either: locust drives /predict on the emulator through a canary, a
# shift, a promotion and the automatic rollback of a broken candidate (tests/load/run.py). Its
# deployment lifts the stage throttle (50 requests/s by default) above the load, and takes the
# API's largest function timeout (30 s) because the emulator counts a worker's cold start in it.
LOAD_CONTEXT := -c throttleRateLimit=1000 -c throttleBurstLimit=2000 -c timeout=30
load: $(STAMP) $(NODE_STAMP) $(BYTECODE_STAMP) layer
	$(SYNTH) $(LOAD_CONTEXT)
	$(PY) -m tests.load.run $(LOAD_ARGS)

# The whole suite also measures least privilege: every IAM Allow statement needed or justified.
IAM_REPORT := .modelship/iam-report.json
# pytest-xdist workers. With 2 (the 2-core CI machine), one worker runs the whole e2e tier (one
# emulator at a time) while the other takes whole modules of the other tiers, longest tiers
# first; tests/xdist_scheduling.py makes `--dist loadfile` do that (xdist's loadgroup cannot
# with pytest 9, which ignores the `_nodeid` it renames). Each worker synthesizes the app once
# per distinct context (tests/synthesis.py); the controller merges the workers' IAM
# observations into the one report (tests/conftest.py). TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

test: $(STAMP) $(NODE_STAMP) $(BYTECODE_STAMP)
	mkdir -p $(dir $(IAM_REPORT))
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --iam-report=$(IAM_REPORT)

test-unit: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest tests/unit

# Not part of `make test`: timings are machine-dependent and nothing asserts them.
bench: $(STAMP) synth
	$(PY) -m tests.benchmarks.run

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(MAKE) synth
	$(VENV)/bin/cfn-lint --non-zero-exit-code error cdk.out/*.template.json

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Default to cdk.json's context so `make layer` builds what `cdk deploy` will ship.
cdk_context = $(shell $(PYTHON) -c "import json; print(json.load(open('cdk.json'))['context']['$(1)'])")
ARCH ?= $(call cdk_context,architecture)
RUNTIME ?= $(call cdk_context,runtime)
# The cdk CLI (pinned in package-lock.json) runs the app named in cdk.json, as `cdk deploy` does.
CDK := node_modules/.bin/cdk

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

layer: $(STAMP)
	ARCH=$(ARCH) RUNTIME=$(RUNTIME) PY=$(PY) bash layers/build_layer.sh

SYNTH = CDK_DISABLE_CLI_TELEMETRY=true $(CDK) synth --quiet --no-notices --no-version-reporting \
	-c architecture=$(ARCH) -c runtime=$(RUNTIME)
synth: $(STAMP) $(NODE_STAMP) layer
	$(SYNTH)

clean:
	rm -rf $(VENV) cdk.out layers/build node_modules .pytest_cache .mypy_cache .ruff_cache
