# Switchboard: `make run` starts the whole platform locally; `make test` runs the suite.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

# The test suite runs against real PostgreSQL and Redis (design.md §3).
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/test)
TEST_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/0)
TEST_ENV := DEBUG=true DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	CELERY_BROKER_URL=$(TEST_REDIS_URL) PASSWORD_HASHERS=fast-for-tests \
	REQUIRE_EMAIL_VERIFICATION=true LIVEKIT_URL=http://127.0.0.1:1 \
	SECURE_SSL_REDIRECT=false CONN_MAX_AGE=0 \
	TWILIO_API_BASE_URL=http://127.0.0.1:1 TELNYX_API_BASE_URL=http://127.0.0.1:1/v2

.PHONY: install run test test-fast lint fmt bench faults services-check clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,agent]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m tools.run_local

services-check: $(STAMP)
	@$(BIN)/python -m tools.check_services "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"

.PHONY: browser-check
browser-check: $(STAMP)
	@$(BIN)/python -m tools.check_browser

test: $(STAMP) services-check browser-check
	$(TEST_ENV) $(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy telephony webhooks emulators
	$(BIN)/bandit -q -r config tenants telephony webhooks emulators agent tools frontdesk -x '*/migrations/*' --severity-level high
	$(BIN)/python -m tools.size_check

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) services-check
	$(TEST_ENV) $(BIN)/python -m bench

# The fault rows restart the PostgreSQL cluster FAULTS_PG_CLUSTER ("<version> <name>"), which
# must be the one TEST_DATABASE_URL points at (the test checks the port). Never aim them at a
# server other people use: .ci/run gives them a cluster of their own on port 5433.
FAULTS_PG_CLUSTER ?= $(shell ls /etc/postgresql 2>/dev/null | head -1) main

faults: $(STAMP) services-check
	$(TEST_ENV) FAULTS_PG_CLUSTER="$(FAULTS_PG_CLUSTER)" $(BIN)/pytest -p no:cacheprovider -m faults tests/e2e $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var staticfiles
