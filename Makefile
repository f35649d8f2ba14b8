# Two user-facing targets: `make demo` (the main job on the embedded default) and `make test`.
# Both install what they need into the current Python environment first.
PYTHON ?= python3
# torch is installed only when none is importable. The pinned CPU build keeps a fresh machine
# from pulling several GB of CUDA wheels; set TORCH=torch (or a CUDA index) on a GPU machine.
TORCH ?= torch==2.13.0
STAMP := .make-installed

.PHONY: install demo test test-slow lint

$(STAMP): pyproject.toml
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install "$(TORCH)"
	$(PYTHON) -m pip install -q -e ".[dev,offline]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) -m personafuse.train experiment=demo

test: $(STAMP)
	$(PYTHON) -m pytest -q

test-slow: $(STAMP)
	$(PYTHON) -m pytest -q -m slow

lint: $(STAMP)
	$(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check .
