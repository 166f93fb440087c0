# partnermatch: `make run` (install, demo data if the store is empty, train, serve) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench bench-quick bench-holdout fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# The CPU wheel first: otherwise sentence-transformers pulls a multi-GB CUDA build of torch.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/partnermatch demo-data
	$(BIN)/partnermatch train --config training/demo.toml
	$(BIN)/partnermatch serve

test: install
	$(BIN)/pytest -q

# schemathesis over the OpenAPI schema: all checks, positive and negative data, every operation, 200 examples
# each; counts in bench/results/fuzz.json (PM_API_TEST_HOME may name a trained hashing home to skip training).
fuzz: install
	PM_FUZZ_RANDOM=1 PM_FUZZ_EXAMPLES=200 PM_FUZZ_REPORT=bench/results/fuzz.json $(BIN)/pytest -q \
		tests/serving/fuzz_schemathesis.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy partnermatch features models training serving

# Every benchmark, preparing its own homes; bench/results/*.json + SUMMARY.md and the README's table.
bench: install
	$(BIN)/python -m bench.suite --profile full

# The same at small sizes (under 15 minutes on 2 cores), into bench/results/quick/.
bench-quick: install
	$(BIN)/python -m bench.suite --profile quick

# The never-looked-at scenarios: a verdict at the end of ranker work, each run logged.
bench-holdout: install
	$(BIN)/python -m bench.scenarios --set holdout --final

clean:
	rm -rf .partnermatch .pytest_cache .mypy_cache .ruff_cache
