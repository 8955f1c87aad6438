# One command for the main job, one for all tests. Each does its own set-up on a fresh
# machine: a .venv with opslib and its dev tools, and the sample app's node_modules.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_STAMP   := $(VENV)/.opslib-installed
NODE_STAMP := sample-app/node_modules/.opslib-installed

.PHONY: setup demo test test-unit lint check bench clean

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(NODE_STAMP): sample-app/package.json sample-app/package-lock.json
	cd sample-app && npm ci --no-audit --no-fund
	touch $@

## demo: the main job on the embedded default target
demo: setup
	$(BIN)/python -m opslib.demo

## test: every test tier (the aws tier is skipped unless OPSLIB_AWS_TESTS=1)
test: setup
	$(BIN)/pytest -n auto --dist loadgroup --durations=25

test-unit: setup
	$(BIN)/pytest -m unit

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/opslib lint .

## check: lint + types + tests
check: lint test

clean:
	rm -rf $(VENV) sample-app/node_modules sample-app/coverage sample-app/reports bundle .opslib
