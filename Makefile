# Every target creates .venv and installs the project on first use, so a fresh
# clone needs nothing but python3 >= 3.11.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run sandbox serve test lint fuzz bench soak clean install

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

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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

soak: $(STAMP)
	$(BIN)/python -m tests.soak

clean:
	rm -rf $(VENV) var .pytest_cache bench-results.json
