"""Internal state against the real Redis: one pipelined read per batch, laid over that version's rows
only; defaults when the key is missing or Redis is down (then skipped for a cooldown, logged once)."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
import skops.io
from sklearn.linear_model import LinearRegression

from contracts.config import DeploymentSpec
from contracts.messages import Request
from contracts.state import RedisProvider
from model_runner.loading import load_model
from model_runner.scoring import Inbound, request_row, score_version
from model_runner.state import InternalState
from tests.model_runner.factories import sha256_of

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
FEATURES = ("amount", "hour", "visits")
TENANT = "acme"
NS = f"t:{TENANT}:"  # the server's namespace for TENANT's keys (DESIGN.md §4)


@pytest.fixture
def prefix() -> Iterator[str]:
    prefix = f"test:internal:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{NS}{prefix}*"):
        client.delete(key)
    client.close()


def _spec(prefix: str, *, stateful: bool = True, model: str = "m", path: Path | None = None) -> DeploymentSpec:
    state = RedisProvider(key="user_key", prefix=prefix, fields=("visits", "tier"), default={"visits": 0, "tier": None})
    return DeploymentSpec(
        model=model,
        version=1,
        role="champion",
        format="skops",
        sha256=sha256_of(path) if path else "0" * 64,
        artifact_url=path.as_uri() if path else "file:///x",
        features=FEATURES,
        internal_state=state if stateful else None,
    )


def _request(request_id: str, user_key: str | None, amount: float = 10.0) -> Request:
    return Request(
        request_id=request_id,
        tenant="acme",
        service="shop",
        user_key=user_key,
        sent_at=time.time(),
        deadline_ms=5000,
        config_revision=1,
        inputs={"amount": amount},
        external_state={"hour": 13},
    )


def test_a_version_without_internal_state_sees_the_request_row_unchanged(prefix: str) -> None:
    state = InternalState(REDIS_URL, timeout_s=1.0)
    requests = [_request("a", "alice")]

    rows = state.rows(_spec(prefix, stateful=False), requests, tenant=TENANT)

    assert [dict(row) for row in rows] == [dict(request_row(requests[0]))] == [{"amount": 10.0, "hour": 13}]
    assert state.stats["state_batches"] == 0


def test_one_pipelined_read_per_batch_lays_each_users_state_over_its_row(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    client.hset(f"{NS}{prefix}alice", mapping={"visits": "12", "tier": "gold"})
    client.hset(f"{NS}{prefix}bob", mapping={"visits": "3"})
    state = InternalState(REDIS_URL, timeout_s=1.0)
    requests = [
        _request("1", "alice"),
        _request("2", "bob"),
        _request("3", "carol"),
        _request("4", None),
        _request("5", "alice"),
    ]

    rows = state.rows(_spec(prefix), requests, tenant=TENANT)

    assert [(row["visits"], row["tier"]) for row in rows] == [
        (12, "gold"),
        (3, None),
        (0, None),
        (0, None),
        (12, "gold"),
    ]
    assert all(row["amount"] == 10.0 and row["hour"] == 13 for row in rows)
    assert state.stats == {"state_batches": 1, "state_failures": 0, "state_skipped": 0}
    assert all("visits" not in r.inputs and "visits" not in r.external_state for r in requests), "requests untouched"


@pytest.mark.parametrize("spec_prefix", ["t:other:", "../", ""])
def test_a_version_cannot_read_another_tenants_hash(spec_prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    client.hset(f"t:other:{victim}", mapping={"visits": "99", "tier": "gold"})
    client.hset(victim, mapping={"visits": "99", "tier": "gold"})
    state = InternalState(REDIS_URL, timeout_s=1.0)
    try:
        requests = [_request(str(i), key) for i, key in enumerate((victim, f"t:other:{victim}", f"../{victim}"))]
        rows = state.rows(_spec(spec_prefix), requests, tenant=TENANT)
        assert [(row["visits"], row["tier"]) for row in rows] == [(0, None)] * 3
        # The owner reads it with the same kind of spec: the namespace is what keeps acme out.
        [own] = state.rows(_spec(""), [_request("o", victim)], tenant="other")
        assert (own["visits"], own["tier"]) == (99, "gold")
    finally:
        client.delete(f"t:other:{victim}", victim)
        client.close()


def test_redis_down_scores_with_defaults_logs_once_and_skips_redis_for_the_cooldown(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = InternalState(f"redis://127.0.0.1:{port}/0", timeout_s=0.5, cooldown_s=60)

    with caplog.at_level(logging.WARNING, logger="model_runner.state"):
        started = time.perf_counter()
        batches = [state.rows(_spec(prefix), [_request(str(i), "alice")], tenant=TENANT) for i in range(5)]
        elapsed = time.perf_counter() - started

    assert [batch[0]["visits"] for batch in batches] == [0] * 5
    assert state.stats == {"state_batches": 3, "state_failures": 3, "state_skipped": 2}
    assert len([r for r in caplog.records if "Redis unavailable" in r.message]) == 1
    assert elapsed < 2.0, f"{elapsed:.2f}s"


def test_only_the_stateful_version_scores_with_the_state(prefix: str, tmp_path: Path) -> None:
    """Same model, two versions: the one declaring the state scores with the Redis value, the other
    never sees it (its ``visits`` feature is missing, so that row is an error, not a silent default)."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 20, size=(200, 3))
    path = tmp_path / "linear.skops"
    skops.io.dump(LinearRegression().fit(X, X @ np.array([1.0, 10.0, 100.0])), path)
    redis.Redis.from_url(REDIS_URL).hset(f"{NS}{prefix}alice", mapping={"visits": "7"})
    stateful, plain = _spec(prefix, model="with", path=path), _spec(prefix, stateful=False, model="without", path=path)
    items = [Inbound(request=_request("1", "alice", amount=2.0), partition=0, offset=0, topic="t")]
    state = InternalState(REDIS_URL, timeout_s=1.0)

    with_state = score_version(
        items,
        stateful,
        load_model(stateful, path),
        runner_id="r",
        rows=state.rows(stateful, [items[0].request], tenant=TENANT),
    )
    without = score_version(
        items, plain, load_model(plain, path), runner_id="r", rows=state.rows(plain, [items[0].request], tenant=TENANT)
    )

    assert with_state[0].status == "ok" and with_state[0].output is not None
    assert with_state[0].output["value"] == pytest.approx(2.0 + 10 * 13 + 100 * 7)
    assert without[0].status == "error" and "missing feature 'visits'" in (without[0].error or "")
