"""Reads of the audit log."""

from __future__ import annotations

from django.db.models import QuerySet

from controlplane.audit.models import AuditEvent
from controlplane.tenancy.models import Tenant


def audit_list(*, tenant: Tenant, action: str | None = None, target: str | None = None) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(tenant=tenant)
    if action:
        events = events.filter(action=action)
    if target:
        events = events.filter(target=target)
    return events.order_by("-created_at", "-pk")
