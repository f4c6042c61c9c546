"""Reads of roll-ups: one service's numbers per deployment over a window (``GET …/metrics``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q

from contracts.keys import ServiceKey
from controlplane.monitoring.models import RollupHour, RollupMinute
from controlplane.monitoring.rollup import COUNTER_FIELDS, Deployment
from controlplane.monitoring.sketch import RELATIVE_ACCURACY, merge_serialised
from controlplane.monitoring.windows import WindowPlan, window_plan
from controlplane.routing.models import Service

# Quality from ground truth (POST …/feedback); null until labels are joined to the decisions.
QUALITY_FIELDS = ("accuracy", "f1", "mae", "rmse", "labelled")
_ROLE_ORDER = {"champion": 0, "challenger": 1, "fallback": 2}
_COLUMNS = ("model", "version", "role", *COUNTER_FIELDS, "latency")


@dataclass(frozen=True, slots=True)
class ServiceMetrics:
    start: datetime
    end: datetime
    relative_accuracy: float
    deployments: list[dict[str, Any]]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _rows(service: Service, plan: WindowPlan) -> list[tuple[Any, ...]]:
    start, end = datetime.fromtimestamp(plan.start, tz=UTC), datetime.fromtimestamp(plan.end, tz=UTC)
    hours_from = datetime.fromtimestamp(plan.hours_from, tz=UTC)
    hours_to = datetime.fromtimestamp(plan.hours_to, tz=UTC)
    rows: list[tuple[Any, ...]] = []
    if plan.has_hours:
        rows += RollupHour.objects.filter(service=service, hour__gte=hours_from, hour__lt=hours_to).values_list(
            *_COLUMNS
        )
    # The edges whole, and inside the whole hours only what is not rolled into them yet.
    rows += (
        RollupMinute.objects.filter(service=service, minute__gte=start, minute__lt=end)
        .filter(Q(minute__lt=hours_from) | Q(minute__gte=hours_to) | Q(rolled=False))
        .values_list(*_COLUMNS)
    )
    return rows


def _deployment_numbers(deployment: Deployment, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    sums = dict.fromkeys(COUNTER_FIELDS, 0)
    for row in rows:
        for index, name in enumerate(COUNTER_FIELDS, start=3):
            sums[name] += row[index]
    latency = merge_serialised(row[-1] for row in rows if row[-1])
    count = sums["count"]
    model, version, role = deployment
    return {
        "model": model,
        "version": version,
        "role": role,
        **sums,
        "scored": latency.count,
        "p50_ms": latency.quantile(0.50),
        "p95_ms": latency.quantile(0.95),
        "p99_ms": latency.quantile(0.99),
        "error_rate": _rate(sums["errors"], count),
        "timeout_rate": _rate(sums["timeouts"], count),
        "fallback_rate": _rate(sums["fallbacks"], count),
        "win_rate": _rate(sums["wins"], count),
        "agreement": _rate(sums["agreed"], sums["compared"]),
        **dict.fromkeys(QUALITY_FIELDS),
    }


def service_metrics(*, service: Service, minutes: int, now: float, minute_retention_s: int) -> ServiceMetrics:
    """Per deployment (model, version, role) that took part in a decision of the window: its numbers."""
    plan = window_plan(minutes=minutes, now=now, minute_retention_s=minute_retention_s)
    grouped: dict[Deployment, list[tuple[Any, ...]]] = defaultdict(list)
    for row in _rows(service, plan):
        grouped[(row[0], row[1], row[2])].append(row)
    ordered = sorted(grouped, key=lambda d: (_ROLE_ORDER.get(d[2], 9), d[2], d[0], d[1]))
    return ServiceMetrics(
        start=datetime.fromtimestamp(plan.start, tz=UTC),
        end=datetime.fromtimestamp(plan.end, tz=UTC),
        relative_accuracy=RELATIVE_ACCURACY,
        deployments=[_deployment_numbers(d, grouped[d]) for d in ordered],
    )


def service_ids_by_key(keys: Iterable[ServiceKey]) -> dict[ServiceKey, int]:
    """The ids of the services named (tenant slug, service slug); unknown ones are left out."""
    wanted = set(keys)
    rows = Service.objects.filter(
        tenant__slug__in={tenant for tenant, _ in wanted}, slug__in={service for _, service in wanted}
    ).values_list("tenant__slug", "slug", "pk")
    return {(tenant, slug): pk for tenant, slug, pk in rows if (tenant, slug) in wanted}
