# Two entry points for a fresh machine: `make demo` and `make test`. Both set up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
WB := $(VENV)/bin/workbench
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup app demo test test-fast lint vbench-env

setup: $(VENV)/.installed

# torch is resolved plainly (never 2.13.0: its CPU wheel has no importable torchvision here).
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# pyiqa (MUSIQ, for VBench's imaging_quality) without its own dependency list, which
	# pulls training and lint tools (bitsandbytes, tensorboard, pre-commit, datasets, ...);
	# what its MUSIQ imports (opencv-python-headless, scipy) is in pyproject.toml.
	$(PY) -m pip install -q --no-deps 'pyiqa==0.1.16'
	touch $@

# The main job: the app on the default home; on an empty home it runs the tiny study first,
# in the background, and fills its tabs as the stages land.
app: setup
	$(PY) app.py

# The whole loop on the embedded default, in its own home (recreated on every run).
DEMO_HOME ?= workbench-data/demo
DEMO := $(WB) --home $(DEMO_HOME)
demo: setup
	rm -rf $(DEMO_HOME)
	$(DEMO) world make --n 512
	$(DEMO) data sheet --dataset shapes --split test --n 8
	$(DEMO) train --name base --task i2v --steps 1500 --batch-size 16 --lr 3e-3 --warmup 50 \
		--schedule cosine --t-shift 3
	$(DEMO) gtpair build --generators base --n 128
	$(DEMO) train --method sft --pairs gt-shapes --init base --name sft --steps 200
	$(DEMO) train --method dpo --pairs gt-shapes --init base --name dpo --steps 200
	$(DEMO) train --method regdpo --pairs gt-shapes --init base --name regdpo --steps 200
	$(DEMO) eval --ckpt gt --ckpt base --ckpt sft --ckpt dpo --ckpt regdpo --n 48
	$(DEMO) data sheet --split test --n 8 --ckpt base --ckpt sft --ckpt dpo --ckpt regdpo
	$(DEMO) report --ckpt gt --ckpt base --ckpt sft --ckpt dpo --ckpt regdpo
	@echo "report: $(DEMO_HOME)/report/report.html"

# The official VBench in a venv of its own (its pins clash with ours; torch is borrowed from
# .venv): tests/test_vbench_official.py compares it with the native judges where it exists.
vbench-env: .vbench-env/workbench-vbench.json
.vbench-env/workbench-vbench.json: setup
	$(WB) --home workbench-data vbench setup --env .vbench-env

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q --durations=12

# While working: everything but the tests marked slow (tests/conftest.py), under 3 minutes.
test-fast: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m "not slow" --durations=5

lint: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
