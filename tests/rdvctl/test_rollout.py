"""rdvctl rollout: the requests it sends, the progress it prints and its exit codes (httpx.MockTransport)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from rdvctl.cli import EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from rdvctl.rollout import EXIT_ABORTED, EXIT_ROLLED_BACK, EXIT_STILL_RUNNING, progress_line
from tests.rdvctl.test_cli import BASE, PREFIX, Recorder, run

ROLLOUTS = f"{PREFIX}/services/web/rollouts"


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rdvctl.rollout.time.sleep", lambda _s: None)


def rollout(status: str = "running", step: int = 10, reason: str = "", **state: Any) -> dict[str, Any]:
    return {"id": 12, "status": status, "step": step, "reason": reason, "state": state}


def sequence(*answers: dict[str, Any]):  # noqa: ANN201
    """A GET handler answering each rollout in turn, then the last one forever."""
    remaining = list(answers)

    def handle(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=remaining.pop(0) if len(remaining) > 1 else remaining[0])

    return handle


START = [*BASE, "rollout", "start", "web", "--model", "churn", "--version", "7", "--step-seconds", "30"]


def test_start_sends_the_body_and_prints_the_rollout() -> None:
    rec = Recorder({("POST", ROLLOUTS): httpx.Response(201, json=rollout())})
    argv = [*START, "--steps", "5,25,100", "--analysis", '{"max_error_rate": 0.01}']
    code, out, err = run(argv, rec)
    assert code == EXIT_OK, err
    assert json.loads(out)["id"] == 12
    assert json.loads(rec.requests[0].content) == {
        "model": "churn", "version": 7, "strategy": "canary", "step_seconds": 30.0, "steps": [5, 25, 100],
        "analysis": {"max_error_rate": 0.01},
    }


def test_start_wait_prints_progress_and_exits_0_when_promoted() -> None:
    healthy = {"numbers": {"requests": 40, "error_rate": 0.0, "timeout_rate": 0.0}, "note": "holding step 10%",
               "verdict": "hold"}
    rec = Recorder({
        ("POST", ROLLOUTS): httpx.Response(201, json=rollout()),
        ("GET", f"{ROLLOUTS}/12"): sequence(
            rollout(**healthy), rollout(**healthy), rollout(step=50),
            rollout("promoted", 100, "promoted: healthy over 40 requests at step 50%"),
        ),
    })
    code, out, _ = run([*START, "--strategy", "blue-green", "--wait"], rec)
    assert code == EXIT_OK
    assert out.splitlines() == [
        "rollout 12: running at step 10%",
        "rollout 12: running at step 10% (40 requests, error rate 0.00, timeout rate 0.00): holding step 10%",
        "rollout 12: running at step 50%",
        "rollout 12: promoted at step 100%: promoted: healthy over 40 requests at step 50%",
    ]
    assert json.loads(rec.requests[0].content)["strategy"] == "blue-green"


def test_start_wait_exits_5_when_rolled_back_with_the_reason() -> None:
    reason = "error rate 0.62 > 0.05 over 230 requests at step 10%"
    rec = Recorder({
        ("POST", ROLLOUTS): httpx.Response(201, json=rollout()),
        ("GET", f"{ROLLOUTS}/12"): sequence(rollout("rolled_back", reason=reason)),
    })
    code, out, _ = run([*START, "--wait"], rec)
    assert code == EXIT_ROLLED_BACK
    assert out.splitlines()[-1] == f"rollout 12: rolled_back at step 10%: {reason}"


def test_wait_survives_a_server_hiccup_and_exits_6_when_aborted() -> None:
    answers = iter([httpx.Response(503, json={"error": "stream_unavailable", "detail": "x"}),
                    httpx.Response(200, json=rollout("aborted", reason="aborted by token:ops"))])
    rec = Recorder({
        ("POST", ROLLOUTS): httpx.Response(201, json=rollout()),
        ("GET", f"{ROLLOUTS}/12"): lambda _r: next(answers),
    })
    code, _, err = run([*START, "--wait"], rec)
    assert code == EXIT_ABORTED
    assert "retrying after a server error" in err


def test_wait_timeout_exits_7() -> None:
    rec = Recorder({("POST", ROLLOUTS): httpx.Response(201, json=rollout())})
    code, _, err = run([*START, "--wait", "--wait-timeout", "0"], rec)
    assert code == EXIT_STILL_RUNNING
    assert "still running after 0s" in err


def test_refused_start_exits_3_with_the_server_message() -> None:
    rec = Recorder({("POST", ROLLOUTS): httpx.Response(
        400, json={"error": "invalid", "detail": {"steps": ["steps must be strictly increasing"]}})})
    code, _, err = run([*START, "--steps", "50,10,100"], rec)
    assert code == EXIT_REFUSED and "steps: steps must be strictly increasing" in err


@pytest.mark.parametrize("extra", [["--steps", "10,x"], ["--strategy", "big-bang"], ["--analysis", "[1]"]])
def test_bad_arguments_are_usage_errors(extra: list[str]) -> None:
    rec = Recorder({})
    assert run([*START, *extra], rec)[0] == EXIT_USAGE
    assert rec.requests == []


def test_status_of_the_latest_rollout_exits_by_its_outcome() -> None:
    rec = Recorder({
        ("GET", ROLLOUTS): httpx.Response(200, json={"count": 1, "results": [rollout("rolled_back")]}),
        ("GET", f"{ROLLOUTS}/12"): httpx.Response(200, json=rollout("rolled_back", reason="error rate 1.00")),
    })
    code, out, _ = run([*BASE, "rollout", "status", "web"], rec)
    assert code == EXIT_ROLLED_BACK and json.loads(out)["reason"] == "error rate 1.00"


@pytest.mark.parametrize("action", ["pause", "resume", "abort"])
def test_actions_target_the_active_rollout_or_the_given_id(action: str) -> None:
    rec = Recorder({
        ("GET", ROLLOUTS): httpx.Response(
            200, json={"count": 2, "results": [rollout("running"), {**rollout("promoted"), "id": 3}]}),
        ("POST", f"{ROLLOUTS}/12/{action}"): httpx.Response(200, json=rollout("paused")),
        ("POST", f"{ROLLOUTS}/3/{action}"): httpx.Response(409, json={"error": "conflict", "detail": "promoted"}),
    })
    code, out, _ = run([*BASE, "rollout", action, "web"], rec)
    assert code == EXIT_OK and out.strip() == "rollout 12: paused at step 10%"
    assert run([*BASE, "rollout", action, "web", "3"], rec)[0] == EXIT_REFUSED


def test_an_action_without_an_active_rollout_is_a_usage_error() -> None:
    rec = Recorder({("GET", ROLLOUTS): httpx.Response(200, json={"count": 0, "results": []})})
    code, _, err = run([*BASE, "rollout", "abort", "web"], rec)
    assert code == EXIT_USAGE and "no active rollout" in err


def test_progress_line_without_numbers() -> None:
    assert progress_line(rollout(note="waiting for traffic: 0 of 20")) == (
        "rollout 12: running at step 10%: waiting for traffic: 0 of 20"
    )
