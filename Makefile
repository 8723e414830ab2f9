# Two commands on a fresh machine (Python 3.11 and the package registries only):
#   make run    install what running needs, build (or find) the encoder, ingest the bundled
#               sample corpus, serve on 127.0.0.1:$(PORT)
#   make test   install (with dev tools), lint, type-check, run the test suite, then the training
#               code's tests in a venv of their own with the train extra (torch)
# and for CI and engine changes:
#   make eval-gate    run the bundled question set, fail if a metric is below eval/floors.json
#   make eval-floors  run it and rewrite eval/floors.json from the run (after a deliberate change)
PYTHON ?= python3.11
VENV ?= .venv
TRAIN_VENV ?= .venv-train
PORT ?= 8000
PY := $(VENV)/bin/python
EVAL_DATASET ?= samples/acme
EVAL_OUT ?= .data/eval-runs/ci
FLOORS ?= eval/floors.json
MARGIN ?= 0.03
EVAL_ARGS := --dataset $(EVAL_DATASET) --out $(EVAL_OUT)
# the tests that need torch (skipped in $(VENV)), run in $(TRAIN_VENV)
TRAIN_TESTS := tests/reader/test_model.py tests/reader/test_runtime.py tests/reader/test_imports.py
export DO_NOT_TRACK := 1
export HF_HUB_OFFLINE := 1

.PHONY: run test install install-dev lint eval-gate eval-floors

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

# the dev tools (pytest, ruff, mypy, schemathesis, playwright...) only for `make test`
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# The train extra (torch, a CPU wheel) in a venv of its own, for the training code's tests, so
# that $(VENV) holds what `make run` deploys and no more: where torch is installed, spaCy (which
# unstructured's partitioners import) imports it as well, into every process that parses a
# docx, html or text file. pytest as the dev extra pins it.
$(TRAIN_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TRAIN_VENV)/bin/python -m pip install --quiet -e '.[train]' 'pytest>=8,<10'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	$(PY) -m core.encoder_build
	$(PY) -m engine.read
	$(PY) -m ingest samples/acme/corpus --no-progress || [ $$? -eq 1 ]
	$(PY) -m service --port $(PORT)

lint: install-dev
	$(VENV)/bin/ruff check core ingest reader engine service eval benchmarks tests
	$(VENV)/bin/ruff format --check core ingest reader engine service eval benchmarks tests
	$(VENV)/bin/mypy

test: lint $(TRAIN_VENV)/.installed
	$(PY) -m pytest -q
	$(TRAIN_VENV)/bin/python -m pytest -q $(TRAIN_TESTS)

eval-gate: install
	$(PY) -m eval run $(EVAL_ARGS)
	$(PY) -m eval gate $(EVAL_OUT)/report.json --floors $(FLOORS)

eval-floors: install
	$(PY) -m eval run $(EVAL_ARGS)
	$(PY) -m eval gate $(EVAL_OUT)/report.json --floors $(FLOORS) --write-floors \
		--margin $(MARGIN) --run-command "python -m eval run $(EVAL_ARGS)"
