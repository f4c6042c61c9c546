#!/usr/bin/env bash
# `make bench-rollups`: the roll-up step's throughput through Kafka (3 runs, median) and GET …/metrics over
# 7 days of roll-ups of a 20-deployment service (bench/rollups.py). A fresh broker of its own and the
# private PostgreSQL of scripts/services.sh (production's database; its `rendezvous` database, migrated).
#
#   bash scripts/bench_rollups.sh [--decisions 300000 --runs 3 ...]
#   RDV_BENCH_KAFKA_PORT=… RDV_PG_PORT=… RDV_REDIS_PORT=… bash scripts/bench_rollups.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export RDV_KAFKA_PORT="${RDV_BENCH_KAFKA_PORT:-39392}"
export RDV_KAFKA_DATA="${RDV_BENCH_KAFKA_DATA:-/tmp/rdv-bench-kafka-$RDV_KAFKA_PORT}"
export RDV_LOG_LEVEL="${RDV_LOG_LEVEL:-WARNING}"
bash scripts/kafka.sh reset >/dev/null 2>&1 || true
bash scripts/kafka.sh start
trap 'bash scripts/kafka.sh stop >/dev/null 2>&1 || true' EXIT
kafka_env=$(bash scripts/kafka.sh env admin)
while IFS= read -r line; do export "$line"; done <<<"$kafka_env"
service_env=$(bash scripts/services.sh start | grep -E '^(DATABASE_URL|REDIS_URL)=')
while IFS= read -r line; do export "$line"; done <<<"$service_env"
# The test settings read DATABASE_URL (PostgreSQL) and need no production secrets; DEBUG is off.
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-controlplane.settings.test}"
$PY manage.py migrate --no-input -v 0
echo "[bench] Kafka $RDV_KAFKA_BOOTSTRAP, $DATABASE_URL; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
$PY -m bench.rollups "$@"
