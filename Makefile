# kenner: the two set-up commands are `make run` and `make test`; each creates .venv on its own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint pytest bench fuzz hostile zipapp image image-push clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/kenner serve --listen 127.0.0.1:8443

test: lint pytest

lint: $(STAMP)
	$(BIN)/ruff check daemon tests bench image
	$(BIN)/ruff format --check daemon tests bench image
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

# kenner runs from dist/bench-venv: the product's dependencies only, as the image installs them
bench: $(STAMP)
	rm -rf dist/bench-venv
	$(PYTHON) -m venv dist/bench-venv
	dist/bench-venv/bin/pip install --quiet --disable-pip-version-check .
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
	$(BIN)/shiv --compressed --reproducible --compile-pyc -c kenner -o dist/kenner.pyz .

# The OCI image in dist/image, built without a container engine (root, Debian mirror): image/build.py
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' daemon/kenner/__init__.py)
image: $(STAMP)
	rm -rf dist/image
	$(BIN)/python -m image.build --out dist/image $(if $(IMAGE_SOURCE),--source '$(IMAGE_SOURCE)')

# make image-push REGISTRY=registry.example/team: the image as REGISTRY/kenner:VERSION
image-push:
	@test -n "$(REGISTRY)" || { echo "make image-push REGISTRY=host[:port][/path]"; exit 2; }
	$(MAKE) image
	skopeo copy oci:dist/image:$(VERSION) docker://$(REGISTRY)/kenner:$(VERSION)

clean:
	rm -rf $(VENV) dist .mypy_cache .ruff_cache .pytest_cache
