# Two commands set everything up: `make app` and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.warta-installed
LOCK := requirements.lock
PIP_VERSION := 26.3

.PHONY: app test setup lock backbone models lint report clean

# Every package comes from $(LOCK) (`make lock` writes it), at its pinned version and checked against its
# sha256 hashes; then the project itself, with no dependency resolution of its own, and `pip check`
# (it fails when pyproject.toml asks for a package the lock lacks: run `make lock`).
# torch first, as the lock has it: 2.13.0+cpu, the CPU build's file on this machine's disk (pip's find-links),
# so no step can take a multi-GB CUDA build.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip==$(PIP_VERSION)
	$(PY) -m pip install --quiet --require-hashes -c $(LOCK) torch
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	touch $(STAMP)

setup: $(STAMP)

# Re-pin $(LOCK) after a change to pyproject.toml (pins already there are kept); LOCK_ARGS=--upgrade moves
# every package to its newest allowed release, LOCK_ARGS='--upgrade-package NAME' only NAME. See tools/lock.sh.
lock:
	PYTHON=$(PYTHON) bash tools/lock.sh $(LOCK_ARGS)

backbone: setup
	$(PY) -m service.backbone

# The ONNX Runtime (int8) copies of the shipped models, exported once per model version into the cache.
models: backbone
	$(PY) -m service prepare

app: models
	$(PY) app.py $(ARGS)

lint: setup
	$(PY) -m ruff check .

# Every figure the README and the cards quote, measured anew (long: an hour or more on 2 cores; see training/report.py).
report: models
	$(PY) -m training.report $(REPORT_ARGS)

test: models lint
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
