"""Acceptance: promotion and rollback under continuous load lose no request (every request answered, none
5xx), and the answers follow each change."""

from __future__ import annotations

import time

import httpx

from tests.e2e.conftest import CHAMPION_V1
from tests.e2e.load import Answer, SteadyLoad
from tests.e2e.test_predict import ROWS, inputs_of, predict

RATE = 40  # requests per second
CYCLES = 3  # promote + rollback each
SWITCH_WITHIN_S = 5.0
SETTLE_S = 2.0


def _post(platform, action: str, body: dict) -> int:  # noqa: ANN001
    response = httpx.post(
        f"{platform.url}/api/v1/tenants/{platform.tenant}/services/{platform.service}/{action}",
        json=body, headers=platform.auth(), timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["revision"]


def _switched(load: SteadyLoad, since: float, version: int) -> float:
    """Seconds from ``since`` until answers came from ``version`` only (then SETTLE_S more of them)."""
    deadline = since + SWITCH_WITHIN_S
    while time.monotonic() < deadline:
        answers = load.since(since)
        first = next((a for a in answers if a.version == version), None)
        if first is not None:
            later = [a for a in answers if a.sent_at > first.sent_at + 0.5]
            if later and all(a.version == version for a in later[-10:]):
                return first.sent_at - since
        time.sleep(0.1)
    seen = [a.version for a in load.since(since)]
    raise AssertionError(f"answers did not switch to v{version} within {SWITCH_WITHIN_S} s: {seen[-20:]}")


def _champion_v1_serves(platform) -> None:  # noqa: ANN001
    """Before the load starts: v1 answers. Generous, as a runner may still be loading versions of earlier
    tests' services when the platform starts (only two loading threads)."""
    platform.route(CHAMPION_V1)
    deadline = time.monotonic() + 60
    while predict(platform, ROWS[0]).json().get("version") != 1:
        assert time.monotonic() < deadline, "champion v1 never answered"
        time.sleep(0.2)


def test_promote_and_rollback_under_load_answer_every_request(platform):  # noqa: ANN001
    _champion_v1_serves(platform)
    bodies = [{"inputs": inputs_of(row), "user_key": f"user-{i}"} for i, row in enumerate(ROWS)]
    switches: list[float] = []
    with SteadyLoad(platform.predict_url(), platform.auth(), bodies, rate=RATE) as load:
        time.sleep(SETTLE_S)
        for _ in range(CYCLES):
            changed = time.monotonic()
            _post(platform, "promote", {"model": "iris", "version": 2})
            switches.append(_switched(load, changed, 2))
            time.sleep(SETTLE_S)
            changed = time.monotonic()
            _post(platform, "rollback", {})
            switches.append(_switched(load, changed, 1))
            time.sleep(SETTLE_S)
        time.sleep(1.0)
    answers: list[Answer] = load.answers
    failures = [a for a in answers if a.status_code != 200 or a.version not in (1, 2)]
    duration = answers[-1].sent_at - answers[0].sent_at
    assert len(answers) >= RATE * duration * 0.8, f"only {len(answers)} requests in {duration:.1f} s"
    assert not failures, f"{len(failures)} of {len(answers)} requests failed, e.g. {failures[:5]}"
    assert all(s < SWITCH_WITHIN_S for s in switches)
