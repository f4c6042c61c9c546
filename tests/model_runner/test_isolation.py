"""Scoring calls run under a timeout: a hung call fails its batch in time, and its version answers
errors at once (never queueing behind it) until the call returns."""

from __future__ import annotations

import threading
import time

import pytest

from contracts.config import DeploymentSpec
from model_runner.isolation import CallWorkers, IsolatedCalls, ModelStuck, ModelTimeout, effective_timeout_ms


def _spec(timeout_ms: int = 0) -> DeploymentSpec:
    return DeploymentSpec(
        model="m", version=1, role="champion", format="python", sha256="a" * 64, artifact_url="file:///x",
        timeout_ms=timeout_ms,
    )


def test_a_call_returns_its_result_and_its_errors_pass_through() -> None:
    calls = IsolatedCalls()

    assert calls.call("v", lambda rows: [r * 2 for r in rows], [1, 2], timeout_ms=1000, label="m v1") == [2, 4]
    with pytest.raises(ZeroDivisionError):
        calls.call("v", lambda rows: 1 / 0, [], timeout_ms=1000, label="m v1")
    calls.close()


def test_a_hung_call_times_out_then_the_version_is_refused_at_once_until_it_returns() -> None:
    release = threading.Event()
    calls = IsolatedCalls()

    started = time.monotonic()
    with pytest.raises(ModelTimeout, match="timed out after 200 ms"):
        calls.call("hung", lambda rows: release.wait(30), [], timeout_ms=200, label="hung v1")
    waited = time.monotonic() - started
    assert 0.19 <= waited < 2.0

    started = time.monotonic()
    with pytest.raises(ModelStuck, match="still running a call that timed out"):
        calls.call("hung", lambda rows: rows, [], timeout_ms=200, label="hung v1")
    assert time.monotonic() - started < 0.1, "a stuck version never waits again"
    assert calls.stuck() == ["hung"]
    assert calls.call("other", lambda rows: rows, [7], timeout_ms=200, label="other v1") == [7]

    release.set()
    deadline = time.monotonic() + 5
    while calls.stuck() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls.call("hung", lambda rows: rows, [1], timeout_ms=200, label="hung v1") == [1]
    calls.close()


def test_a_model_that_exits_fails_its_call_without_stopping_the_runner() -> None:
    calls = IsolatedCalls()

    with pytest.raises(RuntimeError, match="SystemExit"):
        calls.call("v", lambda rows: exit(3), [], timeout_ms=1000, label="m v1")
    calls.close()


def test_workers_start_on_demand_and_idle_ones_are_reused() -> None:
    workers = CallWorkers(max_idle=2)
    names = [workers.submit(lambda _: threading.current_thread().name, None).result(5) for _ in range(5)]

    assert len(set(names)) == 1, "one call at a time reuses the same parked worker"
    workers.close()


def test_the_timeout_is_the_deployment_s_own_up_to_the_runner_s_maximum() -> None:
    assert effective_timeout_ms(_spec(), default_ms=1000, max_ms=5000) == 1000
    assert effective_timeout_ms(_spec(250), default_ms=1000, max_ms=5000) == 250
    assert effective_timeout_ms(_spec(60_000), default_ms=1000, max_ms=5000) == 5000
