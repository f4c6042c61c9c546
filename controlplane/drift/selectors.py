"""Reads of drift: a service's series per feature over a window, and the latest point per feature
(what the alert rules read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from controlplane.api.windows import WindowError
from controlplane.api.windows import window_parse as api_window_parse
from controlplane.drift.models import DriftPoint, DriftReference
from controlplane.errors import InvalidInput
from controlplane.routing.models import Service

MAX_WINDOW = timedelta(days=90)


def window_parse(window: str) -> timedelta:
    """``15m``, ``1h``, ``7d`` (``controlplane.api.windows``), at most 90 days; 400 ``invalid`` otherwise."""
    try:
        return api_window_parse(window, maximum=MAX_WINDOW)
    except WindowError as exc:
        raise InvalidInput({"window": [str(exc)]}) from exc


@dataclass(frozen=True, slots=True)
class FeatureDriftPoint:
    """One feature's newest scored bucket: the score the alert rules compare with the threshold."""

    feature: str
    kind: str
    score: float | None
    ks: float | None
    threshold: float
    flagged: bool
    # The end of the bucket the score is of.
    at: datetime
    requests: int


def _point(point: DriftPoint) -> FeatureDriftPoint:
    return FeatureDriftPoint(
        feature=point.feature, kind=point.kind, score=point.psi, ks=point.ks, threshold=point.threshold,
        flagged=point.flagged, at=point.bucket_end, requests=point.requests,
    )


def latest_drift(service: Service) -> dict[str, FeatureDriftPoint]:
    """Feature -> its newest point; empty while the service has no reference or no scored bucket."""
    newest = DriftPoint.objects.filter(service=service).order_by("-bucket_start").values_list(
        "bucket_start", flat=True).first()
    if newest is None:
        return {}
    return {p.feature: _point(p) for p in DriftPoint.objects.filter(service=service, bucket_start=newest)}


@dataclass(frozen=True, slots=True)
class FeatureSeries:
    feature: str
    kind: str
    threshold: float
    latest: FeatureDriftPoint
    series: list[FeatureDriftPoint]


@dataclass(frozen=True, slots=True)
class DriftSeries:
    window: str
    since: datetime
    reference: DriftReference | None
    features: list[FeatureSeries]


def drift_series(*, service: Service, window: str, now: datetime | None = None) -> DriftSeries:
    """Every feature's points of the buckets that ended within ``window``, oldest first: one series per
    feature, whatever number of runners reported the buckets."""
    since = (now or timezone.now()) - window_parse(window)
    points: dict[str, list[FeatureDriftPoint]] = {}
    for point in DriftPoint.objects.filter(service=service, bucket_end__gt=since).order_by("feature", "bucket_start"):
        points.setdefault(point.feature, []).append(_point(point))
    features = [
        FeatureSeries(feature=name, kind=series[-1].kind, threshold=series[-1].threshold, latest=series[-1],
                      series=series)
        for name, series in sorted(points.items())
    ]
    reference = DriftReference.objects.filter(service=service).first()
    return DriftSeries(window=window, since=since, reference=reference, features=features)
