"""Production: every secret and address comes from the environment; nothing falls back to a dev value.

The settings below make ``manage.py check --deploy --fail-level WARNING`` clean (CI runs it:
tests/controlplane/settings/test_deploy_check.py), and the last lines refuse to start with any
development default (contracts.environment.DEV_DEFAULTS).

TLS is expected to end at a reverse proxy in front of the control plane. The proxy must set
``X-Forwarded-Proto`` and overwrite whatever a client sent in it: Django then trusts it
(``SECURE_PROXY_SSL_HEADER``) to know a request came in over HTTPS. Without such a proxy set
DJANGO_TRUST_X_FORWARDED_PROTO=0, or a client could claim HTTPS by sending the header itself.
"""

import os

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from contracts.environment import DEV_DEFAULTS, DevDefaultError, refuse_dev_defaults
from controlplane.settings.base import *  # noqa: F403
from controlplane.settings.env import env_bool, env_int, env_list, env_str

DEBUG = False
SECRET_KEY = env_str("DJANGO_SECRET_KEY", required=True, hint="a long random string")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", required=True)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", required=True, hint="postgres://user:password@host:5432/name"),
        conn_max_age=env_int("DJANGO_CONN_MAX_AGE"),
        conn_health_checks=True,
    )
}
REDIS_URL = env_str("REDIS_URL", required=True)
RDV_PUBLIC_URL = env_str("RDV_PUBLIC_URL", required=True, hint="the URL runners reach the control plane at")
RDV_RUNNER_SECRET = env_str(
    "RDV_RUNNER_SECRET", required=True, hint="a long random string; runner pool tokens are derived from it"
)

if env_bool("DJANGO_TRUST_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Browsers are sent to HTTPS. Runners and probes are not browsers: they reach the control plane at
# RDV_PUBLIC_URL and /healthz, /readyz (and Prometheus /metrics) on the private network, often over
# plain HTTP, so those paths are answered as they come (a signed artifact URL is valid one minute for one artifact).
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT")
SECURE_REDIRECT_EXEMPT = [r"^api/v1/internal/", r"^healthz$", r"^readyz$", r"^metrics$"]
# HSTS: once a browser has seen the site over HTTPS it never tries HTTP again for a year. Include
# subdomains and the preload flag by default (check --deploy asks for both); an operator whose
# subdomains still serve plain HTTP turns them off here rather than silencing the check.
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS")
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD")
# Cookies (the admin console's session and CSRF token) only travel over HTTPS, never to scripts.
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"


def _effective_values() -> dict[str, str]:
    """The values the process will really use, keyed by environment variable, for the dev-default check.

    The environment first (it holds settings other processes read, such as RDV_RUNNER_TOKEN), then the
    settings this module resolved, so a default filled in here is checked too.
    """
    values = dict(os.environ)  # DJANGO_DEBUG stays as given: DEBUG is off regardless, but asking is a mistake
    values.update({"DJANGO_SECRET_KEY": SECRET_KEY, "DJANGO_ALLOWED_HOSTS": ",".join(ALLOWED_HOSTS)})
    for rule in DEV_DEFAULTS:
        if rule.setting.startswith("RDV_") and rule.setting in globals():
            values[rule.setting] = str(globals()[rule.setting])
    return values


try:
    refuse_dev_defaults(_effective_values(), process="the control plane (controlplane.settings.production)")
except DevDefaultError as exc:
    raise ImproperlyConfigured(str(exc)) from None

# Kafka: every process logs in as its own principal (DESIGN.md §3 *Authentication and ACLs*). A broker
# without authentication lets anyone who reaches it read every tenant's topics and rewrite rdv.config.
if not RDV_KAFKA.uses_sasl:  # noqa: F405
    raise ImproperlyConfigured(
        "RDV_KAFKA_SECURITY_PROTOCOL must be SASL_SSL (or SASL_PLAINTEXT on a private network) in production, "
        "with RDV_KAFKA_USERNAME and RDV_KAFKA_PASSWORD"
    )

# The sandbox probe is a test hook: whatever a settings module imported before, production has none.
RDV_VALIDATION_TEST_PROBE_DIR = None
