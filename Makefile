# Two commands on a fresh machine (Python 3.11 and the package registries only):
#   make run    install what running needs, build (or find) the encoder, ingest the bundled
#               sample corpus, serve on 127.0.0.1:$(PORT)
#   make test   install (with dev tools and the train extra), lint, type-check, run the test suite
# and for CI and engine changes:
#   make eval-gate    run the bundled question set, fail if a metric is below eval/floors.json
#   make eval-floors  run it and rewrite eval/floors.json from the run (after a deliberate change)
PYTHON ?= python3.11
VENV ?= .venv
PORT ?= 8000
PY := $(VENV)/bin/python
EVAL_DATASET ?= samples/acme
EVAL_OUT ?= .data/eval-runs/ci
FLOORS ?= eval/floors.json
MARGIN ?= 0.03
EVAL_ARGS := --dataset $(EVAL_DATASET) --out $(EVAL_OUT)
export DO_NOT_TRACK := 1
export HF_HUB_OFFLINE := 1

.PHONY: run test install install-dev lint eval-gate eval-floors

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

# the dev tools (pytest, ruff, mypy, schemathesis, playwright...) only for `make test`, with the
# train extra (torch, CPU wheel: ~30 s to install here) so that the tests of the training code
# (tests/reader/test_model.py) run too; the service never imports torch
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev,train]'
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

test: lint
	$(PY) -m pytest -q

eval-gate: install
	$(PY) -m eval run $(EVAL_ARGS)
	$(PY) -m eval gate $(EVAL_OUT)/report.json --floors $(FLOORS)

eval-floors: install
	$(PY) -m eval run $(EVAL_ARGS)
	$(PY) -m eval gate $(EVAL_OUT)/report.json --floors $(FLOORS) --write-floors \
		--margin $(MARGIN) --run-command "python -m eval run $(EVAL_ARGS)"
