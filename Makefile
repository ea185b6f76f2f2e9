# kenner: the two set-up commands are `make run` and `make test`; each creates .venv on its own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint pytest bench fuzz hostile zipapp clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/kenner serve --listen 127.0.0.1:8443

test: lint pytest

lint: $(STAMP)
	$(BIN)/ruff check daemon tests bench
	$(BIN)/ruff format --check daemon tests bench
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# 100 000 mutated AdmissionReviews against a real daemon (make test runs 3 000); see docs/testing.md
fuzz: $(STAMP)
	KENNER_FUZZ_COUNT=$${KENNER_FUZZ_COUNT:-100000} $(BIN)/pytest tests/fuzz -q -s -p no:cacheprovider \
		-o faulthandler_timeout=0

# hostile load (floods, stalled and oversized bodies, garbage, HTTP/2) against a real daemon
hostile: $(STAMP)
	$(BIN)/python -m bench.hostile

zipapp: $(STAMP)
	mkdir -p dist
	$(BIN)/shiv --compressed --reproducible -c kenner -o dist/kenner.pyz .

clean:
	rm -rf $(VENV) dist .mypy_cache .ruff_cache .pytest_cache
