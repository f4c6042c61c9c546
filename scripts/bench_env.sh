# Sourced by the benchmark scripts: a fresh broker, a SQLite database and media root of their own
# (never the demo's), the migrated schema. Callers set BENCH_KAFKA_PORT and BENCH_HTTP_PORT first.
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-controlplane.settings.local}"
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
mkdir -p .run bench/results
$PY manage.py migrate --no-input -v 0
