# Two commands set everything up: `make app` and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.warta-installed

.PHONY: app test setup backbone lint clean

# torch==2.13.0 first: a bare torch requirement could pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[train,dev]'
	touch $(STAMP)

setup: $(STAMP)

backbone: setup
	$(PY) -m service.backbone

app: backbone
	$(PY) app.py $(ARGS)

lint: setup
	$(PY) -m ruff check .

test: backbone lint
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
