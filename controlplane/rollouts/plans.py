"""The routing table of each rollout step, as pure functions over tables in the API's row shape.

A canary step gives the candidate ``w`` percent of the champions' traffic and the baseline champions
the rest (scaled so their own split is kept); a blue-green rollout first runs the candidate as a
challenger (shadow, weight 0). The final step (100) is not a table here: it is ``deployment_promote``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from contracts.config import DEFAULT_POOL
from contracts.keys import ModelVersion

Row = dict[str, Any]

CANARY = "canary"
BLUE_GREEN = "blue-green"
STRATEGIES = (CANARY, BLUE_GREEN)
DEFAULT_STEPS = {CANARY: [10, 50, 100], BLUE_GREEN: [100]}


def steps_problem(steps: Sequence[Any], *, strategy: str) -> str | None:
    """Why ``steps`` cannot be run, or None: whole percentages in 1..100, strictly increasing, ending at 100."""
    if not steps:
        return "give at least one step; the last one must be 100"
    if any(isinstance(s, bool) or not isinstance(s, int) for s in steps):
        return "steps are whole percentages"
    if any(not 1 <= s <= 100 for s in steps):
        return "every step must be between 1 and 100"
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        return "steps must be strictly increasing"
    if steps[-1] != 100:
        return "the last step must be 100 (the promotion)"
    if strategy == BLUE_GREEN and list(steps) != [100]:
        return "blue-green switches all traffic at once: steps must be [100] (or omitted)"
    return None


def plan_weights(*, strategy: str, steps: Sequence[int]) -> list[int]:
    """The candidate's share of traffic at each phase: the canary steps, or shadow (0) then 100."""
    return [0, 100] if strategy == BLUE_GREEN else list(steps)


def _key(row: Row) -> ModelVersion:
    return ModelVersion(row["model"], row["version"])


def baseline_champion(table: Sequence[Row], *, candidate: ModelVersion) -> Row | None:
    """The champion the candidate is compared with: the heaviest one other than the candidate."""
    champions = [r for r in table if r["role"] == "champion" and _key(r) != candidate and r["weight"] > 0]
    return max(champions, key=lambda r: (r["weight"], -r["version"]), default=None)


def table_for_step(*, baseline: Sequence[Row], candidate: ModelVersion, weight: int) -> list[Row]:
    """The baseline table with the candidate at ``weight`` percent (0: a challenger); other rows are kept.

    Baseline champions share ``100 - weight`` in their own proportions; weights are integers, so they are
    scaled by the gcd of the baseline weights (a single champion at any weight gives exactly w and 100-w).
    """
    if not 0 <= weight < 100:
        raise ValueError(f"a step table needs a weight in 0..99, not {weight}")
    own = next((r for r in baseline if _key(r) == candidate), None)
    rest = [dict(r) for r in baseline if _key(r) != candidate]
    pool = own["pool"] if own else DEFAULT_POOL
    model, version = candidate
    if weight == 0:
        return [*rest, _row(model, version, "challenger", 0, pool)]
    champions = [r for r in rest if r["role"] == "champion" and r["weight"] > 0]
    total = sum(r["weight"] for r in champions)
    divisor = math.gcd(*(r["weight"] for r in champions)) if champions else 1
    for row in champions:
        row["weight"] = row["weight"] // divisor * (100 - weight)
    candidate_weight = total // divisor * weight if champions else weight
    return [_row(model, version, "champion", candidate_weight, pool), *rest]


def _row(model: str, version: int, role: str, weight: int, pool: str) -> Row:
    return {
        "model": model,
        "version": version,
        "role": role,
        "weight": weight if role == "champion" else 100,
        "rank": 0,
        "pool": pool,
        "last_resort": False,
    }


def step_label(*, strategy: str, weight: int) -> str:
    """How reasons name a step: ``step 10%``, or ``the shadow step`` of a blue-green rollout."""
    return "the shadow step" if strategy == BLUE_GREEN and weight == 0 else f"step {weight}%"
