"""Celery tasks of the routing app: thin shells around its services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from controlplane.routing.services import config_republish_pending


@shared_task(name="routing.republish_pending", ignore_result=True)
def republish_pending() -> int:
    """Scheduled by beat every RDV_REPUBLISH_INTERVAL_S; answers how many revisions it published."""
    return len(config_republish_pending(older_than_s=settings.RDV_PUBLISH_TIMEOUT_S))
