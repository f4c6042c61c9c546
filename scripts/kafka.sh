#!/usr/bin/env bash
# Local single-node Apache Kafka 4.1.1 broker (KRaft, combined broker+controller), no Docker.
#
#   scripts/kafka.sh fetch    download the broker jars from Maven Central (once, cached)
#   scripts/kafka.sh start    fetch if needed, format storage once, start, wait until ready
#   scripts/kafka.sh stop     graceful stop (SIGTERM), SIGKILL after 20 s
#   scripts/kafka.sh status   exit 0 if running, 3 if not
#   scripts/kafka.sh reset    stop and delete the data dir
#   scripts/kafka.sh env [ROLE]  print the env lines a client needs (bootstrap, SASL settings and
#                             credentials): ROLE admin (default; also prints every role's credentials
#                             as RDV_KAFKA_<ROLE>_USERNAME/PASSWORD), controlplane, runner, rendezvous
#
# Security (DESIGN.md §3 *Authentication and ACLs*): clients connect over SASL_PLAINTEXT with SCRAM-SHA-512,
# and the KRaft StandardAuthorizer denies whatever no ACL allows. The platform's principals (rdv-admin,
# the super user; rdv-controlplane, rdv-runner, rdv-rendezvous) get random passwords at the first
# start, kept in $RDV_KAFKA_DATA/credentials.env (mode 600, outside the repository) and added to the
# metadata log when the storage is formatted; their ACLs are (re)applied at every start by
# `python -m contracts.kafka.platform_acls`. The controller listener authenticates with SASL/PLAIN
# against a static JAAS entry for the admin only (KRaft controllers cannot use SCRAM: they need the
# credentials before they have read the metadata log that holds them). Both listeners are on
# 127.0.0.1; in production put TLS under them (SASL_SSL) so passwords and records are not readable on
# the wire.
#
# Environment:
#   RDV_KAFKA_HOME             jar cache        (default $HOME/.cache/rendezvous/kafka-4.1.1)
#   RDV_KAFKA_PORT             client port      (default 9092), listens on 127.0.0.1 only
#   RDV_KAFKA_CONTROLLER_PORT  controller port  (default RDV_KAFKA_PORT+1)
#   RDV_KAFKA_DATA             data dir         (default $HOME/.cache/rendezvous/kafka-data-$RDV_KAFKA_PORT)
#   RDV_KAFKA_HEAP             JVM max heap     (default 512m)
#   RDV_KAFKA_START_TIMEOUT    seconds to wait for readiness (default 60)
#   RDV_PYTHON                 python used for the metadata readiness check (optional)
#
# Several brokers on different ports (each with its own data dir) can run side by side.
set -euo pipefail

KAFKA_VERSION=4.1.1
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
POM="$SCRIPT_DIR/kafka/pom.xml"

RDV_KAFKA_HOME="${RDV_KAFKA_HOME:-$HOME/.cache/rendezvous/kafka-$KAFKA_VERSION}"
RDV_KAFKA_PORT="${RDV_KAFKA_PORT:-9092}"
RDV_KAFKA_CONTROLLER_PORT="${RDV_KAFKA_CONTROLLER_PORT:-$((RDV_KAFKA_PORT + 1))}"
RDV_KAFKA_DATA="${RDV_KAFKA_DATA:-$HOME/.cache/rendezvous/kafka-data-$RDV_KAFKA_PORT}"
RDV_KAFKA_HEAP="${RDV_KAFKA_HEAP:-512m}"
RDV_KAFKA_START_TIMEOUT="${RDV_KAFKA_START_TIMEOUT:-60}"

LIBS="$RDV_KAFKA_HOME/libs"
PIDFILE="$RDV_KAFKA_DATA/kafka.pid"
PROPS="$RDV_KAFKA_DATA/server.properties"
LOG4J="$RDV_KAFKA_DATA/log4j2.xml"
SERVER_LOG="$RDV_KAFKA_DATA/server.log"   # broker log (log4j2)
STDOUT_LOG="$RDV_KAFKA_DATA/kafka.out"    # JVM stdout/stderr (normally near-empty)
LOG_DIRS="$RDV_KAFKA_DATA/logs"           # Kafka's record storage
CREDS="$RDV_KAFKA_DATA/credentials.env"    # the principals' passwords (mode 600)
SASL_MECHANISM=SCRAM-SHA-512
# The platform's principals: role -> Kafka user name (contracts/kafka/acls.py PLATFORM_PRINCIPALS).
ROLES=(admin controlplane runner rendezvous)

log() { echo "[kafka] $*" >&2; }
die() { echo "[kafka] ERROR: $*" >&2; exit 1; }

now_ms() { date +%s%3N; }
elapsed() { # $1 = start ms -> "1.2"
  local d=$(( $(now_ms) - $1 ))
  printf '%d.%d' $((d / 1000)) $(((d % 1000) / 100))
}

need_java() {
  command -v java >/dev/null 2>&1 || die "java not found (Kafka $KAFKA_VERSION needs Java 17+: apt-get install -y openjdk-17-jre-headless)"
}

# The stamp records which pom produced the jars, so editing the pom triggers a re-fetch.
pom_sum() { sha256sum "$POM" | cut -d' ' -f1; }

libs_ok() {
  [[ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" && -f "$LIBS/.rdv-pom.sha256" ]] &&
    [[ "$(cat "$LIBS/.rdv-pom.sha256")" == "$(pom_sum)" ]]
}

cmd_fetch() {
  if libs_ok; then
    log "jars already in $LIBS ($(find "$LIBS" -name '*.jar' | wc -l) jars)"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found (apt-get install -y maven)"
  mkdir -p "$RDV_KAFKA_HOME"
  # Serialise concurrent fetches (two brokers started at once share the cache).
  exec 8>"$RDV_KAFKA_HOME/.fetch.lock"
  flock 8
  if libs_ok; then
    log "jars fetched by a concurrent run into $LIBS"
    exec 8>&-
    return 0
  fi
  local t0 tmp
  t0=$(now_ms)
  tmp="$RDV_KAFKA_HOME/libs.tmp.$$"
  rm -rf "$tmp"
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS ..."
  # Maven's output goes to a log (Debian's mvn prints stray ANSI codes even with -q -B).
  if ! mvn -q -B -f "$POM" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$RDV_KAFKA_HOME/fetch.log" 2>&1; then
    tail -n 40 "$RDV_KAFKA_HOME/fetch.log" >&2
    rm -rf "$tmp"
    die "maven fetch failed (log: $RDV_KAFKA_HOME/fetch.log)"
  fi
  pom_sum >"$tmp/.rdv-pom.sha256"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  exec 8>&-
  log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) in $(elapsed "$t0")s"
}

# --- process helpers ---------------------------------------------------------

# Prints the pid if the pidfile names a live broker of THIS data dir.
running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse: the process must be our java kafka.Kafka with our properties file.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $PROPS" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_python() {
  local c
  for c in "${RDV_PYTHON:-}" "${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}" python3 "$REPO_ROOT/.venv/bin/python"; do
    [[ -n "$c" ]] || continue
    command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -c 'import confluent_kafka' >/dev/null 2>&1; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

# --- credentials -----------------------------------------------------------------

# Letters and digits only: the value goes into a JAAS line and StorageTool's --add-scram syntax.
random_password() { head -c 48 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9'; }

role_var() { echo "RDV_KAFKA_$(echo "$1" | tr '[:lower:]' '[:upper:]')_PASSWORD"; }

# Creates the credentials file once (new passwords for every role), mode 600.
ensure_credentials() {
  [[ -f "$CREDS" ]] && return 0
  local role tmp="$CREDS.tmp.$$"
  (
    umask 077
    echo "# Kafka SASL/SCRAM passwords of the platform's principals, generated by scripts/kafka.sh."
    for role in "${ROLES[@]}"; do echo "$(role_var "$role")=$(random_password)"; done
  ) >"$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$CREDS"
}

password_of() { # $1 = role
  local var
  var="$(role_var "$1")"
  grep -E "^$var=" "$CREDS" | head -n 1 | cut -d= -f2-
}

# The env lines a client of ROLE needs; the admin's lines also carry every role's credentials.
cmd_env() {
  local role="${1:-admin}" r
  [[ " ${ROLES[*]} " == *" $role "* ]] || die "unknown role $role (one of: ${ROLES[*]})"
  [[ -f "$CREDS" ]] || die "no credentials yet in $CREDS (run: scripts/kafka.sh start)"
  echo "RDV_KAFKA_BOOTSTRAP=127.0.0.1:$RDV_KAFKA_PORT"
  echo "RDV_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT"
  echo "RDV_KAFKA_SASL_MECHANISM=$SASL_MECHANISM"
  echo "RDV_KAFKA_USERNAME=rdv-$role"
  echo "RDV_KAFKA_PASSWORD=$(password_of "$role")"
  if [[ "$role" == admin ]]; then
    for r in "${ROLES[@]}"; do
      echo "RDV_KAFKA_$(echo "$r" | tr '[:lower:]' '[:upper:]')_USERNAME=rdv-$r"
      echo "$(role_var "$r")=$(password_of "$r")"
    done
  fi
}

metadata_ok() { # $1 = python with confluent_kafka
  RDV_KAFKA_ADMIN_PASSWORD="$(password_of admin)" "$1" - "127.0.0.1:$RDV_KAFKA_PORT" "$SASL_MECHANISM" <<'PY' >/dev/null 2>&1
import os, sys
from confluent_kafka.admin import AdminClient
md = AdminClient({
    "bootstrap.servers": sys.argv[1], "log_level": 0, "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanism": sys.argv[2], "sasl.username": "rdv-admin",
    "sasl.password": os.environ["RDV_KAFKA_ADMIN_PASSWORD"],
}).list_topics(timeout=3)
sys.exit(0 if md.brokers and md.controller_id is not None and md.controller_id >= 0 else 1)
PY
}

# Creates (idempotently) the ACLs of the platform's principals, with the admin's credentials.
apply_platform_acls() { # $1 = python with confluent_kafka
  local out
  if ! out="$(cd "$REPO_ROOT" && env $(cmd_env admin | tr '\n' ' ') PYTHONPATH="$REPO_ROOT" \
      "$1" -m contracts.kafka.platform_acls 2>&1)"; then
    echo "$out" >&2
    die "could not apply the platform's ACLs"
  fi
  log "$out"
}

write_config() {
  local admin_password
  admin_password="$(password_of admin)"
  (umask 077; : >"$PROPS")
  chmod 600 "$PROPS"
  cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$RDV_KAFKA_CONTROLLER_PORT
listeners=CLIENT://127.0.0.1:$RDV_KAFKA_PORT,CONTROLLER://127.0.0.1:$RDV_KAFKA_CONTROLLER_PORT
advertised.listeners=CLIENT://127.0.0.1:$RDV_KAFKA_PORT
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=CLIENT
controller.listener.names=CONTROLLER
# Clients (and the broker itself, as rdv-admin) authenticate with SCRAM; the credentials live in the
# metadata log (added at format time, and by the control plane for tenants).
listener.name.client.sasl.enabled.mechanisms=$SASL_MECHANISM
sasl.mechanism.inter.broker.protocol=$SASL_MECHANISM
listener.name.client.${SASL_MECHANISM,,}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="rdv-admin" password="$admin_password";
# The controller listener: PLAIN against a static entry for the admin only (a controller cannot
# check SCRAM before it has read the metadata log where the SCRAM credentials are).
listener.name.controller.sasl.enabled.mechanisms=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="rdv-admin" password="$admin_password" user_rdv-admin="$admin_password";
# Whatever no ACL allows is denied; the admin (bootstrap, ACL and credential management) is the only
# super user.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:rdv-admin
log.dirs=$LOG_DIRS
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After an unclean stop (SIGKILL) the restarted controller refuses the broker's re-registration
# (DUPLICATE_BROKER_REGISTRATION) until the old session expires. It is also how long the controller
# tolerates missing heartbeats before it fences its own broker (every partition offline): a stalled
# disk held controller events for 5-8 s, so 15 s here (9 s by default).
broker.session.timeout.ms=15000
broker.heartbeat.interval.ms=1000
num.network.threads=3
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=104857600
EOF

  cat >"$LOG4J" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/kafka.sh: broker log goes to a file in the data dir, nothing to the console. -->
<Configuration status="warn">
  <Appenders>
    <RollingFile name="file" fileName="$SERVER_LOG" filePattern="$SERVER_LOG.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="20 MB"/></Policies>
      <DefaultRolloverStrategy max="2"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="info"><AppenderRef ref="file"/></Root>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="state.change.logger" level="warn"/>
    <Logger name="org.apache.kafka.clients" level="warn"/>
    <Logger name="kafka.log.LogCleaner" level="warn"/>
  </Loggers>
</Configuration>
EOF
}

format_storage() {
  if [[ -f "$LOG_DIRS/meta.properties" ]]; then
    return 0
  fi
  local cid t0
  t0=$(now_ms)
  # Cluster id: base64url (no padding) of 16 random bytes, as `kafka-storage random-uuid` prints.
  # Like Kafka's Uuid.randomUuid(), reject ids starting with '-': StorageTool's argument parser
  # would take them for an option ("argument --cluster-id/-t: expected one argument").
  cid=-
  while [[ "$cid" == -* ]]; do
    cid="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  log "formatting storage in $LOG_DIRS (cluster id $cid) ..."
  # Static quorum (controller.quorum.voters): format WITHOUT --standalone
  # (--standalone is only for the dynamic controller.quorum.bootstrap.servers setup).
  local scram=() role
  for role in "${ROLES[@]}"; do
    scram+=(--add-scram "$SASL_MECHANISM=[name=rdv-$role,password=$(password_of "$role")]")
  done
  java -Xmx256m -Dlog4j2.configurationFile="$LOG4J" -cp "$LIBS/*" kafka.tools.StorageTool \
    format -t "$cid" -c "$PROPS" "${scram[@]}" >>"$STDOUT_LOG" 2>&1 ||
    { tail -n 20 "$STDOUT_LOG" >&2; die "storage format failed (see $STDOUT_LOG)"; }
  log "formatted in $(elapsed "$t0")s"
}

cmd_start() {
  local pid
  if pid="$(running_pid)"; then
    log "already running on 127.0.0.1:$RDV_KAFKA_PORT (pid $pid, data $RDV_KAFKA_DATA)"
    return 0
  fi
  need_java
  cmd_fetch
  for p in "$RDV_KAFKA_PORT" "$RDV_KAFKA_CONTROLLER_PORT"; do
    if port_open "$p"; then
      die "port 127.0.0.1:$p is already in use by another process (not the broker of $RDV_KAFKA_DATA)"
    fi
  done
  mkdir -p "$RDV_KAFKA_DATA"
  rm -f "$PIDFILE"
  if [[ -f "$LOG_DIRS/meta.properties" && ! -f "$CREDS" ]]; then
    die "$RDV_KAFKA_DATA was formatted before the broker had authentication; its principals have no
    credentials. Start over with: RDV_KAFKA_DATA=$RDV_KAFKA_DATA scripts/kafka.sh reset"
  fi
  ensure_credentials
  write_config
  format_storage

  local t0 log_offset py=""
  t0=$(now_ms)
  log_offset=$(stat -c %s "$SERVER_LOG" 2>/dev/null || echo 0)
  log "starting broker on 127.0.0.1:$RDV_KAFKA_PORT (controller :$RDV_KAFKA_CONTROLLER_PORT, data $RDV_KAFKA_DATA) ..."
  # setsid: own session, so the broker outlives the calling shell / its process group.
  # The inner shell writes its own pid and execs java, so the pidfile is java's pid.
  # shellcheck disable=SC2016
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" \
    java -Xms"$RDV_KAFKA_HEAP" -Xmx"$RDV_KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J" \
    -Dkafka.logs.dir="$RDV_KAFKA_DATA" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" \
    </dev/null >>"$STDOUT_LOG" 2>&1 &
  disown || true

  py="$(pick_python || true)"
  [[ -n "$py" ]] || log "no python with confluent_kafka found; readiness = TCP + 'Kafka Server started' log line"
  local deadline=$(( $(now_ms) + RDV_KAFKA_START_TIMEOUT * 1000 ))
  while :; do
    if [[ -f "$PIDFILE" ]] && ! running_pid >/dev/null; then
      log "broker process exited during startup; last log lines:"
      tail -n 30 "$SERVER_LOG" >&2 2>/dev/null || true
      tail -n 30 "$STDOUT_LOG" >&2 2>/dev/null || true
      rm -f "$PIDFILE"
      die "broker failed to start (logs: $SERVER_LOG, $STDOUT_LOG)"
    fi
    if port_open "$RDV_KAFKA_PORT"; then
      if [[ -n "$py" ]]; then
        metadata_ok "$py" && break
      elif tail -c +"$((log_offset + 1))" "$SERVER_LOG" 2>/dev/null | grep -q "Kafka Server started"; then
        break
      fi
    fi
    if (( $(now_ms) > deadline )); then
      tail -n 30 "$SERVER_LOG" >&2 2>/dev/null || true
      die "broker not ready after ${RDV_KAFKA_START_TIMEOUT}s (still running as pid $(cat "$PIDFILE" 2>/dev/null); logs: $SERVER_LOG)"
    fi
    sleep 0.2
  done
  log "ready on 127.0.0.1:$RDV_KAFKA_PORT ($(elapsed "$t0")s)"
  log "clients authenticate: export \$(scripts/kafka.sh env [admin|controlplane|runner|rendezvous])"
  if [[ -n "$py" ]]; then
    apply_platform_acls "$py"
  else
    log "WARNING: no python with confluent_kafka: the platform's ACLs were not applied"
  fi
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE"
    log "not running (port $RDV_KAFKA_PORT, data $RDV_KAFKA_DATA)"
    return 0
  fi
  local t0
  t0=$(now_ms)
  log "stopping broker pid $pid (port $RDV_KAFKA_PORT) ..."
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after 20s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 25; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
  fi
  rm -f "$PIDFILE"
  log "stopped ($(elapsed "$t0")s)"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$RDV_KAFKA_PORT"; then
      log "running on 127.0.0.1:$RDV_KAFKA_PORT (pid $pid, data $RDV_KAFKA_DATA)"
    else
      log "process running (pid $pid) but port $RDV_KAFKA_PORT not accepting connections yet"
    fi
    echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$RDV_KAFKA_PORT"
    echo "KAFKA_CREDENTIALS=$CREDS"
    return 0
  fi
  log "not running (port $RDV_KAFKA_PORT, data $RDV_KAFKA_DATA)"
  return 3
}

cmd_reset() {
  cmd_stop
  case "$RDV_KAFKA_DATA" in
    "" | "/" | "$HOME" | "$HOME/") die "refusing to delete RDV_KAFKA_DATA=$RDV_KAFKA_DATA" ;;
  esac
  if [[ -d "$RDV_KAFKA_DATA" ]]; then
    rm -rf "$RDV_KAFKA_DATA"
    log "deleted $RDV_KAFKA_DATA"
  else
    log "nothing to delete ($RDV_KAFKA_DATA does not exist)"
  fi
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  env) cmd_env "${2:-admin}" ;;
  *)
    echo "usage: $0 {fetch|start|stop|status|reset|env [ROLE]}" >&2
    exit 2
    ;;
esac
