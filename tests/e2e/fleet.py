"""The control plane's background processes the automatic fallback needs, for end-to-end tests:
``manage.py consume_status`` and a Celery worker with its beat, both on the test database.

Kept apart from stack.py on purpose: other end-to-end helpers start their own Celery processes there; the
processes themselves are stack.py's ``ChildProcess``.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from tests.e2e.stack import ChildProcess, test_database_url
from tests.kafka_auth import worker_env


class ControlPlaneBackground:
    """The status consumer and Celery (worker with embedded beat); ``env`` tunes them (e.g. the time limit)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        common = {
            "DATABASE_URL": test_database_url(),
            "DJANGO_SETTINGS_MODULE": "controlplane.settings.test",
            "RDV_PUBLIC_URL": settings.RDV_PUBLIC_URL,
            **worker_env("controlplane"),
            **env,
        }
        self.processes = [
            ChildProcess(
                "status", ["manage.py", "consume_status"], common, logs / "status.log", ready_marker="[status] ready",
                stop_timeout=20,
            ),
            ChildProcess(
                "celery",
                ["-m", "celery", "-A", "controlplane", "worker", "-B", "-Q", "celery", "--loglevel", "INFO",
                 "--concurrency", "1", "--without-gossip", "--without-mingle", "-s", str(logs / "celerybeat-schedule")],
                common,
                logs / "celery.log",
                ready_marker=" ready.",
                stop_timeout=20,
            ),
        ]

    def wait_ready(self) -> ControlPlaneBackground:
        for process in self.processes:
            process.wait_ready()
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
