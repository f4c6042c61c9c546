# Sourced by the benchmark scripts: a fresh broker, a SQLite database and media root of their own
# (never the demo's), the migrated schema. Callers set BENCH_KAFKA_PORT and BENCH_HTTP_PORT first.
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-controlplane.settings.local}"
# Measure what production runs: DEBUG keeps and formats every SQL statement (a tenth of the decisions
# consumer's CPU at 1,500 req/s).
export DJANGO_DEBUG="${DJANGO_DEBUG:-false}"
export RDV_SQLITE_PATH="${RDV_SQLITE_PATH:-$PWD/.run/bench.sqlite3}"
export RDV_MEDIA_ROOT="${RDV_MEDIA_ROOT:-$PWD/.run/bench-media}"
export RDV_KAFKA_PORT="${RDV_BENCH_KAFKA_PORT:-$BENCH_KAFKA_PORT}"
export RDV_KAFKA_DATA="${RDV_BENCH_KAFKA_DATA:-/tmp/rdv-bench-kafka-$RDV_KAFKA_PORT}"
export RDV_KAFKA_BOOTSTRAP="127.0.0.1:$RDV_KAFKA_PORT"
export RDV_HTTP_PORT="${RDV_BENCH_HTTP_PORT:-$BENCH_HTTP_PORT}"
export RDV_PUBLIC_URL="http://127.0.0.1:$RDV_HTTP_PORT"
export RDV_LOG_LEVEL="${RDV_LOG_LEVEL:-WARNING}"

bash scripts/kafka.sh reset >/dev/null 2>&1 || true
bash scripts/kafka.sh start
# SASL credentials (the admin's, and every role's for scripts/stack.py).
kafka_env=$(bash scripts/kafka.sh env admin)
while IFS= read -r line; do export "$line"; done <<<"$kafka_env"
mkdir -p .run bench/results
$PY manage.py migrate --no-input -v 0

# bench_stack_start LOG [scripts/stack.py args...]: the platform from scripts/stack.py (no Celery) in the
# background, logging to LOG; stopped with the broker when the calling script exits. Sets stack_pid and
# returns once the stack prints "[stack] ready" (or exits 1 with its log).
bench_stack_start() {
  stack_log="$1"
  shift
  $PY scripts/stack.py --no-celery --port "$RDV_HTTP_PORT" "$@" >"$stack_log" 2>&1 &
  stack_pid=$!
  trap bench_stack_stop EXIT
  for _ in $(seq 1 180); do
    grep -q "\[stack\] ready" "$stack_log" && break
    kill -0 "$stack_pid" 2>/dev/null || { cat "$stack_log"; exit 1; }
    sleep 0.5
  done
  grep -q "\[stack\] ready" "$stack_log" || { cat "$stack_log"; echo "[bench] the platform did not start" >&2; exit 1; }
}

bench_stack_stop() {
  kill "$stack_pid" 2>/dev/null || true
  wait "$stack_pid" 2>/dev/null || true
  bash scripts/kafka.sh stop >/dev/null 2>&1 || true
}
