#!/usr/bin/env bash
# `make bench`: a fresh broker and the demo platform, then HTTP predict vs the raw Kafka pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_KAFKA_PORT=39092 BENCH_HTTP_PORT=8077
# shellcheck source=scripts/bench_env.sh
source scripts/bench_env.sh
$PY manage.py rdv_demo >/dev/null

stack_log=.run/bench-stack.log
$PY scripts/stack.py --no-celery --port "$RDV_HTTP_PORT" >"$stack_log" 2>&1 &
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
