"""State injection end to end, as a user sets it up over the API, through the real broker and workers.

The service injects external state at the gateway (clock, lookup by country, Redis by account), once,
into the Request on its requests topic. Version 1 of the model declares internal state (a Redis hash by
``user_key``) and answers with it; version 2 is the same model without the declaration, scoring the very
same request as a challenger: it never sees the state, so its ``visits`` feature is missing.
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest
import redis
import skops.io
from sklearn.linear_model import LinearRegression

from contracts.codec import decode, decode_scores
from contracts.kafka import TopicPartition, make_consumer
from contracts.messages import Request, Score
from contracts.topics import service_topics
from tests.kafka_auth import kafka_settings

FEATURES = ["amount", "hour", "risk", "age_days", "visits"]
WEIGHTS = np.array([1.0, 10.0, 1000.0, 0.5, 100.0])
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def shop(platform):  # noqa: ANN001, ANN201
    """A service with all three external providers and two versions of a model, one with internal state."""
    prefix = f"e2e:{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(REDIS_URL)
    # The server reads the tenant's keys under t:<tenant>: only (DESIGN.md §4): that is where they live.
    ns = f"t:{platform.tenant}:"
    client.hset(f"{ns}{prefix}account:a-1", mapping={"age_days": "311"})
    client.hset(f"{ns}{prefix}user:alice", mapping={"visits": "12"})
    client.hset(f"{ns}{prefix}user:bob", mapping={"visits": "1"})
    api, auth = f"{platform.url}/api/v1/tenants/{platform.tenant}", platform.auth()
    slug = f"shop-{uuid.uuid4().hex[:6]}"
    service = {
        "slug": slug,
        "name": "Shop",
        "deadline_ms": 5000,
        "input_schema": {
            "type": "object",
            "properties": {"amount": {"type": "number"}, "country": {"type": "string"}, "account": {"type": "string"}},
            "required": ["amount"],
        },
        "external_state": {
            "providers": [
                {"type": "clock", "fields": ["hour", "weekday"], "timezone": "Europe/Paris"},
                {"type": "lookup", "key": "country", "table": {"fr": {"risk": 0.2}}, "default": {"risk": 0.9}},
                {
                    "type": "redis",
                    "key": "account",
                    "prefix": f"{prefix}account:",
                    "fields": ["age_days"],
                    "default": {"age_days": 0},
                },
            ]
        },
    }
    created = httpx.post(f"{api}/services", json=service, headers=auth, timeout=30)
    assert created.status_code == 201, created.text
    model_slug = f"spend-{uuid.uuid4().hex[:6]}"
    assert httpx.post(f"{api}/models", json={"slug": model_slug, "name": "Spend"}, headers=auth).status_code == 201
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 50, size=(300, len(FEATURES)))
    estimator = LinearRegression().fit(X, X @ WEIGHTS)
    buffer = io.BytesIO()
    skops.io.dump(estimator, buffer)
    example = dict.fromkeys(FEATURES, 1.0)
    internal = {
        "type": "redis",
        "key": "user_key",
        "prefix": f"{prefix}user:",
        "fields": ["visits"],
        "default": {"visits": 0},
    }
    for metadata in (
        {"features": FEATURES, "example": example, "internal_state": internal},
        {"features": FEATURES, "example": example},
        {"features": FEATURES, "example": example},  # the decoy: it never scores, it archives
    ):
        uploaded = httpx.post(
            f"{api}/models/{model_slug}/versions",
            files={"artifact": ("spend.skops", buffer.getvalue())},
            data={"format": "skops", "metadata": json.dumps(metadata)},
            headers=auth,
            timeout=30,
        )
        assert uploaded.status_code == 201, uploaded.text
        # The platform's Celery worker validates it in a separate process.
        version_url = f"{api}/models/{model_slug}/versions/{uploaded.json()['version']}"
        deadline = time.monotonic() + 120
        while (status := httpx.get(version_url, headers=auth, timeout=30).json())["status"] == "validating":
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
        assert status["status"] == "ready", status
    routing = {
        "deployments": [
            {"model": model_slug, "version": 1, "role": "champion", "weight": 100},
            {"model": model_slug, "version": 2, "role": "challenger"},
            {"model": model_slug, "version": 3, "role": "decoy"},
        ]
    }
    assert httpx.put(f"{api}/services/{slug}/deployments", json=routing, headers=auth, timeout=30).status_code == 200
    yield slug, model_slug, estimator
    for key in client.scan_iter(f"{ns}{prefix}*"):
        client.delete(key)
    client.close()


def _predict(platform, slug: str, inputs: dict, user_key: str) -> httpx.Response:  # noqa: ANN001
    return httpx.post(
        platform.predict_url(service=slug),
        json={"inputs": inputs, "user_key": user_key},
        headers=platform.auth(),
        timeout=15,
    )


def _read(platform, topic: str, request_ids: set[str], kind: type, expected: int) -> list:  # noqa: ANN001
    settings = kafka_settings(os.environ["RDV_KAFKA_BOOTSTRAP"], platform.client)
    consumer = make_consumer(settings)
    consumer.assign([TopicPartition(topic, p, -2) for p in range(4)])
    found: list = []
    deadline = time.monotonic() + 30
    try:
        while len(found) < expected and time.monotonic() < deadline:
            record = consumer.poll(0.2)
            if record is not None and record.value is not None:
                # A scores record is a ScoreBatch: the scores of one call for one partition.
                messages = decode_scores(record.value) if kind is Score else [decode(kind, record.value)]
                found += [m for m in messages if m.request_id in request_ids]
    finally:
        consumer.close()
    assert len(found) == expected, f"{len(found)} of {expected} on {topic}"
    return found


def _raw(platform, topic: str, request_ids: set[str]) -> dict[str, bytes]:  # noqa: ANN001
    """Each request's record value on ``topic``, as bytes, by request id."""
    settings = kafka_settings(os.environ["RDV_KAFKA_BOOTSTRAP"], platform.client)
    consumer = make_consumer(settings)
    consumer.assign([TopicPartition(topic, p, -2) for p in range(4)])
    found: dict[str, bytes] = {}
    deadline = time.monotonic() + 30
    try:
        while len(found) < len(request_ids) and time.monotonic() < deadline:
            record = consumer.poll(0.2)
            key = record.key.decode() if record is not None and record.key is not None else None
            if key in request_ids and record is not None and record.value is not None:
                found[key] = record.value
    finally:
        consumer.close()
    return found


