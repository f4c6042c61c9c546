"""Celery tasks of feedback: the hourly sweep of labels whose decisions have expired."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from controlplane.feedback.services import feedback_expire

# A day past the decisions' retention: a label may be given a little before its decision is stored.
_SLACK = timedelta(days=1)


@shared_task(name="feedback.expire")
def feedback_expire_task() -> int:
    return feedback_expire(older_than=timezone.now() - timedelta(days=settings.RDV_DECISION_RETENTION_DAYS) - _SLACK)
