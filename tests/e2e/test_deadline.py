"""A service whose champion never answers: the answer is a timeout at the deadline, HTTP 504."""

from __future__ import annotations

import time

import httpx


def test_no_score_means_timeout_at_the_deadline(platform):
    # Champion in a pool no runner serves: its score never comes.
    platform.route([{"model": "iris", "version": 1, "role": "champion", "weight": 100,
                     "pool": "nobody-serves-this"}])
    time.sleep(0.5)
    body = {"inputs": {"sepal_length": 5.0, "sepal_width": 3.0, "petal_length": 1.5, "petal_width": 0.2}}
    started = time.monotonic()
    response = httpx.post(platform.predict_url(), json=body, headers=platform.auth(), timeout=10)
    elapsed_ms = (time.monotonic() - started) * 1000
    assert response.status_code == 504, response.text
    answer = response.json()
    assert answer["status"] == "timeout" and answer["output"] is None and answer["reason"] == "timeout"
    assert 800 <= elapsed_ms < 800 + 300
