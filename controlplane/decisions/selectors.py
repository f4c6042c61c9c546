"""Reads of decision records."""

from __future__ import annotations

from controlplane.decisions.models import DecisionRecord
from controlplane.errors import NotFound
from controlplane.routing.models import Service


def decision_get(*, service: Service, request_id: str) -> DecisionRecord:
    record = DecisionRecord.objects.filter(service=service, request_id=request_id).first()
    if record is None:
        raise NotFound(
            f"no decision for request {request_id!r} in service {service.slug!r} "
            "(not decided yet, or older than the retention)"
        )
    return record
