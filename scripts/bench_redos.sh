#!/usr/bin/env bash
# `make bench-redos`: a fresh broker, the demo platform and Redis (quotas), then tenant B's ReDoS flood
# against tenant A's steady predictions (bench/redos.py). Extra arguments go to bench/redos.py.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_KAFKA_PORT=39292 BENCH_HTTP_PORT=8078
export RDV_SQLITE_PATH="${RDV_SQLITE_PATH:-$PWD/.run/bench-redos.sqlite3}"
# shellcheck source=scripts/bench_env.sh
source scripts/bench_env.sh
# The rate and in-flight quotas live in Redis (a private instance, as `make run` uses).
redis_env=$(bash scripts/services.sh redis | grep -E '^REDIS_URL=')
export "${redis_env?}"
$PY manage.py rdv_demo >/dev/null

bench_stack_start .run/bench-redos-stack.log
echo "[bench] platform up; measuring tenant A with and without tenant B's ReDoS flood" >&2
$PY -m bench.redos --url "$RDV_PUBLIC_URL" --token "$(cat .run/demo-token)" --out bench/results/redos.json "$@"
