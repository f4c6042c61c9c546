"""Settings shared by every environment; the environment modules only override what differs."""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from contracts.kafka import KafkaSettings
from controlplane.settings.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Local state (SQLite database, uploaded artifacts, demo token) lives here and is git-ignored.
RUN_DIR = BASE_DIR / ".run"

DEBUG = env_bool("DJANGO_DEBUG")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "controlplane.tenancy",
    "controlplane.registry",
    "controlplane.routing",
    "controlplane.decisions",
    "controlplane.feedback",
    "controlplane.alerts",
    "controlplane.audit",
    "controlplane.fleet",
    "controlplane.rollouts",
    "controlplane.ops",
    "controlplane.drift",
    "controlplane.monitoring",
    "frontend",
]

MIDDLEWARE = [
    # First: it times and counts every request, whatever a later middleware answers (*extension (monitoring)*).
    "controlplane.prometheus.PrometheusMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "controlplane.urls"
# The console's session login (*extension (console)*).
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:overview"
LOGOUT_REDIRECT_URL = "console:login"
WSGI_APPLICATION = "controlplane.wsgi.application"
ASGI_APPLICATION = "controlplane.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(RUN_DIR / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("RDV_MEDIA_ROOT", str(RUN_DIR / "media")))
# Artifacts can be large; uploads above this are streamed to a temporary file, not held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# The largest artifact a version upload accepts (413 above it).
RDV_ARTIFACT_MAX_BYTES = env_int("RDV_ARTIFACT_MAX_BYTES")
# Validating an uploaded version (DESIGN.md §5): a Celery task runs the smoke test in a child process
# with these limits. Memory and CPU count beyond the validator's own start-up (importing scikit-learn
# alone reserves about 500 MB of address space and takes seconds on a busy machine); the timeout
# counts from the start of the child.
RDV_VALIDATION_TIMEOUT_S = env_int("RDV_VALIDATION_TIMEOUT_S")
RDV_VALIDATION_MEMORY_MB = env_int("RDV_VALIDATION_MEMORY_MB")
RDV_VALIDATION_CPU_S = env_int("RDV_VALIDATION_CPU_S")
# A version whose validation task was started this many times without recording an outcome fails.
RDV_VALIDATION_MAX_ATTEMPTS = env_int("RDV_VALIDATION_MAX_ATTEMPTS")
# How the validation child is confined (controlplane/registry/confinement.py): "bwrap" (bubblewrap: no
# network, unprivileged user, only its own artifact) or "none" (development only; production refuses it).
# With "bwrap" and bubblewrap missing, validations fail with a report saying so: nothing runs unconfined.
RDV_VALIDATION_SANDBOX = env_str("RDV_VALIDATION_SANDBOX")  # a declared choice: anything else is refused
# Processes and threads the sandboxed child may have (RLIMIT_NPROC): a fork bomb stops there.
RDV_VALIDATION_MAX_PROCESSES = env_int("RDV_VALIDATION_MAX_PROCESSES")
# Test-only hook (controlplane.settings.test sets it; never read from the environment): a directory whose
# module a `python` artifact may name, run inside the sandbox to prove what it cannot reach.
RDV_VALIDATION_TEST_PROBE_DIR: Path | None = None
# Validation runs on its own Celery queue, consumed by its own worker (`celery worker -Q validation`), so a
# slow upload never delays rollout analysis or the automatic fallback on the default queue ("celery").
RDV_VALIDATION_QUEUE = "validation"
# Pools whose runners the operator started with RDV_RUNNER_TRUSTED=1: the only pools that may serve
# formats that run code when loaded (joblib, pickle, python), and only for tenants marked trusted_code.
RDV_TRUSTED_POOLS = env_list("RDV_TRUSTED_POOLS")
# The most labels one feedback call may carry (413 above it).
RDV_FEEDBACK_MAX_ITEMS = env_int("RDV_FEEDBACK_MAX_ITEMS")
# Alerts (DESIGN.md §7 *Alerts*): evaluation period, webhook timeout and address exemptions, retention.
RDV_ALERT_INTERVAL_S = env_float("RDV_ALERT_INTERVAL_S")
RDV_ALERT_WEBHOOK_TIMEOUT_S = env_float("RDV_ALERT_WEBHOOK_TIMEOUT_S")
RDV_ALERT_WEBHOOK_ALLOWED_HOSTS = env_list("RDV_ALERT_WEBHOOK_ALLOWED_HOSTS")
RDV_ALERT_RETENTION_DAYS = env_int("RDV_ALERT_RETENTION_DAYS")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
# The Redis that external-state lookups read (DESIGN.md §4); a lookup waits at most the timeout, then the
# spec's defaults are injected: a slow Redis never fails a prediction.
RDV_STATE_REDIS_URL = env_str("RDV_STATE_REDIS_URL", REDIS_URL)
RDV_STATE_REDIS_TIMEOUT_MS = env_int("RDV_STATE_REDIS_TIMEOUT_MS")
# The address runners use to reach the control plane; artifact URLs in snapshots are built from it.
# Per-tenant quotas (controlplane/tenancy/quotas.py): defaults, each overridable per tenant by the operator
# (Tenant.quota_* in the admin). The rate and in-flight limits are kept in Redis, shared by every gateway
# process (RDV_QUOTA_REDIS_URL); a Redis that is down lets predictions through (logged once per outage).
RDV_QUOTA_PREDICTIONS_PER_S = env_int("RDV_QUOTA_PREDICTIONS_PER_S")
RDV_QUOTA_IN_FLIGHT = env_int("RDV_QUOTA_IN_FLIGHT")
RDV_QUOTA_SERVICES = env_int("RDV_QUOTA_SERVICES")
RDV_QUOTA_MODELS = env_int("RDV_QUOTA_MODELS")
RDV_QUOTA_VERSIONS = env_int("RDV_QUOTA_VERSIONS")
RDV_QUOTA_DEADLINE_MS = env_int("RDV_QUOTA_DEADLINE_MS")
RDV_QUOTA_TIMEOUT_MS = env_int("RDV_QUOTA_TIMEOUT_MS")
RDV_QUOTA_REDIS_URL = env_str("RDV_QUOTA_REDIS_URL", RDV_STATE_REDIS_URL)
# Longer than a state lookup's: an overloaded gateway must not turn its quota checks into fail-opens.
RDV_QUOTA_REDIS_TIMEOUT_MS = env_int("RDV_QUOTA_REDIS_TIMEOUT_MS")
# JSON bodies of the API (the predict body has its own 1 MB limit in controlplane/gateway/inputs.py).
RDV_API_JSON_MAX_BYTES = env_int("RDV_API_JSON_MAX_BYTES")

RDV_PUBLIC_URL = env_str("RDV_PUBLIC_URL").rstrip("/")
# Artifact access (DESIGN.md §6): the server secret each pool's runner token is derived from
# (`manage.py rdv_runner_token --pool P`) and signed download URLs are signed with. Production refuses
# the development value. A signed URL works for RDV_ARTIFACT_URL_TTL_S; a pool may still fetch a version
# that left its routing less than RDV_ARTIFACT_DRAIN_S ago (a runner applying an older revision).
RDV_RUNNER_SECRET = env_str("RDV_RUNNER_SECRET")
RDV_ARTIFACT_URL_TTL_S = env_int("RDV_ARTIFACT_URL_TTL_S")
RDV_ARTIFACT_DRAIN_S = env_int("RDV_ARTIFACT_DRAIN_S")


def _kafka_settings() -> KafkaSettings:
    """The contract package reads its own RDV_KAFKA_* variables, so workers and Django agree on them."""
    try:
        return KafkaSettings.from_env(os.environ)
    except ValueError as exc:
        raise ImproperlyConfigured(f"Kafka settings: {exc}") from exc


RDV_KAFKA = _kafka_settings()
# How long config_publish waits for the broker to acknowledge a snapshot before answering 503 (the
# revision stays recorded; the republish sweep sends a revision left unpublished every
# RDV_REPUBLISH_INTERVAL_S).
RDV_PUBLISH_TIMEOUT_S = env_float("RDV_PUBLISH_TIMEOUT_S")
RDV_REPUBLISH_INTERVAL_S = env_float("RDV_REPUBLISH_INTERVAL_S")
# How long decision records stay available to GET …/requests/<request_id>; the consumer sweeps hourly.
RDV_DECISION_RETENTION_DAYS = env_int("RDV_DECISION_RETENTION_DAYS")
# Prometheus GET /metrics (controlplane/prometheus.py): off ("") unless a token is set; with several server
# processes, the directory their counters share (prometheus_client's multiprocess mode).
RDV_METRICS_TOKEN = env_str("RDV_METRICS_TOKEN", "")
RDV_PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "")

