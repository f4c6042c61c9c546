"""What the console's pages show, built from the monitoring, drift, quality and alert selectors.

Every read starts from ``services_visible_to``/``service_for_user``: a service of a tenant the user cannot
see is not found (404), exactly like a service that does not exist. Chart data are plain dicts in Plotly's
figure shape (``data`` traces + ``layout``), rendered by the template with ``json_script``.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from controlplane.alerts.models import Alert
from controlplane.drift.selectors import drift_series
from controlplane.feedback.quality import quality_table
from controlplane.fleet.selectors import service_readiness
from controlplane.monitoring.selectors import DeploymentSeries, MinutePoint, minute_series, service_metrics
from controlplane.routing.models import ConfigRevision, Service
from controlplane.routing.selectors import deployments_list, revision_latest
from controlplane.tenancy.models import Tenant
from controlplane.tenancy.selectors import tenants_visible_to

User = AbstractBaseUser | AnonymousUser
# The windows the service page offers (minute rows only, kept RDV_ROLLUP_MINUTE_RETENTION_HOURS): its length
# and the minutes per chart point, so a chart has at most 144 points per deployment.
WINDOWS: dict[str, tuple[int, int]] = {"1h": (60, 1), "6h": (360, 5), "24h": (1440, 10)}
DEFAULT_WINDOW = "1h"
OVERVIEW_MINUTES = 60


def services_visible_to(*, user: User) -> QuerySet[Service]:
    return (
        Service.objects.filter(tenant__in=tenants_visible_to(user=user))
        .select_related("tenant")
        .annotate(firing=Count("alerts", filter=Q(alerts__state=Alert.FIRING)))
        .order_by("tenant__slug", "slug")
    )


def service_for_user(*, user: User, tenant: str, service: str) -> Service:
    found = services_visible_to(user=user).filter(tenant__slug=tenant, slug=service).first()
    if found is None:
        raise Http404("no such service")
    return found


def tenant_for_user(*, user: User, tenant: str) -> Tenant:
    found = tenants_visible_to(user=user).filter(slug=tenant).first()
    if found is None:
        raise Http404("no such tenant")
    return found


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    """One overview row: the champion's numbers (every decision has it among its candidates, so its count
    is the service's traffic and its fallback rate the share of answers from a fallback)."""

    service: Service
    requests: int
    p99_ms: float | None
    error_rate: float | None
    timeout_rate: float | None
    fallback_rate: float | None
    active_alerts: int
    sparkline: list[int]


def overview(*, user: User, now: float, minute_retention_s: int) -> dict[str, list[ServiceSummary]]:
    """Tenant slug -> its services' last-hour summaries, for every tenant the user sees."""
    by_tenant: dict[str, list[ServiceSummary]] = {}
    for tenant in tenants_visible_to(user=user).order_by("slug"):
        by_tenant[tenant.slug] = []
    for service in services_visible_to(user=user):
        metrics = service_metrics(
            service=service, minutes=OVERVIEW_MINUTES, now=now, minute_retention_s=minute_retention_s
        )
        champions = [s for s in minute_series(service=service, minutes=OVERVIEW_MINUTES, now=now)
                     if s.role == "champion"]
        by_tenant.setdefault(service.tenant.slug, []).append(
            champion_summary(
                service=service, deployments=metrics.deployments, active_alerts=service.firing,
                sparkline=_sparkline([point for s in champions for point in s.points], now=now),
            )
        )
    return by_tenant


def champion_summary(
    *, service: Service, deployments: list[dict[str, Any]], active_alerts: int, sparkline: list[int]
) -> ServiceSummary:
    """The service's numbers from its champions' (more than one when a promotion happened in the window):
    counts and rates summed over them, the worst p99."""
    champions = [d for d in deployments if d["role"] == "champion"]
    count = sum(d["count"] for d in champions)

    def rate(name: str) -> float | None:
        return sum(d[name] for d in champions) / count if count else None

    p99s = [d["p99_ms"] for d in champions if d["p99_ms"] is not None]
    return ServiceSummary(
        service=service, requests=count, p99_ms=max(p99s, default=None), error_rate=rate("errors"),
        timeout_rate=rate("timeouts"), fallback_rate=rate("fallbacks"), active_alerts=active_alerts,
        sparkline=sparkline,
    )


