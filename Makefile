# Two entry points: `make demo` (install everything, run the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := constraints.txt
DATA_DIR := /usr/share/datasets/fashion-mnist

.PHONY: demo test install install-dev data docs clean catalog

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned to the CPU build on local disk; otherwise pip pulls a multi-GB CUDA build
	$(PIP) install -q torch==2.13.0 numpy

install: $(PY)
	$(PIP) install -q -c $(CONSTRAINTS) -e .

install-dev: $(PY)
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[dev]"

data:
	@if [ -f "$(DATA_DIR)/train-images-idx3-ubyte.gz" ] || [ -n "$$EXPUNGE_DATA" ]; then \
		echo "Fashion-MNIST: found"; \
	elif [ "$$(id -u)" = "0" ]; then \
		(apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null)) && echo "Fashion-MNIST: installed"; \
	else \
		echo "Fashion-MNIST is missing: run 'sudo apt-get install -y dataset-fashion-mnist', or set EXPUNGE_DATA to a folder with the idx files."; exit 1; \
	fi

demo: install data
	$(VENV)/bin/expunge demo

test: install-dev
	@if [ "$$(id -u)" = "0" ] && [ ! -f "$(DATA_DIR)/train-images-idx3-ubyte.gz" ]; then $(MAKE) --no-print-directory data || true; fi
	@if [ "$$(id -u)" = "0" ] && [ ! -x /usr/bin/chromium ]; then apt-get install -y -q chromium >/dev/null 2>&1 || echo "chromium not installed: the browser test of the HTML report will be skipped"; fi
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/pyright src
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -n 2 tests
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -q

# the documentation site (mkdocs-material + mkdocstrings) into site/; preview with `$(VENV)/bin/mkdocs serve`
docs: install-dev
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# the torch-free catalog the command line checks configs against (refresh after adding a component or a config field)
catalog: install
	$(PY) -m expunge.catalog

clean:
	rm -rf runs .pytest_cache
