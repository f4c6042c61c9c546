"""The processes a rollout needs beyond the skeleton's: the decisions consumer, a Celery worker and beat.

They run as separate processes on the test database (so they see what the in-process gateway writes),
and each is started with a marker its log prints once it is ready.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

from tests.e2e.stack import ROOT


class CommandProcess:
    """``python <argv>`` with its output kept in a log for the failure message; waits for ``marker``."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, marker: str) -> None:
        self.name = name
        self.log_path = log_path
        self.marker = marker
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, *argv], cwd=ROOT, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=self._log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 90.0) -> CommandProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.marker in self.log_path.read_text():
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text()[-chars:]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


def database_url() -> str:
    """The test database (pytest-django has renamed it by now), for processes outside this one."""
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def control_plane_processes(env: dict[str, str], logs: Path) -> list[CommandProcess]:
    """The decisions consumer, a Celery worker (one process: CPU is shared) and beat ticking every second."""
    django_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "controlplane.settings.test",
        "DATABASE_URL": database_url(),
        "RDV_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "RDV_ROLLOUT_TICK_S": "1",
    }
    celery = ["-m", "celery", "-A", "controlplane"]
    return [
        CommandProcess(
            "decisions", ["manage.py", "consume_decisions"], django_env, logs / "decisions.log", "[decisions] ready"
        ),
        CommandProcess(
            "celery-worker",
            [*celery, "worker", "--pool", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            django_env, logs / "celery-worker.log", " ready.",
        ),
        CommandProcess(
            "celery-beat",
            [*celery, "beat", "--loglevel", "INFO", "--schedule", str(logs / "celerybeat-schedule")],
            django_env, logs / "celery-beat.log", "beat: Starting",
        ),
    ]