# Drift (rdv.drift, stored and scored by `manage.py consume_drift`; DESIGN.md §7): the reference size,
# the smallest bucket that is judged, the bins and thresholds, and how long buckets are kept.
RDV_DRIFT_WINDOW = env_int("RDV_DRIFT_WINDOW")
# The bucket length of scans of services without a canary (the runners' buckets have the same).
RDV_DRIFT_WINDOW_SECONDS = env_float("RDV_DRIFT_WINDOW_SECONDS")
RDV_DRIFT_MIN_WINDOW = env_int("RDV_DRIFT_MIN_WINDOW")
RDV_DRIFT_BINS = env_int("RDV_DRIFT_BINS")
RDV_DRIFT_PSI_THRESHOLD = env_float("RDV_DRIFT_PSI_THRESHOLD")
RDV_DRIFT_KS_ALPHA = env_float("RDV_DRIFT_KS_ALPHA")
RDV_DRIFT_KS_MIN_STATISTIC = env_float("RDV_DRIFT_KS_MIN_STATISTIC")
RDV_DRIFT_RETENTION_DAYS = env_int("RDV_DRIFT_RETENTION_DAYS")

# Worker status (rdv.status, stored by `manage.py consume_status`): a worker whose last report is older
# than this no longer counts. A version in an answering role that is not ready on a live runner of its pool
# this long after its revision was published (or that a runner reports failed) is rolled back automatically,
# checked every RDV_FALLBACK_INTERVAL_S by Celery beat.
RDV_STATUS_STALE_S = env_int("RDV_STATUS_STALE_S")
RDV_READY_TIMEOUT_S = env_int("RDV_READY_TIMEOUT_S")
RDV_FALLBACK_INTERVAL_S = env_int("RDV_FALLBACK_INTERVAL_S")

