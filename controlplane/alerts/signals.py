"""The values a service's rules watch, measured over the rules' window ending now.

Latency and rates are the service's answers as its clients got them (the decisions stored by the
decisions consumer): p99 of ``latency_ms``, the share of ``error`` and of ``timeout`` answers. The
accuracy drop is each champion's, from the labels joined to its decisions (``controlplane.feedback.quality``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from controlplane.alerts.evaluation import Signal
from controlplane.alerts.models import AlertRules
from controlplane.decisions.models import DecisionRecord
from controlplane.drift.selectors import FeatureDriftPoint, latest_drift
from controlplane.feedback.quality import Quality, quality_by_version
from controlplane.rollouts.analysis import percentile
from controlplane.routing.models import Deployment


@dataclass(frozen=True, slots=True)
class Answers:
    count: int
    p99_ms: float | None
    error_rate: float | None
    timeout_rate: float | None


def answers_summarise(rows: Sequence[tuple[str, float]], *, min_requests: int) -> Answers:
    """``rows``: (status, latency_ms) per answer. Below ``min_requests`` nothing is judged."""
    count = len(rows)
    if count == 0 or count < min_requests:
        return Answers(count, None, None, None)
    latencies = [latency for _, latency in rows]
    errors = sum(1 for status, _ in rows if status == "error")
    timeouts = sum(1 for status, _ in rows if status == "timeout")
    return Answers(count, percentile(latencies, 0.99), errors / count, timeouts / count)


def answers_in_window(rules: AlertRules, *, now: datetime) -> Answers:
    since = now - timedelta(seconds=rules.window_s)
    rows = list(
        DecisionRecord.objects.filter(
            service_id=rules.service_id, created_at__gt=since, created_at__lte=now
        ).values_list("status", "latency_ms")
    )
    return answers_summarise(rows, min_requests=rules.min_requests)


def operations_signals(rules: AlertRules, answers: Answers) -> list[Signal]:
    signals: list[Signal] = []
    if rules.p99_ms is not None:
        signals.append(Signal("p99", "", answers.p99_ms, rules.p99_ms))
    if rules.error_rate is not None:
        signals.append(Signal("error_rate", "", answers.error_rate, rules.error_rate))
    if rules.timeout_rate is not None:
        signals.append(Signal("timeout_rate", "", answers.timeout_rate, rules.timeout_rate))
    return signals


# The champion's accuracy in the window is compared with its accuracy over this long before the window.
ACCURACY_BASELINE = timedelta(days=1)


def accuracy_drop(current: Quality | None, baseline: Quality | None, *, min_labelled: int) -> float | None:
    """How much accuracy fell from the baseline to now; None without enough labels on both sides."""
    if current is None or baseline is None or current.accuracy is None or baseline.accuracy is None:
        return None
    if current.labelled < min_labelled or baseline.labelled < min_labelled:
        return None
    return round(baseline.accuracy - current.accuracy, 6)


def accuracy_signals(rules: AlertRules, *, now: datetime) -> list[Signal]:
    """One per champion (an A/B test has several): its accuracy drop, from the labelled decisions."""
    if rules.accuracy_drop is None:
        return []
    champions = Deployment.objects.filter(service_id=rules.service_id, role=Deployment.Role.CHAMPION).values_list(
        "version__model__slug", "version__number"
    )
    if not champions:
        return []
    window = timedelta(seconds=rules.window_s)
    service = rules.service
    current = quality_by_version(service, now - window, now)
    baseline = quality_by_version(service, now - window - ACCURACY_BASELINE, now - window)
    return [
        Signal(
            "accuracy_drop",
            f"{model}@{version}",
            accuracy_drop(
                current.get((model, version)), baseline.get((model, version)), min_labelled=rules.min_requests
            ),
            rules.accuracy_drop,
        )
        for model, version in sorted(champions)
    ]


def drift_signal(point: FeatureDriftPoint, *, min_requests: int) -> Signal:
    """The newest bucket's point of one feature, as the drift monitor judged it. A bucket too small to
    judge says nothing (it neither raises nor clears); a feature missing from a judged bucket has no PSI
    and breaches with the value 0."""
    judged = point.requests >= min_requests
    value = (point.score if point.score is not None else 0.0) if judged else None
    return Signal("drift", point.feature, value, point.threshold, breach=point.flagged)


def drift_signals(rules: AlertRules) -> list[Signal]:
    if not rules.drift:
        return []
    points = latest_drift(rules.service)
    return [drift_signal(points[f], min_requests=settings.RDV_DRIFT_MIN_WINDOW) for f in sorted(points)]


def watched_kinds(rules: AlertRules) -> set[str]:
    kinds = {
        kind
        for kind, threshold in (
            ("p99", rules.p99_ms),
            ("error_rate", rules.error_rate),
            ("timeout_rate", rules.timeout_rate),
            ("accuracy_drop", rules.accuracy_drop),
        )
        if threshold is not None
    }
    if rules.drift:
        kinds.add("drift")
    return kinds


def service_signals(rules: AlertRules, *, now: datetime) -> list[Signal]:
    return [
        *operations_signals(rules, answers_in_window(rules, now=now)),
        *accuracy_signals(rules, now=now),
        *drift_signals(rules),
    ]
