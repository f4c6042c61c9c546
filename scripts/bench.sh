#!/usr/bin/env bash
# `make bench`: a fresh broker and the demo platform, then HTTP predict vs the raw Kafka pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_KAFKA_PORT=39092 BENCH_HTTP_PORT=8077
# shellcheck source=scripts/bench_env.sh
source scripts/bench_env.sh
$PY manage.py rdv_demo >/dev/null

bench_stack_start .run/bench-stack.log
echo "[bench] platform up; measuring (this takes a few minutes)" >&2
$PY -m bench.compare --url "$RDV_PUBLIC_URL" --token "$(cat .run/demo-token)" "$@"
