# Everything a newcomer needs: `make run` and `make test` do all the set-up themselves.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STATE ?= .local/services

.PHONY: install run stop test test-slow test-unit lint example clean bench bench-smoke chaos

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[test]"
	touch $@

# The service with its local Kafka and PostgreSQL (kept running after Ctrl-C: `make stop`).
run: install
	@bash deploy/local/run.sh $(STATE)

stop:
	bash deploy/local/services.sh down $(STATE)

# Unit tests, then integration tests against a private broker and database that the
# test session starts and stops (or KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when set).
test: install
	$(PY) -m pytest -m "not slow"

# Outage and rebalance tests (a few minutes): each starts, stops and restarts its own
# broker and database, whatever KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL say.
test-slow: install
	$(PY) -m pytest -m slow

test-unit: install
	$(PY) -m pytest tests/domain tests/schemas tests/service tests/chaos tests/cases_cli tests/consumers

lint: install
	$(VENV)/bin/ruff check .

# Publish the sample scenario to the services `make run` started, then print its events.
example: install
	@eval "$$(bash deploy/local/services.sh env $(STATE))" && export KAFKA_BOOTSTRAP_SERVERS DATABASE_URL \
	  && CASES=$(VENV)/bin/cases bash examples/publish.sh && sleep 3 \
	  && $(VENV)/bin/cases events --from-beginning

# The same seeded workload without and with faults (SIGKILLed consumers and relay, a
# broker and a database restart), on fresh services of their own; prints the figures and
# fails when anything was lost, doubled or changed. `make chaos SEED=7 ORDERS=4000`;
# more options: `.venv/bin/python -m chaos.run --help` (CHAOS_ARGS="--kills 30").
SEED ?= 1
chaos: install
	$(PY) -m chaos.run --seed $(SEED) $(if $(ORDERS),--orders $(ORDERS)) $(CHAOS_ARGS)

clean:
	-bash deploy/local/services.sh down $(STATE)
	rm -rf .local

.PHONY: image-check deploy-check

# The container image's install without Docker: the build context as Docker assembles it
# (.dockerignore), the Dockerfile's install steps into a new virtualenv, then `cases run`
# from it against a broker and database (deploy/image/check.sh; needs Go and python3.11).
image-check:
	bash deploy/image/check.sh

# The Kubernetes manifests, compose file, alert rules and dashboard, checked offline
# against Kubernetes', KEDA's and Compose's schemas and with promtool (deploy/validate.sh;
# its tools are cached in ~/.cache/order-cases, promtool built there once).
deploy-check:
	bash deploy/validate.sh

# Throughput, latency, memory and a profile on a seeded workload (bench/run.py); starts
# its own Kafka and PostgreSQL unless KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL are set.
# BENCH_ARGS passes options, e.g. `make bench BENCH_ARGS="--orders 100000 --profile"`.
bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

# The same, small (about a minute): CI runs it so the benchmark cannot rot.
bench-smoke: install
	$(PY) -m bench.run --smoke
