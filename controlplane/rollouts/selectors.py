"""Reads for rollouts: a rollout by id, the active one, and the decision records of a step window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db.models import QuerySet

from controlplane.decisions.models import DecisionRecord
from controlplane.errors import NotFound
from controlplane.rollouts.analysis import WindowDecision
from controlplane.rollouts.models import Rollout
from controlplane.routing.models import Service

# Records are stored a moment after they are decided (created_at ≥ decided_at on one clock); the indexed
# created_at bound narrows the scan, with slack for clocks of other machines.
_STORE_SLACK = timedelta(minutes=2)


def rollouts_list(*, service: Service) -> QuerySet[Rollout]:
    return Rollout.objects.filter(service=service).select_related("version__model").order_by("-created_at", "-pk")


def rollout_get(*, service: Service, rollout_id: int) -> Rollout:
    rollout = rollouts_list(service=service).filter(pk=rollout_id).first()
    if rollout is None:
        raise NotFound(f"rollout {rollout_id} does not exist on service {service.slug!r}")
    return rollout


def rollout_active(*, service: Service) -> Rollout | None:
    return rollouts_list(service=service).filter(status__in=Rollout.ACTIVE).first()


def step_window_candidates(
    *, service: Service, since: datetime, min_revision: int, chunk_size: int = 2000
) -> Iterator[WindowDecision]:
    """``(reason, candidates)`` of the decisions of the step window: decided since ``since``, under a config
    revision no older than ``min_revision`` (the one the step published), so earlier routing never counts."""
    rows = DecisionRecord.objects.filter(
        service=service,
        created_at__gte=since - _STORE_SLACK,
        decided_at__gte=since,
        config_revision__gte=min_revision,
    ).values_list("reason", "candidates")
    return rows.iterator(chunk_size=chunk_size)
