"""Automatic demotion: a model version whose recent answers are mostly errors or too slow to help.

Each rendezvous instance keeps a short window of outcomes per version (from the candidates of every
closed decision: ok, error, or missing at the deadline). A demoted version keeps being scored — the
runners score every deployment — so it is promoted back as soon as its window looks healthy again.
Pure and clock-free, like the policy.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from contracts.keys import ServiceVersion


@dataclass(frozen=True, slots=True)
class DemotionRules:
    window: int = 50
    min_samples: int = 20
    max_error_rate: float = 0.5
    # A version whose median latency is past this share of the deadline cannot answer in time.
    max_latency_share: float = 1.0


@dataclass(slots=True)
class _Window:
    outcomes: deque[tuple[bool, float]] = field(default_factory=deque)
    errors: int = 0
    # The window's latencies, kept sorted: the median is read on every outcome.
    latencies: list[float] = field(default_factory=list)


class HealthBoard:
    def __init__(self, rules: DemotionRules | None = None) -> None:
        self._rules = rules or DemotionRules()
        self._windows: dict[ServiceVersion, _Window] = {}
        # Judged when an outcome arrives (once per closed decision), read on every request.
        self._reasons: dict[ServiceVersion, str] = {}

    def record(self, ref: ServiceVersion, *, ok: bool, latency_ms: float, deadline_ms: float) -> None:
        window = self._windows.get(ref)
        if window is None:
            window = self._windows[ref] = _Window()
        window.outcomes.append((ok, latency_ms))
        insort(window.latencies, latency_ms)
        window.errors += 0 if ok else 1
        if len(window.outcomes) > self._rules.window:
            old_ok, old_latency = window.outcomes.popleft()
            window.errors -= 0 if old_ok else 1
            del window.latencies[bisect_left(window.latencies, old_latency)]
        reason = self.why_demoted(ref, deadline_ms)
        if reason is None:
            self._reasons.pop(ref, None)
        else:
            self._reasons[ref] = reason

    def why_demoted(self, ref: ServiceVersion, deadline_ms: float) -> str | None:
        """The reason a version is demoted now, or None while it is healthy (or barely seen)."""
        window = self._windows.get(ref)
        if window is None or len(window.outcomes) < self._rules.min_samples:
            return None
        error_rate = window.errors / len(window.outcomes)
        if error_rate > self._rules.max_error_rate:
            return f"error rate {error_rate:.0%} over its last {len(window.outcomes)} requests"
        median = window.latencies[len(window.latencies) // 2]
        if median > deadline_ms * self._rules.max_latency_share:
            return f"median latency {median:.0f} ms is past the {deadline_ms:.0f} ms deadline"
        return None

    def demoted(self, refs: Iterable[ServiceVersion]) -> dict[ServiceVersion, str]:
        if not self._reasons:
            return {}
        return {ref: self._reasons[ref] for ref in refs if ref in self._reasons}
