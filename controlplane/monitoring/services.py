"""Writes of roll-ups: the consumer's store (idempotent per partition offset), the hourly roll, retention."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Q

from contracts.messages import Decision
from controlplane.monitoring.models import RollupHour, RollupMinute, RollupWatermark
from controlplane.monitoring.rollup import COUNTER_FIELDS, Deployment, Stats, rollup_add
from controlplane.monitoring.sketch import LatencySketch

_UPDATED_FIELDS = [*COUNTER_FIELDS, "latency"]
# A minute row the hourly roll marks rolled between our insert and our lock is missed once; try again.
_UPSERT_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class RecordDecisions:
    """The decisions of one record of a decisions topic, with where it was read (for the watermark)."""

    service_id: int
    topic: str
    partition: int
    offset: int
    decisions: Sequence[Decision]


def _stats_of(row: RollupMinute | RollupHour) -> Stats:
    stats = Stats(**{name: getattr(row, name) for name in COUNTER_FIELDS})
    if row.latency:
        stats.latency = LatencySketch.from_bytes(bytes(row.latency))
    return stats


def _write_stats(row: RollupMinute | RollupHour, stats: Stats) -> None:
    for name in COUNTER_FIELDS:
        setattr(row, name, getattr(stats, name))
    row.latency = stats.latency.to_bytes()


def _at(epoch_s: int) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


RowKey = tuple[int, datetime, str, int, str]  # service id, minute or hour, model, version, role


def _add_into_rows(
    model: type[RollupMinute] | type[RollupHour], time_field: str, totals: dict[RowKey, Stats], **unique: object
) -> None:
    """Add ``totals`` into their rows (created at zero when missing), each locked in primary-key order."""
    pending = dict(totals)
    for _ in range(_UPSERT_ATTEMPTS):
        # Inserted in key order: two writers inserting the same new rows wait for each other, never deadlock.
        model.objects.bulk_create(
            [
                model(service_id=sid, model=name, version=version, role=role, **{time_field: at}, **unique)
                for (sid, at, name, version, role) in sorted(pending)
            ],
            ignore_conflicts=True,
        )
        rows = (
            model.objects.select_for_update()
            .filter(service_id__in={k[0] for k in pending}, **{f"{time_field}__in": {k[1] for k in pending}}, **unique)
            .order_by("pk")
        )
        changed = []
        for row in rows:
            key = (row.service_id, getattr(row, time_field), row.model, row.version, row.role)
            stats = pending.pop(key, None)
            if stats is None:
                continue
            merged = _stats_of(row)
            merged.merge(stats)
            _write_stats(row, merged)
            changed.append(row)
        model.objects.bulk_update(changed, _UPDATED_FIELDS)
        if not pending:
            return
    raise RuntimeError(f"could not lock the roll-up rows of {len(pending)} deployments")


@transaction.atomic
def rollups_store(*, records: Sequence[RecordDecisions]) -> int:
    """Add the decisions of the records not counted yet into their minute rows; returns how many counted.

    Per (topic, partition) the highest offset counted is kept in the same transaction (RollupWatermark),
    and records at or below it are skipped: reading a partition again (a crash before the commit, a
    rebalance, a new consumer group replaying the topic) changes nothing, so a replay gives the same
    numbers and offsets can be committed after this returns.
    """
    if not records:
        return 0
    partitions = {(r.topic, r.partition): r.service_id for r in records}
    RollupWatermark.objects.bulk_create(
        [RollupWatermark(service_id=sid, topic=t, partition=p, offset=-1) for (t, p), sid in partitions.items()],
        ignore_conflicts=True,
    )
    watermarks = {
        (w.topic, w.partition): w
        for w in RollupWatermark.objects.select_for_update()
        .filter(topic__in={t for t, _ in partitions})
        .order_by("pk")
        if (w.topic, w.partition) in partitions
    }
    per_service: dict[int, dict[tuple[Deployment, int], Stats]] = defaultdict(dict)
    counted = 0
    for record in records:
        watermark = watermarks[(record.topic, record.partition)]
        if record.offset <= watermark.offset:
            continue
        watermark.offset = record.offset
        totals = per_service[record.service_id]
        for decision in record.decisions:
            rollup_add(totals, decision)
        counted += len(record.decisions)
    minutes = {
        (sid, _at(minute), model, version, role): stats
        for sid, totals in per_service.items()
        for ((model, version, role), minute), stats in totals.items()
    }
    if minutes:
        _add_into_rows(RollupMinute, "minute", minutes, rolled=False)
    RollupWatermark.objects.bulk_update(watermarks.values(), ["offset"])
    return counted


def rollups_roll(*, before: datetime, limit: int = 5000) -> int:
    """Add the unrolled minute rows older than ``before`` (the current hour's start) into their hour rows.

    Each batch is one transaction: the minutes are locked (those the consumer holds are skipped and rolled
    next time), added into their hours, and marked rolled. Returns how many minute rows were rolled.
    """
    rolled = 0
    while True:
        with transaction.atomic():
            rows = list(
                RollupMinute.objects.select_for_update(skip_locked=True)
                .filter(rolled=False, minute__lt=before)
                .order_by("pk")[:limit]
            )
            if not rows:
                return rolled
            hours: dict[RowKey, Stats] = {}
            for row in rows:
                hour = row.minute.replace(minute=0, second=0, microsecond=0)
                key = (row.service_id, hour, row.model, row.version, row.role)
                stats = hours.get(key)
                if stats is None:
                    hours[key] = _stats_of(row)
                else:
                    stats.merge(_stats_of(row))
            _add_into_rows(RollupHour, "hour", hours)
            RollupMinute.objects.filter(pk__in=[row.pk for row in rows]).update(rolled=True)
            rolled += len(rows)
        if len(rows) < limit:
            return rolled


def rollups_expire(*, minutes_before: datetime, hours_before: datetime) -> tuple[int, int]:
    """Delete rolled minute rows and hour rows past their retention; unrolled minutes wait for their roll."""
    minutes, _ = RollupMinute.objects.filter(Q(rolled=True) & Q(minute__lt=minutes_before)).delete()
    hours, _ = RollupHour.objects.filter(hour__lt=hours_before).delete()
    return minutes, hours
