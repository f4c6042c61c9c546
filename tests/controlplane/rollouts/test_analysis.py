"""The numbers of a rollout step and the verdict on them: plain data in, verdict out."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.rollouts.analysis import (
    StepNumbers,
    percentile,
    step_numbers,
    step_verdict,
    thresholds_resolve,
)

CANDIDATE = ("iris", 2)
BASELINE = ("iris", 1)


def cand(version: int, status: str = "ok", *, label: Any = 0, latency_ms: float | None = 5.0, late: bool = False,
         role: str = "champion") -> dict[str, Any]:
    return {
        "model": "iris", "version": version, "role": role, "status": status,
        "output": {"label": label} if status == "ok" else None,
        "error": "boom" if status == "error" else None,
        "latency_ms": None if status == "missing" else latency_ms, "late": late,
    }


def thresholds(**overrides: Any) -> dict[str, Any]:
    return thresholds_resolve(overrides, deadline_ms=200)


def test_defaults_fill_what_the_body_leaves_out_and_p99_defaults_to_the_deadline() -> None:
    assert thresholds_resolve(None, deadline_ms=300) == {
        "max_error_rate": 0.05, "max_timeout_rate": 0.05, "max_p99_ms": 300.0, "min_agreement": 0.0,
        "min_requests": 20, "max_wait_seconds": None,
    }
    assert thresholds_resolve({"max_p99_ms": 50, "min_requests": 5}, deadline_ms=300)["max_p99_ms"] == 50


def test_counts_errors_timeouts_latency_and_agreement_of_the_candidate_only() -> None:
    decisions = [
        ("champion", [cand(1, label=0), cand(2, label=0, latency_ms=4)]),  # agrees
        ("champion", [cand(1, label=1), cand(2, label=2, latency_ms=6)]),  # disagrees
        ("fallback", [cand(1), cand(2, "error", latency_ms=7)]),  # error
        ("champion", [cand(1), cand(2, "missing")]),  # no score at all: timeout
        ("deadline", [cand(1), cand(2, label=0, late=True, latency_ms=900)]),  # after the deadline: timeout
        ("timeout", [cand(1, "missing"), cand(2, "error", late=True)]),  # after the deadline: timeout
        ("champion", [cand(1, "error"), cand(2, label=0, latency_ms=5)]),  # baseline failed: not compared
        ("champion", [cand(1)]),  # the candidate was not deployed for this one: not counted
    ]
    numbers = step_numbers(decisions, candidate=CANDIDATE, baseline=BASELINE)
    assert numbers == StepNumbers(
        requests=7, errors=1, timeouts=3, error_rate=round(1 / 7, 4), timeout_rate=round(3 / 7, 4),
        p99_ms=900.0, compared=2, agreement=0.5,
        # The baseline over the same 7 requests: one timeout (missing at the deadline), one error.
        baseline_error_rate=round(1 / 7, 4), baseline_timeout_rate=round(1 / 7, 4),
    )


def test_a_score_that_only_lost_the_race_to_the_answer_is_not_a_timeout() -> None:
    # The rendezvous marks late every score that arrives after the answer, deadline or not.
    decisions = [("champion", [cand(1, label=0), cand(2, label=0, late=True)])] * 4
    numbers = step_numbers(decisions, candidate=CANDIDATE, baseline=BASELINE)
    assert (numbers.timeouts, numbers.compared, numbers.agreement) == (0, 4, 1.0)


def test_requests_held_while_the_runner_was_loading_the_version_are_counted_apart() -> None:
    loading = {**cand(2, "error"), "error": "model loading"}
    decisions = [("champion", [cand(1), loading])] * 3 + [("champion", [cand(1), cand(2)])]
    numbers = step_numbers(decisions, candidate=CANDIDATE, baseline=BASELINE)
    assert (numbers.requests, numbers.warming, numbers.errors, numbers.error_rate) == (1, 3, 0, 0.0)


def test_no_decisions_give_no_rates() -> None:
    assert step_numbers([], candidate=CANDIDATE, baseline=BASELINE) == StepNumbers()


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.99) is None
    assert percentile([float(v) for v in range(1, 101)], 0.99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def healthy(requests: int = 100, **changes: Any) -> StepNumbers:
    base = dict(requests=requests, errors=0, timeouts=0, error_rate=0.0, timeout_rate=0.0, p99_ms=10.0,
                compared=requests, agreement=1.0)
    return StepNumbers(**{**base, **changes})


def verdict(numbers: StepNumbers, *, elapsed: float = 0.0, **overrides: Any):  # noqa: ANN201
    return step_verdict(numbers, thresholds(**overrides), elapsed_s=elapsed, step_seconds=30, step_label="step 10%")


def test_an_error_rate_breach_rolls_back_at_once_with_the_numbers_in_the_reason() -> None:
    result = verdict(healthy(230, errors=143, error_rate=0.6217), elapsed=3)
    assert result.action == "rollback"
    assert result.reason == "error rate 0.62 > 0.05 over 230 requests at step 10%"


@pytest.mark.parametrize(
    ("numbers", "overrides", "expected"),
    [
        (healthy(timeouts=10, timeout_rate=0.1), {}, "timeout rate 0.10 > 0.05"),
        (healthy(p99_ms=250.0), {}, "p99 latency 250.0 ms > 200 ms"),
        (healthy(p99_ms=60.0), {"max_p99_ms": 50}, "p99 latency 60.0 ms > 50 ms"),
        (healthy(agreement=0.7), {"min_agreement": 0.9}, "agreement 0.70 < 0.9"),
        (healthy(error_rate=0.2), {"max_error_rate": 0.3}, None),
        (healthy(agreement=0.7), {}, None),  # agreement is off unless asked for
    ],
)
def test_each_threshold(numbers: StepNumbers, overrides: dict[str, Any], expected: str | None) -> None:
    result = verdict(numbers, elapsed=60, **overrides)
    if expected is None:
        assert result.action == "advance"
    else:
        assert result.action == "rollback" and result.reason.startswith(expected)


def test_rates_are_judged_against_the_baseline_over_the_same_requests() -> None:
    # A machine so slow that the baseline misses its deadline as often: not the candidate's fault.
    assert verdict(healthy(timeout_rate=0.65, baseline_timeout_rate=0.62), elapsed=60).action == "advance"
    worse = verdict(healthy(error_rate=0.3, baseline_error_rate=0.1), elapsed=1)
    assert worse.action == "rollback"
    assert worse.reason == "error rate 0.30 > 0.15 (the baseline's 0.10 + 0.05) over 100 requests at step 10%"
    assert verdict(healthy(error_rate=0.05, baseline_error_rate=0.0), elapsed=60).action == "advance"


def test_several_breaches_are_all_named() -> None:
    result = verdict(healthy(error_rate=0.5, timeout_rate=0.5), elapsed=1)
    assert result.reason.startswith("error rate 0.50 > 0.05; timeout rate 0.50 > 0.05 over 100 requests")


def test_too_few_requests_are_never_judged_bad() -> None:
    assert verdict(healthy(5, error_rate=1.0), elapsed=1).action == "hold"


def test_a_healthy_step_holds_until_its_time_is_up_then_advances() -> None:
    assert verdict(healthy(), elapsed=29.9).action == "hold"
    result = verdict(healthy(), elapsed=30)
    assert result.action == "advance" and result.reason == "healthy over 100 requests at step 10%"


def test_not_enough_traffic_waits_and_says_so_until_the_max_wait() -> None:
    waiting = verdict(healthy(5), elapsed=500)
    assert waiting.action == "wait" and waiting.reason == "waiting for traffic: 5 of 20 requests at step 10%"
    assert verdict(healthy(5), elapsed=89, max_wait_seconds=60).action == "wait"
    starved = verdict(healthy(5), elapsed=90, max_wait_seconds=60)
    assert starved.action == "rollback"
    assert starved.reason == "not enough traffic: 5 of 20 requests after 90 s at step 10%"


def test_agreement_needs_min_requests_compared() -> None:
    numbers = healthy(100, compared=3, agreement=0.0)
    assert verdict(numbers, elapsed=60, min_agreement=0.9).action == "advance"
