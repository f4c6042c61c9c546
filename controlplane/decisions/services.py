"""Writes of decision records: the consumer's bulk store and the retention sweep."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import msgspec
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contracts.keys import ServiceKey
from contracts.messages import Decision
from controlplane.decisions.models import DecisionRecord
from controlplane.routing.models import Service

log = logging.getLogger(__name__)


# (tenant slug, service slug) → (service id, when looked up). Unknown services are never cached, so a
# service created after its first decision is found at the next batch; known ones are re-checked after
# the TTL so a deleted and re-created service is not written under its old id for long.
_SERVICE_TTL_S = 60.0
_service_ids: dict[ServiceKey, tuple[int, float]] = {}


def _service_ids_resolve(keys: Iterable[ServiceKey]) -> dict[ServiceKey, int]:
    now = time.monotonic()
    found: dict[ServiceKey, int] = {}
    missing: set[ServiceKey] = set()
    for key in keys:
        cached = _service_ids.get(key)
        if cached is not None and now - cached[1] < _SERVICE_TTL_S:
            found[key] = cached[0]
        else:
            missing.add(key)
    if missing:
        rows = Service.objects.filter(
            tenant__slug__in={tenant for tenant, _ in missing}, slug__in={service for _, service in missing}
        ).values_list("tenant__slug", "slug", "pk")
        for tenant, slug, pk in rows:
            if (tenant, slug) in missing:
                found[(tenant, slug)] = pk
                _service_ids[(tenant, slug)] = (pk, now)
    return found


def _decided_at(decision: Decision) -> datetime:
    return datetime.fromtimestamp(decision.decided_at, tz=UTC) if decision.decided_at > 0 else timezone.now()


def decisions_store(*, decisions: Sequence[Decision]) -> int:
    """Insert the decisions not stored yet; returns how many are stored now (new or already there).

    A Decision read twice (a replay after a crash or a rebalance) is identical in content, so the
    first copy wins and a conflict on (service, request_id) is ignored: storing is idempotent, which
    is what lets the consumer commit offsets only after storing. Decisions of services the database
    does not know (deleted, or another control plane's) are skipped and counted in a warning.
    """
    keys = {(d.tenant, d.service) for d in decisions}
    service_ids = _service_ids_resolve(keys) if keys else {}
    stored_at = connection.ops.adapt_datetimefield_value(timezone.now())
    rows: list[tuple[object, ...]] = []
    seen: set[tuple[int, str]] = set()
    unknown = 0
    for decision in decisions:
        service_id = service_ids.get((decision.tenant, decision.service))
        if service_id is None:
            unknown += 1
            continue
        if (service_id, decision.request_id) in seen:
            continue
        seen.add((service_id, decision.request_id))
        rows.append(_row(decision, service_id=service_id, stored_at=stored_at))
    if unknown:
        log.warning("%d decision(s) of unknown services skipped", unknown)
    try:
        _insert_new(rows)
    except IntegrityError:
        # Most likely a cached id of a service deleted meanwhile: look every service up again next time.
        _service_ids.clear()
        raise
    return len(rows)


# The columns _insert_new writes, in the order _row gives them.
_COLUMNS = (
    "service_id", "request_id", "status", "reason", "model", "version", "latency_ms", "config_revision",
    "output", "candidates", "decided_at", "created_at",
)


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()


def _row(decision: Decision, *, service_id: int, stored_at: object) -> tuple[object, ...]:
    """One DecisionRecord row as the database takes it (JSON as text, times adapted by the backend)."""
    return (
        service_id,
        decision.request_id,
        decision.status,
        decision.reason,
        decision.model,
        decision.version,
        decision.latency_ms,
        decision.config_revision,
        None if decision.output is None else _json(decision.output),
        _json(decision.candidates),
        connection.ops.adapt_datetimefield_value(_decided_at(decision)),
        stored_at,
    )


def _insert_new(rows: Sequence[tuple[object, ...]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING in one executemany (PostgreSQL and SQLite both take it).

    The decisions consumer writes every request's record, thousands a second at full load; the ORM's
    bulk_create spent most of the consumer's CPU preparing values field by field (profiled with py-spy
    at 1,500 req/s), so this one hot write is plain SQL. The model stays the schema's source of truth.
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in _COLUMNS)
    values = ", ".join(["%s"] * len(_COLUMNS))
    sql = f"INSERT INTO {quote(DecisionRecord._meta.db_table)} ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def decisions_expire(*, older_than: datetime) -> int:
    """Delete the records stored before ``older_than``; returns how many went."""
    deleted, _ = DecisionRecord.objects.filter(created_at__lt=older_than).delete()
    return deleted
