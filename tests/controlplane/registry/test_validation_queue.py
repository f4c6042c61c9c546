"""Validation has its own Celery queue: a backlog of slow uploads never delays the default queue's work
(rollout analysis, the automatic fallback, the sweeps), which a worker of the default queue runs at once.

A real worker started as production starts the default one (``-Q celery``), a real Redis broker: three
uploads whose prediction spins until the validation timeout are queued first, then the validation sweep
(a default-queue task). Without the route, the worker would take the three validations first (30 s).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from controlplane.celery import app
from controlplane.registry.models import ModelVersion
from controlplane.registry.services import version_create
from controlplane.registry.validation import VALIDATE_TASK
from tests.controlplane.conftest import IRIS_METADATA
from tests.controlplane.registry import artifacts
from tests.factories import ModelFactory

BACKLOG = 3
SLOW_VALIDATION_S = 10


@pytest.fixture
def default_queue_worker(tmp_path):  # noqa: ANN001, ANN201
    from tests.e2e.stack import celery_worker

    env = {"RDV_VALIDATION_TIMEOUT_S": str(SLOW_VALIDATION_S), "RDV_VALIDATION_CPU_S": "60"}
    worker = celery_worker(tmp_path / "worker.log", env=env, concurrency=1, queues=("celery",))
    yield worker
    worker.stop()


@pytest.mark.django_db(transaction=True)
def test_a_backlog_of_slow_validations_never_delays_the_default_queue(default_queue_worker) -> None:  # noqa: ANN001
    spinning = artifacts.spinning_onnx()
    backlog = [
        version_create(model=ModelFactory(), artifact_file=ContentFile(spinning, name="spin.onnx"), format="onnx",
                       metadata=IRIS_METADATA)
        for _ in range(BACKLOG)
    ]  # each queues its validation as its transaction commits
    lost = backlog[0]
    queued_long_ago = timezone.now() - timedelta(hours=1)
    ModelVersion.objects.filter(pk=lost.pk).update(validation_queued_at=queued_long_ago)

    sent = time.monotonic()
    app.send_task("registry.versions_validation_sweep")
    while ModelVersion.objects.get(pk=lost.pk).validation_queued_at == queued_long_ago:
        assert time.monotonic() - sent < 8, f"the sweep waited behind the validations:\n{default_queue_worker.tail()}"
        time.sleep(0.2)

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    ids = {f"[{version.pk}]" for version in backlog}
    mine = [raw for raw in broker.lrange(settings.RDV_VALIDATION_QUEUE, 0, -1)
            if json.loads(raw)["headers"]["task"] == VALIDATE_TASK and json.loads(raw)["headers"]["argsrepr"] in ids]
    for raw in mine:  # leave the shared queue as it was
        broker.lrem(settings.RDV_VALIDATION_QUEUE, 1, raw)
    assert f"{VALIDATE_TASK}[" not in default_queue_worker.log_path.read_text(), "the default worker validated"
