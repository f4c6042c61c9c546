"""External state, injected at ingress once per request, before the Request is produced (DESIGN.md §4).

Clock and static lookups are computed in memory; Redis providers of a request share ONE pipelined
round trip through ``redis.asyncio``, bounded by ``RDV_STATE_REDIS_TIMEOUT_MS``. Redis being slow, down
or missing the key never fails a prediction: the spec's defaults are injected, the failure is logged
once per outage and counted in ``stats``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from contracts.state import (
    EMPTY_SPEC,
    ExternalStateSpec,
    OutageGate,
    RedisProvider,
    Scalar,
    StateSpecError,
    external_state_parse,
    external_state_values,
    redis_key,
)
from controlplane.gateway.errors import GatewayError

log = logging.getLogger(__name__)

Fetched = list[Sequence[bytes | None] | None]


def spec_for_service(raw: Any, *, service: str) -> ExternalStateSpec:
    """The parsed spec cached with the service lookup; a row stored before specs were checked injects nothing."""
    try:
        return external_state_parse(raw)
    except StateSpecError as exc:
        log.error("service %s: external_state ignored, it is not a valid spec: %s", service, exc)
        return EMPTY_SPEC


def reject_injected_inputs(inputs: Mapping[str, Any], spec: ExternalStateSpec) -> None:
    """A client may not send a value the service injects: models must see the injected one."""
    clashes = [name for name in spec.names if name in inputs]
    if clashes:
        raise GatewayError(
            400,
            "invalid",
            {"inputs": [{"path": name, "message": "injected by the service's external state"} for name in clashes]},
        )


class ExternalState:
    """One per process: the Redis connections (one pool per event loop) and the failure counters."""

    def __init__(self, redis_url: str, *, timeout_s: float, cooldown_s: float = 1.0) -> None:
        self.redis_url = redis_url
        self.timeout_s = timeout_s
        self.gate = OutageGate(cooldown_s)
        self.stats = {"redis_lookups": 0, "redis_failures": 0, "redis_skipped": 0}
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary()
        )

    async def values(
        self, spec: ExternalStateSpec, inputs: Mapping[str, Any], user_key: str | None, sent_at: float
    ) -> dict[str, Scalar]:
        if not spec.providers:
            return {}
        fetched = await self._fetch(spec.redis_providers, inputs, user_key) if spec.redis_providers else []
        return external_state_values(spec, inputs, user_key, sent_at, fetched)

    async def _fetch(
        self, providers: Sequence[RedisProvider], inputs: Mapping[str, Any], user_key: str | None
    ) -> Fetched:
        answers: Fetched = [None] * len(providers)
        wanted = [(i, key) for i, p in enumerate(providers) if (key := redis_key(p, inputs, user_key)) is not None]
        if not wanted:
            return answers
        if not self.gate.open(time.monotonic()):
            self.stats["redis_skipped"] += 1
            return answers
        self.stats["redis_lookups"] += 1
        try:
            async with asyncio.timeout(self.timeout_s):
                pipe = self._client().pipeline(transaction=False)
                for index, key in wanted:
                    pipe.hmget(key, list(providers[index].fields))
                results = await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            self.stats["redis_failures"] += 1
            if self.gate.failed(time.monotonic()):
                log.warning("external state: Redis unavailable (%s: %s); injecting defaults", type(exc).__name__, exc)
            return answers
        if self.gate.succeeded():
            log.info("external state: Redis is back")
        for (index, _key), values in zip(wanted, results, strict=True):
            answers[index] = values
        return answers

    def _client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # No retries: past the timeout the defaults are the answer, a retry only delays the request.
            client = aioredis.Redis.from_url(
                self.redis_url,
                socket_timeout=self.timeout_s,
                socket_connect_timeout=self.timeout_s,
                retry=Retry(NoBackoff(), 0),
            )
            self._clients[loop] = client
        return client


_external_state: ExternalState | None = None


def get_external_state() -> ExternalState:
    global _external_state
    if _external_state is None:
        from django.conf import settings

        _external_state = ExternalState(
            settings.RDV_STATE_REDIS_URL, timeout_s=settings.RDV_STATE_REDIS_TIMEOUT_MS / 1000.0
        )
    return _external_state
