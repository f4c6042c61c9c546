"""Celery tasks of the drift app: thin shells around its services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from controlplane.drift.scan import drift_scan
from controlplane.drift.selectors import window_parse
from controlplane.drift.services import DriftSettings
from controlplane.routing.models import Service


@shared_task(name="controlplane.drift.tasks.drift_scan", ignore_result=True)
def drift_scan_task(service_id: int, window: str = "1h") -> int:
    """Drift of a service without a canary over ``window``, from its requests topic; answers the buckets stored."""
    service = Service.objects.select_related("tenant").filter(pk=service_id).first()
    if service is None:
        return 0
    summary = drift_scan(
        settings.RDV_KAFKA, tenant=service.tenant.slug, service=service.slug, window=window_parse(window),
        bucket_s=settings.RDV_DRIFT_WINDOW_SECONDS, config=DriftSettings.from_django(),
    )
    return summary.buckets
