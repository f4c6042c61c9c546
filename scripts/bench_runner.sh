#!/usr/bin/env bash
# `make bench-runner`: one model runner hosting 500 versions across 50 services (bench/runner_capacity.py),
# on a fresh broker, a fresh SQLite database and media root of its own.
#
#   bash scripts/bench_runner.sh                          # 50 services x 10 versions, 6 new versions
#   bash scripts/bench_runner.sh --services 10 --versions 5
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_KAFKA_PORT=39392 BENCH_HTTP_PORT=8178
export RDV_SQLITE_PATH="${RDV_SQLITE_PATH:-$PWD/.run/bench-runner.sqlite3}"
export RDV_MEDIA_ROOT="${RDV_MEDIA_ROOT:-$PWD/.run/bench-runner-media}"
rm -rf "$RDV_SQLITE_PATH" "$RDV_MEDIA_ROOT"
# The seed validates its own artifacts in-process (bench/runner_capacity.py): no Celery worker, so the
# validation tasks the uploads queue go to kombu's in-memory transport and are dropped with the process.
export RDV_CELERY_BROKER_URL="memory://"
# shellcheck source=scripts/bench_env.sh
source scripts/bench_env.sh
cleanup() { bash scripts/kafka.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
echo "[bench] broker up; load $(cut -d' ' -f1-3 /proc/loadavg); seeding and measuring (a few minutes)" >&2
$PY -m bench.runner_capacity --port "$RDV_HTTP_PORT" "$@"
echo "[bench] done; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
