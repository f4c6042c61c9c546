"""The control plane's background processes the automatic fallback needs, for end-to-end tests:
``manage.py consume_status`` and a Celery worker with its beat, both on the test database.

Kept apart from stack.py on purpose: other end-to-end helpers start their own Celery processes there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """The database this test session created (``test_<name>``), as a URL child processes understand."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class BackgroundProcess:
    """``python <argv>`` with its output kept for the failure message; ready once ``marker`` is printed."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path, marker: str) -> None:
        self.log_path = log_path
        self.marker = marker
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, *argv], cwd=ROOT, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=self._log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.marker in self.log_path.read_text():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{self.log_path.name}: not ready:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()


class ControlPlaneBackground:
    """The status consumer and Celery (worker with embedded beat); ``env`` tunes them (e.g. the time limit)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        common = {
            "DATABASE_URL": test_database_url(),
            "DJANGO_SETTINGS_MODULE": "controlplane.settings.test",
            "RDV_PUBLIC_URL": settings.RDV_PUBLIC_URL,
            **env,
        }
        self.processes = [
            BackgroundProcess(["manage.py", "consume_status"], common, logs / "status.log", "[status] ready"),
            BackgroundProcess(
                ["-m", "celery", "-A", "controlplane", "worker", "-B", "--loglevel", "INFO", "--concurrency", "1",
                 "--without-gossip", "--without-mingle", "-s", str(logs / "celerybeat-schedule")],
                common,
                logs / "celery.log",
                " ready.",
            ),
        ]

    def wait_ready(self) -> ControlPlaneBackground:
        for process in self.processes:
            process.wait_ready()
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
