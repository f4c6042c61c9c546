#!/usr/bin/env bash
# Private PostgreSQL and Redis instances for tests and production-like local runs.
# They never touch Debian's own `main` cluster / system redis: own data dir, own ports,
# 127.0.0.1 only.
#
#   scripts/services.sh start    install packages if missing (postgresql, redis-server, bubblewrap), start
#                                both, print the URLs (stdout)
#   scripts/services.sh redis    install packages if missing, start Redis only (the demo's Celery broker)
#   scripts/services.sh stop     stop both
#   scripts/services.sh status   exit 0 if both answer, 3 otherwise
#   scripts/services.sh env      print the URLs (stdout) without starting anything
#
# Environment:
#   RDV_PG_PORT     (default 55432)            RDV_PG_DATA (default /tmp/rdv-pg-$RDV_PG_PORT)
#   RDV_REDIS_PORT  (default 56379)            pid/log: /tmp/rdv-redis-$RDV_REDIS_PORT.{pid,log}
#   RDV_PG_EPHEMERAL=1  no fsync (fsync, synchronous_commit and full_page_writes off) when this
#                   start launches PostgreSQL: for throwaway test data only. The test suite sets it:
#                   its commits and database flushes otherwise load the disk and stall the Kafka
#                   controller's own fsyncs for seconds.
#
# Database `rendezvous` owned by role `rendezvous` (password `rendezvous`, CREATEDB so that
# Django's test runner can create test_rendezvous). Auth is `trust` on 127.0.0.1 and the socket.
set -euo pipefail

RDV_PG_PORT="${RDV_PG_PORT:-55432}"
RDV_PG_DATA="${RDV_PG_DATA:-/tmp/rdv-pg-$RDV_PG_PORT}"
RDV_REDIS_PORT="${RDV_REDIS_PORT:-56379}"
REDIS_PIDFILE="/tmp/rdv-redis-$RDV_REDIS_PORT.pid"
REDIS_LOG="/tmp/rdv-redis-$RDV_REDIS_PORT.log"
PG_LOG="$RDV_PG_DATA/server.log"
DB_NAME=rendezvous
DB_USER=rendezvous
DB_PASS=rendezvous

log() { echo "[services] $*" >&2; }
die() { echo "[services] ERROR: $*" >&2; exit 1; }

now_ms() { date +%s%3N; }
elapsed() {
  local d=$(( $(now_ms) - $1 ))
  printf '%d.%d' $((d / 1000)) $(((d % 1000) / 100))
}

print_urls() {
  echo "DATABASE_URL=postgres://$DB_USER:$DB_PASS@127.0.0.1:$RDV_PG_PORT/$DB_NAME"
  echo "REDIS_URL=redis://127.0.0.1:$RDV_REDIS_PORT/0"
}

# --- packages ----------------------------------------------------------------

pg_bindir() {
  # Prefer the major version the data dir was created with; else the newest installed.
  local want="" d
  [[ -f "$RDV_PG_DATA/PG_VERSION" ]] && want="$(cat "$RDV_PG_DATA/PG_VERSION")"
  if [[ -n "$want" && -x "/usr/lib/postgresql/$want/bin/initdb" ]]; then
    echo "/usr/lib/postgresql/$want/bin"
    return 0
  fi
  d="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  [[ -n "$d" && -x "$d/initdb" ]] || return 1
  echo "$d"
}

