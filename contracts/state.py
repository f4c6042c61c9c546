"""State injected into what a model sees (DESIGN.md §4): the specs, their validation and the pure maths.

*External* state is configured per service and injected by the gateway **once, before fan-out**, into
``Request.external_state``, so every model of the request sees byte-identical input. *Internal* state
is declared by one model version (``metadata.internal_state``) and injected by the runner right before
that version's predict call only.

Django-free on purpose: the control plane validates specs with these functions at the API, the gateway
and the runners compute values with them. I/O (Redis) stays with the callers; here are plain functions
over plain data, so every rule is tested without a server.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from contracts.topics import SLUG_PATTERN

Scalar = str | int | float | bool | None
ClockField = Literal[
    "hour", "minute", "second", "weekday", "day", "month", "year", "day_of_year", "week_of_year", "is_weekend"
]
CLOCK_FIELDS: tuple[str, ...] = ClockField.__args__  # type: ignore[attr-defined]
# ``"key": "user_key"`` names the request's ``user_key``, not an input field.
USER_KEY = "user_key"
# A spec travels in every ``rdv.config`` record of its service: keep it well below Kafka's 1 MB.
MAX_SPEC_BYTES = 256 * 1024


class StateSpecError(ValueError):
    """A state spec that cannot be used; ``problems`` lists every reason, each naming where it is."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


class _Hashable(msgspec.Struct, frozen=True, kw_only=True):
    """Frozen specs with dict fields still hash (deployment specs are dict keys in the runner)."""

    def __hash__(self) -> int:
        return hash(msgspec.json.encode(self, order="sorted"))


class ClockProvider(_Hashable, tag="clock", tag_field="type"):
    """Calendar features of the request's ``sent_at`` in ``timezone`` (``weekday`` 0 is Monday)."""

    fields: tuple[ClockField, ...]
    timezone: str = "UTC"

    @property
    def names(self) -> tuple[str, ...]:
        return self.fields


class LookupProvider(_Hashable, tag="lookup", tag_field="type"):
    """A static table keyed by an input's value; ``default`` names the injected fields and fills gaps."""

    key: str
    table: dict[str, dict[str, Scalar]]
    default: dict[str, Scalar]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.default)


class RedisProvider(_Hashable, tag="redis", tag_field="type"):
    """The hash at ``t:<tenant>:<prefix><value of key>``: its ``fields``, or ``default`` when missing or
    unreachable. The tenant namespace is added by the server (``redis_key``), never part of ``prefix``."""

    key: str
    fields: tuple[str, ...]
    default: dict[str, Scalar]
    prefix: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return self.fields


Provider = ClockProvider | LookupProvider | RedisProvider
_PROVIDER_TYPES: dict[str, type[Provider]] = {"clock": ClockProvider, "lookup": LookupProvider, "redis": RedisProvider}


class ExternalStateSpec(_Hashable):
    providers: tuple[Provider, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for provider in self.providers for name in provider.names)

    @property
    def redis_providers(self) -> tuple[RedisProvider, ...]:
        return tuple(p for p in self.providers if isinstance(p, RedisProvider))


EMPTY_SPEC = ExternalStateSpec()


# -- parsing and validation ----------------------------------------------------------------------------


def external_state_parse(raw: Any, *, input_names: Iterable[str] = ()) -> ExternalStateSpec:
    """The service's ``external_state`` as a typed spec, or StateSpecError listing every problem.

    ``input_names`` (the properties of the input schema, when it declares them) are checked against
    the injected names, which must not shadow an input, and against the keys lookups read.
    """
    if raw is None or raw == {}:
        return EMPTY_SPEC
    if not isinstance(raw, dict):
        raise StateSpecError(['must be an object: {"providers": [...]}'])
    problems = _size_problems(raw, "external_state")
    unknown = sorted(set(raw) - {"providers"})
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}; expected only `providers`")
    items = raw.get("providers", [])
    if not isinstance(items, list):
        problems.append("providers: must be a list of provider objects")
        items = []
    providers: list[Provider] = []
    for index, item in enumerate(items):
        provider = _provider_parse(item, f"providers[{index}]", problems)
        if provider is not None:
            providers.append(provider)
    inputs = set(input_names)
    seen: dict[str, int] = {}
    for index, provider in enumerate(providers):
        where = f"providers[{index}]"
        for name in provider.names:
            if name in seen:
                problems.append(f"{where}: field {name!r} is already injected by providers[{seen[name]}]")
            elif name in inputs:
                problems.append(f"{where}: field {name!r} collides with an input of the service's input_schema")
            seen.setdefault(name, index)
        key = getattr(provider, "key", None)
        if key is not None and key != USER_KEY and inputs and key not in inputs:
            problems.append(f"{where}: key {key!r} is not an input of the service's input_schema")
    if problems:
        raise StateSpecError(problems)
    return ExternalStateSpec(providers=tuple(providers))


