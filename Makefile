# Two user-facing targets: `make demo` (the main job on the embedded default) and `make test`.
#
# Where things get installed: into the active virtual or conda environment when there is one;
# otherwise into a project-local virtual environment, .venv/, which the first target makes
# (from $(BASE_PYTHON)) and later ones reuse. So a Python that refuses installs (PEP 668, as
# Debian's and Ubuntu's system Python do) is never installed into. PYTHON=... picks the
# interpreter outright.
BASE_PYTHON ?= python3
VENV ?= .venv
ACTIVE_ENV := $(or $(VIRTUAL_ENV),$(CONDA_PREFIX))
MADE_ENV :=
ifeq ($(origin PYTHON),undefined)
ifeq ($(ACTIVE_ENV),)
PYTHON := $(VENV)/bin/python
MADE_ENV := $(VENV)/bin/python
# The targets run as if it were activated, so commands the tests start find its python.
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(VIRTUAL_ENV)/bin:$(PATH)
else
PYTHON := $(ACTIVE_ENV)/bin/python
endif
endif
# torch is installed only when none is importable. The pinned CPU build keeps a fresh machine
# from pulling several GB of CUDA wheels. On a GPU machine, install the torch build for your
# CUDA into the environment first (it is then left alone), or pass e.g.
# TORCH="torch --index-url https://download.pytorch.org/whl/cu128".
TORCH ?= torch==2.13.0
# One stamp per interpreter: switching environments installs again.
STAMP := .make/installed$(subst /,-,$(abspath $(PYTHON)))
# The browser test of `personafuse.serve` drives Debian's Chromium; installed when missing and
# this is a root shell with apt-get (as on CI), else the test says why it is skipped.
BROWSER := .make/browser

.PHONY: install demo test test-slow lint python

$(VENV)/bin/python:
	@echo "no virtual environment is active: installing into $(VENV)/ (made now from $(BASE_PYTHON), reused next time)"
	@$(BASE_PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "error: '$(BASE_PYTHON) -m venv $(VENV)' failed; on Debian/Ubuntu install python3-venv, or activate an environment first" >&2; exit 1; }

$(STAMP): pyproject.toml $(MADE_ENV)
	@mkdir -p .make
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install $(TORCH)
	$(PYTHON) -m pip install -q -e ".[dev,offline,serve,sweeps,onnx]"
	@touch $(STAMP)

install: $(STAMP)

# The interpreter the targets use (made if needed, nothing installed): `make -s python`.
python: $(MADE_ENV)
	@echo $(PYTHON)

$(BROWSER):
	@mkdir -p .make
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium and chromium-driver for the browser test"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver >/dev/null; } || echo "note: apt-get failed; the browser test will be skipped"; \
	else echo "note: no chromium/chromedriver; the browser test will be skipped"; fi
	@command -v chromium >/dev/null && touch $(BROWSER) || true

demo: $(STAMP)
	$(PYTHON) -m personafuse.train experiment=demo

# One pytest worker per core, each test file in one worker (a file's tests run in order).
test: $(STAMP) $(BROWSER)
	$(PYTHON) -m pytest -q -n auto --dist loadfile

test-slow: $(STAMP)
	$(PYTHON) -m pytest -q -m slow

lint: $(STAMP)
	$(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check . && $(PYTHON) -m mypy
