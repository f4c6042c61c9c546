"""A service's windows: reference first, then tumbling windows by count or by time, one report each."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris

from contracts.messages import Request
from model_runner.drift_windows import ServiceWindows, WindowSettings

IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
X_IRIS = load_iris().data


def iris_requests(rng: np.random.Generator, n: int, *, shift: dict[str, float] | None = None, start: int = 0):
    """Iris rows drawn with replacement, with a country from the external state, as the gateway sends them."""
    shift = shift or {}
    for i in range(n):
        row = X_IRIS[rng.integers(len(X_IRIS))]
        inputs = {name: float(value) + shift.get(name, 0.0) for name, value in zip(IRIS_FEATURES, row, strict=True)}
        inputs["request_ref"] = f"ref-{start + i}"  # unique per request: an identifier, not a distribution
        yield Request(
            request_id=f"r{start + i}",
            tenant="t",
            service="iris",
            sent_at=1_800_000_000.0 + start + i,
            deadline_ms=500,
            config_revision=1,
            inputs=inputs,
            external_state={"country": str(rng.choice(["fr", "de", "it"], p=[0.6, 0.3, 0.1]))},
        )


def windows(size: int = 300, **overrides) -> ServiceWindows:
    return ServiceWindows("t", "iris", WindowSettings(window_size=size, **overrides), pool="p", runner="r1")


def feed(monitor: ServiceWindows, requests, now: float = 0.0):
    return [report for request in requests if (report := monitor.add(request, now)) is not None]


def test_reference_then_a_report_per_full_window_quiet_on_unshifted_traffic():
    rng = np.random.default_rng(1)
    monitor = windows()
    assert feed(monitor, iris_requests(rng, 300)) == []
    assert monitor.has_reference
    reports = feed(monitor, iris_requests(rng, 900, start=300))
    assert [r.window_index for r in reports] == [0, 1, 2]
    for report in reports:
        assert report.flagged == [], [(f.feature, f.psi, f.ks_pvalue) for f in report.features]
        assert (report.window_count, report.reference_count) == (300, 300)
        assert report.reference_start == 1_800_000_000.0 and report.reference_end == 1_800_000_299.0
    first = reports[0]
    assert (first.window_start, first.window_end) == (1_800_000_300.0, 1_800_000_599.0)
    kinds = {f.feature: f.kind for f in first.features}
    # Numeric inputs and a categorical external-state field; the identifier is not monitored.
    assert kinds == {**dict.fromkeys(IRIS_FEATURES, "numeric"), "country": "categorical"}
    country = next(f for f in first.features if f.feature == "country")
    assert country.ks is None and country.psi is not None and country.psi < 0.2


def test_a_shift_in_one_feature_flags_that_feature_only():
    rng = np.random.default_rng(2)
    monitor = windows()
    feed(monitor, iris_requests(rng, 300))
    [report] = feed(monitor, iris_requests(rng, 300, shift={"petal_length": 1.5}, start=300))
    assert report.flagged == ["petal_length"]
    petal = next(f for f in report.features if f.feature == "petal_length")
    assert petal.psi is not None and petal.psi > petal.threshold and petal.ks is not None and petal.ks > 0.2


def test_a_changed_category_mix_is_flagged():
    rng = np.random.default_rng(3)
    monitor = windows()
    feed(monitor, iris_requests(rng, 300))
    shifted = list(iris_requests(rng, 300, start=300))
    for request in shifted[:200]:
        request.external_state = {"country": "us"}
    [report] = feed(monitor, shifted)
    assert report.flagged == ["country"]


def test_a_window_closes_on_time_once_it_holds_enough_requests():
    rng = np.random.default_rng(4)
    monitor = windows(window_seconds=60, min_window=150)
    feed(monitor, iris_requests(rng, 300), now=0.0)
    feed(monitor, iris_requests(rng, 100, start=300), now=10.0)
    assert monitor.tick(now=100.0) is None  # only 100 requests: stays open
    feed(monitor, iris_requests(rng, 60, start=400), now=100.0)
    assert monitor.tick(now=50.0) is None  # opened at 10 s: not 60 s yet
    report = monitor.tick(now=71.0)
    assert report is not None and report.window_count == 160 and report.window_index == 0
    assert report.flagged == []
    assert monitor.tick(now=500.0) is None  # nothing open


def test_a_feature_missing_from_the_window_is_flagged_with_no_psi():
    rng = np.random.default_rng(5)
    monitor = windows()
    feed(monitor, iris_requests(rng, 300))
    later = list(iris_requests(rng, 300, start=300))
    for request in later:
        del request.inputs["sepal_width"]
    [report] = feed(monitor, later)
    gone = next(f for f in report.features if f.feature == "sepal_width")
    assert gone.flagged and gone.psi is None and (gone.window_count, gone.missing) == (0, 300)
    assert report.flagged == ["sepal_width"]


def test_settings_refuse_nonsense():
    with pytest.raises(ValueError, match="min_window"):
        WindowSettings(window_size=100, min_window=200)
    with pytest.raises(ValueError, match="window_seconds"):
        WindowSettings(window_seconds=0)
