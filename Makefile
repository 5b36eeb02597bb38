# Two commands set everything up: `make app` and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.warta-installed

.PHONY: app test setup backbone models lint clean

# torch==2.13.0 first: a bare torch requirement could pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[train,dev,distributed]'
	touch $(STAMP)

setup: $(STAMP)

backbone: setup
	$(PY) -m service.backbone

# The ONNX Runtime (int8) copies of the shipped models, exported once per model version into the cache.
models: backbone
	$(PY) -m service prepare

app: models
	$(PY) app.py $(ARGS)

lint: setup
	$(PY) -m ruff check .

test: models lint
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
