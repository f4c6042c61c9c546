"""The drift monitor's judgement becomes a signal; a bucket too small to judge says nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from controlplane.alerts.signals import accuracy_drop, answers_summarise, drift_signal
from controlplane.drift.selectors import FeatureDriftPoint
from controlplane.feedback.quality import Quality

AT = datetime(2026, 12, 3, tzinfo=UTC)


def _point(score: float | None, flagged: bool, requests: int = 400) -> FeatureDriftPoint:
    return FeatureDriftPoint(feature="age", kind="numeric", score=score, ks=None, threshold=0.2, flagged=flagged,
                             at=AT, requests=requests)


def test_drift_breaches_as_the_monitor_flagged_it() -> None:
    assert drift_signal(_point(0.5, True), min_requests=200).breaching
    # Flagged by KS with a PSI under its threshold: still a breach.
    assert drift_signal(_point(0.1, True), min_requests=200).breaching
    assert not drift_signal(_point(0.1, False), min_requests=200).breaching


def test_a_feature_missing_from_a_judged_bucket_breaches_and_a_small_bucket_says_nothing() -> None:
    missing = drift_signal(_point(None, True), min_requests=200)
    small = drift_signal(_point(0.9, False, requests=50), min_requests=200)

    assert (missing.value, missing.breaching) == (0.0, True)
    assert (small.value, small.breaching) == (None, False)


def test_accuracy_drop_needs_enough_labels_on_both_sides() -> None:
    now, before = Quality(20, 0.7, 0.7, None, None), Quality(20, 0.9, 0.9, None, None)

    assert accuracy_drop(now, before, min_labelled=10) == 0.2
    assert accuracy_drop(now, before, min_labelled=30) is None
    assert accuracy_drop(None, before, min_labelled=1) is None
    assert accuracy_drop(Quality(5, None, None, 1.0, 1.0), before, min_labelled=1) is None


def test_answers_are_judged_from_min_requests_on() -> None:
    rows = [("ok", 10.0)] * 8 + [("error", 30.0), ("timeout", 200.0)]

    assert answers_summarise(rows, min_requests=11).p99_ms is None
    summary = answers_summarise(rows, min_requests=10)
    assert (summary.count, summary.p99_ms, summary.error_rate, summary.timeout_rate) == (10, 200.0, 0.1, 0.1)
