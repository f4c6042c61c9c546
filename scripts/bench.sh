#!/usr/bin/env bash
# `make bench`: a fresh broker and the demo platform, then HTTP predict vs the raw Kafka pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-controlplane.settings.local}"
export RDV_SQLITE_PATH="${RDV_SQLITE_PATH:-$PWD/.run/bench.sqlite3}"
export RDV_MEDIA_ROOT="${RDV_MEDIA_ROOT:-$PWD/.run/bench-media}"
export RDV_KAFKA_PORT="${RDV_BENCH_KAFKA_PORT:-39092}"
export RDV_KAFKA_DATA="${RDV_BENCH_KAFKA_DATA:-/tmp/rdv-bench-kafka-$RDV_KAFKA_PORT}"
export RDV_KAFKA_BOOTSTRAP="127.0.0.1:$RDV_KAFKA_PORT"
export RDV_HTTP_PORT="${RDV_BENCH_HTTP_PORT:-8077}"
export RDV_PUBLIC_URL="http://127.0.0.1:$RDV_HTTP_PORT"
export RDV_LOG_LEVEL="${RDV_LOG_LEVEL:-WARNING}"

bash scripts/kafka.sh reset >/dev/null 2>&1 || true
bash scripts/kafka.sh start
mkdir -p .run bench/results
$PY manage.py migrate --no-input -v 0
$PY manage.py rdv_demo >/dev/null

stack_log=.run/bench-stack.log
$PY scripts/stack.py --port "$RDV_HTTP_PORT" >"$stack_log" 2>&1 &
stack_pid=$!
cleanup() { kill "$stack_pid" 2>/dev/null; wait "$stack_pid" 2>/dev/null || true; bash scripts/kafka.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
for _ in $(seq 1 180); do
  grep -q "\[stack\] ready" "$stack_log" && break
  kill -0 "$stack_pid" 2>/dev/null || { cat "$stack_log"; exit 1; }
  sleep 0.5
done
grep -q "\[stack\] ready" "$stack_log" || { cat "$stack_log"; echo "[bench] the platform did not start" >&2; exit 1; }
echo "[bench] platform up; measuring (this takes a few minutes)" >&2
$PY -m bench.compare --url "$RDV_PUBLIC_URL" --token "$(cat .run/demo-token)" "$@"
