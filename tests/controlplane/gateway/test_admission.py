"""Admission against the tenant quotas in the real Redis: the token bucket and the in-flight set are per
tenant, shared by every gateway process (here: two Admission objects), and never leak a slot."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid

import pytest
import redis

from controlplane.gateway.admission import Admission, PredictQuota, quota_keys
from controlplane.gateway.errors import GatewayError

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _tenant() -> str:
    return f"q-{uuid.uuid4().hex[:8]}"


async def _try(admission: Admission, tenant: str, quota: PredictQuota, hold_s: float = 5.0) -> int | str:
    """True/False as admit answers, or the Retry-After of a 429."""
    try:
        return await admission.admit(tenant, quota, uuid.uuid4().hex, hold_s)
    except GatewayError as exc:
        assert (exc.status, exc.code) == (429, "rate_limited")
        return exc.headers["Retry-After"]


def test_past_its_rate_a_tenant_gets_429_with_retry_after_and_another_tenant_does_not() -> None:
    noisy, quiet = _tenant(), _tenant()
    slow = PredictQuota(predictions_per_s=5, in_flight=1000)
    generous = PredictQuota(predictions_per_s=1000, in_flight=1000)
    # Two gateway processes share the bucket: both admit against the same Redis keys.
    first, second = Admission(REDIS_URL, timeout_s=1.0), Admission(REDIS_URL, timeout_s=1.0)

    async def both() -> tuple[list, list]:
        noisy_answers, quiet_answers = [], []
        for n in range(20):
            noisy_answers.append(await _try(first if n % 2 else second, noisy, slow))
            quiet_answers.append(await _try(second, quiet, generous))
        return noisy_answers, quiet_answers

    noisy_answers, quiet_answers = asyncio.run(both())

    assert noisy_answers[:5] == [True] * 5, "a burst of one second's worth is admitted"
    assert noisy_answers[5:].count("1") >= 13, noisy_answers  # refill 5/s: at most a token or two more
    assert quiet_answers == [True] * 20, "the other tenant is unaffected"
    assert first.stats["rate_limited"] + second.stats["rate_limited"] >= 13


def test_the_bucket_refills_at_the_rate() -> None:
    tenant = _tenant()
    quota = PredictQuota(predictions_per_s=10, in_flight=1000)
    admission = Admission(REDIS_URL, timeout_s=1.0)

    async def drain_then_wait() -> tuple[list, list]:
        drained = [await _try(admission, tenant, quota) for _ in range(12)]
        await asyncio.sleep(0.35)  # about 3 tokens back
        return drained, [await _try(admission, tenant, quota) for _ in range(6)]

    drained, later = asyncio.run(drain_then_wait())
    assert drained[:10] == [True] * 10 and drained[10:] == ["1", "1"]
    assert 2 <= later.count(True) <= 5, later


def test_in_flight_slots_are_released_and_a_crashed_gateways_slots_expire() -> None:
    tenant = _tenant()
    quota = PredictQuota(predictions_per_s=1000, in_flight=2)
    admission = Admission(REDIS_URL, timeout_s=1.0)

    async def scenario() -> list:
        answers = []
        ids = [uuid.uuid4().hex for _ in range(2)]
        for request_id in ids:
            answers.append(await admission.admit(tenant, quota, request_id, 30.0))
        answers.append(await _try(admission, tenant, quota))  # full
        admission.release(tenant, ids[0])
        await asyncio.sleep(0.05)
        answers.append(await _try(admission, tenant, quota, hold_s=0.3))  # the freed slot
        # Nobody releases the next ones (a gateway that crashed): they stop counting at their hold time.
        answers.append(await _try(admission, tenant, quota))
        await asyncio.sleep(0.4)
        answers.append(await _try(admission, tenant, quota, hold_s=0.3))
        return answers

    assert asyncio.run(scenario()) == [True, True, "1", True, "1", True] or _explain(tenant)
    client = redis.Redis.from_url(REDIS_URL)
    assert 0 < client.pttl(quota_keys(tenant)[1]) <= 32_000, "the set itself expires too"
    client.close()


def _explain(tenant: str) -> bool:
    client = redis.Redis.from_url(REDIS_URL)
    print(client.zrange(quota_keys(tenant)[1], 0, -1, withscores=True))
    return False


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_redis_down_admits_unchecked_logs_once_and_skips_redis_for_the_cooldown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    admission = Admission(f"redis://127.0.0.1:{_closed_port()}/0", timeout_s=0.2, cooldown_s=60)
    quota = PredictQuota(predictions_per_s=1, in_flight=1)

    async def five() -> list:
        return [await admission.admit("acme", quota, str(n), 1.0) for n in range(5)]

    with caplog.at_level(logging.WARNING, logger="controlplane.gateway.admission"):
        started = time.perf_counter()
        answers = asyncio.run(five())
    assert answers == [False] * 5, "fail open: admitted, nothing held"
    assert time.perf_counter() - started < 3
    assert (admission.stats["failures"], admission.stats["skipped"]) == (3, 2)
    assert len([r for r in caplog.records if "Redis unavailable" in r.message]) == 1
