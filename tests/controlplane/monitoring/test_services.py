"""Roll-up storage: idempotent per partition offset, minutes rolled into hours, windows read across both."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from controlplane.monitoring.models import RollupHour, RollupMinute, RollupWatermark
from controlplane.monitoring.selectors import _rows_orm, _rows_postgresql, service_metrics
from controlplane.monitoring.services import RecordDecisions, rollups_expire, rollups_roll, rollups_store
from controlplane.monitoring.sketch import RELATIVE_ACCURACY
from controlplane.monitoring.windows import window_plan
from controlplane.routing.models import Service
from tests.controlplane.monitoring.builders import assert_metrics_match, random_decisions
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db
RETENTION_S = 48 * 3600


def _records(service: Service, decisions: list, *, per_record: int = 10, partition: int = 0) -> list[RecordDecisions]:
    topic = f"rdv.{service.tenant.slug}.{service.slug}.decisions"
    return [
        RecordDecisions(service.pk, topic, partition, offset, decisions[i:i + per_record])
        for offset, i in enumerate(range(0, len(decisions), per_record))
    ]


def _comparable(row: tuple) -> tuple:
    return (*row[:-1], bytes(row[-1]))


def _rows() -> list[tuple]:
    return sorted(
        RollupMinute.objects.values_list("minute", "model", "version", "role", "count", "errors", "timeouts",
                                         "wins", "compared", "agreed", "latency")
    )


def test_storing_a_partition_again_changes_nothing() -> None:
    service = ServiceFactory()
    now = time.time()
    decisions = random_decisions(service.tenant.slug, service.slug, 300, seed=1, decided_at=now - 5)
    records = _records(service, decisions)
    assert rollups_store(records=records[:10]) == 100
    assert rollups_store(records=records) == 200  # the first ten are at or below the watermark
    before = _rows()
    assert rollups_store(records=records) == 0
    assert _rows() == before
    assert RollupWatermark.objects.get().offset == len(records) - 1
    body = service_metrics(service=service, minutes=15, now=now, minute_retention_s=RETENTION_S)
    assert_metrics_match({"deployments": body.deployments}, decisions, RELATIVE_ACCURACY)


def test_hours_plus_edge_minutes_give_the_same_numbers_as_minutes_alone() -> None:
    service = ServiceFactory()
    now = time.time()
    # Decisions spread over the last five hours, some of them in the current hour.
    decisions = [
        d for hours_ago in range(5)
        for d in random_decisions(service.tenant.slug, service.slug, 120, seed=hours_ago,
                                  decided_at=now - hours_ago * 3600 - 30)
    ]
    rollups_store(records=_records(service, decisions))
    before = service_metrics(service=service, minutes=6 * 60, now=now, minute_retention_s=RETENTION_S)
    current_hour = datetime.fromtimestamp(now, tz=UTC).replace(minute=0, second=0, microsecond=0)
    assert rollups_roll(before=current_hour, limit=7) > 0
    assert RollupHour.objects.filter(service=service).exists()
    assert not RollupMinute.objects.filter(rolled=False, minute__lt=current_hour).exists()
    after = service_metrics(service=service, minutes=6 * 60, now=now, minute_retention_s=RETENTION_S)
    assert after.deployments == before.deployments
    assert_metrics_match({"deployments": after.deployments}, decisions, RELATIVE_ACCURACY)

    # Late decisions of a rolled minute start an unrolled row beside it; both count until the next roll.
    late = random_decisions(service.tenant.slug, service.slug, 50, seed=99, decided_at=now - 3 * 3600 - 30)
    rollups_store(records=_records(service, late, partition=1))
    assert_metrics_match(
        {"deployments": service_metrics(service=service, minutes=6 * 60, now=now,
                                        minute_retention_s=RETENTION_S).deployments},
        decisions + late, RELATIVE_ACCURACY,
    )
    rollups_roll(before=current_hour)
    # The binary PostgreSQL read and the ORM's (SQLite, in development) read the same rows.
    plan = window_plan(minutes=6 * 60, now=now, minute_retention_s=RETENTION_S)
    binary = sorted(map(_comparable, _rows_postgresql(service, plan)))
    assert binary == sorted(map(_comparable, _rows_orm(service, plan))) and binary
    assert_metrics_match(
        {"deployments": service_metrics(service=service, minutes=6 * 60, now=now,
                                        minute_retention_s=RETENTION_S).deployments},
        decisions + late, RELATIVE_ACCURACY,
    )


def test_a_short_window_leaves_older_decisions_out() -> None:
    service = ServiceFactory()
    now = time.time()
    recent = random_decisions(service.tenant.slug, service.slug, 40, seed=5, decided_at=now - 60)
    old = random_decisions(service.tenant.slug, service.slug, 40, seed=6, decided_at=now - 3600)
    rollups_store(records=_records(service, recent + old))
    body = service_metrics(service=service, minutes=15, now=now, minute_retention_s=RETENTION_S)
    assert_metrics_match({"deployments": body.deployments}, recent, RELATIVE_ACCURACY)


def test_retention_deletes_rolled_minutes_and_old_hours_only() -> None:
    service = ServiceFactory()
    now = time.time()
    rollups_store(records=_records(service, random_decisions(service.tenant.slug, service.slug, 20, seed=1,
                                                             decided_at=now - 5 * 3600)))
    nowdt = datetime.fromtimestamp(now, tz=UTC)
    assert rollups_expire(minutes_before=nowdt, hours_before=nowdt - timedelta(days=1)) == (0, 0)  # not rolled
    rollups_roll(before=nowdt.replace(minute=0, second=0, microsecond=0))
    assert rollups_expire(minutes_before=nowdt - timedelta(hours=6), hours_before=nowdt - timedelta(days=1)) == (0, 0)
    minutes, hours = rollups_expire(minutes_before=nowdt, hours_before=nowdt - timedelta(days=1))
    assert minutes > 0 and hours == 0
    assert rollups_expire(minutes_before=nowdt, hours_before=nowdt)[1] > 0


@pytest.mark.django_db(transaction=True)
def test_consumers_of_different_partitions_write_the_same_minutes_at_once() -> None:
    """Two members of the group own different partitions of one service: same rows, no lost update."""
    service = ServiceFactory()
    now = time.time()
    parts = [random_decisions(service.tenant.slug, service.slug, 400, seed=p, decided_at=now - 5) for p in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(parts))

    def store(partition: int) -> None:
        try:
            start.wait()
            for record in _records(service, parts[partition], per_record=5, partition=partition):
                rollups_store(records=[record])
        except BaseException as exc:  # noqa: BLE001  (reported to the test)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=store, args=(p,)) for p in range(len(parts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    body = service_metrics(service=service, minutes=15, now=now, minute_retention_s=RETENTION_S)
    assert_metrics_match({"deployments": body.deployments}, [d for part in parts for d in part], RELATIVE_ACCURACY)
