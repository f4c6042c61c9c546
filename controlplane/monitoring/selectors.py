"""Reads of roll-ups: one service's numbers per deployment over a window (``GET …/metrics``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import Q

from contracts.keys import ServiceKey
from controlplane.feedback.quality import quality_by_version
from controlplane.monitoring.models import RollupHour, RollupMinute, RollupWatermark
from controlplane.monitoring.rollup import COUNTER_FIELDS, Deployment
from controlplane.monitoring.sketch import RELATIVE_ACCURACY, merge_serialised
from controlplane.monitoring.windows import WindowPlan, window_plan
from controlplane.routing.models import Service

# Quality from ground truth (POST …/feedback, controlplane.feedback.quality): null while the version has no
# labelled decision in the window.
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


def _bounds(plan: WindowPlan) -> tuple[datetime, datetime, datetime, datetime]:
    return tuple(datetime.fromtimestamp(t, tz=UTC) for t in (plan.start, plan.end, plan.hours_from, plan.hours_to))  # type: ignore[return-value]


def _rows_orm(service: Service, plan: WindowPlan) -> list[tuple[Any, ...]]:
    start, end, hours_from, hours_to = _bounds(plan)
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


def _rows_postgresql(service: Service, plan: WindowPlan) -> list[tuple[Any, ...]]:
    """The same rows as ``_rows_orm``, fetched in binary: a week of sketches in half the time (bytea in
    text is hex, twice the bytes, decoded on arrival). Django binds parameters client-side, and such
    cursors cannot ask for binary results, hence a plain psycopg cursor on Django's connection."""
    import psycopg  # the PostgreSQL driver: only imported where it is the database

    start, end, hours_from, hours_to = _bounds(plan)
    columns = ", ".join(_COLUMNS)
    queries = [
        (f"SELECT {columns} FROM {RollupMinute._meta.db_table} WHERE service_id = %s AND minute >= %s "
         "AND minute < %s AND (minute < %s OR minute >= %s OR NOT rolled)",
         [service.pk, start, end, hours_from, hours_to]),
    ]
    if plan.has_hours:
        queries.append((f"SELECT {columns} FROM {RollupHour._meta.db_table} WHERE service_id = %s "
                        "AND hour >= %s AND hour < %s", [service.pk, hours_from, hours_to]))
    connection.ensure_connection()
    rows: list[tuple[Any, ...]] = []
    with psycopg.Cursor(connection.connection) as cursor:
        for sql, params in queries:
            cursor.execute(sql, params, binary=True)
            rows += cursor.fetchall()
    return rows


def _rows(service: Service, plan: WindowPlan) -> list[tuple[Any, ...]]:
    return (_rows_postgresql if connection.vendor == "postgresql" else _rows_orm)(service, plan)


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
    start = datetime.fromtimestamp(plan.start, tz=UTC)
    end = datetime.fromtimestamp(plan.end, tz=UTC)
    # Quality is per version (a version's labelled requests, whatever role it held in each): one query.
    quality = quality_by_version(service, start, end) if ordered else {}
    deployments = []
    for deployment in ordered:
        numbers = _deployment_numbers(deployment, grouped[deployment])
        found = quality.get((deployment[0], deployment[1]))
        if found is not None:
            numbers.update({name: getattr(found, name) for name in QUALITY_FIELDS})
        deployments.append(numbers)
    return ServiceMetrics(start=start, end=end, relative_accuracy=RELATIVE_ACCURACY, deployments=deployments)


def service_ids_by_key(keys: Iterable[ServiceKey]) -> dict[ServiceKey, int]:
    """The ids of the services named (tenant slug, service slug); unknown ones are left out."""
    wanted = set(keys)
    rows = Service.objects.filter(
        tenant__slug__in={tenant for tenant, _ in wanted}, slug__in={service for _, service in wanted}
    ).values_list("tenant__slug", "slug", "pk")
    return {(tenant, slug): pk for tenant, slug, pk in rows if (tenant, slug) in wanted}


def watermarks_of(partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The stored watermark (last offset counted) of each (topic, partition) that has one."""
    wanted = set(partitions)
    rows = RollupWatermark.objects.filter(topic__in={topic for topic, _ in wanted}).values_list(
        "topic", "partition", "offset"
    )
    return {(topic, partition): offset for topic, partition, offset in rows if (topic, partition) in wanted}


# --- per-minute series (the console's charts, *extension (console)*) -----------------------------------


@dataclass(frozen=True, slots=True)
class MinutePoint:
    """One step (a minute or more) of one deployment: every minute row in it summed (rolled and unrolled
    rows alike); ``minute`` is the step's first minute."""

    minute: datetime
    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float | None
    timeout_rate: float | None
    fallback_rate: float | None


@dataclass(frozen=True, slots=True)
class DeploymentSeries:
    model: str
    version: int
    role: str
    points: list[MinutePoint]


def _minute_point(minute: datetime, rows: list[tuple[Any, ...]]) -> MinutePoint:
    # Row: model, version, role, minute, count, errors, timeouts, fallbacks, latency.
    count = sum(row[4] for row in rows)
    latency = merge_serialised(row[8] for row in rows if row[8])
    return MinutePoint(
        minute=minute, count=count,
        p50_ms=latency.quantile(0.50), p95_ms=latency.quantile(0.95), p99_ms=latency.quantile(0.99),
        error_rate=_rate(sum(row[5] for row in rows), count),
        timeout_rate=_rate(sum(row[6] for row in rows), count),
        fallback_rate=_rate(sum(row[7] for row in rows), count),
    )


def minute_series(*, service: Service, minutes: int, now: float, step_minutes: int = 1) -> list[DeploymentSeries]:
    """Per deployment of the window's decisions, oldest first: one point per ``step_minutes`` it took part in
    (steps without decisions are absent, so a chart shows a gap, not a zero), a step's minutes merged (sums
    and sketches, so its percentiles are exact over the step). Steps are aligned on the epoch, the current
    one included. Reads minute rows only, so ``minutes`` must stay within the minute rows' retention
    (``RDV_ROLLUP_MINUTE_RETENTION_HOURS``)."""
    step_s = step_minutes * 60
    end = datetime.fromtimestamp((int(now // step_s) + 1) * step_s, tz=UTC)
    start = datetime.fromtimestamp(end.timestamp() - minutes * 60, tz=UTC)
    rows = RollupMinute.objects.filter(service=service, minute__gte=start, minute__lt=end).values_list(
        "model", "version", "role", "minute", "count", "errors", "timeouts", "fallbacks", "latency"
    )
    grouped: dict[Deployment, dict[int, list[tuple[Any, ...]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        grouped[(row[0], row[1], row[2])][int(row[3].timestamp()) // step_s * step_s].append(row)
    ordered = sorted(grouped, key=lambda d: (_ROLE_ORDER.get(d[2], 9), d[2], d[0], d[1]))
    return [
        DeploymentSeries(
            model=model, version=version, role=role,
            points=[_minute_point(datetime.fromtimestamp(at, tz=UTC), by_step[at]) for at in sorted(by_step)],
        )
        for model, version, role in ordered
        for by_step in (grouped[(model, version, role)],)
    ]
