"""Celery tasks of the fleet app: thin shells around its services."""

from __future__ import annotations

from celery import shared_task

from controlplane.fleet.services import auto_fallback_run


@shared_task(name="controlplane.fleet.tasks.auto_fallback", ignore_result=True)
def auto_fallback() -> int:
    """Scheduled by beat every RDV_FALLBACK_INTERVAL_S; answers how many revisions it judged."""
    return len(auto_fallback_run())
