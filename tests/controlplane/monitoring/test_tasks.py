"""The beat task: finished hours rolled into hour rows, then both retentions applied."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

from controlplane.monitoring.models import RollupHour, RollupMinute
from controlplane.monitoring.services import RecordDecisions, rollups_store
from controlplane.monitoring.tasks import rollups_roll_due
from tests.controlplane.monitoring.builders import random_decisions
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def _store(service, hours_ago: float, partition: int) -> None:  # noqa: ANN001
    # 20 s into its minute: the decisions (spread over one second) all fall in that one minute.
    minute = (time.time() - hours_ago * 3600) // 60 * 60
    decisions = random_decisions(service.tenant.slug, service.slug, 10, seed=partition, decided_at=minute + 20)
    topic = f"rdv.{service.tenant.slug}.{service.slug}.decisions"
    rollups_store(records=[RecordDecisions(service.pk, topic, partition, 0, decisions)])


@override_settings(RDV_ROLLUP_MINUTE_RETENTION_HOURS=3, RDV_ROLLUP_HOUR_RETENTION_DAYS=1)
def test_rolls_finished_hours_and_applies_the_retentions() -> None:
    service = ServiceFactory()
    _store(service, 0, partition=0)  # this hour: stays a minute row, unrolled
    _store(service, 5, partition=1)  # rolled, then past the minute retention: only its hour row is left
    _store(service, 30, partition=2)  # rolled, then past the hour retention too: nothing is left

    # At least this service's six (three deployments in each of the two finished minutes): rows another
    # test committed (a transactional test's) are rolled too.
    assert rollups_roll_due() >= 6

    minutes = RollupMinute.objects.filter(service=service)
    hours = RollupHour.objects.filter(service=service)
    assert set(minutes.values_list("rolled", flat=True)) == {False}
    assert minutes.count() == 3
    assert hours.count() == 3
    assert sum(hours.filter(role="champion").values_list("count", flat=True)) == 10
