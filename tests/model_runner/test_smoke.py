"""The smoke test's own rules, without a child process: when an example can drive a prediction, which
outputs runners may publish, and the limits a child applies to itself."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from contracts.smoke import example_problem
from model_runner.loading import RowError
from model_runner.smoke import output_problem

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("features", "example", "problem"),
    [
        ([], {"a": 1}, "metadata.features is empty"),
        (["a"], None, "metadata.example is missing"),
        (["a"], {}, "metadata.example is missing"),
        (["a", "b"], {"a": 1}, "lacks feature(s) b"),
        (["a", "b"], {"a": "1", "b": True}, "non-numeric value(s) for a, b"),
        (["a", "b"], {"a": 1, "b": 2.5, "extra": "ignored"}, None),
    ],
)
def test_example_problem(features: list[str], example: object, problem: str | None) -> None:
    found = example_problem(features, example)
    assert found == problem if problem is None else problem in found


@pytest.mark.parametrize(
    ("outputs", "problem"),
    [
        ([{"label": 1, "probabilities": {"0": 0.2, "1": 0.8}}] * 2, None),
        ([{"value": 3.5}] * 2, None),
        ([{"value": 3.5}], "answered 1 output(s) for 2 rows"),
        ([RowError("missing feature 'x'")] * 2, "could not be scored: missing feature 'x'"),
        ([{}] * 2, "not a non-empty object"),
        ([{"value": math.nan}] * 2, "NaN or infinity"),
        ([{"value": "high"}] * 2, "value must be a number"),
        ([{"label": object()}] * 2, "not JSON"),
    ],
)
def test_output_problem(outputs: list[object], problem: str | None) -> None:
    found = output_problem(outputs, 2)
    assert found == problem if problem is None else problem in found


def test_the_child_refuses_a_code_format_without_opening_it(tmp_path: Path) -> None:
    marker = tmp_path / "opened"
    request = {
        "artifact": str(marker), "format": "joblib", "model": "m", "version": 1, "sha256": "0" * 64,
        "features": ["a"], "example": {"a": 1}, "memory_mb": 64, "cpu_s": 5,
    }

    done = subprocess.run([sys.executable, "-m", "model_runner.smoke"], input=json.dumps(request), text=True,
                          capture_output=True, cwd=ROOT, timeout=60, check=True)

    outcome = json.loads(done.stdout.strip().splitlines()[-1])["outcome"]
    assert (outcome["ok"], outcome["kind"]) == (False, "refused")
    assert "not loaded by the smoke test" in outcome["message"]


def test_a_bad_request_exits_2() -> None:
    done = subprocess.run([sys.executable, "-m", "model_runner.smoke"], input="{}", text=True, capture_output=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 2 and "bad request on stdin" in done.stderr
