"""``audit_record`` is called by the services that write, inside their transaction: no write without its entry."""

from __future__ import annotations

from typing import Any

from controlplane.audit.models import AuditEvent
from controlplane.tenancy.models import Tenant


def audit_record(*, tenant: Tenant, actor: str, action: str, target: str, diff: dict[str, Any]) -> AuditEvent:
    """Append one entry. ``diff`` is ``{"before", "after"}`` for routing, the created/changed fields otherwise."""
    return AuditEvent.objects.create(tenant=tenant, actor=actor[:255], action=action, target=target[:255], diff=diff)


def fields_changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"before": old, "after": new}}`` for the fields whose value differs."""
    return {
        name: {"before": before.get(name), "after": value} for name, value in after.items() if before.get(name) != value
    }
