# Image Studio. `make run` serves the studio with its worker; `make test` runs the whole suite.
# Both set up everything they need on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Production-like environment for `make check` (deploy checks); values are throwaway.
PROD_ENV := DEBUG=false ALLOWED_HOSTS=studio.example.com \
	SECRET_KEY=check-only-0123456789abcdefghijklmnopqrstuvwxyz0123456789 \
	EMAIL_HOST=smtp.example.com \
	STUDIO_VAULT_KEYS=$$($(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')

.PHONY: install run test test-suite lint format check chromium axe migrate fakes bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

migrate: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable

run: migrate
	$(BIN)/python manage.py runstudio --port $(PORT)

# Browser tests use Debian's chromium. Install it where we can (root on Debian); otherwise the
# e2e tests skip themselves and say so loudly.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "WARNING: /usr/bin/chromium is missing and cannot be installed here: browser tests will be SKIPPED."; \
	fi

# axe-core for the accessibility browser tests (tests/e2e/test_every_page.py), pinned, from the
# npm registry; kept in var/, never committed.
AXE_VERSION := 4.14.1
AXE := var/axe-core-$(AXE_VERSION)/axe.min.js
axe: $(AXE)

$(AXE):
	@if command -v npm >/dev/null; then \
		mkdir -p $(dir $@) && cd $(dir $@) && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null \
		&& tar -xzf axe-core-$(AXE_VERSION).tgz --strip-components=1 package/axe.min.js \
		&& rm axe-core-$(AXE_VERSION).tgz; \
	else \
		echo "WARNING: npm is missing, so axe-core cannot be fetched: the axe browser tests will be SKIPPED."; \
	fi

test: install chromium axe test-suite

# The tests that start real qcluster/gunicorn processes, the race tests and the rate-limit
# learning test run after the rest, one at a time, in a pytest process of their own: they time
# real processes and requests, and beside another xdist worker on 2 cores their requests were
# delayed past the margins they allow. (They were first split off for a corrupt SQLite test
# database, since explained and fixed: docs/engine.md, "The real-worker tests".)
SEPARATE := tests/engine/test_worker.py tests/prod tests/test_races.py tests/engine/test_learned_limit.py
# The rest runs in parallel, one pytest-xdist worker per core (each with its own test
# database): about 10 minutes on 2 cores (December 2026). PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto
test-suite:
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS) $(addprefix --ignore=,$(SEPARATE))
	$(BIN)/pytest $(PYTEST_ARGS) $(SEPARATE)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: install
	$(PROD_ENV) $(BIN)/python manage.py check --deploy --fail-level WARNING
	$(BIN)/python manage.py makemigrations --check --dry-run

# Performance figures with their goals (benchmarks/README.md); about 5 minutes on 2 cores.
# BENCH_DATABASE_URL=postgres://… runs them on PostgreSQL instead of SQLite.
bench: install
	$(BIN)/python -m benchmarks.run $(BENCH)

fakes: install
	$(BIN)/python -m studio.vendors.fakes all

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
