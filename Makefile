# Everything a newcomer needs: `make run` and `make test` do all the set-up themselves.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STATE ?= .local/services

.PHONY: install run stop test test-slow test-unit lint example clean bench bench-smoke bench-compare bench-scaling chaos \
  contract-check contract-html contract-snapshot contract-vectors interop

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
	$(PY) -m pytest tests/domain tests/schemas tests/contract tests/service tests/storage \
	  tests/chaos tests/sweeper tests/consumers tests/workload tests/cases_cli tests/relay \
	  tests/configuration tests/bootstrap tests/observability tests/bench

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Publish the sample scenario to the services `make run` started, then print its events.
example: install
	@eval "$$(bash deploy/local/services.sh env $(STATE))" && export KAFKA_BOOTSTRAP_SERVERS DATABASE_URL \
	  && CASES=$(VENV)/bin/cases bash examples/publish.sh && sleep 3 \
	  && $(VENV)/bin/cases events --from-beginning

# The same seeded workload, published before the fleet starts, drained without and with
# faults (SIGKILLed consumers, relay and sweepers, a broker and a database restart), on
# fresh services of their own; prints the figures and fails when anything was lost,
# doubled or changed. `make chaos SEED=7 ORDERS=4000`; more options:
# `.venv/bin/python -m chaos.run --help` (CHAOS_ARGS="--kills 30", "--unordered").
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

# Throughput, cost per record, latency and memory on a seeded workload (bench/run.py); starts
# its own Kafka and PostgreSQL unless KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL are set.
# BENCH_ARGS passes options, e.g. `make bench BENCH_ARGS="--orders 100000 --repeat 5"`.
bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

# Two revisions' mixed passes alternated on one broker, database and workload, to tell a
# change of a few percent (bench/compare.py): `make bench-compare BASE=main~1`, and
# COMPARE_ARGS="--rounds 4" or a second revision to compare with instead of this checkout.
bench-compare: install
	@test -n "$(BASE)" || { echo "make bench-compare: say which revision, e.g. BASE=main~1" >&2; exit 2; }
	$(PY) -m bench.compare $(BASE) $(COMPARE_ARGS)

# The same, small (about a minute), and bench-compare of this checkout against its own
# commit, smaller still: CI runs them so the benchmarks cannot rot.
bench-smoke: install
	$(PY) -m bench.run --smoke
	$(PY) -m bench.compare HEAD --orders 200 --rounds 1

# One and two instances of each consumer in its group on the same backlog (4 partitions a
# topic), for docs/scaling.md. `make bench-scaling SCALING_ARGS="--orders 50000"`.
bench-scaling: install
	$(PY) -m bench.scaling $(SCALING_ARGS)

# The contract (docs/contract.md, docs/asyncapi.yaml). contract-check: the AsyncAPI
# document is valid and covers every schema (the AsyncAPI parser, from npm, pinned in
# tools/asyncapi), and every schema keeps the evolution rule against its released versions
# (Apache Avro's Java SchemaCompatibility, tools/avro-contract, built once per content).
# A schema change is released by writing its self-contained copy to schemas/avro/history;
# the codec's test vectors come from the same Java library.
ASYNCAPI := tools/asyncapi

$(ASYNCAPI)/node_modules/.installed: $(ASYNCAPI)/package.json $(ASYNCAPI)/package-lock.json
	cd $(ASYNCAPI) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

contract-check: $(ASYNCAPI)/node_modules/.installed
	node $(ASYNCAPI)/validate.mjs docs/asyncapi.yaml schemas/avro
	java -cp "$$(bash tools/java/build.sh tools/avro-contract)" aliberber.cases.contract.Main \
	  check schemas/avro

# docs/asyncapi.yaml as one HTML page, .local/contract-html/index.html (works offline once
# the npm packages are installed: the template is a local package, not fetched).
contract-html: $(ASYNCAPI)/node_modules/.installed
	node $(ASYNCAPI)/html.mjs docs/asyncapi.yaml .local/contract-html

contract-snapshot: install
	$(PY) tools/contract/snapshot.py

contract-vectors: install
	$(PY) tools/contract/vectors.py

# A Java consumer (examples/java-case-events: kafka-clients and Apache Avro only) reads
# case-events after the sample scenario is published to the services `make run` started
# (or to KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL where both are set, with the service running).
interop: install
	@if [[ -z "$${KAFKA_BOOTSTRAP_SERVERS:-}" || -z "$${DATABASE_URL:-}" ]]; then \
	  eval "$$(bash deploy/local/services.sh env $(STATE))"; fi \
	  && export KAFKA_BOOTSTRAP_SERVERS DATABASE_URL \
	  && classpath=$$(bash tools/java/build.sh examples/java-case-events) \
	  && CASES=$(VENV)/bin/cases bash examples/publish.sh && sleep 3 \
	  && java -cp "$$classpath" aliberber.cases.example.CaseEventsReader case-events \
	       --schemas schemas/avro
