# Two entry points for a fresh machine: `make demo` and `make test`. Both set up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
WB := $(VENV)/bin/workbench
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test lint

setup: $(VENV)/.installed

# torch is resolved plainly (never 2.13.0: its CPU wheel has no importable torchvision here).
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(WB) world make --n 64
	$(WB) data list
	$(WB) data sheet --dataset shapes --split test --n 8

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
