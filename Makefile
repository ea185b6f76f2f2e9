# kenner: the two set-up commands are `make run` and `make test`; each creates .venv on its own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint pytest bench zipapp clean

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

zipapp: $(STAMP)
	mkdir -p dist
	$(BIN)/shiv --compressed --reproducible -c kenner -o dist/kenner.pyz .

clean:
	rm -rf $(VENV) dist .mypy_cache .ruff_cache .pytest_cache
