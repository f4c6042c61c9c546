"""Production: every secret and address comes from the environment; nothing falls back to a dev value."""

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from controlplane.settings.base import *  # noqa: F403
from controlplane.settings.env import env_bool, env_int, env_list, env_str

DEBUG = False
SECRET_KEY = env_str("DJANGO_SECRET_KEY", required=True, hint="a long random string")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", required=True)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", required=True, hint="postgres://user:password@host:5432/name"),
        conn_max_age=env_int("DJANGO_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
REDIS_URL = env_str("REDIS_URL", required=True)
RDV_PUBLIC_URL = env_str("RDV_PUBLIC_URL", required=True, hint="the URL runners reach the control plane at")
RDV_RUNNER_TOKEN = env_str("RDV_RUNNER_TOKEN", required=True, hint="shared secret of the model runners")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Kafka: every process logs in as its own principal (DESIGN.md §3 *Authentication and ACLs*). A broker
# without authentication lets anyone who reaches it read every tenant's topics and rewrite rdv.config.
if not RDV_KAFKA.uses_sasl:  # noqa: F405
    raise ImproperlyConfigured(
        "RDV_KAFKA_SECURITY_PROTOCOL must be SASL_SSL (or SASL_PLAINTEXT on a private network) in production, "
        "with RDV_KAFKA_USERNAME and RDV_KAFKA_PASSWORD"
    )
