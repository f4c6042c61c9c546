"""Percentiles and medians for benchmark reports."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    return {
        "count": float(len(latencies_ms)),
        "p50_ms": percentile(latencies_ms, 50),
        "p99_ms": percentile(latencies_ms, 99),
    }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
