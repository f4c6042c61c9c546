"""Test-only ``python``-format models (``module:callable``), importable by a runner started from the repo.

They stand in for an operator's trusted code: one that answers, one that raises, one that never returns.
"""

from __future__ import annotations

import time
from typing import Any

SLEEPER_TARGET = "tests.model_runner.python_models:sleep_forever"
RAISER_TARGET = "tests.model_runner.python_models:always_raise"
DOUBLER_TARGET = "tests.model_runner.python_models:double_x"


def double_x(rows: list[dict[str, Any]]) -> list[Any]:
    """``{"value": 2x}`` per row; a row without ``x`` fails alone."""
    return [{"value": 2 * row["x"]} if "x" in row else KeyError("x") for row in rows]


def always_raise(rows: list[dict[str, Any]]) -> list[Any]:
    raise RuntimeError(f"broken model ({len(rows)} rows)")


def sleep_forever(rows: list[dict[str, Any]]) -> list[Any]:
    while True:
        time.sleep(60)


def drop_last(rows: list[dict[str, Any]]) -> list[Any]:
    """One output too few: a contract breach that fails the whole call."""
    return [{"value": 1.0} for _ in rows[1:]]
