"""Random decisions as rendezvous workers write them, and their numbers computed independently.

``expected_numbers`` is a second, deliberately plain reading of DESIGN.md §7's definitions (sorted
lists, nearest-rank percentiles): the roll-ups must agree with it, counts exactly and percentiles
within the sketch's relative accuracy.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from contracts import Candidate, Decision

DEPLOYMENTS = [("iris", 1, "champion"), ("iris", 2, "challenger"), ("tree", 4, "fallback")]


def random_decisions(tenant: str, service: str, count: int, *, seed: int, decided_at: float) -> list[Decision]:
    rng = random.Random(seed)
    decisions = []
    for _ in range(count):
        candidates = []
        for model, version, role in DEPLOYMENTS:
            status = rng.choices(["ok", "error", "missing"], weights=[85, 8, 7])[0]
            latency = None if status == "missing" else rng.lognormvariate(math.log(8.0), 0.9)
            output = {"label": rng.choice([0, 1, 2])} if status == "ok" else None
            candidates.append(Candidate(model=model, version=version, role=role, status=status, output=output,
                                        latency_ms=latency, late=rng.random() < 0.1))
        champion = candidates[0]
        fallback = candidates[2]
        if champion.status == "ok":
            status, reason, answer = "ok", "champion", champion
        elif fallback.status == "ok":
            status, reason, answer = "ok", "fallback", fallback
        else:
            status, reason, answer = "timeout", "deadline", None
        decisions.append(Decision(
            request_id=uuid.uuid4().hex, tenant=tenant, service=service, status=status,
            output=answer.output if answer else None, model=answer.model if answer else None,
            version=answer.version if answer else None, reason=reason, latency_ms=rng.uniform(5, 50),
            config_revision=1, candidates=candidates, decided_at=decided_at + rng.uniform(0, 1),
        ))
    return decisions


def exact_quantile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.floor(fraction * (len(ordered) - 1))]


def expected_numbers(decisions: Iterable[Decision]) -> dict[tuple[str, int, str], dict[str, Any]]:
    found: dict[tuple[str, int, str], dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "errors": 0, "timeouts": 0, "fallbacks": 0, "wins": 0, "compared": 0, "agreed": 0,
                 "latencies": []}
    )
    for decision in decisions:
        for c in decision.candidates:
            numbers = found[(c.model, c.version, c.role)]
            numbers["count"] += 1
            timed_out = c.status == "missing" or (c.late and decision.reason in ("deadline", "timeout"))
            numbers["timeouts"] += timed_out
            numbers["errors"] += (not timed_out) and c.status == "error"
            numbers["fallbacks"] += decision.reason == "fallback"
            numbers["wins"] += decision.status == "ok" and (decision.model, decision.version) == (c.model, c.version)
            if c.latency_ms is not None and c.status != "missing":
                numbers["latencies"].append(c.latency_ms)
            if decision.status == "ok" and c.status == "ok" and c.output and decision.output:
                numbers["compared"] += 1
                numbers["agreed"] += c.output["label"] == decision.output["label"]
    return dict(found)


def assert_metrics_match(body: dict[str, Any], decisions: list[Decision], accuracy: float) -> None:
    """The endpoint's deployments against the independent numbers: counts exact, percentiles within ``accuracy``."""
    expected = expected_numbers(decisions)
    got = {(d["model"], d["version"], d["role"]): d for d in body["deployments"]}
    assert set(got) == set(expected)
    for key, want in expected.items():
        row = got[key]
        for name in ("count", "errors", "timeouts", "fallbacks", "wins", "compared", "agreed"):
            assert row[name] == want[name], (key, name)
        assert row["scored"] == len(want["latencies"])
        assert row["error_rate"] == want["errors"] / want["count"]
        assert row["win_rate"] == want["wins"] / want["count"]
        assert row["agreement"] == (want["agreed"] / want["compared"] if want["compared"] else None)
        for fraction, name in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
            exact = exact_quantile(want["latencies"], fraction)
            assert exact is not None
            assert abs(row[name] - exact) <= accuracy * exact + 1e-9, (key, name, row[name], exact)
        for name in ("accuracy", "f1", "mae", "rmse", "labelled"):
            assert row[name] is None
