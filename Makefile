# shuyu (数域) — the two commands a newcomer needs: `make up` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SHUYU  := $(VENV)/bin/shuyu
PYTEST := $(PY) -m pytest

.PHONY: setup up down test test-unit test-host test-integration lint images bench clean

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

# Integration tests of host processes only (MLflow, PostgreSQL, SeaweedFS): no image.
test-host: setup
	SHUYU_MASKING_KEY_FILE=$(CURDIR)/var/secrets/masking.key $(PYTEST) --durations=10 -m host tests/integration

test-integration: images
	SHUYU_MASKING_KEY_FILE=$(CURDIR)/var/secrets/masking.key $(PYTEST) --durations=25 tests/integration

# The images build (mostly I/O: debootstrap, the wheelhouse, `docker build`) and the
# host-only integration tests run (mostly waiting on MLflow, PostgreSQL and SeaweedFS)
# in the background while lint and the unit tests run; the integration tests that need
# the images start once all three are done.
test: setup
	@mkdir -p var
	@echo "images: building in the background (log: var/images-build.log) …"
	@echo "host integration tests: running in the background (log: var/test-host.log) …"
	@$(SHUYU) images build > var/images-build.log 2>&1 & build=$$!; \
	  $(MAKE) --no-print-directory test-host > var/test-host.log 2>&1 & host=$$!; \
	  status=0; $(MAKE) --no-print-directory lint test-unit || status=$$?; \
	  echo "host integration tests: waiting …"; \
	  if wait $$host; then tail -15 var/test-host.log; else cat var/test-host.log; status=1; fi; \
	  echo "images: waiting for the build …"; \
	  if ! wait $$build; then tail -40 var/images-build.log; exit 1; fi; \
	  tail -8 var/images-build.log; \
	  [ $$status -eq 0 ] || exit $$status; \
	  SHUYU_MASKING_KEY_FILE=$(CURDIR)/var/secrets/masking.key $(PYTEST) --durations=25 -m "not host" tests/integration

bench: setup
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Asks first: it deletes every volume of the platform (the hub's and MLflow's state, the
# partners' workspaces, the views) and var/data, var/state; var/secrets stays.
clean: setup
	@printf '删除平台的全部卷及 var/data、var/state？Delete all the platform volumes, var/data and var/state? [y/N] '; \
	  read answer; case "$$answer" in y|Y|yes) ;; *) echo "nothing deleted"; exit 1;; esac
	$(SHUYU) platform down --volumes
	rm -rf var/data var/state
