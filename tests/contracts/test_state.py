"""State specs: what a service or a version may declare, every problem reported, and the values injected."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from contracts import decode, encode
from contracts.config import DeploymentSpec, ServiceConfig
from contracts.examples import example_bytes
from contracts.messages import Request
from contracts.state import (
    EMPTY_SPEC,
    ClockProvider,
    LookupProvider,
    OutageGate,
    RedisProvider,
    StateSpecError,
    clock_values,
    external_state_parse,
    external_state_values,
    internal_state_parse,
    key_value,
    redis_key,
    redis_scalar,
    redis_values,
)

CLOCK = {"type": "clock", "fields": ["hour", "weekday", "month", "is_weekend"], "timezone": "Asia/Tokyo"}
LOOKUP = {
    "type": "lookup",
    "key": "country",
    "table": {"fr": {"risk": 0.2, "region": "eu"}, "jp": {"risk": 0.1}},
    "default": {"risk": 0.5, "region": "other"},
}
REDIS = {
    "type": "redis",
    "key": "account",
    "prefix": "features:account:",
    "fields": ["age_days", "plan"],
    "default": {"age_days": 0, "plan": None},
}
SPEC = {"providers": [CLOCK, LOOKUP, REDIS]}
# 2026-11-21 (a Saturday) 23:30 UTC is Sunday 08:30 in Tokyo.
SATURDAY_NIGHT_UTC = datetime(2026, 11, 21, 23, 30, tzinfo=ZoneInfo("UTC")).timestamp()


def problems_of(raw: object, **kwargs: object) -> list[str]:
    with pytest.raises(StateSpecError) as error:
        external_state_parse(raw, **kwargs)  # type: ignore[arg-type]
    return error.value.problems


def test_a_full_spec_parses_into_typed_providers_in_order() -> None:
    spec = external_state_parse(SPEC, input_names=["country", "account", "amount"])

    assert [type(p) for p in spec.providers] == [ClockProvider, LookupProvider, RedisProvider]
    assert spec.names == ("hour", "weekday", "month", "is_weekend", "risk", "region", "age_days", "plan")
    assert spec.redis_providers == (spec.providers[2],)
    assert external_state_parse({}) is EMPTY_SPEC and external_state_parse(None) is EMPTY_SPEC
    assert hash(spec) == hash(external_state_parse(json.loads(json.dumps(SPEC))))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([CLOCK], "must be an object"),
        ({"providers": CLOCK}, "providers: must be a list"),
        ({"provider": [CLOCK]}, "unknown field(s) provider"),
        ({"providers": [{"type": "weather"}]}, "providers[0].type: must be one of clock, lookup, redis"),
        ({"providers": ["clock"]}, "providers[0]: must be an object"),
        ({"providers": [{**CLOCK, "fields": ["hours"]}]}, "providers[0].fields[0]"),
        ({"providers": [{**CLOCK, "fields": []}]}, "providers[0].fields: needs at least one field"),
        ({"providers": [{**CLOCK, "fields": ["hour", "hour"]}]}, "field(s) hour repeated"),
        ({"providers": [{**CLOCK, "timezone": "Mars/Olympus"}]}, "unknown time zone 'Mars/Olympus'"),
        ({"providers": [{**CLOCK, "tz": "UTC"}]}, "unknown field(s) tz for type clock"),
        ({"providers": [{**LOOKUP, "key": ""}]}, "providers[0].key: must name an input field"),
        ({"providers": [{**LOOKUP, "default": {}}]}, "providers[0].default: needs at least one field"),
        ({"providers": [{**LOOKUP, "table": {"fr": {"gdp": 1}}}]}, "table['fr']: field(s) gdp are not in `default`"),
        ({"providers": [{**LOOKUP, "table": {"fr": {"risk": [1]}}}]}, "providers[0]: Expected"),
        ({"providers": [{**REDIS, "default": {"age_days": 0}}]}, "needs a value (null allowed) for plan"),
        ({"providers": [{**REDIS, "default": {**REDIS["default"], "x": 1}}]}, "default: x not in fields"),
        ({"providers": [{**REDIS, "key": 7}]}, "Expected `str`, got `int` - at `providers[0].key`"),
        ({"providers": [{**REDIS, "prefix": None}]}, "providers[0].prefix"),
        ({"providers": [CLOCK, {**CLOCK, "fields": ["hour"]}]}, "field 'hour' is already injected by providers[0]"),
        ({"providers": [{**LOOKUP, "table": {str(i): {"risk": i} for i in range(20_000)}}]}, "the limit is"),
    ],
)
def test_every_mistake_is_named_with_where_it_is(raw: object, expected: str) -> None:
    problems = problems_of(raw)
    assert any(expected in problem for problem in problems), problems


def test_all_problems_are_reported_at_once() -> None:
    raw = {"providers": [{**CLOCK, "timezone": "Nowhere"}, {"type": "redis"}, {**LOOKUP, "default": {}}]}
    problems = problems_of(raw)
    assert {p.split(":")[0].split(".")[0] for p in problems} == {"providers[0]", "providers[1]", "providers[2]"}


def test_injected_names_must_not_shadow_inputs_and_keys_must_be_inputs() -> None:
    problems = problems_of(SPEC, input_names=["hour", "country"])
    assert "providers[0]: field 'hour' collides with an input of the service's input_schema" in problems
    assert "providers[2]: key 'account' is not an input of the service's input_schema" in problems
    # ``user_key`` names the request's own user_key; a schema without properties cannot be checked.
    external_state_parse({"providers": [{**REDIS, "key": "user_key"}]}, input_names=["country"])
    external_state_parse(SPEC, input_names=[])


def test_internal_state_is_one_redis_provider() -> None:
    provider = internal_state_parse({**REDIS, "key": "user_key"})
    assert provider == RedisProvider(
        key="user_key", prefix="features:account:", fields=("age_days", "plan"), default={"age_days": 0, "plan": None}
    )
    assert internal_state_parse(None) is None
    with pytest.raises(StateSpecError, match=r"internal_state.type: must be one of redis, not 'clock'"):
        internal_state_parse(CLOCK)
    with pytest.raises(StateSpecError, match="internal_state.fields: needs at least one field"):
        internal_state_parse({**REDIS, "fields": [], "default": {}})


def test_a_deployment_spec_with_internal_state_round_trips_and_stays_hashable() -> None:
    config = decode(ServiceConfig, example_bytes("service_config"))
    spec = config.deployments[0]
    assert isinstance(spec.internal_state, RedisProvider) and spec.internal_state.fields == ("visits_7d",)
    assert decode(DeploymentSpec, encode(spec)) == spec
    assert {spec: 1}[decode(DeploymentSpec, encode(spec))] == 1
    # A snapshot without the field (an older control plane) still decodes: no internal state.
    legacy = json.loads(encode(spec))
    del legacy["internal_state"]
    assert decode(DeploymentSpec, json.dumps(legacy)).internal_state is None


def test_the_contract_examples_agree_with_each_other() -> None:
    config = decode(ServiceConfig, example_bytes("service_config"))
    request = decode(Request, example_bytes("request"))
    spec = external_state_parse(config.external_state, input_names=request.inputs)
    account_age = request.external_state["account_age_days"]
    values = external_state_values(spec, request.inputs, request.user_key, request.sent_at, [[str(account_age)]])
    assert values == request.external_state


def test_clock_values_use_the_requests_own_time_in_the_configured_zone() -> None:
    tokyo = ClockProvider(
        fields=("hour", "minute", "weekday", "day", "month", "year", "is_weekend"), timezone="Asia/Tokyo"
    )
    utc = ClockProvider(fields=("hour", "weekday", "day_of_year", "week_of_year", "is_weekend", "second"))

    assert clock_values(tokyo, SATURDAY_NIGHT_UTC) == {
        "hour": 8,
        "minute": 30,
        "weekday": 6,
        "day": 22,
        "month": 11,
        "year": 2026,
        "is_weekend": 1,
    }
    assert clock_values(utc, SATURDAY_NIGHT_UTC) == {
        "hour": 23,
        "weekday": 5,
        "day_of_year": 325,
        "week_of_year": 47,
        "is_weekend": 1,
        "second": 0,
    }


def test_lookup_values_fall_back_to_the_default_field_by_field() -> None:
    spec = external_state_parse({"providers": [LOOKUP]})
    at = SATURDAY_NIGHT_UTC
    assert external_state_values(spec, {"country": "fr"}, None, at, []) == {"risk": 0.2, "region": "eu"}
    assert external_state_values(spec, {"country": "jp"}, None, at, []) == {"risk": 0.1, "region": "other"}
    assert external_state_values(spec, {"country": "xx"}, None, at, []) == {"risk": 0.5, "region": "other"}
    assert external_state_values(spec, {}, None, at, []) == {"risk": 0.5, "region": "other"}


def test_key_values_are_text_and_user_key_names_the_request_user() -> None:
    row = {"id": 42, "ratio": 2.0, "half": 0.5, "flag": True, "nested": {"a": 1}, "nan": float("nan")}
    assert [key_value(k, row, "u-1") for k in ("id", "ratio", "half", "flag", "nested", "nan", "absent")] == [
        "42",
        "2",
        "0.5",
        "true",
        None,
        None,
        None,
    ]
    assert key_value("user_key", row, "u-1") == "u-1" and key_value("user_key", row, None) is None
    provider = RedisProvider(key="id", prefix="p:", fields=("x",), default={"x": 0})
    assert redis_key(provider, row, None, tenant="acme") == "t:acme:p:42"
    assert redis_key(provider, {}, None, tenant="acme") is None


@pytest.mark.parametrize("prefix", ["t:other:", "../", "", "t:acme:", ":", "*", "t:other"])
def test_no_prefix_names_a_key_outside_its_own_tenant(prefix: str) -> None:
    """Whatever a spec declares, the key read is under ``t:<tenant>:``, and no other tenant's namespace
    (``t:other:``, nor ``t:acme-2:`` for tenant ``acme``) is ever a prefix of it."""
    provider = RedisProvider(key="id", prefix=prefix, fields=("x",), default={"x": 0})
    for value in ("1", "../t:other:1", ":other:1"):
        key = redis_key(provider, {"id": value}, None, tenant="acme")
        assert key is not None and key.startswith("t:acme:")
        assert not key.startswith(("t:other:", "t:acme-2:"))


@pytest.mark.parametrize("tenant", ["", "a:b", "Acme", "acme\n", "t:other"])
def test_a_tenant_that_is_not_a_slug_gets_no_namespace(tenant: str) -> None:
    provider = RedisProvider(key="id", fields=("x",), default={"x": 0})
    with pytest.raises(ValueError):
        redis_key(provider, {"id": "1"}, None, tenant=tenant)


def test_redis_answers_become_numbers_when_they_read_as_numbers_else_defaults() -> None:
    raw = (b"12", b"-3.5", b"gold", "7", b"nan", b"inf")
    assert [redis_scalar(v) for v in raw] == [12, -3.5, "gold", 7, "nan", "inf"]
    provider = RedisProvider(
        key="id", fields=("age_days", "plan", "score"), default={"age_days": 0, "plan": None, "score": 0.5}
    )
    assert redis_values(provider, [b"30", None, b"0.9"]) == {"age_days": 30, "plan": None, "score": 0.9}
    assert redis_values(provider, None) == {"age_days": 0, "plan": None, "score": 0.5}
    assert redis_values(provider, [None, None, None]) == provider.default


def test_an_outage_starts_after_consecutive_failures_is_reported_once_and_retried_after_the_cooldown() -> None:
    gate = OutageGate(cooldown_s=1.0, threshold=2)
    assert gate.open(100.0) and not gate.succeeded()
    assert gate.failed(100.0) is False and gate.open(100.0), "one failure is not an outage"
    assert gate.succeeded() is False and gate.failures == 0, "a success in between resets the count"
    assert gate.failed(100.0) is False and gate.failed(100.1) is True
    assert not gate.open(100.5)
    assert gate.open(101.1) and gate.failed(101.1) is False, "a failed retry is the same outage"
    assert not gate.open(102.0) and gate.open(102.1)
    assert gate.succeeded() is True and gate.open(102.1) and not gate.down
