# Every target creates .venv and installs the project on first use, so a fresh
# clone needs nothing but python3 >= 3.11.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run sandbox serve test lint fuzz bench bench-readme profile-hits soak clean install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run sandbox: $(STAMP)
	$(BIN)/ratecalc sandbox --port $${PORT:-8000}

serve: $(STAMP)
	$(BIN)/ratecalc serve

# The suite mostly waits (on sockets, subprocesses, simulated latency), so more
# xdist workers than cores pays off; each worker has its own Redis database and
# PostgreSQL schemas (tests/conftest.py). PYTEST_WORKERS=0 runs it in one process.
# --dist loadfile runs each file on one worker, so a module-scoped fixture (the
# secret-hygiene session, the sandbox) is set up once, not once per worker.
# --no-loadscope-reorder keeps tests/conftest.py's order (longest files first) instead
# of xdist's (files with the most tests first, which left a 76 s one-test file to last).
PYTEST_WORKERS ?= 4

test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check ratecalc tests

# Longer fuzzing than `make test` does: schemathesis against the live OpenAPI
# document, and the hypothesis property tests with many more examples.
fuzz: $(STAMP)
	RATECALC_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} $(BIN)/python -m pytest tests/test_fuzz_api.py \
		--hypothesis-profile=fuzz -q
	$(BIN)/python -m pytest -q --hypothesis-profile=fuzz -m "not slow" \
		tests/rating/test_keys.py tests/rating/test_markup.py tests/shop/test_xml_export.py

bench: $(STAMP)
	$(BIN)/python -m tests.bench

# Where a cached quote's time goes (pyinstrument; the README's flame summary).
profile-hits: $(STAMP)
	$(BIN)/python -m tests.bench.profile_hits

# The README's benchmark table from the last run's bench-results.json (kept in docs/).
bench-readme: $(STAMP)
	$(BIN)/python -m tests.bench.readme bench-results.json

soak: $(STAMP)
	$(BIN)/python -m tests.soak

clean:
	rm -rf $(VENV) var .pytest_cache bench-results.json
