"""Admission of a prediction against its tenant's rate and in-flight quotas, in Redis, shared by every
gateway process.

One Lua script does both checks atomically per prediction (one round trip): a token bucket refilled at
``predictions_per_s`` with a burst of one second's worth, then a sorted set of the tenant's predictions
in flight, each scored with the time it stops counting (its deadline plus slack, by Redis's own clock).
A gateway that answers removes its entry; one that crashed leaves entries that expire at that time, so
a crash never leaks a slot for longer than one deadline. Keys live under ``rdv:quota:{<tenant>}:``,
outside every tenant's state namespace (``t:<tenant>:``), so no state spec can read them.

Redis slower than ``RDV_QUOTA_REDIS_TIMEOUT_MS`` or down: the prediction is admitted (fail open) —
quotas protect the platform from a tenant, an outage of the quota store must not take every tenant's
predictions down with it. The outage is logged once and counted in ``stats``; after three failures in
a row Redis is skipped for a second (as for external state). The timeout is longer than a state
lookup's: measured on an overloaded machine (load 15 on 2 cores), 50 ms turned most checks of a flood
into fail-opens.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from contracts.state import OutageGate
from controlplane.gateway.errors import GatewayError

log = logging.getLogger(__name__)

# KEYS: bucket hash, in-flight sorted set. ARGV: rate/s, burst, in-flight limit, request id, hold ms.
# Answers {1, 0} admitted, {0, retry_ms} over the rate, {2, retry_ms} too many in flight.
ADMIT_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local hold = tonumber(ARGV[5])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
if tokens < 1 then
  return {0, math.ceil((1 - tokens) * 1000 / rate)}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= limit then
  return {2, 1000}
end
redis.call('HSET', KEYS[1], 'tokens', tokens - 1, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
redis.call('ZADD', KEYS[2], now + hold, ARGV[4])
redis.call('PEXPIRE', KEYS[2], hold + 1000)
return {1, 0}
"""
ADMITTED, OVER_RATE, OVER_IN_FLIGHT = 1, 0, 2


@dataclass(frozen=True, slots=True)
class PredictQuota:
    """What the gateway enforces per prediction (resolved from the Tenant row and settings)."""

    predictions_per_s: int
    in_flight: int


def quota_keys(tenant: str) -> tuple[str, str]:
    return f"rdv:quota:{{{tenant}}}:rate", f"rdv:quota:{{{tenant}}}:in-flight"


def refusal(outcome: int, retry_ms: int, quota: PredictQuota) -> GatewayError:
    """The 429 for an outcome of the script: ``Retry-After`` in whole seconds, at least one."""
    retry_after = max(1, math.ceil(retry_ms / 1000))
    if outcome == OVER_RATE:
        detail = f"over this tenant's quota of {quota.predictions_per_s} predictions per second"
    else:
        detail = f"this tenant already has {quota.in_flight} predictions in flight, its quota"
    error = GatewayError(429, "rate_limited", detail)
    error.headers = {"Retry-After": str(retry_after)}
    return error


class Admission:
    """One per process: Redis clients (one per event loop), the outage gate, counters."""

    def __init__(self, redis_url: str, *, timeout_s: float, cooldown_s: float = 1.0) -> None:
        self.redis_url = redis_url
        self.timeout_s = timeout_s
        self.gate = OutageGate(cooldown_s)
        self.stats = {"admitted": 0, "rate_limited": 0, "in_flight_limited": 0, "failures": 0, "skipped": 0}
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[aioredis.Redis, object]] = (
            weakref.WeakKeyDictionary()
        )
        self._releases: set[asyncio.Task[None]] = set()

    async def admit(self, tenant: str, quota: PredictQuota, request_id: str, hold_s: float) -> bool:
        """True when admitted and holding an in-flight slot (``release`` it); False when admitted because
        Redis could not be asked (nothing to release); GatewayError 429 when over a quota."""
        if not self.gate.open(time.monotonic()):
            self.stats["skipped"] += 1
            return False
        client, script = self._client()
        rate = max(1, quota.predictions_per_s)
        try:
            async with asyncio.timeout(self.timeout_s):
                outcome, retry_ms = await script(  # type: ignore[operator]
                    keys=list(quota_keys(tenant)),
                    args=[rate, rate, max(1, quota.in_flight), request_id, math.ceil(hold_s * 1000)],
                    client=client,
                )
        except (RedisError, OSError, TimeoutError) as exc:
            self.stats["failures"] += 1
            if self.gate.failed(time.monotonic()):
                log.warning(
                    "quotas: Redis unavailable (%s: %s); admitting predictions unchecked", type(exc).__name__, exc
                )
            return False
        if self.gate.succeeded():
            log.info("quotas: Redis is back")
        if int(outcome) == ADMITTED:
            self.stats["admitted"] += 1
            return True
        self.stats["rate_limited" if int(outcome) == OVER_RATE else "in_flight_limited"] += 1
        raise refusal(int(outcome), int(retry_ms), quota)

    def release(self, tenant: str, request_id: str) -> None:
        """Free the slot in the background: the answer never waits for it, and a lost release expires."""
        task = asyncio.ensure_future(self._release(tenant, request_id))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _release(self, tenant: str, request_id: str) -> None:
        client, _script = self._client()
        try:
            async with asyncio.timeout(self.timeout_s):
                await client.zrem(quota_keys(tenant)[1], request_id)
        except (RedisError, OSError, TimeoutError):
            pass  # the entry expires at its deadline

    def _client(self) -> tuple[aioredis.Redis, object]:
        loop = asyncio.get_running_loop()
        found = self._clients.get(loop)
        if found is None:
            client = aioredis.Redis.from_url(
                self.redis_url,
                socket_timeout=self.timeout_s,
                socket_connect_timeout=self.timeout_s,
                retry=Retry(NoBackoff(), 0),
            )
            found = self._clients[loop] = (client, client.register_script(ADMIT_LUA))
        return found


_admission: Admission | None = None


def get_admission() -> Admission:
    global _admission
    if _admission is None:
        from django.conf import settings

        _admission = Admission(settings.RDV_QUOTA_REDIS_URL, timeout_s=settings.RDV_QUOTA_REDIS_TIMEOUT_MS / 1000.0)
    return _admission
