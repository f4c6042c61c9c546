"""Reading alerts and rules for the API."""

from __future__ import annotations

from django.db.models import QuerySet

from controlplane.alerts.models import Alert, AlertRules
from controlplane.routing.models import Service


def alerts_list(*, service: Service, state: str | None = None) -> QuerySet[Alert]:
    rows = Alert.objects.filter(service=service)
    return rows.filter(state=state) if state else rows


def alert_rules_get(*, service: Service) -> AlertRules:
    """The stored rules, or the defaults (nothing watched) when none were set."""
    return AlertRules.objects.filter(service=service).first() or AlertRules(service=service)
