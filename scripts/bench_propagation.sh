#!/usr/bin/env bash
# `make bench-propagation`: how long a routing change takes to reach every worker (target p99 < 1 s).
# A fresh broker of its own, the bench seed, 2 runners + 2 rendezvous workers from scripts/stack.py, then
# ~100 routing changes through the API per run (bench/propagation.py).
#
#   bash scripts/bench_propagation.sh                          # 3 runs of 100 changes
#   RDV_BENCH_RUNNERS=4 RDV_BENCH_RENDEZVOUS=2 RDV_BENCH_RUNS=5 bash scripts/bench_propagation.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_KAFKA_PORT=39292 BENCH_HTTP_PORT=8277
# shellcheck source=scripts/bench_env.sh
source scripts/bench_env.sh
RUNS="${RDV_BENCH_RUNS:-3}"
CHANGES="${RDV_BENCH_CHANGES:-100}"
RUNNERS="${RDV_BENCH_RUNNERS:-2}"
RENDEZVOUS="${RDV_BENCH_RENDEZVOUS:-2}"
$PY manage.py rdv_bench_seed | tail -1

bench_stack_start .run/bench-propagation-stack.log --runners "$RUNNERS" --rendezvous "$RENDEZVOUS"
echo "[bench] platform up ($RUNNERS runner(s), $RENDEZVOUS rendezvous); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
$PY -m bench.propagation --url "$RDV_PUBLIC_URL" --token "$(cat .run/bench-token)" \
  --workers "$((RUNNERS + RENDEZVOUS))" --changes "$CHANGES" --runs "$RUNS" "$@"
echo "[bench] done; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
