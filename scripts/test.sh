#!/usr/bin/env bash
# `make test`: the suite against a private Kafka broker, PostgreSQL and Redis, all started here.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

# A broker of its own for the tests, on another port and with fresh storage every run. The storage is
# in memory when /dev/shm is there: the KRaft controller fsyncs its metadata log on every write, and on
# a busy disk a write took 5-8 s, long enough for the controller to fence its own broker (every
# partition offline, produce unacknowledged). Test data is throwaway anyway.
export RDV_KAFKA_PORT="${RDV_TEST_KAFKA_PORT:-19092}"
test_kafka_root=/tmp
if [[ -d /dev/shm && -w /dev/shm ]]; then test_kafka_root=/dev/shm; fi
export RDV_KAFKA_DATA="${RDV_TEST_KAFKA_DATA:-$test_kafka_root/rdv-test-kafka-$RDV_KAFKA_PORT}"
bash scripts/kafka.sh reset >/dev/null 2>&1 || true
bash scripts/kafka.sh start
trap 'bash scripts/kafka.sh stop >/dev/null 2>&1 || true' EXIT

service_env=$(RDV_PG_EPHEMERAL=1 bash scripts/services.sh start | grep -E '^(DATABASE_URL|REDIS_URL)=')
while IFS= read -r line; do export "$line"; done <<<"$service_env"
# The broker authenticates (SASL/SCRAM) and authorizes every client: the tests connect as the admin
# (super user); the workers they start get their own principals from the RDV_KAFKA_<ROLE>_* lines.
kafka_env=$(bash scripts/kafka.sh env admin)
while IFS= read -r line; do export "$line"; done <<<"$kafka_env"
export DJANGO_SETTINGS_MODULE=controlplane.settings.test

echo "[test] Kafka $RDV_KAFKA_BOOTSTRAP, $DATABASE_URL, $REDIS_URL" >&2
# --create-db: a run that was interrupted leaves its test database behind; start from a fresh one.
# The slowest tests are listed at the end: the suite must stay under 20 minutes in CI.
$PY -m pytest --create-db --durations=25 "$@"