# Celery (background work): Redis as the broker; no result backend, tasks record their outcome in
# the database. Late acks + prefetch 1: a worker that dies mid-task leaves it to another worker.
CELERY_BROKER_URL = env_str("RDV_CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(RUN_DIR / "celerybeat-schedule")
CELERY_TASK_DEFAULT_QUEUE = "celery"
# The validation task by name (controlplane.registry.validation.VALIDATE_TASK); the sweep stays on the default.
CELERY_TASK_ROUTES = {"registry.version_validate": {"queue": RDV_VALIDATION_QUEUE}}
# Periodic work; apps add their entries here (name → {"task", "schedule"}).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # A tick left waiting in the queue past the next one is useless: it expires instead of piling up.
    "fleet-auto-fallback": {
        "task": "controlplane.fleet.tasks.auto_fallback",
        "schedule": float(RDV_FALLBACK_INTERVAL_S),
        "options": {"expires": float(RDV_FALLBACK_INTERVAL_S)},
    },
}
# How often beat enqueues the analysis of running rollouts (each one analysed at most once at a time).
RDV_ROLLOUT_TICK_S = env_float("RDV_ROLLOUT_TICK_S")
CELERY_BEAT_SCHEDULE["rollouts-analyse-due"] = {
    "task": "rollouts.analyse_due",
    "schedule": RDV_ROLLOUT_TICK_S,
    # A tick the worker could not take in time is worthless: the next one claims the same rollouts.
    "options": {"expires": max(5.0, 5 * RDV_ROLLOUT_TICK_S)},
}
# Send again the newest revision of a service whose publication failed (broker down or slow at the time).
CELERY_BEAT_SCHEDULE["routing-republish-pending"] = {
    "task": "routing.republish_pending",
    "schedule": RDV_REPUBLISH_INTERVAL_S,
    "options": {"expires": RDV_REPUBLISH_INTERVAL_S},
}
# Every service's alert rules, evaluated (DESIGN.md §7 *Alerts*); resolved alerts past retention deleted.
CELERY_BEAT_SCHEDULE["alerts-evaluate"] = {
    "task": "alerts.evaluate_all",
    "schedule": RDV_ALERT_INTERVAL_S,
    "options": {"expires": RDV_ALERT_INTERVAL_S},
}
CELERY_BEAT_SCHEDULE["alerts-sweep"] = {"task": "alerts.sweep", "schedule": 3600.0}
# Re-queue versions whose validation task was lost (broker down at upload, a worker killed mid-task).
CELERY_BEAT_SCHEDULE["registry-validation-sweep"] = {"task": "registry.versions_validation_sweep", "schedule": 60.0}
# Labels outlive nothing they can join: swept a day after their decisions expire (controlplane/feedback/tasks.py).
CELERY_BEAT_SCHEDULE["feedback-expire"] = {"task": "feedback.expire", "schedule": 3600.0}
# Roll-ups (controlplane/monitoring, DESIGN.md §7): minute rows are rolled into hour rows every
# RDV_ROLLUP_INTERVAL_S and kept RDV_ROLLUP_MINUTE_RETENTION_HOURS once rolled; hour rows are kept
# RDV_ROLLUP_HOUR_RETENTION_DAYS, which is also the longest window GET …/metrics accepts.
RDV_ROLLUP_INTERVAL_S = env_float("RDV_ROLLUP_INTERVAL_S")
RDV_ROLLUP_MINUTE_RETENTION_HOURS = env_int("RDV_ROLLUP_MINUTE_RETENTION_HOURS")
RDV_ROLLUP_HOUR_RETENTION_DAYS = env_int("RDV_ROLLUP_HOUR_RETENTION_DAYS")
CELERY_BEAT_SCHEDULE["monitoring-rollups-roll"] = {
    "task": "monitoring.rollups_roll",
    "schedule": RDV_ROLLUP_INTERVAL_S,
    "options": {"expires": RDV_ROLLUP_INTERVAL_S},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["controlplane.tenancy.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "controlplane.api.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "controlplane.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Rendezvous API",
    "DESCRIPTION": "Multi-tenant model serving on the rendezvous architecture (see DESIGN.md §6).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Deployment roles appear in several shapes (routing, metrics, the league table): one enum, one name.
    "ENUM_NAME_OVERRIDES": {"RoleEnum": "contracts.roles.ROLES"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "controlplane.api.schema.predict_path_hook",
        "controlplane.api.schema.error_responses_hook",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
