"""Celery tasks of monitoring: thin shells around its services."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from controlplane.monitoring.services import rollups_expire, rollups_roll


@shared_task(name="monitoring.rollups_roll", ignore_result=True)
def rollups_roll_due() -> int:
    """Scheduled by beat every RDV_ROLLUP_INTERVAL_S: roll finished hours, then apply the retentions."""
    now = timezone.now()
    rolled = rollups_roll(before=now.replace(minute=0, second=0, microsecond=0))
    rollups_expire(
        minutes_before=now - timedelta(hours=settings.RDV_ROLLUP_MINUTE_RETENTION_HOURS),
        hours_before=now - timedelta(days=settings.RDV_ROLLUP_HOUR_RETENTION_DAYS),
    )
    return rolled