def _sparkline(points: list[MinutePoint], *, now: float) -> list[int]:
    """Requests per minute over the last hour, zeros where nothing was decided (oldest first)."""
    last = int(now // 60) * 60
    counts: dict[int, int] = {}
    for point in points:
        at = int(point.minute.timestamp())
        counts[at] = counts.get(at, 0) + point.count
    return [counts.get(last - 60 * back, 0) for back in range(OVERVIEW_MINUTES - 1, -1, -1)]


# --- charts --------------------------------------------------------------------------------------------

_LAYOUT: dict[str, Any] = {
    "margin": {"l": 56, "r": 16, "t": 36, "b": 40},
    "legend": {"orientation": "h", "y": -0.2},
    "hovermode": "x unified",
    "height": 340,
}


def _name(series: DeploymentSeries) -> str:
    return f"{series.model} v{series.version} ({series.role})"


def _step_grid(*, minutes: int, step_minutes: int, now: float) -> list[datetime]:
    """Every step of the window, oldest first, the current one last (as ``minute_series`` aligns them)."""
    step_s = step_minutes * 60
    last = int(now // step_s) * step_s
    return [datetime.fromtimestamp(last - step_s * back, tz=UTC) for back in range(minutes // step_minutes - 1, -1, -1)]


def _switchable_chart(
    series: list[DeploymentSeries], fields: list[tuple[str, str]], axis: dict[str, Any], grid: list[datetime]
) -> dict[str, Any]:
    """One trace per deployment over every step of the window (null where it took part in no decision,
    so the line breaks instead of bridging a silence); buttons switch every trace to another field."""
    x = [minute.isoformat() for minute in grid]
    ys: dict[str, list[list[float | None]]] = {}
    for field, _ in fields:
        ys[field] = []
        for deployment in series:
            values = {point.minute: getattr(point, field) for point in deployment.points}
            ys[field].append([values.get(minute) for minute in grid])
    first = fields[0][0]
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": _name(s), "x": x, "y": ys[first][i],
         "connectgaps": False, "marker": {"size": 5}}
        for i, s in enumerate(series)
    ]
    buttons = [{"label": label, "method": "restyle", "args": [{"y": ys[field]}]} for field, label in fields]
    return {
        "data": data,
        "layout": {
            **_LAYOUT, "yaxis": axis, "xaxis": {"type": "date"},
            "updatemenus": [{"type": "buttons", "direction": "right", "x": 0, "xanchor": "left", "y": 1.02,
                             "yanchor": "bottom", "showactive": True, "buttons": buttons}],
        },
    }


def latency_chart(series: list[DeploymentSeries], grid: list[datetime]) -> dict[str, Any]:
    return _switchable_chart(
        series, [("p99_ms", "p99"), ("p95_ms", "p95"), ("p50_ms", "p50")],
        {"title": {"text": "ms"}, "rangemode": "tozero"}, grid,
    )


def rates_chart(series: list[DeploymentSeries], grid: list[datetime]) -> dict[str, Any]:
    return _switchable_chart(
        series, [("error_rate", "errors"), ("timeout_rate", "timeouts"), ("fallback_rate", "fallbacks")],
        {"tickformat": ".0%", "rangemode": "tozero"}, grid,
    )


def drift_charts(*, service: Service, window: str, now: datetime) -> list[dict[str, Any]]:
    """One small chart per feature: its score per bucket and its threshold as a dashed line."""
    charts = []
    for feature in drift_series(service=service, window=window, now=now).features:
        x = [point.at.isoformat() for point in feature.series]
        charts.append({
            "feature": feature.feature,
            "kind": feature.kind,
            "flagged": feature.latest.flagged,
            "score": feature.latest.score,
            "threshold": feature.threshold,
            "figure": {
                "data": [
                    {"type": "scatter", "mode": "lines+markers", "name": "score",
                     "x": x, "y": [point.score for point in feature.series]},
                    {"type": "scatter", "mode": "lines", "name": "threshold", "x": x,
                     "y": [point.threshold for point in feature.series],
                     "line": {"dash": "dash", "color": "#c0392b"}},
                ],
                "layout": {**_LAYOUT, "height": 240, "showlegend": False,
                           "margin": {"l": 44, "r": 12, "t": 12, "b": 36},
                           "xaxis": {"type": "date"}, "yaxis": {"rangemode": "tozero"}},
            },
        })
    return charts


def league(
    *, service: Service, metrics: list[dict[str, Any]], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """The versions ranked by labelled quality, with win rate, agreement and p99 from the roll-ups."""
    by_version: dict[tuple[str, int], dict[str, Any]] = {}
    for numbers in metrics:
        key = (numbers["model"], numbers["version"])
        entry = by_version.setdefault(key, {"roles": [], "count": 0, "wins": 0, "agreed": 0, "compared": 0,
                                            "p99_ms": None})
        entry["roles"].append(numbers["role"])
        for name in ("count", "wins", "agreed", "compared"):
            entry[name] += numbers[name]
        if numbers["p99_ms"] is not None:
            entry["p99_ms"] = max(entry["p99_ms"] or 0.0, numbers["p99_ms"])
    rows = []
    table = quality_table(service=service, since=since, until=until)
    ranked = [(e.model, e.version) for e in table.versions]
    quality = {(e.model, e.version): e.quality for e in table.versions}
    for key in ranked + sorted(k for k in by_version if k not in quality):
        numbers = by_version.get(key, {})
        found = quality.get(key)
        count, compared = numbers.get("count", 0), numbers.get("compared", 0)
        rows.append({
            "model": key[0], "version": key[1], "roles": ", ".join(numbers.get("roles", [])),
            "labelled": found.labelled if found else 0,
            "accuracy": found.accuracy if found else None, "rmse": found.rmse if found else None,
            "win_rate": numbers["wins"] / count if count else None,
            "agreement": numbers["agreed"] / compared if compared else None,
            "p99_ms": numbers.get("p99_ms"),
        })
    return rows


def routing_live(*, service: Service) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The routing table, each deployment with how many live runners of its pool hold it ready (or failed),
    and the live revision's readiness (``GET …/readiness``); None before the first revision."""
    routing = deployments_list(service=service)
    latest = revision_latest(service=service)
    if latest is None:
        return routing, None
    readiness = service_readiness(service=service, revision=latest, latest=latest)
    placed = {(d["model"], d["version"], d["role"]): d for d in readiness["deployments"]}
    for row in routing:
        found = placed.get((row["model"], row["version"], row["role"]))
        row["runners"] = (
            {name: found[name] for name in ("runners_live", "runners_ready", "runners_failed")} if found else None
        )
    return routing, readiness


def service_page(*, service: Service, window: str, now: float, minute_retention_s: int) -> dict[str, Any]:
    minutes, step_minutes = WINDOWS[window]
    at = datetime.fromtimestamp(now, tz=UTC)
    series = minute_series(service=service, minutes=minutes, now=now, step_minutes=step_minutes)
    grid = _step_grid(minutes=minutes, step_minutes=step_minutes, now=now)
    metrics = service_metrics(service=service, minutes=minutes, now=now, minute_retention_s=minute_retention_s)
    routing, readiness = routing_live(service=service)
    return {
        "routing": routing,
        "readiness": readiness,
        "charts": {"latency": latency_chart(series, grid), "rates": rates_chart(series, grid)},
        "drift": drift_charts(service=service, window=window, now=at),
        "league": league(service=service, metrics=metrics.deployments, since=at - timedelta(minutes=minutes),
                         until=at),
        "alerts": list(Alert.objects.filter(service=service, state=Alert.FIRING)),
    }


# --- config history ------------------------------------------------------------------------------------


def _snapshot_lines(revision: ConfigRevision) -> list[str]:
    # The revision number differs in every snapshot: left out so a diff shows only what changed.
    body = {key: value for key, value in revision.snapshot.items() if key != "revision"}
    return json.dumps(body, indent=2, sort_keys=True).splitlines()


def revision_diff(*, older: ConfigRevision, newer: ConfigRevision) -> list[tuple[str, str]]:
    """A unified diff of two revisions' snapshots as (kind, line): kind is ``add``, ``del``, ``hunk`` or
    ``same``; empty when they route alike."""
    lines = difflib.unified_diff(
        _snapshot_lines(older), _snapshot_lines(newer), f"revision {older.number}", f"revision {newer.number}",
        n=3, lineterm="",
    )
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    return [(kinds.get(line[:1], "same"), line) for line in list(lines)[2:]]


def revisions_page(*, service: Service, older: int | None, newer: int | None) -> dict[str, Any]:
    """Every revision, newest first, and the diff between two of them (by default the live one and the one
    before it); an unknown number is a 404."""
    revisions = list(ConfigRevision.objects.filter(service=service).order_by("-number"))
    by_number = {revision.number: revision for revision in revisions}
    if newer is None:
        newer = revisions[0].number if revisions else None
    if older is None and newer is not None:
        older = max((n for n in by_number if n < newer), default=None)
    for number in (older, newer):
        if number is not None and number not in by_number:
            raise Http404("no such revision")
    diff = None
    if older is not None and newer is not None:
        diff = revision_diff(older=by_number[older], newer=by_number[newer])
    return {"revisions": revisions, "older": older, "newer": newer, "diff": diff}
