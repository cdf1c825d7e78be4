# vaekit: `make demo` trains the reference VAE, `make test` runs the tests. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.vaekit-installed

.PHONY: setup demo test test-slow test-wheel lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "vaekit needs Python 3.10 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[tensorflow,test]'
	touch $(STAMP)

demo: setup
	$(BIN)/vaekit train --config configs/mnist_seed.yaml

# Two pytest workers, a test file each at a time: much of the suite starts new processes (the
# console script, a second interpreter), which one core does while the other trains.
PYTEST := $(BIN)/python -m pytest -n 2 --dist loadfile

test: setup lint
	$(PYTEST)

test-slow: setup
	$(PYTEST) -m slow; status=$$?; [ $$status -eq 5 ] && echo "no slow tests" && exit 0; exit $$status

# The console-script tests against the built wheel, installed (not editable) into a new virtual
# environment and run from a folder outside the source tree: an editable install hides missing
# package data and import-order faults.
test-wheel: setup
	rm -rf dist
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet "$$(ls $(CURDIR)/dist/vaekit-*.whl)[tensorflow,test]"; \
	cp tests/test_console.py "$$tmp/"; \
	cd "$$tmp" && VAEKIT_TEST_INSTALLED=1 venv/bin/python -m pytest -q -p no:cacheprovider \
		-n 2 -W ignore::pytest.PytestUnknownMarkWarning test_console.py

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: setup
	$(BIN)/python -m benchmarks.throughput

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info .pytest_cache .ruff_cache
