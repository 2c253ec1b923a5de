# Two commands a new user needs: `make demo` and `make test`. Each sets up what it needs.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3
# The engine's hot modules compiled with mypyc (sla/_compiled.py); rebuilt when sla/ changes.
NATIVE := build/native/manifest.json

.PHONY: demo test lint typecheck unit integration bench tools native clean

# The runtime dependencies at the versions the image ships (requirements.lock), so a new
# upstream release changes neither what the tests run with nor the lock check.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

$(NATIVE): $(STAMP) scripts/build_native.py $(wildcard sla/*.py sla/readmodels/*.py)
	$(BIN)/python scripts/build_native.py

native: $(NATIVE)

tools:
	bash scripts/ensure-tools

demo: $(STAMP) $(NATIVE)
	$(BIN)/slawatch demo

# The second run is the core as plain Python: the same outcomes, byte for byte, unbuilt.
test: $(STAMP) $(NATIVE) tools lint typecheck
	$(BIN)/pytest -q
	SLAWATCH_PURE_PYTHON=1 $(BIN)/pytest -q tests/sla tests/datasets

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy sla sources streams alerts generators slawatch

unit: $(STAMP) $(NATIVE)
	$(BIN)/pytest -q -m "not integration"

integration: $(STAMP) $(NATIVE)
	$(BIN)/pytest -q -m integration

bench: $(STAMP) $(NATIVE) tools
	$(BIN)/python bench/throughput.py --events 30000 --runs 2
	$(BIN)/python bench/storm.py --open 1000000 --due 100000
	$(BIN)/python bench/alerts.py
	$(BIN)/python bench/replay.py

clean:
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache build
