# Two commands a new user needs: `make demo` and `make test`. Each sets up what it needs.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: demo test lint typecheck unit integration bench tools clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

tools:
	bash scripts/ensure-tools

demo: $(STAMP)
	$(BIN)/slawatch demo

test: $(STAMP) tools lint typecheck
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy sla sources streams alerts generators slawatch

unit: $(STAMP)
	$(BIN)/pytest -q -m "not integration"

integration: $(STAMP)
	$(BIN)/pytest -q -m integration

bench: $(STAMP) tools
	$(BIN)/python bench/throughput.py --events 30000 --runs 2
	$(BIN)/python bench/storm.py --open 1000000 --due 100000
	$(BIN)/python bench/replay.py

clean:
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache
