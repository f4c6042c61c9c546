"""Every environment variable the project reads, declared once: type, default, meaning, readers. Django-free.

Adding a variable: declare it here, read it with ``contracts.settings_catalog.read_*``, then run
``python -m contracts.settings_catalog --write-readme``. tests/contracts/test_settings_catalog.py fails
when source code names an undeclared ``RDV_*`` variable or the README's table is out of date.
Development defaults that production refuses are listed in ``contracts.environment.DEV_DEFAULTS``
(the table marks them); the choices of the Kafka variables match ``contracts.kafka.base`` (tested).
"""

from __future__ import annotations

from contracts.pool_tokens import DEV_RUNNER_SECRET
from contracts.settings_catalog.spec import Process, Setting

_KAFKA_USERS: tuple[Process, ...] = ("controlplane", "runner", "rendezvous", "scripts", "bench")
_WORKERS: tuple[Process, ...] = ("runner", "rendezvous")
_CP: tuple[Process, ...] = ("controlplane",)
_RUNNER: tuple[Process, ...] = ("runner",)
_HOST_PID = "`<host name>-<process id>`"
# The platform's Kafka principals (contracts.kafka.acls.PLATFORM_ROLES; a test keeps them equal).
PLATFORM_ROLE_NAMES = ("admin", "controlplane", "runner", "rendezvous")


def _kafka() -> list[Setting]:
    section = "Kafka"
    return [
        Setting("RDV_KAFKA_BOOTSTRAP", "str", "127.0.0.1:9092", "Kafka bootstrap servers", _KAFKA_USERS, section),
        Setting(
            "RDV_KAFKA_CLIENT", "choice", "confluent",
            "`confluent` (librdkafka, the hot path; use it in production) or `kafka-python` (pure Python)",
            _KAFKA_USERS, section, choices=("confluent", "kafka-python"),
        ),
        Setting(
            "RDV_KAFKA_SECURITY_PROTOCOL", "choice", "PLAINTEXT",
            "`SASL_PLAINTEXT` (the project's broker), `SASL_SSL` (production) or `PLAINTEXT` (a broker without "
            "authentication; refused by the production settings)",
            _KAFKA_USERS, section, choices=("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"),
        ),
        Setting(
            "RDV_KAFKA_SASL_MECHANISM", "choice", "SCRAM-SHA-512", "how the principal logs in",
            _KAFKA_USERS, section, choices=("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"),
        ),
        Setting(
            "RDV_KAFKA_USERNAME", "str", "",
            "the process's Kafka principal (`rdv-controlplane`, `rdv-runner`, `rdv-rendezvous`; DESIGN.md §3); "
            "required with SASL. `scripts/kafka.sh env ROLE` prints it for the local broker",
            _KAFKA_USERS, section,
        ),
        Setting(
            "RDV_KAFKA_PASSWORD", "str", "", "the principal's password; required with SASL",
            _KAFKA_USERS, section, secret=True,
        ),
        Setting(
            "RDV_KAFKA_LINGER_MS", "float", 1.0,
            "producer linger (*changed (runtime)*: 1, was 0): records produced within this many ms leave in one "
            "request; the broker's CPU follows its request rate, not its record count (docs/benchmarks.md)",
            _KAFKA_USERS, section, minimum=0,
        ),
        Setting(
            "RDV_KAFKA_FETCH_WAIT_MS", "int", 100,
            "how long the broker may hold a fetch open when there is no data (data ends the wait at once, so "
            "this costs no latency; lower values make an idle broker answer more empty fetches)",
            _KAFKA_USERS, section, minimum=0,
        ),
        Setting(
            "RDV_KAFKA_REPLICATION", "int", 1, "replication factor of the topics the platform creates",
            _KAFKA_USERS, section, minimum=1,
        ),
    ]


def _runner() -> list[Setting]:
    section = "Runner"
    return [
        Setting("RDV_RUNNER_POOL", "str", "default", "the runner pool (one consumer group per pool)",
                ("runner", "scripts"), section),
        Setting("RDV_RUNNER_ID", "str", None, "this runner's name in status reports", _RUNNER, section,
                default_doc=_HOST_PID),
        Setting(
            "RDV_RUNNER_TOKEN", "str", None,
            "*changed (security)*: the runner's **pool token**, `rdvpool.<pool>.<mac>`, printed by "
            "`manage.py rdv_runner_token --pool P`; it must be the token of `RDV_RUNNER_POOL`. The old shared "
            "`dev-runner-token` is refused",
            ("runner", "scripts"), section, secret=True, required_in_production=True,
            default_doc="development: the pool's token derived from the development secret",
        ),
        Setting("RDV_ARTIFACT_CACHE", "str", "~/.cache/rendezvous/artifacts",
                "the runner's on-disk artifact cache (by sha256)", ("runner", "scripts"), section,
                default_doc="`~/.cache/rendezvous/artifacts` (`scripts/runner_confined.py`: "
                "`/var/cache/rendezvous/artifacts`)"),
        Setting("RDV_RUNNER_HEALTH_FILE", "str", None,
                "touched with a one-line JSON status every few seconds when set (for a liveness probe)",
                ("runner", "scripts"), section, default_doc="(none)"),
        Setting("RDV_RUNNER_TRUSTED", "bool", False,
                "`1` marks this runner's pool trusted: it loads `joblib`/pickle and `python` (`module:callable`) "
                "artifacts", _RUNNER, section),
        Setting("RDV_MODEL_TIMEOUT_MS", "int", 1000,
                "how long one scoring call of a version may take before its requests get `error` scores",
                _RUNNER, section, minimum=1),
        Setting("RDV_MODEL_TIMEOUT_MAX_MS", "int", 10_000,
                "the most a version's own `timeout_ms` (metadata) may ask for", _RUNNER, section, minimum=1),
        Setting("RDV_MODEL_MEMORY_MB", "float", 1024.0,
                "memory budget of loaded versions; over it the least recently used challengers are unloaded",
                _RUNNER, section, minimum=0, above=True),
        Setting("RDV_MAX_BATCH", "int", 256, "most requests the runner reads and scores in one micro-batch",
                _RUNNER, section, minimum=1),
        Setting("RDV_REDIS_URL", "str", None, "the Redis internal-state lookups read (`redis://`, `rediss://` or "
                "`unix://`)", _RUNNER, section, default_doc="`REDIS_URL`, else `redis://127.0.0.1:6379/0`"),
        Setting("RDV_STATE_REDIS_TIMEOUT_MS", "int", 50,
                "the longest a state lookup (gateway, runner batch) waits before the defaults are used",
                ("controlplane", "runner"), section, minimum=1,
                default_doc="`50` (`controlplane.settings.test`: `1000`)"),
        Setting("RDV_STATUS_INTERVAL_S", "float", 3.0,
                "seconds between status heartbeats on `rdv.status`", _WORKERS, section, minimum=0, above=True),
        Setting("RDV_DRIFT_WINDOW_SECONDS", "float", 60.0,
                "drift monitor (*changed (monitoring)*): the length of a drift bucket, by the requests' `sent_at`: "
                "each canary runner reports its counts per bucket, the control plane merges them into one point "
                "of the service's drift series (DESIGN.md §7); the control plane's scans of services without a canary "
                "use the same length", ("controlplane", "runner"), section, minimum=0, above=True),
        Setting("RDV_LOG_LEVEL", "str", "INFO", "log level of `python -m model_runner` / `-m rendezvous_worker`",
                _WORKERS, section),
        Setting("RDV_RUNNER_METRICS_PORT", "int", None,
                "*extension (monitoring)*: serve Prometheus `GET /metrics` on this port (requests and latency per "
                "model version, errors, consumer lag, models loaded, memory; DESIGN.md §7). Its labels name "
                "tenants, services and models: keep the port on the operators' network", _RUNNER, section,
                minimum=1, default_doc="(off)"),
        Setting("RDV_METRICS_ADDR", "str", "0.0.0.0",
                "*extension (monitoring)*: the address the workers' metrics ports listen on", _WORKERS, section),
    ]


def _rendezvous() -> list[Setting]:
    section = "Rendezvous worker"
    only: tuple[Process, ...] = ("rendezvous",)
    return [
        Setting("RDV_RENDEZVOUS_GROUP", "str", "rdv-rendezvous", "the workers' consumer group (must start with "
                "`rdv-rendezvous`: the ACLs allow no other)", only, section),
        Setting("RDV_INSTANCE_ID", "str", None, "this worker's name in status reports", only, section,
                default_doc=_HOST_PID),
        Setting("RDV_COMMIT_INTERVAL_S", "float", 0.2, "how often consumed offsets are committed (seconds)",
                only, section, minimum=0),
        Setting("RDV_ORPHAN_TTL_S", "float", 30.0,
                "how long scores for a request the worker never saw are kept waiting for it (seconds)",
                only, section, minimum=0),
        Setting("RDV_RENDEZVOUS_HEALTH_FILE", "str", None,
                "rewritten with a one-line JSON status (its loop alive, ready, last turn; the config follower) "
                "every few seconds when set (for a liveness probe)", only, section, default_doc="(none)"),
        Setting("RDV_STALE_AFTER_S", "float", 60.0,
                "a request older than this when it arrives is answered at once, not waited for (seconds)",
                only, section, minimum=0),
        Setting("RDV_RENDEZVOUS_METRICS_PORT", "int", None,
                "*extension (monitoring)*: serve Prometheus `GET /metrics` on this port (requests and end-to-end "
                "latency per answering version, outcomes per candidate, consumer lag, memory; DESIGN.md §7); "
                "keep it on the operators' network", only, section, minimum=1, default_doc="(off)"),
        Setting("RDV_CONSUMER_SESSION_TIMEOUT_MS", "int", None,
                "how long the group waits for a silent instance before its partitions move (a crashed "
                "instance's requests wait this long)", only, section, minimum=1,
                default_doc="the client's (45000 with librdkafka)"),
    ]


def _control_plane() -> list[Setting]:
    section = "Control plane"
    return [
        Setting(
            "DJANGO_SETTINGS_MODULE", "str", "controlplane.settings.local",
            "`local` (SQLite), `test`, `production` (needs `DATABASE_URL`, `REDIS_URL`, `DJANGO_SECRET_KEY`, "
            "`DJANGO_ALLOWED_HOSTS`, `RDV_PUBLIC_URL`, `RDV_RUNNER_SECRET`); the production module also puts "
            "workers sharing the environment in production (`RDV_ENV`)",
            ("controlplane", "runner", "rendezvous", "bench"), section,
        ),
        Setting(
            "RDV_ENV", "choice", None,
            "`production` makes the runner and the rendezvous worker refuse development defaults at start-up, "
            "as the control plane's production settings always do (see *Production settings* below)",
            ("controlplane", "runner", "rendezvous"), section, choices=("development", "production"),
            default_doc="`development` (`production` when `DJANGO_SETTINGS_MODULE=controlplane.settings.production`)",
        ),
        Setting("DJANGO_SECRET_KEY", "str", None, "Django's secret key", _CP, section, secret=True,
                required_in_production=True, default_doc="a development key (`local`, `test`)"),
        Setting("DJANGO_DEBUG", "bool", False, "Django's debug mode (never in production)", _CP, section,
                default_doc="`0` (`local`: `1`)"),
        Setting("DJANGO_ALLOWED_HOSTS", "list", ("127.0.0.1", "localhost", "[::1]", "testserver"),
                "comma-separated host names the control plane answers to", _CP, section,
                required_in_production=True),
        Setting("DATABASE_URL", "str", None, "the PostgreSQL database (`postgres://user:password@host:5432/name`)",
                _CP, section, secret=True, required_in_production=True,
                default_doc="`local`: SQLite; required by `test` and `production`"),
        Setting("RDV_SQLITE_PATH", "str", None, "`local` settings: the SQLite database file", _CP, section,
                default_doc="`.run/db.sqlite3`"),
        Setting("REDIS_URL", "str", "redis://127.0.0.1:6379/0",
                "the Redis of Celery, state lookups and quotas unless their own variables say otherwise",
                ("controlplane", "runner", "bench"), section, required_in_production=True),
        Setting("RDV_CELERY_BROKER_URL", "str", None, "Celery's broker", _CP, section, default_doc="`REDIS_URL`"),
        Setting("RDV_PUBLIC_URL", "str", "http://127.0.0.1:8000",
                "where runners reach the control plane; artifact URLs are built from it and a runner sends its "
                "pool token to URLs under it only",
                ("controlplane", "runner", "scripts", "bench"), section, required_in_production=True,
                default_doc="control plane: `http://127.0.0.1:8000`; runner: (none)"),
        Setting("RDV_MEDIA_ROOT", "str", None, "where uploaded artifacts are stored", _CP, section,
                default_doc="`.run/media` (`test`: a new temporary directory)"),
        Setting("DJANGO_STATIC_ROOT", "str", None, "where `collectstatic` puts static files", _CP, section,
                default_doc="`.run/static`"),
        Setting("RDV_RUNNER_SECRET", "str", DEV_RUNNER_SECRET,
                "the secret pool tokens are derived from and artifact URLs are signed with (never give it to "
                "runners: with it a runner could mint any pool's token). Rotating it re-keys every pool",
                ("controlplane", "scripts"), section, secret=True, required_in_production=True),
        Setting("RDV_ARTIFACT_URL_TTL_S", "int", 60, "how long a signed artifact download URL works (seconds)",
                _CP, section, minimum=1),
        Setting("RDV_ARTIFACT_DRAIN_S", "int", 600,
                "a pool may still fetch a version that left its routing this long ago (a runner still applying "
                "the older revision)", _CP, section, minimum=0),
        Setting("RDV_ARTIFACT_MAX_BYTES", "int", 512 * 1024 * 1024, "largest artifact upload (413 above)",
                _CP, section, minimum=1),
        Setting("RDV_VALIDATION_TIMEOUT_S", "int", 120,
                "wall-clock limit of one version's validation (the child process is killed)", _CP, section,
                minimum=1),
        Setting("RDV_VALIDATION_MEMORY_MB", "int", 1024,
                "address space (`RLIMIT_AS`) a validation may use beyond the validator's imports", _CP, section,
                minimum=1),
        Setting("RDV_VALIDATION_CPU_S", "int", 60,
                "CPU seconds (`RLIMIT_CPU`) a validation may use beyond the validator's imports", _CP, section,
                minimum=1),
        Setting("RDV_VALIDATION_MAX_ATTEMPTS", "int", 3,
                "a version whose validation was started this many times without an outcome fails", _CP, section,
                minimum=1),
        Setting("RDV_VALIDATION_SANDBOX", "choice", "bwrap",
                "how the validation child is confined: `bwrap` (bubblewrap: nobody, no network, only its own "
                "artifact; validations fail with a report if bwrap is missing) or `none` (development only) — "
                "DESIGN.md §5", ("controlplane", "scripts"), section, choices=("bwrap", "none")),
        Setting("RDV_VALIDATION_MAX_PROCESSES", "int", 128,
                "processes and threads (`RLIMIT_NPROC`) a sandboxed validation may have: a fork bomb stops there",
                _CP, section, minimum=1),
        Setting("RDV_TRUSTED_POOLS", "list", (),
                "comma-separated pools that may serve `joblib`/`pickle`/`python` versions of trusted tenants",
                _CP, section, default_doc="(none)"),
        Setting("RDV_FEEDBACK_MAX_ITEMS", "int", 1000, "the most labels one feedback call may carry (413 above)",
                _CP, section, minimum=1),
        Setting("RDV_API_JSON_MAX_BYTES", "int", 2 * 1024 * 1024,
                "largest JSON body of the API (413 above); predict bodies: 1 MB. Every JSON body: at most 32 "
                "levels of nesting, no `NaN`/`Infinity` (400)", _CP, section, minimum=1),
        Setting("RDV_STATE_REDIS_URL", "str", None, "the Redis the gateway's external-state lookups read",
                _CP, section, default_doc="`REDIS_URL`"),
        Setting("RDV_QUOTA_PREDICTIONS_PER_S", "int", 1000,
                "per tenant: predictions per second, a token bucket with a burst of one second's worth, shared "
                "by every gateway process in Redis; past it `429 rate_limited` with `Retry-After`",
                _CP, section, minimum=0),
        Setting("RDV_QUOTA_IN_FLIGHT", "int", 1000,
                "per tenant: predictions awaiting their answer at once (429 past it); a crashed gateway's slots "
                "expire at their deadline", _CP, section, minimum=0),
        Setting("RDV_QUOTA_SERVICES", "int", 100, "per tenant: how many services it may have (one more is "
                "`409 quota_exceeded`)", _CP, section, minimum=0),
        Setting("RDV_QUOTA_MODELS", "int", 100, "per tenant: how many models it may have", _CP, section, minimum=0),
        Setting("RDV_QUOTA_VERSIONS", "int", 1000, "per tenant: how many versions (all models together)",
                _CP, section, minimum=0),
        Setting("RDV_QUOTA_DEADLINE_MS", "int", 60_000, "per tenant: the largest service `deadline_ms` (400 above)",
                _CP, section, minimum=1),
        Setting("RDV_QUOTA_TIMEOUT_MS", "int", 60_000,
                "per tenant: the largest version `metadata.timeout_ms` (400 above)", _CP, section, minimum=1),
        Setting("RDV_QUOTA_REDIS_URL", "str", None,
                "the Redis holding the rate and in-flight counters; when it is down predictions are admitted "
                "unchecked (fail open, logged once per outage)", _CP, section, default_doc="`RDV_STATE_REDIS_URL`"),
        Setting("RDV_QUOTA_REDIS_TIMEOUT_MS", "int", 250,
                "the longest the quota check waits for Redis before admitting unchecked", _CP, section, minimum=1),
        Setting("RDV_REPLIES_PARTITION", "int", None,
                "the partition of the replies topic this gateway process reads (DESIGN.md §3)", _CP, section,
                minimum=0, default_doc="one picked at start"),
        Setting("RDV_PUBLISH_TIMEOUT_S", "float", 20.0,
                "how long a routing write waits for the broker to acknowledge its snapshot before answering 503 "
                "(the revision stays recorded)", _CP, section, minimum=0, above=True),
        Setting("RDV_REPUBLISH_INTERVAL_S", "float", 10.0,
                "how often Celery beat sends again a service's newest revision whose publication failed",
                _CP, section, minimum=0, above=True),
        Setting("RDV_DECISION_RETENTION_DAYS", "int", 7,
                "how long decision records stay available to `GET …/requests/<request_id>` (days)", _CP, section,
                minimum=0),
        Setting("RDV_DRIFT_WINDOW", "int", 500,
                "drift (*changed (monitoring)*: read by the control plane): a service's reference is its first drift "
                "buckets holding at least this many requests, merged over every runner (DESIGN.md §7)", _CP, section,
                minimum=2),
        Setting("RDV_DRIFT_MIN_WINDOW", "int", 200,
                "drift: a bucket with fewer requests is scored but never flagged (its PSI is mostly noise)",
                _CP, section, minimum=1),
        Setting("RDV_DRIFT_BINS", "int", 10, "drift: bins per numeric feature (the reference's quantiles)", _CP,
                section, minimum=2),
        Setting("RDV_DRIFT_PSI_THRESHOLD", "float", 0.2, "drift: a feature drifts above this PSI", _CP, section,
                minimum=0, above=True),
        Setting("RDV_DRIFT_KS_ALPHA", "float", 0.001,
                "drift: a numeric feature drifts when the KS test rejects at this level with a "
                "statistic of at least `RDV_DRIFT_KS_MIN_STATISTIC`", _CP, section, minimum=0, above=True),
        Setting("RDV_DRIFT_KS_MIN_STATISTIC", "float", 0.1, "drift: the smallest KS statistic that is drift",
                _CP, section, minimum=0),
        Setting("RDV_DRIFT_RETENTION_DAYS", "int", 30,
                "how long drift buckets and their scores are kept (days; `manage.py consume_drift` sweeps hourly)",
                _CP, section, minimum=1),
        Setting("RDV_ROLLUP_INTERVAL_S", "float", 60.0,
                "how often Celery beat rolls the finished hours' minute roll-ups into hour rows and deletes "
                "expired roll-ups (seconds)", _CP, section, minimum=0, above=True),
        Setting("RDV_ROLLUP_MINUTE_RETENTION_HOURS", "int", 48,
                "how long per-minute roll-ups are kept once rolled into hours (hours); a `GET …/metrics` window "
                "starting earlier starts at the hour", _CP, section, minimum=2),
        Setting("RDV_ROLLUP_HOUR_RETENTION_DAYS", "int", 90,
                "how long per-hour roll-ups are kept (days): also the longest `GET …/metrics` window",
                _CP, section, minimum=1),
        Setting("RDV_STATUS_STALE_S", "int", 15, "a worker whose last status report is older no longer counts",
                _CP, section, minimum=1),
        Setting("RDV_READY_TIMEOUT_S", "int", 60,
                "how long a routing revision may take to become ready before it is rolled back", _CP, section,
                minimum=1),
        Setting("RDV_FALLBACK_INTERVAL_S", "int", 3, "how often Celery beat runs the automatic fallback (seconds)",
                _CP, section, minimum=1),
        Setting("RDV_METRICS_TOKEN", "str", None,
                "*extension (monitoring)*: Prometheus `GET /metrics` of the control plane answers only with "
                "`Authorization: Bearer <this>` (401 otherwise); unset, `/metrics` answers 404", _CP, section,
                secret=True, default_doc="(none: `/metrics` off)"),
        Setting("PROMETHEUS_MULTIPROC_DIR", "str", None,
                "*extension (monitoring)*: an empty directory shared by the control plane's server processes "
                "(`uvicorn --workers N`); set, `/metrics` adds up every process's counters (prometheus_client's "
                "multiprocess mode). Empty it before the server starts", _CP, section,
                default_doc="(none: one process)"),
        Setting("RDV_ROLLOUT_TICK_S", "float", 1.0,
                "how often Celery beat enqueues the analysis of running rollouts (seconds)", _CP, section,
                minimum=0, above=True),
    ]


def _production() -> list[Setting]:
    section = "Production"
    return [
        Setting("DJANGO_CSRF_TRUSTED_ORIGINS", "list", (), "comma-separated origins trusted for CSRF "
                "(`https://…`)", _CP, section, default_doc="(none)"),
        Setting("DJANGO_CONN_MAX_AGE", "int", 60, "seconds a database connection is kept for reuse",
                _CP, section, minimum=0),
        Setting("DJANGO_SECURE_SSL_REDIRECT", "bool", True,
                "redirect browsers to HTTPS; runners' `/api/v1/internal/…` and `/healthz`, `/readyz` are exempt",
                _CP, section),
        Setting("DJANGO_TRUST_X_FORWARDED_PROTO", "bool", True,
                "trust `X-Forwarded-Proto: https` from the TLS-terminating proxy (`SECURE_PROXY_SSL_HEADER`); set "
                "`0` when no proxy overwrites that header", _CP, section),
        Setting("DJANGO_HSTS_SECONDS", "int", 31_536_000, "HTTP Strict Transport Security: max-age", _CP, section,
                minimum=0),
        Setting("DJANGO_HSTS_INCLUDE_SUBDOMAINS", "bool", True, "HSTS: include subdomains", _CP, section),
        Setting("DJANGO_HSTS_PRELOAD", "bool", True, "HSTS: the preload flag", _CP, section),
        Setting("DJANGO_SECURE_COOKIES", "bool", True, "session and CSRF cookies only over HTTPS", _CP, section),
    ]


