"""External state at ingress against the real Redis: correct values, and defaults (never a failure) when
Redis is missing the key, refuses connections or does not answer in time."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis

from contracts.state import EMPTY_SPEC, external_state_parse
from controlplane.gateway.errors import GatewayError
from controlplane.gateway.state import ExternalState, reject_injected_inputs, spec_for_service

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SENT_AT = datetime(2026, 11, 26, 14, 5, tzinfo=UTC).timestamp()  # a Thursday
TENANT = "acme"
# Where the server puts every key of TENANT's state (DESIGN.md §4): specs name keys inside it only.
NS = f"t:{TENANT}:"


@pytest.fixture
def prefix() -> Iterator[str]:
    prefix = f"test:state:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{NS}{prefix}*"):
        client.delete(key)
    client.close()


def _spec(prefix: str):  # noqa: ANN202
    return external_state_parse(
        {
            "providers": [
                {"type": "clock", "fields": ["hour", "weekday", "is_weekend"], "timezone": "Europe/Paris"},
                {"type": "lookup", "key": "country", "table": {"fr": {"risk": 0.2}}, "default": {"risk": 0.5}},
                {
                    "type": "redis",
                    "key": "account",
                    "prefix": prefix,
                    "fields": ["age_days", "plan"],
                    "default": {"age_days": -1, "plan": "none"},
                },
                {
                    "type": "redis",
                    "key": "user_key",
                    "prefix": f"{prefix}u:",
                    "fields": ["visits"],
                    "default": {"visits": 0},
                },
            ]
        }
    )


def test_all_three_providers_inject_their_values_in_one_pass(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    client.hset(f"{NS}{prefix}a-1", mapping={"age_days": "311", "plan": "gold"})
    client.hset(f"{NS}{prefix}u:alice", mapping={"visits": "7"})
    state = ExternalState(REDIS_URL, timeout_s=1.0)

    values = asyncio.run(
        state.values(_spec(prefix), {"country": "fr", "account": "a-1"}, "alice", SENT_AT, tenant=TENANT)
    )

    assert values == {
        "hour": 15,
        "weekday": 3,
        "is_weekend": 0,
        "risk": 0.2,
        "age_days": 311,
        "plan": "gold",
        "visits": 7,
    }
    assert list(values) == list(_spec(prefix).names)  # provider order: the same bytes for every model
    assert state.stats == {"redis_lookups": 1, "redis_round_trips": 1, "redis_failures": 0, "redis_skipped": 0}


def test_a_missing_key_or_field_gives_the_default(prefix: str) -> None:
    redis.Redis.from_url(REDIS_URL).hset(f"{NS}{prefix}a-2", mapping={"age_days": "12"})
    state = ExternalState(REDIS_URL, timeout_s=1.0)
    spec = _spec(prefix)

    partial = asyncio.run(state.values(spec, {"country": "de", "account": "a-2"}, "nobody", SENT_AT, tenant=TENANT))
    no_key_value = asyncio.run(state.values(spec, {}, None, SENT_AT, tenant=TENANT))

    assert partial | {"hour": 0} == {
        "hour": 0,
        "weekday": 3,
        "is_weekend": 0,
        "risk": 0.5,
        "age_days": 12,
        "plan": "none",
        "visits": 0,
    }
    assert {k: no_key_value[k] for k in ("risk", "age_days", "plan", "visits")} == {
        "risk": 0.5,
        "age_days": -1,
        "plan": "none",
        "visits": 0,
    }
    assert state.stats["redis_lookups"] == 1, "a request without key values costs no round trip"


def test_requests_in_flight_together_share_one_round_trip_and_each_gets_its_own_values(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    for n in range(40):
        client.hset(f"{NS}{prefix}u:user-{n}", mapping={"visits": str(n)})
        client.hset(f"{NS}{prefix}acct-{n}", mapping={"age_days": str(1000 + n)})
    state = ExternalState(REDIS_URL, timeout_s=1.0)
    spec = _spec(prefix)

    async def together() -> list[dict]:
        # Every other request has no account: requests with one and with two reads share the pipeline.
        return await asyncio.gather(
            *(
                state.values(spec, {"account": f"acct-{n}"} if n % 2 else {}, f"user-{n}", SENT_AT, tenant=TENANT)
                for n in range(40)
            )
        )

    answers = asyncio.run(together())

    assert [(a["visits"], a["age_days"]) for a in answers] == [(n, 1000 + n if n % 2 else -1) for n in range(40)]
    assert state.stats["redis_lookups"] == 40 and state.stats["redis_round_trips"] <= 2, state.stats


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_redis_down_gives_defaults_logs_once_and_skips_redis_during_the_cooldown(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    state = ExternalState(f"redis://127.0.0.1:{_closed_port()}/0", timeout_s=0.5, cooldown_s=60)
    spec = _spec(prefix)

    async def five() -> list[dict]:
        return [await state.values(spec, {"account": "a-1"}, "alice", SENT_AT, tenant=TENANT) for _ in range(5)]

    with caplog.at_level(logging.WARNING, logger="controlplane.gateway.state"):
        answers = asyncio.run(five())

    assert all((a["age_days"], a["plan"], a["visits"]) == (-1, "none", 0) for a in answers)
    assert state.stats == {"redis_lookups": 3, "redis_round_trips": 3, "redis_failures": 3, "redis_skipped": 2}
    assert len([r for r in caplog.records if "Redis unavailable" in r.message]) == 1


def test_a_redis_that_never_answers_costs_at_most_the_timeout(prefix: str) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held: list[socket.socket] = []
    accepting = threading.Thread(target=lambda: held.append(silent.accept()[0]), daemon=True)
    accepting.start()
    state = ExternalState(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", timeout_s=0.2)
    try:
        started = time.perf_counter()
        values = asyncio.run(state.values(_spec(prefix), {"account": "a-1"}, None, SENT_AT, tenant=TENANT))
        elapsed = time.perf_counter() - started
    finally:
        for conn in held:
            conn.close()
        silent.close()

    assert (values["age_days"], values["visits"]) == (-1, 0)
    assert elapsed < 1.5, f"{elapsed:.2f}s"  # 0.2 s timeout, generous margin for a loaded machine
    assert state.stats["redis_failures"] == 1


def test_a_client_may_not_send_an_injected_name() -> None:
    spec = external_state_parse({"providers": [{"type": "clock", "fields": ["hour", "month"]}]})
    reject_injected_inputs({"amount": 3}, spec)
    with pytest.raises(GatewayError) as refused:
        reject_injected_inputs({"amount": 3, "hour": 23}, spec)
    assert refused.value.status == 400
    assert refused.value.body() == {
        "error": "invalid",
        "detail": {"inputs": [{"path": "hour", "message": "injected by the service's external state"}]},
    }


def test_a_stored_spec_that_does_not_parse_injects_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="controlplane.gateway.state"):
        assert spec_for_service({"hour": 13}, service="t/s") is EMPTY_SPEC
    assert "t/s: external_state ignored" in caplog.text
    assert (
        asyncio.run(ExternalState(REDIS_URL, timeout_s=1.0).values(EMPTY_SPEC, {}, None, SENT_AT, tenant=TENANT)) == {}
    )


@pytest.mark.parametrize("prefix", ["t:other:", "../", ""])
def test_a_spec_cannot_read_another_tenants_hash(prefix: str) -> None:
    """Tenant ``other`` keeps ``secret`` in its own namespace; acme's spec names it every way it can."""
    client = redis.Redis.from_url(REDIS_URL)
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    client.hset(f"t:other:{victim}", mapping={"secret": "42"})
    client.hset(victim, mapping={"secret": "42"})  # an un-namespaced key, as before the change
    provider = {"type": "redis", "key": "k", "prefix": prefix, "fields": ["secret"], "default": {"secret": 0}}
    spec = external_state_parse({"providers": [provider]})
    own = external_state_parse({"providers": [{**provider, "prefix": ""}]})
    state = ExternalState(REDIS_URL, timeout_s=1.0)
    try:
        for value in (victim, f"t:other:{victim}", f"../t:other:{victim}", f"other:{victim}"):
            values = asyncio.run(state.values(spec, {"k": value}, None, SENT_AT, tenant=TENANT))
            assert values == {"secret": 0}, (prefix, value)
        # The owner's own spec does read it: the hash is there and readable, the namespace is what stops acme.
        assert asyncio.run(state.values(own, {"k": victim}, None, SENT_AT, tenant="other")) == {"secret": 42}
    finally:
        client.delete(f"t:other:{victim}", victim)
        client.close()
