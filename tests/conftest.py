"""Session-wide access to the real services started by the test command (scripts/test.sh).

Nothing here is skipped when a service is missing: the test command starts Kafka, PostgreSQL and
Redis first, and a test run without them fails loudly with the reason.
"""

from __future__ import annotations

import os
import socket

import pytest


def _reachable(hostport: str) -> bool:
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    bootstrap = os.environ.get("RDV_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    if not _reachable(bootstrap.split(",")[0]):
        pytest.fail(f"no Kafka broker at {bootstrap}: run the tests with `make test`, which starts one")
    return bootstrap


# Limits of the shared worker's validations: small enough that the end-to-end tests of the limits run
# quickly (tests/e2e/test_validation.py), ample for the small models the tests train.
E2E_VALIDATION_LIMITS = {
    "RDV_VALIDATION_MEMORY_MB": "256",
    "RDV_VALIDATION_CPU_S": "5",
    "RDV_VALIDATION_TIMEOUT_S": "120",
}


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, kafka_bootstrap, tmp_path_factory):  # noqa: ANN001, ANN201
    """One real Celery worker for the session, on the test database and Redis (tests/e2e/stack.py).

    Version validation runs in it exactly as in production; tests see its effects through the API or the
    database. The stacks that need the default queue start their own worker (tests/e2e/fleet.py,
    rollout_stack.py). Its log is in the worker's ``log_path``.
    """
    from tests.e2e.stack import celery_worker
    from tests.kafka_auth import worker_env

    log = tmp_path_factory.mktemp("celery") / "worker.log"
    with django_db_blocker.unblock():
        env = {"RDV_KAFKA_BOOTSTRAP": kafka_bootstrap, **worker_env("controlplane"), **E2E_VALIDATION_LIMITS}
        # Validation only: default-queue tasks (the fallback, rollouts, republishing) publish routing
        # snapshots whose artifact URLs name RDV_PUBLIC_URL, which only the stacks that run them know; a
        # runner does not follow a snapshot naming another control plane (DESIGN.md §6).
        worker = celery_worker(log, env=env, queues=("validation",))
    yield worker
    worker.stop()