def test_external_state_once_at_ingress_and_internal_state_for_its_version_only(platform, shop) -> None:  # noqa: ANN001
    slug, model_slug, estimator = shop
    inputs = {"amount": 40.0, "country": "fr", "account": "a-1"}
    deadline = time.monotonic() + 60
    while (answer := _predict(platform, slug, inputs, "alice")).status_code != 200:
        assert time.monotonic() < deadline, f"the new service never answered: {answer.text}"
    bob = _predict(platform, slug, {"amount": 40.0, "country": "de"}, "bob")
    assert bob.status_code == 200, bob.text
    answers = {"alice": answer.json(), "bob": bob.json()}

    requests = {
        r.request_id: r
        for r in _read(
            platform,
            service_topics(platform.tenant, slug).requests,
            {a["request_id"] for a in answers.values()},
            Request,
            2,
        )
    }
    alice_request, bob_request = requests[answers["alice"]["request_id"]], requests[answers["bob"]["request_id"]]
    paris = datetime.fromtimestamp(alice_request.sent_at, ZoneInfo("Europe/Paris"))
    assert alice_request.inputs == inputs
    assert alice_request.external_state == {
        "hour": paris.hour,
        "weekday": paris.weekday(),
        "risk": 0.2,
        "age_days": 311,
    }
    assert {k: bob_request.external_state[k] for k in ("risk", "age_days")} == {"risk": 0.9, "age_days": 0}

    def expected(request: Request, visits: int) -> float:
        row = {**request.inputs, **request.external_state, "visits": visits}
        return float(estimator.predict([[row[name] for name in FEATURES]])[0])

    for user, request, visits in (("alice", alice_request, 12), ("bob", bob_request, 1)):
        assert (answers[user]["model"], answers[user]["version"]) == (model_slug, 1)
        assert answers[user]["output"]["value"] == pytest.approx(expected(request, visits), rel=1e-6)
    # The state decides the answer: the two users differ by far more than their other features explain.
    assert answers["alice"]["output"]["value"] - answers["bob"]["output"]["value"] > 500

    scores = _read(platform, service_topics(platform.tenant, slug).scores, set(requests), Score, 4)
    challenger = [s for s in scores if s.version == 2]
    assert len(challenger) == 2 and all(s.status == "error" for s in challenger)
    assert all("missing feature 'visits'" in (s.error or "") for s in challenger), [s.error for s in challenger]

    # The decoy archived exactly what the models read: the same bytes, external state included.
    topics = service_topics(platform.tenant, slug)
    read = _raw(platform, topics.requests, set(requests))
    archived = _raw(platform, topics.archive, set(requests))
    assert len(read) == 2 and archived == read
    assert all(b'"external_state":{' in value and b'"risk"' in value for value in archived.values())
