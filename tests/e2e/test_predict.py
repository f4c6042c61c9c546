"""Acceptance of the skeleton: predictions over HTTP through the real broker and real workers."""

from __future__ import annotations

import time

import httpx
from sklearn.datasets import load_iris

from tests.e2e.conftest import CHAMPION_V1, FEATURES

IRIS = load_iris()
# Rows where the two demo versions disagree make a champion switch visible in the answers.
ROWS = IRIS.data[::7]


def inputs_of(row) -> dict[str, float]:
    return {name: float(value) for name, value in zip(FEATURES, row, strict=True)}


def predict(platform, row, *, user_key: str | None = None, timeout: float = 10.0) -> httpx.Response:
    body = {"inputs": inputs_of(row)}
    if user_key is not None:
        body["user_key"] = user_key
    return httpx.post(platform.predict_url(), json=body, headers=platform.auth(), timeout=timeout)


def champion_v1_answers(platform, *, within_s: float = 5.0) -> None:
    platform.route(CHAMPION_V1)
    deadline = time.monotonic() + within_s
    while predict(platform, ROWS[0]).json().get("version") != 1:
        assert time.monotonic() < deadline, "champion v1 never answered"


def test_every_answer_equals_the_models_own_prediction(platform):
    champion_v1_answers(platform)
    expected = platform.models[1].predict(ROWS)
    for row, label in zip(ROWS, expected, strict=True):
        response = predict(platform, row, user_key="alice")
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["status"] == "ok" and answer["reason"] == "champion"
        assert (answer["model"], answer["version"]) == ("iris", 1)
        assert answer["output"]["label"] == int(label)
        probabilities = platform.models[1].predict_proba([row])[0]
        assert abs(answer["output"]["probabilities"][str(int(label))] - max(probabilities)) < 1e-6
        assert len(answer["request_id"]) == 32 and answer["latency_ms"] >= 0


def test_switching_the_champion_takes_effect_within_two_seconds_without_restart(platform):
    champion_v1_answers(platform)
    pids = [w.process.pid for w in platform.workers]
    platform.route([
        {"model": "iris", "version": 2, "role": "champion", "weight": 100},
        {"model": "iris", "version": 1, "role": "challenger"},
    ])
    started = time.monotonic()
    version = None
    while time.monotonic() - started < 5:
        version = predict(platform, ROWS[0]).json().get("version")
        if version == 2:
            break
    elapsed = time.monotonic() - started
    assert version == 2 and elapsed < 2.0, f"version {version} after {elapsed:.2f}s"
    expected = platform.models[2].predict(ROWS)
    for row, label in zip(ROWS, expected, strict=True):
        answer = predict(platform, row).json()
        assert (answer["version"], answer["output"]["label"]) == (2, int(label))
    assert [w.process.pid for w in platform.workers] == pids and all(w.alive for w in platform.workers)


def test_bad_requests_get_clear_errors_and_the_workers_keep_running(platform):
    url, auth = platform.predict_url(), platform.auth()
    not_json = httpx.post(url, content=b"{nope", headers={**auth, "Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_json"

    bad = httpx.post(url, json={"inputs": {"sepal_length": "long", "petal_width": 1}}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid"
    messages = " ".join(e["message"] for e in bad.json()["detail"]["inputs"])
    assert "'long' is not of type 'number'" in messages and "'sepal_width' is a required property" in messages

    too_large = httpx.post(url, content=b"{" + b" " * 1_100_000 + b"}", headers=auth)
    assert too_large.status_code == 413 and too_large.json()["error"] == "too_large"
    not_post = httpx.get(url, headers=auth)
    assert not_post.status_code == 405

    no_inputs = httpx.post(url, json={"input": {}}, headers=auth)
    assert no_inputs.status_code == 400 and "inputs" in no_inputs.json()["detail"]

    body = {"inputs": inputs_of(ROWS[0])}
    assert httpx.post(platform.predict_url(tenant="no-such-tenant"), json=body, headers=auth).status_code == 404
    assert httpx.post(platform.predict_url(service="no-such-service"), json=body, headers=auth).status_code == 404
    missing = httpx.post(url, json=body)
    assert missing.status_code == 401 and missing.json()["error"] == "not_authenticated"
    wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer rdv_wrong_token"})
    assert wrong.status_code == 401
    other = httpx.post(url, json=body, headers=platform.auth(platform.other_token))
    assert other.status_code == 403 and other.json()["error"] == "forbidden"

    assert all(w.alive for w in platform.workers)
    champion_v1_answers(platform)
    assert predict(platform, ROWS[0]).status_code == 200
