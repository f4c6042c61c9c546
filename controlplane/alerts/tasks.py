"""Celery tasks of the alerts app: thin shells around its services."""

from __future__ import annotations

from celery import shared_task

from controlplane.alerts import services


@shared_task(name="alerts.evaluate_all", ignore_result=True)
def evaluate_all() -> int:
    """Scheduled by beat every RDV_ALERT_INTERVAL_S."""
    return services.alerts_evaluate_all()


@shared_task(
    name="alerts.notify",
    ignore_result=True,
    autoretry_for=(services.WebhookFailed,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=8,
)
def alert_notify(alert_id: int, state: str) -> bool:
    return services.alert_notify(alert_id=alert_id, state=state)


@shared_task(name="alerts.sweep", ignore_result=True)
def sweep() -> int:
    return services.alerts_sweep()