ensure_packages() {
  # bubblewrap: the sandbox every model validation runs in (RDV_VALIDATION_SANDBOX=bwrap, DESIGN.md §5).
  # prometheus: the server tests/e2e/test_prometheus.py scrapes every process with (DESIGN.md §7).
  local missing=()
  pg_bindir >/dev/null || missing+=(postgresql)
  { command -v redis-server >/dev/null && command -v redis-cli >/dev/null; } || missing+=(redis-server)
  command -v bwrap >/dev/null || missing+=(bubblewrap)
  command -v prometheus >/dev/null || missing+=(prometheus)
  # chromium: the browser the console's Playwright tests drive (tests/e2e/test_console_browser.py).
  command -v chromium >/dev/null || missing+=(chromium)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $EUID -eq 0 ]] || die "${missing[*]} missing; install them (apt-get install ${missing[*]}) or run as root"
  local t0
  t0=$(now_ms)
  log "installing ${missing[*]} with apt-get (one-off, ~30 s) ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq -o Dpkg::Use-Pty=0 "${missing[@]}" >&2
  log "installed in $(elapsed "$t0")s"
  pg_bindir >/dev/null || die "initdb still missing after apt-get install postgresql"
  command -v redis-server >/dev/null || die "redis-server still missing after apt-get install"
  command -v bwrap >/dev/null || die "bwrap still missing after apt-get install bubblewrap"
  command -v prometheus >/dev/null || die "prometheus still missing after apt-get install prometheus"
  command -v chromium >/dev/null || die "chromium still missing after apt-get install chromium"
}

# Run a command as the postgres OS user when we are root (postgres refuses to run as root).
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# --- PostgreSQL --------------------------------------------------------------

pg_running() {
  local bin
  bin="$(pg_bindir)" || return 1
  [[ -f "$RDV_PG_DATA/PG_VERSION" ]] || return 1
  as_pg "$bin/pg_ctl" -D "$RDV_PG_DATA" status >/dev/null 2>&1
}

pg_start() {
  local bin t0
  bin="$(pg_bindir)"
  t0=$(now_ms)
  if [[ $EUID -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "OS user 'postgres' missing (is the postgresql package installed?)"
  fi

  if [[ ! -f "$RDV_PG_DATA/PG_VERSION" ]]; then
    if [[ -d "$RDV_PG_DATA" && -n "$(ls -A "$RDV_PG_DATA" 2>/dev/null)" ]]; then
      die "$RDV_PG_DATA exists, is not empty and is not a PostgreSQL data dir; remove it or set RDV_PG_DATA"
    fi
    log "initdb $RDV_PG_DATA (PostgreSQL $("$bin/postgres" --version | awk '{print $3}')) ..."
    mkdir -p "$RDV_PG_DATA"
    chmod 700 "$RDV_PG_DATA"
    [[ $EUID -eq 0 ]] && chown postgres:postgres "$RDV_PG_DATA"
    as_pg "$bin/initdb" -D "$RDV_PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=trust >"/tmp/rdv-pg-initdb-$RDV_PG_PORT.log" 2>&1 ||
      { cat "/tmp/rdv-pg-initdb-$RDV_PG_PORT.log" >&2; die "initdb failed"; }
    # Our settings live in rdv.conf, rewritten on every start (ports may change via env).
    echo "include_if_exists = 'rdv.conf'" >>"$RDV_PG_DATA/postgresql.conf"
  fi

  if pg_running; then
    log "postgres already running on 127.0.0.1:$RDV_PG_PORT (data $RDV_PG_DATA)"
  else
    as_pg tee "$RDV_PG_DATA/rdv.conf" >/dev/null <<EOF
# Generated by scripts/services.sh on every start.
listen_addresses = '127.0.0.1'
port = $RDV_PG_PORT
unix_socket_directories = '$RDV_PG_DATA'
max_connections = 200
shared_buffers = 128MB
logging_collector = off
EOF
    if [[ "${RDV_PG_EPHEMERAL:-0}" == 1 ]]; then
      as_pg tee -a "$RDV_PG_DATA/rdv.conf" >/dev/null <<EOF
# RDV_PG_EPHEMERAL=1: throwaway test data, no durability.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    fi
    log "starting postgres on 127.0.0.1:$RDV_PG_PORT (data $RDV_PG_DATA) ..."
    if ! as_pg "$bin/pg_ctl" -D "$RDV_PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null; then
      tail -n 30 "$PG_LOG" >&2 || true
      die "postgres failed to start (log: $PG_LOG)"
    fi
  fi

  local i
  for ((i = 0; i < 300; i++)); do
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$RDV_PG_PORT" && break
    sleep 0.2
  done
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$RDV_PG_PORT" || die "postgres not ready on 127.0.0.1:$RDV_PG_PORT after 60s (log: $PG_LOG)"

  # Role and database (idempotent).
  local psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$RDV_PG_PORT" -U postgres -d postgres)
  "${psql[@]}" >/dev/null <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASS';
  END IF;
END
\$\$;
SQL
  if [[ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]]; then
    "${psql[@]}" -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" >/dev/null
    log "created database $DB_NAME owned by $DB_USER"
  fi
  log "postgres ready on 127.0.0.1:$RDV_PG_PORT ($(elapsed "$t0")s)"
}

pg_stop() {
  local bin
  if ! bin="$(pg_bindir)" || ! pg_running; then
    log "postgres not running (port $RDV_PG_PORT, data $RDV_PG_DATA)"
    return 0
  fi
  log "stopping postgres (port $RDV_PG_PORT) ..."
  as_pg "$bin/pg_ctl" -D "$RDV_PG_DATA" -m fast -w -t 30 stop >/dev/null ||
    die "pg_ctl stop failed (log: $PG_LOG)"
  log "postgres stopped"
}

# --- Redis -------------------------------------------------------------------

redis_ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$RDV_REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]; }

