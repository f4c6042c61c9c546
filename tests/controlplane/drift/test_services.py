"""Stored parts, one reference, one merged point per bucket and feature, whatever runner sent what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.utils import timezone

from controlplane.drift.models import DriftPart, DriftPoint, DriftReference
from controlplane.drift.selectors import latest_drift
from controlplane.drift.services import DriftSettings, drift_expire, drift_parts_store, drift_references_settle
from tests.controlplane.drift.builders import BUCKET_S, FEATURES, T0, bucket_reports, iris_rows
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

CONFIG = DriftSettings(reference_size=500, min_count=200)
# Parts are stamped with the real time they were stored: a day later, every one of them has settled.
LATER = timezone.now() + timedelta(days=1)


def _store(service, bucket: int, rows, *, runners: int = 2, now=LATER) -> None:  # noqa: ANN001
    reports = bucket_reports(service.tenant.slug, service.slug, bucket, rows, runners=runners)
    drift_parts_store(reports=reports, config=CONFIG, now=now)


def test_a_shift_in_one_feature_is_flagged_in_one_merged_series_and_clears_after():
    service = ServiceFactory()
    rng = np.random.default_rng(2026)
    _store(service, 0, list(iris_rows(rng, 600)), now=timezone.now())
    assert not DriftReference.objects.filter(service=service).exists()  # not settled yet
    _store(service, 1, list(iris_rows(rng, 400)))
    _store(service, 2, list(iris_rows(rng, 400, shift={"petal_length": 1.5})))
    _store(service, 3, list(iris_rows(rng, 400)))
    assert DriftReference.objects.get(service=service).count == 600

    points = list(DriftPoint.objects.filter(service=service).order_by("bucket_start", "feature"))
    by_bucket: dict[int, dict[str, DriftPoint]] = {}
    for point in points:
        bucket = int((point.bucket_start.timestamp() - T0) // BUCKET_S)
        assert point.feature not in by_bucket.setdefault(bucket, {})  # one point per bucket and feature
        by_bucket[bucket][point.feature] = point
    assert sorted(by_bucket) == [1, 2, 3]
    assert {p.requests for p in points} == {400}  # both runners' parts merged
    flagged = {bucket: sorted(f for f, p in features.items() if p.flagged) for bucket, features in by_bucket.items()}
    assert flagged == {1: [], 2: ["petal_length"], 3: []}, {
        b: {f: (p.psi, p.ks) for f, p in fs.items()} for b, fs in by_bucket.items()
    }
    assert set(by_bucket[2]) == {*FEATURES, "country"}
    latest = latest_drift(service)
    assert set(latest) == {*FEATURES, "country"} and not any(p.flagged for p in latest.values())
    assert latest["petal_length"].threshold == CONFIG.thresholds.psi
    assert latest["petal_length"].at == datetime.fromtimestamp(T0 + 4 * BUCKET_S, tz=UTC)


def test_one_runner_or_two_give_the_same_points_and_a_replay_changes_nothing():
    rng = np.random.default_rng(9)
    reference, window = list(iris_rows(rng, 600)), list(iris_rows(rng, 400, shift={"sepal_width": 0.8}))
    scores = []
    for runners in (1, 3):
        service = ServiceFactory()
        _store(service, 0, reference, runners=runners)
        _store(service, 1, window, runners=runners)
        scores.append({p.feature: (p.psi, p.ks, p.flagged) for p in DriftPoint.objects.filter(service=service)})
    assert scores[0] == scores[1] and scores[0]["sepal_width"][2]

    service = ServiceFactory()
    reports = bucket_reports(service.tenant.slug, service.slug, 0, reference)
    drift_parts_store(reports=reports, config=CONFIG, now=LATER)
    drift_parts_store(reports=reports, config=CONFIG, now=LATER)
    assert DriftPart.objects.filter(service=service).count() == len(reports)
    assert DriftReference.objects.get(service=service).count == 600


def test_a_late_part_of_a_bucket_rescores_it_and_the_reference_settles_without_new_parts():
    service = ServiceFactory()
    rng = np.random.default_rng(4)
    just_after = timezone.now()
    _store(service, 0, list(iris_rows(rng, 600)), now=just_after)
    assert drift_references_settle(config=CONFIG, now=just_after) == 0
    assert drift_references_settle(config=CONFIG, now=LATER) == 1
    # A bucket reported by one runner, then the other's part arrives late: one point, both counted.
    rows = list(iris_rows(rng, 400))
    first, second = bucket_reports(service.tenant.slug, service.slug, 1, rows)
    drift_parts_store(reports=[first], config=CONFIG, now=LATER)
    drift_parts_store(reports=[second], config=CONFIG, now=LATER)
    assert {p.requests for p in DriftPoint.objects.filter(service=service)} == {400}


def test_parts_of_unknown_services_are_skipped_and_old_buckets_expire():
    rng = np.random.default_rng(1)
    assert drift_parts_store(reports=bucket_reports("nobody", "nothing", 0, list(iris_rows(rng, 10))),
                             config=CONFIG) == 0
    service = ServiceFactory()
    _store(service, 0, list(iris_rows(rng, 600)))
    _store(service, 1, list(iris_rows(rng, 400)))
    assert drift_expire(older_than=datetime.fromtimestamp(T0 + BUCKET_S, tz=UTC)) == 2  # bucket 0's two parts
    assert DriftPoint.objects.filter(service=service).count() == 5
