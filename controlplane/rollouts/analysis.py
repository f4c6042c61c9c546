"""The numbers of one rollout step and the verdict on them, as pure functions over plain data.

Input is the candidate lists of the step's decision records (the wire shape of ``contracts.Candidate``);
output is a :class:`StepNumbers` and a :class:`StepVerdict`. Nothing here touches the database or a
clock, so every threshold rule is unit-tested directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from contracts.keys import ModelVersion

# What an ``analysis`` body may set; ``max_p99_ms`` defaults to the service deadline.
ANALYSIS_DEFAULTS: dict[str, float | int | None] = {
    "max_error_rate": 0.05,
    "max_timeout_rate": 0.05,
    "max_p99_ms": None,
    "min_agreement": 0.0,
    "min_requests": 20,
    "max_wait_seconds": None,
}


def thresholds_resolve(analysis: Mapping[str, Any] | None, *, deadline_ms: int) -> dict[str, Any]:
    """The effective thresholds: the defaults, then what the body gave; stored on the rollout as run."""
    resolved = {**ANALYSIS_DEFAULTS, **{k: v for k, v in (analysis or {}).items() if v is not None}}
    if resolved["max_p99_ms"] is None:
        resolved["max_p99_ms"] = float(deadline_ms)
    return resolved


@dataclass(frozen=True, slots=True)
class StepNumbers:
    """What the candidate did in the step window; rates are fractions, None when nothing to measure."""

    requests: int = 0
    warming: int = 0
    errors: int = 0
    timeouts: int = 0
    error_rate: float | None = None
    timeout_rate: float | None = None
    p99_ms: float | None = None
    compared: int = 0
    agreement: float | None = None
    # The baseline champion over the same requests: the candidate is judged on how much worse it does.
    baseline_error_rate: float | None = None
    baseline_timeout_rate: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _label(output: Any) -> Any:
    return output.get("label") if isinstance(output, Mapping) else None


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile: a value that was actually observed, never an interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


# The error a runner answers for requests it held while the version was still loading (model_runner.scoring.
# MODEL_LOADING): the platform warming up, not the model failing, so those requests are counted apart.
WARMING_ERRORS = frozenset({"model loading"})

# A decision's reason when it was made at the deadline: a score that came after it missed the deadline.
DEADLINE_REASONS = frozenset({"deadline", "timeout"})

# One decision as the analysis reads it: its reason and its candidates (the wire shape of contracts.Candidate).
WindowDecision = tuple[str, Sequence[Mapping[str, Any]]]


def _outcome(item: Mapping[str, Any], reason: str) -> str:
    """``warming``, ``timeout``, ``error`` or ``ok`` for one version in one decision (see step_numbers)."""
    status = item.get("status")
    if status == "error" and item.get("error") in WARMING_ERRORS:
        return "warming"
    if status not in ("ok", "error") or (bool(item.get("late")) and reason in DEADLINE_REASONS):
        return "timeout"
    return str(status)


def _rate(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def step_numbers(
    decisions: Iterable[WindowDecision], *, candidate: ModelVersion, baseline: ModelVersion | None
) -> StepNumbers:
    """Count, error rate, timeout rate, p99 latency and agreement of ``candidate`` over the decisions.

    A decision counts when the candidate is among its candidates (it was deployed when the request was
    decided). An error is an ``error`` score. A timeout is no in-time score: ``missing`` (no score within
    the grace period), or ``late`` in a decision made at the deadline. A candidate marked ``late`` in a
    decision answered before the deadline only lost the race to the answer (the rendezvous marks every
    score that arrives after the answer late), and a slow chosen champion holds its answer until the
    deadline, so that is not a timeout. Agreement compares the candidate's label with the baseline
    champion's when both are ok. Requests the candidate could not score because its runner was still
    loading it are counted as ``warming`` and left out of everything else. The baseline champion's error
    and timeout rates are measured the same way over the same requests.
    """
    requests = warming = errors = timeouts = compared = agreed = 0
    baseline_requests = baseline_errors = baseline_timeouts = 0
    latencies: list[float] = []
    for reason, candidates in decisions:
        mine = theirs = None
        for item in candidates:
            key = (item.get("model"), item.get("version"))
            if key == candidate:
                mine = item
            elif baseline is not None and key == baseline:
                theirs = item
        if mine is None:
            continue
        outcome = _outcome(mine, reason)
        if outcome == "warming":
            warming += 1
            continue
        requests += 1
        timeouts += outcome == "timeout"
        errors += outcome == "error"
        if mine.get("status") in ("ok", "error") and mine.get("latency_ms") is not None:
            latencies.append(float(mine["latency_ms"]))
        their_outcome = _outcome(theirs, reason) if theirs is not None else "warming"
        if their_outcome != "warming":
            baseline_requests += 1
            baseline_timeouts += their_outcome == "timeout"
            baseline_errors += their_outcome == "error"
        if outcome == "ok" and theirs is not None and theirs.get("status") == "ok":
            mine_label, their_label = _label(mine.get("output")), _label(theirs.get("output"))
            if mine_label is not None and their_label is not None:
                compared += 1
                agreed += mine_label == their_label
    return StepNumbers(
        requests=requests,
        warming=warming,
        errors=errors,
        timeouts=timeouts,
        error_rate=_rate(errors, requests),
        timeout_rate=_rate(timeouts, requests),
        p99_ms=percentile(latencies, 0.99),
        compared=compared,
        agreement=_rate(agreed, compared),
        baseline_error_rate=_rate(baseline_errors, baseline_requests),
        baseline_timeout_rate=_rate(baseline_timeouts, baseline_requests),
    )


Action = Literal["rollback", "advance", "hold", "wait"]


@dataclass(frozen=True, slots=True)
class StepVerdict:
    """``rollback`` (a breach, or no traffic past the max wait), ``advance``, ``hold`` (the step's time
    is not up), or ``wait`` (time is up but too few requests to judge)."""

    action: Action
    reason: str


def _rate_breach(name: str, rate: float | None, baseline_rate: float | None, allowed: float) -> str | None:
    """A rate breaches when it exceeds the baseline's over the same requests by more than ``allowed``: a
    platform-wide slowdown or outage that hits the baseline as hard is not the candidate's fault."""
    if rate is None:
        return None
    limit = allowed + (baseline_rate or 0.0)
    if round(rate - limit, 4) <= 0:
        return None
    if not baseline_rate:
        return f"{name} {rate:.2f} > {allowed:g}"
    return f"{name} {rate:.2f} > {limit:.2f} (the baseline's {baseline_rate:.2f} + {allowed:g})"