redis_start() {
  local t0
  t0=$(now_ms)
  if redis_ping; then
    log "redis already running on 127.0.0.1:$RDV_REDIS_PORT"
    return 0
  fi
  log "starting redis on 127.0.0.1:$RDV_REDIS_PORT (no persistence) ..."
  rm -f "$REDIS_PIDFILE"
  # --save "" and --appendonly no: no persistence. --dir /tmp: nothing is written there anyway.
  redis-server --port "$RDV_REDIS_PORT" --bind 127.0.0.1 --protected-mode yes \
    --daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" \
    --save "" --appendonly no --dir /tmp --databases 16 </dev/null >/dev/null ||
    { tail -n 20 "$REDIS_LOG" >&2 || true; die "redis-server failed to start (log: $REDIS_LOG)"; }
  local i
  for ((i = 0; i < 150; i++)); do
    redis_ping && break
    sleep 0.2
  done
  redis_ping || { tail -n 20 "$REDIS_LOG" >&2 || true; die "redis not answering PING on 127.0.0.1:$RDV_REDIS_PORT after 30s (log: $REDIS_LOG)"; }
  log "redis ready on 127.0.0.1:$RDV_REDIS_PORT ($(elapsed "$t0")s)"
}

redis_stop() {
  if redis_ping; then
    log "stopping redis (port $RDV_REDIS_PORT) ..."
    redis-cli -h 127.0.0.1 -p "$RDV_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    local i
    for ((i = 0; i < 50; i++)); do
      redis_ping || break
      sleep 0.2
    done
    redis_ping && die "redis on port $RDV_REDIS_PORT did not shut down"
    log "redis stopped"
  else
    log "redis not running (port $RDV_REDIS_PORT)"
  fi
  # A pidfile left by a redis that stopped answering: kill that process if it is ours.
  if [[ -f "$REDIS_PIDFILE" ]]; then
    local pid
    pid="$(cat "$REDIS_PIDFILE" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "redis-server.*:$RDV_REDIS_PORT"; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
    rm -f "$REDIS_PIDFILE"
  fi
}

# --- main --------------------------------------------------------------------

case "${1:-}" in
  start)
    ensure_packages
    pg_start
    redis_start
    print_urls
    ;;
  redis)
    ensure_packages
    redis_start
    echo "REDIS_URL=redis://127.0.0.1:$RDV_REDIS_PORT/0"
    ;;
  stop)
    pg_stop
    if command -v redis-cli >/dev/null; then redis_stop; fi
    ;;
  status)
    rc=0
    if pg_running; then log "postgres running on 127.0.0.1:$RDV_PG_PORT"; else log "postgres not running"; rc=3; fi
    if command -v redis-cli >/dev/null && redis_ping; then log "redis running on 127.0.0.1:$RDV_REDIS_PORT"; else log "redis not running"; rc=3; fi
    print_urls
    exit "$rc"
    ;;
  env) print_urls ;;
  *)
    echo "usage: $0 {start|redis|stop|status|env}" >&2
    exit 2
    ;;
esac
