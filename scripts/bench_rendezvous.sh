#!/usr/bin/env bash
# Kafka-direct benchmarks of the rendezvous: highest sustained throughput with three models per
# request (bench/throughput.py) and deadline adherence (bench/deadline.py), on a fresh broker of
# their own, a SQLite database of their own (.run/bench.sqlite3) and the platform from scripts/stack.py.
#
#   bash scripts/bench_rendezvous.sh                 # 3 sweeps, 3 deadline runs
#   RDV_BENCH_RUNS=1 RDV_BENCH_RATES=500,1000 bash scripts/bench_rendezvous.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_KAFKA_PORT=39192 BENCH_HTTP_PORT=8177
# shellcheck source=scripts/bench_env.sh
source scripts/bench_env.sh
RUNS="${RDV_BENCH_RUNS:-3}"
RATES="${RDV_BENCH_RATES:-250,500,1000,1500,2000,2500,3000}"
RUNNERS="${RDV_BENCH_RUNNERS:-1}"
RENDEZVOUS="${RDV_BENCH_RENDEZVOUS:-1}"
# Unmeasured load first: a fresh broker's JIT compiler takes a core for minutes while the platform loads it
# (2026-12-03: still 18 % of the broker's CPU 2.5 min in; the first sweeps after a 30 s pre-warm failed at
# 250 req/s, the third passed). A production broker has been up for days.
PREWARM="${RDV_BENCH_PREWARM_S:-90}"
$PY manage.py rdv_bench_seed | tail -1

bench_stack_start .run/bench-rendezvous-stack.log --runners "$RUNNERS" --rendezvous "$RENDEZVOUS"

# Which processes to account CPU to, per step: the stack's children and the broker.
watch=""
while read -r pid args; do
  case "$args" in
    *"-m model_runner"*) name=runner ;;
    *"-m rendezvous_worker"*) name=rendezvous ;;
    *uvicorn*) name=gateway ;;
    *consume_decisions*) name=decisions ;;
    *consume_rollups*) name=rollups ;;
    *consume_status*) name=status ;;
    *) continue ;;
  esac
  n=0; while [[ ",$watch" == *",$name$n="* ]]; do n=$((n + 1)); done
  watch+="${watch:+,}$name$n=$pid"
done < <(ps -o pid=,args= --ppid "$stack_pid")
watch+=",broker=$(cat "$RDV_KAFKA_DATA/kafka.pid")"
echo "[bench] platform up ($RUNNERS runner(s), $RENDEZVOUS rendezvous); load $(cut -d' ' -f1-3 /proc/loadavg); watching $watch" >&2

$PY -m bench.throughput --rates "$RATES" --runs "$RUNS" --prewarm "$PREWARM" --watch "$watch"
$PY -m bench.deadline --services late,mute --rate 200 --seconds 10 --runs "$RUNS"
echo "[bench] done; load $(cut -d' ' -f1-3 /proc/loadavg); JSON reports in bench/results/" >&2
