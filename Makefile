# Rendezvous: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
HTTP_PORT ?= 8000

.PHONY: run test bench bench-rendezvous bench-runner bench-propagation bench-redos bench-rollups stop lint venv kafka-up kafka-down

venv:
	@bash scripts/bootstrap.sh

## Start Kafka, the control plane with a demo tenant, a model runner and a rendezvous worker.
run: venv
	@bash scripts/run.sh

## Run the whole test suite against real Kafka, PostgreSQL and Redis (started when missing).
test: venv
	@bash scripts/test.sh $(ARGS)

## Benchmarks: HTTP predict against the raw three-hop Kafka pipeline on the same broker.
bench: venv
	@bash scripts/bench.sh

## Throughput with three models per request and deadline adherence, Kafka-direct.
bench-rendezvous: venv
	@bash scripts/bench_rendezvous.sh

## One model runner hosting 500 versions across 50 services: memory and load time per model.
bench-runner: venv
	@bash scripts/bench_runner.sh $(ARGS)

## How long a routing change takes to reach every worker (2 runners + 2 rendezvous, p99 target < 1 s).
bench-propagation: venv
	@bash scripts/bench_propagation.sh

## Tenant B floods a catastrophic-backtracking schema; tenant A's p99 with and without it (target ≤ +20 %).
bench-redos: venv
	@bash scripts/bench_redos.sh $(ARGS)

## The roll-up consumer's decisions/s through Kafka and GET …/metrics?window=7d (docs/benchmarks.md).
bench-rollups: venv
	@bash scripts/bench_rollups.sh $(ARGS)

stop:
	@bash scripts/kafka.sh stop

lint: venv
	@$(PY) -m ruff check .

kafka-up:
	@bash scripts/kafka.sh start

kafka-down:
	@bash scripts/kafka.sh stop
