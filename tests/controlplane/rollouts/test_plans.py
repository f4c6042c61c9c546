"""Step tables and step validation: plain tables in, tables out."""

from __future__ import annotations

import pytest

from controlplane.rollouts.plans import baseline_champion, plan_weights, steps_problem, table_for_step


def row(version: int, role: str, weight: int = 100, rank: int = 0, pool: str = "default") -> dict:
    return {"model": "iris", "version": version, "role": role, "weight": weight, "rank": rank, "pool": pool,
            "last_resort": False}


BASELINE = [row(1, "champion"), row(3, "fallback", rank=1), row(2, "challenger", pool="gpu")]


@pytest.mark.parametrize(
    ("steps", "strategy", "problem"),
    [
        ([10, 50, 100], "canary", None),
        ([100], "canary", None),
        ([100], "blue-green", None),
        ([], "canary", "give at least one step; the last one must be 100"),
        ([50, 10, 100], "canary", "steps must be strictly increasing"),
        ([10, 10, 100], "canary", "steps must be strictly increasing"),
        ([0, 50, 100], "canary", "every step must be between 1 and 100"),
        ([10, 150], "canary", "every step must be between 1 and 100"),
        ([10, 50], "canary", "the last step must be 100 (the promotion)"),
        ([10, 2.5, 100], "canary", "steps are whole percentages"),
        ([10, 100], "blue-green", "blue-green switches all traffic at once: steps must be [100] (or omitted)"),
    ],
)
def test_steps_problem(steps: list, strategy: str, problem: str | None) -> None:
    assert steps_problem(steps, strategy=strategy) == problem


def test_plans() -> None:
    assert plan_weights(strategy="canary", steps=[10, 50, 100]) == [10, 50, 100]
    assert plan_weights(strategy="blue-green", steps=[100]) == [0, 100]


def test_a_canary_step_splits_the_champions_and_keeps_every_other_row() -> None:
    table = table_for_step(baseline=BASELINE, candidate=("iris", 2), weight=10)
    assert table == [
        row(2, "champion", 10, pool="gpu"),  # the staged row's pool carries over
        row(1, "champion", 90),
        row(3, "fallback", rank=1),
    ]
    assert BASELINE[0]["weight"] == 100  # the baseline is not modified


def test_several_baseline_champions_keep_their_own_split() -> None:
    baseline = [row(1, "champion", 90), row(3, "champion", 10)]
    table = table_for_step(baseline=baseline, candidate=("iris", 2), weight=50)
    weights = {r["version"]: r["weight"] for r in table}
    assert weights == {2: 500, 1: 450, 3: 50}  # candidate 50 %, v1 45 %, v3 5 %


def test_the_shadow_step_makes_the_candidate_a_challenger() -> None:
    table = table_for_step(baseline=[row(1, "champion")], candidate=("iris", 2), weight=0)
    assert table == [row(1, "champion"), row(2, "challenger")]


def test_step_100_is_a_promotion_not_a_table() -> None:
    with pytest.raises(ValueError):
        table_for_step(baseline=BASELINE, candidate=("iris", 2), weight=100)


def test_the_baseline_champion_is_the_heaviest_other_champion() -> None:
    baseline = [row(1, "champion", 30), row(3, "champion", 70), row(2, "champion", 100)]
    assert baseline_champion(baseline, candidate=("iris", 2))["version"] == 3
    assert baseline_champion([row(2, "champion")], candidate=("iris", 2)) is None
