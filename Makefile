# shuyu (数域) — the two commands a newcomer needs: `make up` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SHUYU  := $(VENV)/bin/shuyu
PYTEST := $(PY) -m pytest

.PHONY: setup up down test test-unit test-integration lint images bench clean

# The virtualenv, rebuilt when pyproject.toml changes. torch is installed first and
# pinned: a loose `torch` requirement would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[dev,data,hub,train,tracking-server,service,runner]'
	touch $@

setup: $(VENV)/.installed
	@mkdir -p var/secrets && chmod 700 var/secrets
	@test -f var/secrets/masking.key || $(SHUYU) data keygen --out var/secrets/masking.key
	@$(SHUYU) policy check

up: setup
	$(SHUYU) platform up

down:
	$(SHUYU) platform down

images: setup
	$(SHUYU) images build

lint: setup
	$(VENV)/bin/ruff check shuyu tests benchmarks hub
	$(VENV)/bin/mypy shuyu

test-unit: setup
	SHUYU_MASKING_KEY_FILE=$(CURDIR)/var/secrets/masking.key $(PYTEST) tests/unit

test-integration: images
	SHUYU_MASKING_KEY_FILE=$(CURDIR)/var/secrets/masking.key $(PYTEST) tests/integration

test: lint test-unit test-integration

bench: setup
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean: down
	rm -rf var/data
