"""Internal state: a version's own Redis lookups, merged into the rows of that version only (DESIGN.md §4).

A version declares ``metadata.internal_state`` (a Redis provider, carried in its DeploymentSpec). Right
before the version's predict call the runner reads the hashes of the whole micro-batch in ONE pipelined
round trip and lays the values over each request's row; the rows of every other version are untouched,
so no other model sees them. A missing key gives the spec's defaults; a Redis that is down or slow gives
the defaults too, after at most the timeout, then is skipped for a cooldown (logged once per outage), so
one version's state never holds up the others.
"""

from __future__ import annotations

import logging
import time
from collections import ChainMap
from collections.abc import Mapping, Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from contracts.config import DeploymentSpec
from contracts.messages import Request
from contracts.state import OutageGate, RedisProvider, redis_key, redis_values
from model_runner.scoring import request_row

log = logging.getLogger(__name__)

Row = Mapping[str, Any]


class InternalState:
    """One per runner: a lazily connected Redis client, the outage gate and counters."""

    def __init__(self, redis_url: str, *, timeout_s: float = 0.05, cooldown_s: float = 1.0) -> None:
        self.redis_url = redis_url
        self.timeout_s = timeout_s
        self.gate = OutageGate(cooldown_s)
        self.stats = {"state_batches": 0, "state_failures": 0, "state_skipped": 0}
        self._client: redis.Redis | None = None

    def rows(self, spec: DeploymentSpec, requests: Sequence[Request], *, tenant: str) -> list[Row]:
        """The rows ``spec``'s model scores: each request's row, under the version's state when it has one.

        ``tenant`` is the one that owns the deployment (from ``rdv.config`` and the topic, never a record's
        body): every key read stays under ``t:<tenant>:``."""
        rows = [request_row(request) for request in requests]
        provider = spec.internal_state
        if provider is None:
            return rows
        keys = [
            redis_key(provider, row, request.user_key, tenant=tenant)
            for row, request in zip(rows, requests, strict=True)
        ]
        answers = self._fetch(provider, keys)
        # The state first: the version's own lookup wins over an input that happens to share its name.
        return [
            ChainMap(redis_values(provider, answers.get(key) if key is not None else None), row)
            for key, row in zip(keys, rows, strict=True)
        ]

    def _fetch(self, provider: RedisProvider, keys: Sequence[str | None]) -> dict[str, list[bytes | None]]:
        """HMGET's answer for each distinct key of the batch; empty when Redis is down or skipped."""
        distinct = list(dict.fromkeys(key for key in keys if key is not None))
        if not distinct:
            return {}
        if not self.gate.open(time.monotonic()):
            self.stats["state_skipped"] += 1
            return {}
        self.stats["state_batches"] += 1
        try:
            pipe = self._redis().pipeline(transaction=False)
            for key in distinct:
                pipe.hmget(key, list(provider.fields))
            answers = pipe.execute()
        except (RedisError, OSError) as exc:
            self.stats["state_failures"] += 1
            if self.gate.failed(time.monotonic()):
                log.warning(
                    "internal state: Redis unavailable (%s: %s); scoring with defaults", type(exc).__name__, exc
                )
            return {}
        if self.gate.succeeded():
            log.info("internal state: Redis is back")
        return dict(zip(distinct, answers, strict=True))

    def _redis(self) -> redis.Redis:
        if self._client is None:
            # No retries: past the timeout the defaults are the answer; a retry would hold up the batch.
            self._client = redis.Redis.from_url(
                self.redis_url,
                socket_timeout=self.timeout_s,
                socket_connect_timeout=self.timeout_s,
                retry=Retry(NoBackoff(), 0),
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
