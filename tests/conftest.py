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