def _tools() -> list[Setting]:
    section = "Tools"
    cli: tuple[Process, ...] = ("rdvctl",)
    roles: tuple[Process, ...] = ("scripts", "bench")
    settings = [
        Setting("RDV_URL", "str", None, "`rdvctl --url`: the control plane", cli, section, default_doc="(none)"),
        Setting("RDV_TOKEN", "str", None, "`rdvctl --token`: an API token", cli, section, secret=True,
                default_doc="(none)"),
        Setting("RDV_TENANT", "str", None, "`rdvctl --tenant`: the tenant slug", cli, section, default_doc="(none)"),
        Setting("RDV_HTTP_PORT", "int", 8000, "`scripts/stack.py --port` (and the benchmarks'): the HTTP port",
                ("scripts", "bench"), section, minimum=1, default_doc="`8000` (`bench.runner_capacity`: `8178`)"),
    ]
    for role in PLATFORM_ROLE_NAMES:
        variable = f"RDV_KAFKA_{role.upper()}_"
        settings += [
            Setting(f"{variable}USERNAME", "str", "", f"the `{role}` principal's name, which `scripts/stack.py` "
                    f"and the benchmarks hand to that role's processes (`scripts/kafka.sh env`)", roles, section),
            Setting(f"{variable}PASSWORD", "str", "", f"the `{role}` principal's password (idem; "
                    "`contracts.kafka.platform_acls --upsert-credentials` sets it on the broker)", roles, section,
                    secret=True),
        ]
    return settings


def _alerts() -> list[Setting]:
    section = "Control plane"
    return [
        Setting("RDV_ALERT_INTERVAL_S", "float", 30.0,
                "how often Celery beat evaluates every service's alert rules (seconds)", _CP, section,
                minimum=0, above=True),
        Setting("RDV_ALERT_WEBHOOK_TIMEOUT_S", "float", 5.0,
                "how long an alert webhook may take to answer (seconds); failures are retried with backoff",
                _CP, section, minimum=0, above=True),
        Setting("RDV_ALERT_WEBHOOK_ALLOWED_HOSTS", "list", (),
                "comma-separated webhook hosts exempt from the address check (loopback, private and link-local "
                "addresses are refused otherwise): an operator's own receiver", _CP, section, default_doc="(none)"),
        Setting("RDV_ALERT_RETENTION_DAYS", "int", 30, "how long resolved alerts are kept (days)", _CP, section,
                minimum=0),
    ]


SETTINGS: tuple[Setting, ...] = (
    *_kafka(), *_runner(), *_rendezvous(), *_control_plane(), *_alerts(), *_production(), *_tools()
)