def internal_state_parse(raw: Any) -> RedisProvider | None:
    """A version's ``metadata.internal_state`` (a Redis provider), or None when it declares none."""
    if raw is None:
        return None
    problems = _size_problems(raw, "internal_state")
    provider = _provider_parse(raw, "internal_state", problems, allowed=("redis",))
    if problems or provider is None:
        raise StateSpecError(problems)
    assert isinstance(provider, RedisProvider)
    return provider


def _size_problems(raw: Any, where: str) -> list[str]:
    try:
        size = len(msgspec.json.encode(raw))
    except (TypeError, msgspec.EncodeError):
        return [f"{where}: must be plain JSON"]
    return [f"{where}: {size} bytes encoded, the limit is {MAX_SPEC_BYTES}"] if size > MAX_SPEC_BYTES else []


def _provider_parse(
    item: Any, where: str, problems: list[str], *, allowed: Sequence[str] = tuple(_PROVIDER_TYPES)
) -> Provider | None:
    if not isinstance(item, dict):
        problems.append(f"{where}: must be an object with a `type`")
        return None
    kind = item.get("type")
    if kind not in allowed:
        problems.append(f"{where}.type: must be one of {', '.join(allowed)}, not {kind!r}")
        return None
    cls = _PROVIDER_TYPES[kind]
    unknown = sorted(set(item) - {"type", *cls.__struct_fields__})
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)} for type {kind}")
        return None
    try:
        provider = msgspec.convert(item, cls)
    except msgspec.ValidationError as exc:
        problems.append(f"{where}: {str(exc).replace('`$', f'`{where}')}")
        return None
    before = len(problems)
    _RULES[cls](provider, where, problems)  # type: ignore[operator]
    return provider if len(problems) == before else None


def _names_problems(names: Sequence[str], where: str, problems: list[str]) -> None:
    if not names:
        problems.append(f"{where}: needs at least one field")
    if any(not name for name in names):
        problems.append(f"{where}: field names must not be empty")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        problems.append(f"{where}: field(s) {', '.join(repeated)} repeated")


def _key_problems(key: str, where: str, problems: list[str]) -> None:
    if not key:
        problems.append(f"{where}.key: must name an input field (or `user_key`)")


def _clock_rules(provider: ClockProvider, where: str, problems: list[str]) -> None:
    _names_problems(provider.fields, f"{where}.fields", problems)
    if _zone(provider.timezone) is None:
        problems.append(
            f"{where}.timezone: unknown time zone {provider.timezone!r} (an IANA name such as Europe/Paris)"
        )


def _lookup_rules(provider: LookupProvider, where: str, problems: list[str]) -> None:
    _key_problems(provider.key, where, problems)
    _names_problems(tuple(provider.default), f"{where}.default", problems)
    known = set(provider.default)
    for row_key, row in provider.table.items():
        extra = sorted(set(row) - known)
        if extra:
            problems.append(
                f"{where}.table[{row_key!r}]: field(s) {', '.join(extra)} are not in `default` "
                "(default names every injected field)"
            )


def _redis_rules(provider: RedisProvider, where: str, problems: list[str]) -> None:
    _key_problems(provider.key, where, problems)
    _names_problems(provider.fields, f"{where}.fields", problems)
    missing = [name for name in provider.fields if name not in provider.default]
    extra = sorted(set(provider.default) - set(provider.fields))
    if missing:
        problems.append(f"{where}.default: needs a value (null allowed) for {', '.join(missing)}")
    if extra:
        problems.append(f"{where}.default: {', '.join(extra)} not in fields")


_RULES = {ClockProvider: _clock_rules, LookupProvider: _lookup_rules, RedisProvider: _redis_rules}


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


# -- values --------------------------------------------------------------------------------------------


