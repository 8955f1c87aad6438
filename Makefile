# One command for the main job, one for all tests. Each does its own set-up on a fresh
# machine: a .venv with opslib and its dev tools, the sample app's node_modules, and
# Debian's chromium and chromedriver for the browser tier.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_STAMP   := $(VENV)/.opslib-installed
NODE_STAMP := sample-app/node_modules/.opslib-installed
CHROMIUM     := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
BROWSER_PACKAGES := chromium chromium-driver
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends

.PHONY: setup bytecode demo test test-unit lint check bench clean

setup: $(PY_STAMP) $(NODE_STAMP) $(CHROMIUM) $(CHROMEDRIVER)

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(NODE_STAMP): sample-app/package.json sample-app/package-lock.json
	cd sample-app && npm ci --no-audit --no-fund
	touch $@

# The walkthrough's browser test drives the system's headless Chromium (tests/browser).
# apt-get update only when the package lists lack the packages or are out of date.
$(CHROMIUM) $(CHROMEDRIVER) &:
	apt-cache show $(BROWSER_PACKAGES) >/dev/null 2>&1 || $(SUDO) apt-get update -q
	$(APT_INSTALL) $(BROWSER_PACKAGES) || { $(SUDO) apt-get update -q && $(APT_INSTALL) $(BROWSER_PACKAGES); }

# opslib's bytecode, compiled ahead: an editable install compiles none, and where
# PYTHONDONTWRITEBYTECODE is set no import writes it, so every interpreter the tests, the
# emulator and the notebook kernels start would compile opslib from source again.
# compileall rewrites only what changed.
bytecode: setup
	$(BIN)/python -m compileall -q opslib tests

## demo: the main job on the embedded default target
demo: setup bytecode
	$(BIN)/python -m opslib.demo

## test: every test tier (the aws tier is skipped unless OPSLIB_AWS_TESTS=1)
# Two workers more than the cores: many emulator tests spend part of their time waiting
# (a schedule's minute, a deployment's hooks), and the extra workers fill that time. Once
# the builds cost less CPU, a fourth worker on 2 cores made the suite 7 % faster (it had
# made it slower before; docs/benchmarks.md).
TEST_WORKERS ?= $(shell n=$$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1); echo $$((n + 2)))
# The tests' temporary files (emulator state, builds with their node_modules, notebooks) on
# a RAM file system where there is one: a build's npm ci writes 5,500 files, which costs
# ext4 here 6 s more system time than tmpfs (docs/benchmarks.md). TEST_TMPDIR=/tmp to not.
TEST_TMPDIR ?= $(shell test -d /dev/shm -a -w /dev/shm && echo /dev/shm || echo $${TMPDIR:-/tmp})
test: setup bytecode
	TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --durations=25

test-unit: setup
	$(BIN)/pytest -m unit

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/opslib lint .

## check: lint + types + tests
check: lint test

# pytest keeps its last three runs' temp dirs; on /dev/shm they hold memory until removed.
clean:
	rm -rf $(VENV) sample-app/node_modules sample-app/coverage sample-app/reports bundle .opslib
	rm -rf $(TEST_TMPDIR)/pytest-of-$$(id -un)
