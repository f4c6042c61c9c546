"""A whole platform for end-to-end tests: the ASGI gateway in this process (so it shares the test
database), real model-runner and rendezvous processes over the real broker, and a real Celery worker
(``celery_worker``) on the test database and Redis for the background tasks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import uvicorn

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayThread:
    """uvicorn serving controlplane.asgi in a thread of the test process."""

    def __init__(self, port: int) -> None:
        from controlplane.asgi import application

        config = uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> GatewayThread:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("gateway did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)


class ChildProcess:
    """``python <argv>`` with its output kept in a log for the failure message; ready once ``ready_marker`` is
    printed. One class for every process an end-to-end test starts (workers, consumers, Celery)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        *,
        ready_marker: str = "ready",
        ready_timeout: float = 60.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self.ready_marker = ready_marker
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, *argv], cwd=ROOT, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=self._log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float | None = None) -> Self:
        deadline = time.monotonic() + (self.ready_timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            if self.ready_marker in self.log_path.read_text():
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
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()


class WorkerProcess(ChildProcess):
    """``python -m <module> [args]``: a platform worker (or Celery) started the way production starts it."""

    def __init__(
        self,
        module: str,
        env: dict[str, str],
        log_path: Path,
        *,
        args: Sequence[str] = (),
        ready_marker: str = "ready",
    ) -> None:
        super().__init__(module, ["-m", module, *args], env, log_path, ready_marker=ready_marker)
        self.module = module


def test_database_url() -> str:
    """The URL of the database pytest-django created, for processes that must share it (a Celery worker)."""
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def celery_worker(
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    concurrency: int = 2,
    queues: Sequence[str] = ("celery", "validation"),
) -> WorkerProcess:
    """A real ``celery -A controlplane worker`` on the test database, media root and broker (Redis).

    It consumes ``queues``: by default the default queue and validation's own (production runs a worker for
    each; one process here spares the shared CPU).

    Call it once the test database exists (after ``django_db_setup``) and stop it before the database
    is dropped. Rows it should see must be committed: create them outside the test's transaction
    (``django_db_blocker.unblock()``, or through the gateway, which commits). Tasks still queued from
    an earlier run are purged first, so the worker only sees this session's work. ``env`` overrides
    settings, e.g. the ``RDV_VALIDATION_*`` limits.
    """
    from django.conf import settings

    from controlplane.celery import app

    with app.connection_for_write() as connection:  # each queue it consumes, validation's included
        for queue in queues:
            connection.default_channel.queue_purge(queue)
    worker_env = {
        "DJANGO_SETTINGS_MODULE": "controlplane.settings.test",
        "DATABASE_URL": test_database_url(),
        "RDV_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "RDV_CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        **(env or {}),
    }
    args = ["-A", "controlplane", "worker", "-Q", ",".join(queues), "--loglevel", "INFO",
            "--concurrency", str(concurrency), "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-n", f"e2e-{os.getpid()}@%h"]
    return WorkerProcess("celery", worker_env, log_path, args=args, ready_marker=" ready.").wait_ready(90)