def clock_values(provider: ClockProvider, sent_at: float) -> dict[str, int]:
    """Calendar features of ``sent_at``: the request's own time, so a replay computes the same values."""
    moment = datetime.fromtimestamp(sent_at, _zone(provider.timezone))
    iso = moment.isocalendar()
    every = {
        "hour": moment.hour,
        "minute": moment.minute,
        "second": moment.second,
        "weekday": moment.weekday(),
        "day": moment.day,
        "month": moment.month,
        "year": moment.year,
        "day_of_year": moment.timetuple().tm_yday,
        "week_of_year": iso.week,
        "is_weekend": int(moment.weekday() >= 5),
    }
    return {name: every[name] for name in provider.fields}


def key_value(key: str, row: Mapping[str, Any], user_key: str | None) -> str | None:
    """The text a lookup is keyed by, or None when the request has no usable value for it."""
    value = user_key if key == USER_KEY else row.get(key)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def lookup_values(provider: LookupProvider, row: Mapping[str, Any], user_key: str | None = None) -> dict[str, Scalar]:
    key = key_value(provider.key, row, user_key)
    found = provider.table.get(key, {}) if key is not None else {}
    return {name: found.get(name, default) for name, default in provider.default.items()}


def tenant_namespace(tenant: str) -> str:
    """``t:<tenant>:``, the only part of Redis a tenant's state may read (DESIGN.md §4, *changed (security)*).

    A slug has no ``:``, so no tenant's namespace is a prefix of another's, and whatever ``prefix`` a
    spec declares (``t:other:``, ``../``, empty) lands inside its own tenant's namespace.
    """
    if SLUG_PATTERN.fullmatch(tenant) is None:
        raise ValueError(f"not a tenant slug: {tenant!r}")
    return f"t:{tenant}:"


def redis_key(provider: RedisProvider, row: Mapping[str, Any], user_key: str | None, *, tenant: str) -> str | None:
    """The Redis key to read, ``t:<tenant>:<prefix><key value>``, or None (defaults, no round trip) when
    the request has no key value. ``tenant`` comes from the server (the URL, the topic), never the spec."""
    key = key_value(provider.key, row, user_key)
    return None if key is None else tenant_namespace(tenant) + provider.prefix + key


def redis_scalar(raw: bytes | str) -> Scalar:
    """A Redis hash value as the model should see it: a finite number when it reads as one, else text."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def redis_values(provider: RedisProvider, fetched: Sequence[bytes | str | None] | None) -> dict[str, Scalar]:
    """HMGET's answer (in ``fields`` order) with ``default`` for missing fields; None = key or Redis missing."""
    if fetched is None:
        return dict(provider.default)
    return {
        name: provider.default[name] if raw is None else redis_scalar(raw)
        for name, raw in zip(provider.fields, fetched, strict=True)
    }


def external_state_values(
    spec: ExternalStateSpec,
    inputs: Mapping[str, Any],
    user_key: str | None,
    sent_at: float,
    fetched: Sequence[Sequence[bytes | str | None] | None],
) -> dict[str, Scalar]:
    """Every injected value, in provider order; ``fetched`` holds the HMGET answers of ``redis_providers``."""
    values: dict[str, Scalar] = {}
    answers = iter(fetched)
    for provider in spec.providers:
        if isinstance(provider, ClockProvider):
            values.update(clock_values(provider, sent_at))
        elif isinstance(provider, LookupProvider):
            values.update(lookup_values(provider, inputs, user_key))
        else:
            values.update(redis_values(provider, next(answers)))
    return values


# -- failures ------------------------------------------------------------------------------------------


class OutageGate:
    """After ``threshold`` failed lookups in a row, skip Redis for ``cooldown_s``: a dead Redis then costs
    one timeout per cooldown, not one per request, while a single slow answer under load does not turn
    everyone's state to defaults. ``failed`` answers True only when an outage starts (log it once)."""

    def __init__(self, cooldown_s: float = 1.0, threshold: int = 3) -> None:
        self.cooldown_s = cooldown_s
        self.threshold = threshold
        self.failures = 0
        self._retry_at = 0.0

    @property
    def down(self) -> bool:
        return self.failures >= self.threshold

    def open(self, now: float) -> bool:
        return not self.down or now >= self._retry_at

    def failed(self, now: float) -> bool:
        self.failures += 1
        if not self.down:
            return False
        self._retry_at = now + self.cooldown_s
        return self.failures == self.threshold

    def succeeded(self) -> bool:
        recovered = self.down
        self.failures = 0
        return recovered
