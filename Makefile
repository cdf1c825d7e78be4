# vaekit: `make demo` trains the reference VAE, `make test` runs the tests. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.vaekit-installed

.PHONY: setup demo test test-slow test-extended test-backends test-environments test-wheel \
	test-no-tensorflow lint bench clean

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
	$(PYTEST) -m "slow and not extended"; status=$$?; [ $$status -eq 5 ] && echo "no slow tests" && exit 0; exit $$status

# The longest variants of the slow tests (every wiring through the console script and on each
# backend, more spread set-ups): not in CI, whose 90 minutes they would exceed on a 2-core AVX2
# CPU; run them before a release (about 30 minutes there).
test-extended: setup
	$(PYTEST) -m extended

# The backend-neutral test files (the KL wirings' equivalence, the objectives, the pipeline, the
# layers, saving, image folders, the commands in-process with exact resumes, the notebook) on JAX
# and on PyTorch, one backend per process. Needs both installed in .venv; CI installs them
# (PyTorch's CPU wheel, JAX from the registry).
BACKEND_TESTS := tests/test_strategies.py tests/test_objective.py tests/test_divergences.py \
	tests/test_conditional.py tests/test_vamp.py tests/test_pipeline.py \
	tests/test_layers.py tests/test_model.py tests/test_folder.py tests/test_cli.py \
	tests/test_notebook.py
test-backends: setup
	@$(BIN)/python -c 'import jax, torch' 2>/dev/null || { echo "test-backends needs jax and torch in $(VENV) (see .ci/run)"; exit 1; }
	set -e; for backend in jax torch; do \
		KERAS_BACKEND=$$backend $(PYTEST) $(BACKEND_TESTS); \
		KERAS_BACKEND=$$backend $(PYTEST) tests/test_docs.py -k "docstring and backends"; \
	done

# The built wheel, installed (not editable) into three new virtual environments with one backend
# each (venv-tensorflow, venv-jax, venv-torch: a folder named jax beside the tests would be
# imported as jax), run from a folder outside the source tree: an editable install hides missing package data
# and import-order faults, and an environment with all three backends hides an import that only
# the writer's backend satisfies.
# - TensorFlow only: the console-script tests (tests/test_console.py; its slow ones run in
#   test-slow, on the editable install);
# - JAX only, PyTorch only, as on a GPU machine: tests/test_without_tensorflow.py;
# - across them: each trains a run, then evaluates and resumes the two runs the others wrote
#   (tests/test_across_environments.py);
# - with its backend uninstalled, `vaekit info` in the JAX and PyTorch ones says so in one line.
# PYTORCH names the torch requirement (CI: torch==2.13.0, the CPU wheel on disk). The three
# environments are installed, and run each step, at the same time (tests/together.sh): their tests
# start one console-script process after another, and two cores run two at once.
PYTORCH ?= torch
ENVIRONMENTS := tensorflow jax torch
test-environments: setup
	rm -rf dist build  # build/: setuptools would pack stale modules left in it
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .
	set -e; wheel=$$(ls $(CURDIR)/dist/vaekit-*.whl); tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	together="bash $(CURDIR)/tests/together.sh"; \
	cp tests/support.py tests/test_console.py tests/test_without_tensorflow.py tests/test_across_environments.py \
		configs/mnist_seed.yaml "$$tmp/"; \
	for backend in $(ENVIRONMENTS); do $(PYTHON) -m venv "$$tmp/venv-$$backend"; done; \
	$$together \
		tensorflow "$$tmp/venv-tensorflow/bin/python -m pip install --quiet '$$wheel[tensorflow,test]'" \
		jax "$$tmp/venv-jax/bin/python -m pip install --quiet '$$wheel[jax]' pytest" \
		torch "$$tmp/venv-torch/bin/python -m pip install --quiet '$$wheel' '$(PYTORCH)' pytest"; \
	cd "$$tmp"; pytest="-m pytest -q -p no:cacheprovider"; \
	$$together \
		"tensorflow: test_console.py" "KERAS_BACKEND=tensorflow VAEKIT_TEST_INSTALLED=1 venv-tensorflow/bin/python $$pytest -m 'not slow' -W ignore::pytest.PytestUnknownMarkWarning test_console.py" \
		"jax: test_without_tensorflow.py" "KERAS_BACKEND=jax VAEKIT_TEST_WITHOUT_TENSORFLOW=1 venv-jax/bin/python $$pytest test_without_tensorflow.py" \
		"torch: test_without_tensorflow.py" "KERAS_BACKEND=torch VAEKIT_TEST_WITHOUT_TENSORFLOW=1 venv-torch/bin/python $$pytest test_without_tensorflow.py"; \
	for step in "only or write" "only or read"; do \
		set --; \
		for backend in $(ENVIRONMENTS); do \
			set -- "$$@" "$$backend: $$step" "KERAS_BACKEND=$$backend VAEKIT_ACROSS_RUNS=$$tmp/runs venv-$$backend/bin/python $$pytest -k '$$step' test_across_environments.py"; \
		done; \
		$$together "$$@"; \
	done; \
	for backend in jax torch; do \
		venv-$$backend/bin/python -m pip uninstall --quiet -y $$backend \
			$$([ $$backend = jax ] && echo jaxlib); \
		said=$$(env -u KERAS_BACKEND venv-$$backend/bin/vaekit info 2>&1 || echo "exit $$?"); \
		echo "with no backend: $$said"; \
		case "$$said" in "vaekit: error: no Keras backend is installed"*"exit 2") ;; *) exit 1;; esac; \
	done

# Its parts have no targets of their own any more: the three environments are built once.
test-wheel test-no-tensorflow: test-environments

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: setup
	$(BIN)/python -m benchmarks.throughput

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info .pytest_cache .ruff_cache
