"""``minute_series``: one point per deployment and minute, rolled and unrolled rows of a minute summed."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from controlplane.monitoring.selectors import minute_series
from controlplane.monitoring.services import RecordDecisions, rollups_roll, rollups_store
from tests.controlplane.monitoring.builders import expected_numbers, random_decisions
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def test_one_point_per_deployment_and_minute_with_the_minutes_numbers() -> None:
    service = ServiceFactory()
    now = time.time()
    minute = int(now // 60) * 60
    topic = f"rdv.{service.tenant.slug}.{service.slug}.decisions"
    old = random_decisions(service.tenant.slug, service.slug, 60, seed=3, decided_at=minute - 600)
    new = random_decisions(service.tenant.slug, service.slug, 40, seed=4, decided_at=minute - 120)
    rollups_store(records=[RecordDecisions(service.pk, topic, 0, 0, old)])
    rollups_store(records=[RecordDecisions(service.pk, topic, 0, 1, new)])
    # More decisions of the old minute after it was rolled: a second (unrolled) row of the same minute.
    assert rollups_roll(before=datetime.fromtimestamp(minute, tz=UTC)) > 0
    late = random_decisions(service.tenant.slug, service.slug, 20, seed=5, decided_at=minute - 600)
    rollups_store(records=[RecordDecisions(service.pk, topic, 0, 2, late)])

    series = minute_series(service=service, minutes=60, now=now)

    assert [(s.model, s.version, s.role) for s in series] == [
        ("iris", 1, "champion"), ("iris", 2, "challenger"), ("tree", 4, "fallback")
    ]
    old_numbers, new_numbers = expected_numbers(old + late), expected_numbers(new)
    for deployment in series:
        key = (deployment.model, deployment.version, deployment.role)
        assert [int(p.minute.timestamp()) for p in deployment.points] == [minute - 600, minute - 120]
        first, second = deployment.points
        assert (first.count, second.count) == (80, 40)
        assert first.error_rate == old_numbers[key]["errors"] / 80
        assert second.timeout_rate == new_numbers[key]["timeouts"] / 40
        assert first.fallback_rate == old_numbers[key]["fallbacks"] / 80
        assert first.p50_ms <= first.p95_ms <= first.p99_ms


def test_minutes_outside_the_window_and_other_services_are_left_out() -> None:
    service, other = ServiceFactory(), ServiceFactory()
    now = time.time()
    topic = f"rdv.{service.tenant.slug}.{service.slug}.decisions"
    rollups_store(records=[RecordDecisions(service.pk, topic, 0, 0, random_decisions(
        service.tenant.slug, service.slug, 10, seed=6, decided_at=now - 3 * 3600))])
    rollups_store(records=[RecordDecisions(other.pk, f"rdv.{other.tenant.slug}.{other.slug}.decisions", 0, 0,
                                           random_decisions(other.tenant.slug, other.slug, 10, seed=7,
                                                            decided_at=now - 60))])

    assert minute_series(service=service, minutes=60, now=now) == []
    assert len(minute_series(service=service, minutes=240, now=now)[0].points) == 1


def test_a_step_of_several_minutes_merges_them_into_one_point() -> None:
    service = ServiceFactory()
    now = time.time()
    step = int(now // 600) * 600 - 600  # a whole ten-minute step, before the current one
    topic = f"rdv.{service.tenant.slug}.{service.slug}.decisions"
    first = random_decisions(service.tenant.slug, service.slug, 30, seed=8, decided_at=step + 60)
    second = random_decisions(service.tenant.slug, service.slug, 20, seed=9, decided_at=step + 420)
    rollups_store(records=[RecordDecisions(service.pk, topic, 0, 0, first + second)])

    by_minute = minute_series(service=service, minutes=60, now=now)
    by_step = minute_series(service=service, minutes=60, now=now, step_minutes=10)

    assert [len(s.points) for s in by_minute] == [2, 2, 2]
    champion = by_step[0]
    assert [(int(p.minute.timestamp()), p.count) for p in champion.points] == [(step, 50)]
    expected = expected_numbers(first + second)[("iris", 1, "champion")]
    assert champion.points[0].error_rate == expected["errors"] / 50