def _breaches(numbers: StepNumbers, thresholds: Mapping[str, Any]) -> list[str]:
    found = [
        breach
        for breach in (
            _rate_breach("error rate", numbers.error_rate, numbers.baseline_error_rate, thresholds["max_error_rate"]),
            _rate_breach(
                "timeout rate", numbers.timeout_rate, numbers.baseline_timeout_rate, thresholds["max_timeout_rate"]
            ),
        )
        if breach is not None
    ]
    if numbers.p99_ms is not None and numbers.p99_ms > thresholds["max_p99_ms"]:
        found.append(f"p99 latency {numbers.p99_ms:.1f} ms > {thresholds['max_p99_ms']:g} ms")
    min_agreement = thresholds["min_agreement"]
    if (
        min_agreement
        and numbers.agreement is not None
        and numbers.compared >= thresholds["min_requests"]
        and numbers.agreement < min_agreement
    ):
        found.append(f"agreement {numbers.agreement:.2f} < {min_agreement:g}")
    return found


def step_verdict(
    numbers: StepNumbers,
    thresholds: Mapping[str, Any],
    *,
    elapsed_s: float,
    step_seconds: float,
    step_label: str,
) -> StepVerdict:
    """Judge the step: a breach with enough requests rolls back at once, even before the step's time is up.

    Healthy numbers advance only once ``step_seconds`` have passed with at least ``min_requests``;
    with too few requests the step keeps waiting, up to ``max_wait_seconds`` past its time if set.
    """
    min_requests = thresholds["min_requests"]
    over = f"over {numbers.requests} requests at {step_label}"
    if numbers.requests >= min_requests:
        breaches = _breaches(numbers, thresholds)
        if breaches:
            return StepVerdict("rollback", f"{'; '.join(breaches)} {over}")
    if elapsed_s < step_seconds:
        held = f"{elapsed_s:.0f} of {step_seconds:g} s"
        return StepVerdict("hold", f"holding {step_label}: {held}, {numbers.requests} requests")
    if numbers.requests >= min_requests:
        return StepVerdict("advance", f"healthy {over}")
    max_wait = thresholds.get("max_wait_seconds")
    if max_wait is not None and elapsed_s >= step_seconds + max_wait:
        return StepVerdict(
            "rollback",
            f"not enough traffic: {numbers.requests} of {min_requests} requests "
            f"after {elapsed_s:.0f} s at {step_label}",
        )
    return StepVerdict("wait", f"waiting for traffic: {numbers.requests} of {min_requests} requests at {step_label}")
