"""What one minute of one deployment did, rolled up from decisions: pure functions over plain data.

A deployment is (model, version, role) as the decision's candidate names it. For each decision it took
part in (it is among the candidates), a deployment counts:

* ``count`` 1; its ``latency_ms`` goes into the sketch when it scored (``ok`` or ``error``);
* ``timeouts`` when it gave no in-time score: ``missing``, or ``late`` in a decision made at the
  deadline (the rendezvous marks late every score that came after the answer, which alone is no
  timeout; the same rule as the rollout analysis, DESIGN.md §6); else ``errors`` for an ``error`` score;
* ``fallbacks`` when the request was answered by a fallback (``reason == "fallback"``);
* ``wins`` when its answer is the one returned (the decision is ``ok`` and names its model and version);
* ``compared``/``agreed`` when both its score and the answer are ``ok`` with a ``label``: whether the
  labels are equal (regressors have no label, so no agreement).

Nothing here reads a clock or the database: the step hands decisions in, the service stores the sums.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.messages import Decision
from controlplane.monitoring.sketch import LatencySketch
from controlplane.rollouts.analysis import DEADLINE_REASONS

# (model, version, role)
Deployment = tuple[str, int, str]
# (deployment, the minute as epoch seconds, a multiple of 60)
MinuteKey = tuple[Deployment, int]

COUNTER_FIELDS = ("count", "errors", "timeouts", "fallbacks", "wins", "compared", "agreed")


@dataclass(slots=True)
class Stats:
    """Sums over some decisions of one deployment; ``merge`` adds two, in any order."""

    count: int = 0
    errors: int = 0
    timeouts: int = 0
    fallbacks: int = 0
    wins: int = 0
    compared: int = 0
    agreed: int = 0
    latency: LatencySketch = field(default_factory=LatencySketch)

    def merge(self, other: Stats) -> None:
        for name in COUNTER_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latency.merge(other.latency)


def _label(output: Mapping[str, Any] | None) -> Any:
    return output.get("label") if isinstance(output, Mapping) else None


def minute_of(epoch_s: float) -> int:
    return int(epoch_s // 60) * 60


def rollup_add(totals: dict[MinuteKey, Stats], decision: Decision) -> None:
    """Add one decision to ``totals`` (its ``decided_at`` picks the minute; it must be set)."""
    minute = minute_of(decision.decided_at)
    at_deadline = decision.reason in DEADLINE_REASONS
    answered = decision.status == "ok"
    answer_label = _label(decision.output) if answered else None
    for candidate in decision.candidates:
        key = ((candidate.model, candidate.version, candidate.role), minute)
        stats = totals.get(key)
        if stats is None:
            stats = totals[key] = Stats()
        stats.count += 1
        status = candidate.status
        if status == "missing" or (candidate.late and at_deadline):
            stats.timeouts += 1
        elif status == "error":
            stats.errors += 1
        if status != "missing" and candidate.latency_ms is not None:
            stats.latency.add(candidate.latency_ms)
        if decision.reason == "fallback":
            stats.fallbacks += 1
        if answered and decision.model == candidate.model and decision.version == candidate.version:
            stats.wins += 1
        if answer_label is not None and status == "ok":
            label = _label(candidate.output)
            if label is not None:
                stats.compared += 1
                stats.agreed += label == answer_label


def rollup(decisions: Iterable[Decision]) -> dict[MinuteKey, Stats]:
    totals: dict[MinuteKey, Stats] = {}
    for decision in decisions:
        rollup_add(totals, decision)
    return totals
