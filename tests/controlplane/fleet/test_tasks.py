"""The automatic fallback is scheduled by beat under the name the worker knows, and the task runs the service."""

from __future__ import annotations

import pytest
from django.conf import settings

from controlplane.celery import app
from controlplane.fleet.models import RevisionCheck
from controlplane.fleet.services import worker_statuses_store
from controlplane.fleet.tasks import auto_fallback
from tests.controlplane.fleet.builders import runner_status


def test_beat_schedules_the_fallback_task_the_worker_registers() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["fleet-auto-fallback"]
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
    assert entry["schedule"] == float(settings.RDV_FALLBACK_INTERVAL_S)
    # A tick still queued when the next one is due is dropped, not run late.
    assert entry["options"]["expires"] <= entry["schedule"]


@pytest.mark.django_db(transaction=True)
def test_the_task_judges_and_rolls_back(routed) -> None:  # noqa: ANN001
    service, v1, v2, bad = routed
    worker_statuses_store(statuses=[runner_status("runner-a", service, bad.number, {v2: ("failed", "boom")})])

    assert auto_fallback.apply().get() == 1
    assert RevisionCheck.objects.get(revision=bad).state == "rolled_back"
