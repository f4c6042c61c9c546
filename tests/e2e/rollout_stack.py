"""The processes a rollout needs beyond the skeleton's: the decisions consumer, a Celery worker and beat.

They run as separate processes on the test database (so they see what the in-process gateway writes),
and each is started with a marker its log prints once it is ready.

Its own Celery worker rather than the session's ``celery_worker_process``: the worker publishes config
revisions whose artifact URLs come from ``RDV_PUBLIC_URL``, which must name this module's gateway.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from tests.e2e.stack import ChildProcess, test_database_url
from tests.kafka_auth import worker_env


def control_plane_processes(env: dict[str, str], logs: Path) -> list[ChildProcess]:
    """The decisions and roll-up consumers, a Celery worker (one process: CPU is shared), beat ticking every second."""
    django_env = {
        **env,
        **worker_env("controlplane"),
        "DJANGO_SETTINGS_MODULE": "controlplane.settings.test",
        "DATABASE_URL": test_database_url(),
        "RDV_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "RDV_ROLLOUT_TICK_S": "1",
    }
    celery = ["-m", "celery", "-A", "controlplane"]
    return [
        ChildProcess(
            "decisions", ["manage.py", "consume_decisions"], django_env, logs / "decisions.log",
            ready_marker="[decisions] ready", ready_timeout=90,
        ),
        ChildProcess(
            "rollups", ["manage.py", "consume_rollups"], django_env, logs / "rollups.log",
            ready_marker="[rollups] ready", ready_timeout=90,
        ),
        ChildProcess(
            "celery-worker",
            [*celery, "worker", "-Q", "celery", "--pool", "solo", "--loglevel", "INFO", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            django_env, logs / "celery-worker.log", ready_marker=" ready.", ready_timeout=90,
        ),
        ChildProcess(
            "celery-beat",
            [*celery, "beat", "--loglevel", "INFO", "--schedule", str(logs / "celerybeat-schedule")],
            django_env, logs / "celery-beat.log", ready_marker="beat: Starting", ready_timeout=90,
        ),
    ]
