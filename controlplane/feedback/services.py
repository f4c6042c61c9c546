"""Storing labels; not audited (it is data flowing in, not a change to the platform's configuration)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from controlplane.errors import InvalidInput, TooLarge
from controlplane.feedback.models import Feedback
from controlplane.routing.models import Service


def feedback_store(*, service: Service, items: Sequence[dict[str, Any]]) -> int:
    """Upsert ``{request_id, label}`` items; answers how many requests got a label.

    Within one call the last label for a request wins, as it would across calls.
    """
    if not items:
        raise InvalidInput("send one {request_id, label} or a non-empty list of them")
    limit = settings.RDV_FEEDBACK_MAX_ITEMS
    if len(items) > limit:
        raise TooLarge(f"{len(items)} labels in one call; the limit is {limit}")
    latest = {item["request_id"]: item["label"] for item in items}
    now = timezone.now()
    Feedback.objects.bulk_create(
        [Feedback(service=service, request_id=rid, label=label, created_at=now) for rid, label in latest.items()],
        update_conflicts=True,
        unique_fields=["service", "request_id"],
        update_fields=["label", "created_at"],
    )
    return len(latest)


def feedback_expire(*, older_than: datetime) -> int:
    """Delete the labels given before ``older_than``; returns how many went.

    A label joins its decision only while the decision is kept (RDV_DECISION_RETENTION_DAYS), so older
    labels count for nothing; without this sweep every quality query would scan them forever.
    """
    deleted, _ = Feedback.objects.filter(created_at__lt=older_than).delete()
    return deleted
