# The two commands of the README:
#   make demo   set everything up and serve the example site on the KashFlow sandbox
#               (KASHFLOW_API=soap make demo: the same site on KashFlow's SOAP API)
#   make test   set everything up (Python packages, redis-server, chromium) and run the tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 5000

.PHONY: demo test check lint docs bench system-deps install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall when the project's metadata changes. The KashFlow sandbox (sandbox/, the
# kashflow-sandbox distribution) is installed beside the portal: the demo and the tests run on it.
$(VENV)/.installed: pyproject.toml setup.cfg sandbox/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e './sandbox[test]' -e '.[redis,test,lint,docs,bench]'
	touch $@

install: $(VENV)/.installed

system-deps:
	./scripts/install-system-deps.sh

demo: install
	FLASK_RUN_PORT=$(PORT) $(BIN)/flask --app example_app run

test: install system-deps
	$(BIN)/python -m pytest

# The quick suite while working: everything but browser, load and multi-process tests, on
# every core (pytest-xdist). `make test` stays serial: its load tests measure the machine.
check: install
	$(BIN)/python -m pytest -q -n auto --dist loadscope -m "not browser and not slow and not multiprocess"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -q -c pyproject.toml -r flask_kashflow_links

docs: install
	$(BIN)/sphinx-build -W --keep-going -b html -q docs docs/_build/html

bench: install system-deps
	$(BIN)/python bench/bench_tokens.py
	$(BIN)/python bench/bench_throughput.py
	$(BIN)/python bench/bench_latency.py
	$(BIN)/python bench/bench_upstream.py
	$(BIN)/python bench/bench_shapes.py
	$(BIN)/python bench/profile_warm.py
	$(BIN)/python bench/bench_redaction.py
	$(BIN)/python bench/bench_remind.py

clean:
	rm -rf $(VENV) docs/_build .pytest_cache .mypy_cache .ruff_cache .hypothesis
