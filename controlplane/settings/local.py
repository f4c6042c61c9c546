"""One-machine development: SQLite and uploaded files under ``.run/``, debug on, dev secrets."""

from contracts.environment import DEV_SECRET_KEY
from controlplane.settings.base import *  # noqa: F403
from controlplane.settings.base import RUN_DIR
from controlplane.settings.env import env_bool, env_str

DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)

RUN_DIR.mkdir(exist_ok=True)
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # Benchmarks point this elsewhere so they never touch the demo's database.
        "NAME": env_str("RDV_SQLITE_PATH", str(RUN_DIR / "db.sqlite3")),
        # The gateway, the admin and the consumers write concurrently; wait for the lock instead of failing.
        # IMMEDIATE: a transaction takes the write lock when it starts, so one that read first never fails
        # with "database is locked" when it then writes (a deferred lock upgrade does not wait).
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }
}
