"""Tests run against the production components: DATABASE_URL is required (PostgreSQL in CI)."""

import tempfile
from pathlib import Path

import dj_database_url

from contracts.environment import TEST_SECRET_KEY
from controlplane.settings.base import *  # noqa: F403
from controlplane.settings.env import env_int, env_str

SECRET_KEY = TEST_SECRET_KEY
DEBUG = False

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", required=True, hint="e.g. the URL printed by `scripts/services.sh start`")
    )
}

# Each test session writes artifacts to its own directory so runs never see each other's files; a
# process the tests start (a Celery worker) is handed the session's directory in RDV_MEDIA_ROOT.
MEDIA_ROOT = Path(env_str("RDV_MEDIA_ROOT", "") or tempfile.mkdtemp(prefix="rdv-test-media-"))
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Generous on a machine shared by many test runs: a Redis answer is never mistaken for an outage.
RDV_STATE_REDIS_TIMEOUT_MS = env_int("RDV_STATE_REDIS_TIMEOUT_MS", 1000)

# The sandbox probe (tests/controlplane/registry/sandbox_probe/): a `python` artifact naming one of its modules is
# run inside the validation sandbox instead of being checked statically. Test settings only.
RDV_VALIDATION_TEST_PROBE_DIR = BASE_DIR / "tests" / "controlplane" / "registry" / "sandbox_probe"  # noqa: F405
