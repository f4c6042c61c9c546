"""The values a service's rules watch, measured over the rules' window ending now.

Latency and rates are the service's answers as its clients got them (the decisions stored by the
decisions consumer): p99 of ``latency_ms``, the share of ``error`` and of ``timeout`` answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from controlplane.alerts.evaluation import Signal
from controlplane.alerts.models import AlertRules
from controlplane.decisions.models import DecisionRecord
from controlplane.rollouts.analysis import percentile


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
    return operations_signals(rules, answers_in_window(rules, now=now))
