#!/usr/bin/env bash
# `make run`: the whole platform on this machine with a demo tenant; Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-controlplane.settings.local}"
export RDV_KAFKA_PORT="${RDV_KAFKA_PORT:-9092}"
export RDV_KAFKA_BOOTSTRAP="${RDV_KAFKA_BOOTSTRAP:-127.0.0.1:$RDV_KAFKA_PORT}"
export RDV_HTTP_PORT="${RDV_HTTP_PORT:-8000}"
export RDV_PUBLIC_URL="${RDV_PUBLIC_URL:-http://127.0.0.1:$RDV_HTTP_PORT}"

bash scripts/kafka.sh start
# SASL credentials: this script's own commands run as the admin; scripts/stack.py starts every process
# as its role's principal (rdv-controlplane, rdv-runner, rdv-rendezvous).
kafka_env=$(bash scripts/kafka.sh env admin | grep -v '^RDV_KAFKA_BOOTSTRAP=')
while IFS= read -r line; do export "$line"; done <<<"$kafka_env"
# Redis carries Celery's queue (validation, rollout analysis); a private instance, installed if missing.
redis_env=$(bash scripts/services.sh redis | grep -E '^REDIS_URL=')
export "${redis_env?}"
mkdir -p .run
echo "[run] migrating the control-plane database (SQLite at .run/db.sqlite3)" >&2
$PY manage.py migrate --no-input -v 0
echo "[run] seeding the demo tenant (models trained from scikit-learn's bundled iris data)" >&2
$PY manage.py rdv_demo
exec $PY scripts/stack.py --port "$RDV_HTTP_PORT" --demo
