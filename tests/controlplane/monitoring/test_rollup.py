"""The roll-up of decisions per deployment and minute, as pure functions (DESIGN.md §7 definitions)."""

from __future__ import annotations

from contracts import Candidate, Decision
from controlplane.monitoring.rollup import rollup
from tests.controlplane.monitoring.builders import expected_numbers, random_decisions


def _decision(**fields: object) -> Decision:
    values: dict[str, object] = {
        "request_id": "r", "tenant": "t", "service": "s", "status": "ok", "output": {"label": 1}, "model": "a",
        "version": 1, "reason": "champion", "latency_ms": 9.0, "config_revision": 1, "decided_at": 120.5,
        "candidates": [
            Candidate(model="a", version=1, role="champion", status="ok", output={"label": 1}, latency_ms=4.0),
            Candidate(model="b", version=2, role="challenger", status="ok", output={"label": 2}, latency_ms=6.0,
                      late=True),
        ],
    }
    return Decision(**{**values, **fields})  # type: ignore[arg-type]


def test_one_decision_counts_for_each_of_its_candidates_in_its_minute() -> None:
    totals = rollup([_decision()])
    champion, challenger = totals[(("a", 1, "champion"), 120)], totals[(("b", 2, "challenger"), 120)]
    assert (champion.count, champion.wins, champion.compared, champion.agreed) == (1, 1, 1, 1)
    # Late in a decision answered before the deadline only lost the race: no timeout.
    assert (challenger.count, challenger.wins, challenger.timeouts, challenger.compared, challenger.agreed) == (
        1, 0, 0, 1, 0)
    assert challenger.latency.count == 1


def test_late_at_the_deadline_and_missing_are_timeouts_and_fallbacks_are_counted_for_all() -> None:
    decision = _decision(
        reason="fallback", model="c", version=3, output={"label": 1},
        candidates=[
            Candidate(model="a", version=1, role="champion", status="missing"),
            Candidate(model="c", version=3, role="fallback", status="ok", output={"label": 1}, latency_ms=3.0),
        ],
    )
    deadline = _decision(
        status="timeout", reason="deadline", model=None, version=None, output=None,
        candidates=[Candidate(model="a", version=1, role="champion", status="error", latency_ms=300.0, late=True)],
    )
    totals = rollup([decision, deadline])
    champion = totals[(("a", 1, "champion"), 120)]
    assert (champion.count, champion.timeouts, champion.errors, champion.fallbacks, champion.wins) == (2, 2, 0, 1, 0)
    assert champion.latency.count == 1  # the late error score still has a latency; missing has none
    fallback = totals[(("c", 3, "fallback"), 120)]
    assert (fallback.count, fallback.wins, fallback.fallbacks) == (1, 1, 1)


def test_decisions_fall_in_the_minute_they_were_decided() -> None:
    totals = rollup([_decision(decided_at=59.9), _decision(decided_at=60.0)])
    assert {minute for _, minute in totals} == {0, 60}


def test_random_decisions_match_the_independent_counts() -> None:
    decisions = random_decisions("t", "s", 2000, seed=3, decided_at=1_000_000.0)
    merged: dict = {}
    for (deployment, _), stats in rollup(decisions).items():
        if deployment in merged:
            merged[deployment].merge(stats)
        else:
            merged[deployment] = stats
    for deployment, want in expected_numbers(decisions).items():
        got = merged[deployment]
        assert (got.count, got.errors, got.timeouts, got.fallbacks, got.wins, got.compared, got.agreed) == (
            want["count"], want["errors"], want["timeouts"], want["fallbacks"], want["wins"], want["compared"],
            want["agreed"])
        assert got.latency.count == len(want["latencies"])
