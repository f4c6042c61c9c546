"""Labels are swept by beat a day after their decisions expire: they could no longer join anything."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from controlplane.celery import app
from controlplane.feedback.models import Feedback
from controlplane.feedback.tasks import feedback_expire_task
from tests.factories import ServiceFactory


def test_beat_schedules_the_sweep_the_worker_registers() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["feedback-expire"]
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks


@pytest.mark.django_db
@override_settings(RDV_DECISION_RETENTION_DAYS=7)
def test_the_sweep_deletes_labels_older_than_the_decisions_retention_and_a_day() -> None:
    service = ServiceFactory()
    now = timezone.now()
    for request_id, age in [("fresh", timedelta(days=1)), ("kept", timedelta(days=7, hours=23)),
                            ("gone", timedelta(days=8, hours=1))]:
        Feedback.objects.create(service=service, request_id=request_id, label="a")
        Feedback.objects.filter(request_id=request_id).update(created_at=now - age)

    assert feedback_expire_task.apply().get() == 1
    assert set(Feedback.objects.values_list("request_id", flat=True)) == {"fresh", "kept"}
