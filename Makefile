# Two user-facing targets: `make demo` (the main job on the embedded default) and `make test`.
# Both install what they need into the current Python environment first.
PYTHON ?= python3
# torch is installed only when none is importable. The pinned CPU build keeps a fresh machine
# from pulling several GB of CUDA wheels; set TORCH=torch (or a CUDA index) on a GPU machine.
TORCH ?= torch==2.13.0
STAMP := .make-installed
# The browser test of `personafuse.serve` drives Debian's Chromium; installed when missing and
# this is a root shell with apt-get (as on CI), else the test says why it is skipped.
BROWSER := .make-browser

.PHONY: install demo test test-slow lint

$(STAMP): pyproject.toml
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install "$(TORCH)"
	$(PYTHON) -m pip install -q -e ".[dev,offline,serve]"
	@touch $(STAMP)

install: $(STAMP)

$(BROWSER):
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium and chromium-driver for the browser test"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver >/dev/null; } || echo "note: apt-get failed; the browser test will be skipped"; \
	else echo "note: no chromium/chromedriver; the browser test will be skipped"; fi
	@command -v chromium >/dev/null && touch $(BROWSER) || true

demo: $(STAMP)
	$(PYTHON) -m personafuse.train experiment=demo

test: $(STAMP) $(BROWSER)
	$(PYTHON) -m pytest -q

test-slow: $(STAMP)
	$(PYTHON) -m pytest -q -m slow

lint: $(STAMP)
	$(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check .
