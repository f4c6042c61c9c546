"""The drift maths over grid histograms, on distributions whose answer is known."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from scipy.stats import ks_2samp

from contracts.drift import numeric_bin
from contracts.messages import FeatureHistogram
from controlplane.drift.scoring import (
    DriftThresholds,
    Histogram,
    binned,
    categorical_psi,
    feature_score,
    is_flagged,
    ks_statistic,
    merge_parts,
    numeric_psi,
    psi_from_counts,
    quantile_edges,
    reference_features,
)

THRESHOLDS = DriftThresholds()


def grid(values) -> dict[int, int]:
    return dict(Counter(numeric_bin(float(v)) for v in values))


def test_psi_matches_the_textbook_value_and_is_zero_for_equal_histograms():
    # Without smoothing: 0.4 ln(0.9/0.5) + 0.4 ln(0.5/0.1) = 0.8789; large counts make smoothing negligible.
    textbook = 0.4 * math.log(1.8) + 0.4 * math.log(5)
    assert psi_from_counts([5000, 5000], [9000, 1000]) == pytest.approx(textbook, rel=1e-3)
    assert psi_from_counts([30, 50, 20], [300, 500, 200]) == pytest.approx(0.0, abs=1e-3)
    assert 1.0 < psi_from_counts([50, 50], [100, 0]) < 10.0
    with pytest.raises(ValueError, match="same"):
        psi_from_counts([1, 2], [1, 2, 3])


def test_quantile_edges_merge_ties_and_bins_cover_the_whole_line():
    reference = grid([1.0] * 90 + [2.0] * 10)
    edges = quantile_edges(reference, bins=10)
    assert list(edges) == [numeric_bin(1.0)]
    assert list(binned(grid([0.5, 1.0, 1.5, 2.0, 9.0]), edges)) == [2, 3]
    deciles = quantile_edges(grid(np.arange(1, 1001)), bins=10)
    assert len(deciles) == 9
    # Deciles on a 2 % grid: up to one grid bin (20 values near 1000) off.
    assert all(80 <= n <= 120 for n in binned(grid(np.arange(1, 1001)), deciles))
    with pytest.raises(ValueError, match="no values"):
        quantile_edges({})


def test_ks_from_histograms_agrees_with_scipy_on_the_raw_values():
    rng = np.random.default_rng(4)
    reference, window = rng.normal(0, 1, 2000), rng.normal(0.3, 1, 1000)
    statistic, pvalue = ks_statistic(grid(reference), grid(window))
    exact = ks_2samp(reference, window)
    # The grid moves a CDF step by at most one bin's mass (2 % wide bins).
    assert statistic == pytest.approx(exact.statistic, abs=0.02)
    assert pvalue < 1e-6 and exact.pvalue < 1e-6
    assert ks_statistic(grid([1, 2, 3]), grid([1, 2, 3]))[0] == 0.0


def test_unshifted_windows_stay_quiet_in_two_hundred_comparisons():
    rng = np.random.default_rng(7)
    flagged, worst_psi = 0, 0.0
    for _ in range(200):
        reference, window = grid(rng.normal(0, 1, 500)), grid(rng.normal(0, 1, 500))
        psi = numeric_psi(reference, window)
        ks, pvalue = ks_statistic(reference, window)
        worst_psi = max(worst_psi, psi)
        flagged += is_flagged(psi, ks, pvalue, THRESHOLDS)
    assert flagged <= 1
    assert worst_psi < THRESHOLDS.psi


@pytest.mark.parametrize(
    ("label", "make_window"),
    [
        ("mean +0.5 sd", lambda rng: rng.normal(0.5, 1, 500)),
        ("mean -1 sd", lambda rng: rng.normal(-1, 1, 500)),
        ("spread x2", lambda rng: rng.normal(0, 2, 500)),
        ("uniform instead of normal", lambda rng: rng.uniform(-3, 3, 500)),
    ],
)
def test_shifted_numeric_windows_are_flagged(label, make_window):
    rng = np.random.default_rng(11)
    reference, window = grid(rng.normal(0, 1, 500)), grid(make_window(rng))
    psi = numeric_psi(reference, window)
    ks, pvalue = ks_statistic(reference, window)
    assert is_flagged(psi, ks, pvalue, THRESHOLDS), (label, psi, ks, pvalue)


def test_categorical_psi_flags_a_changed_mix_and_a_new_category():
    reference = {"fr": 300, "de": 150, "it": 50}
    assert categorical_psi(reference, {"fr": 290, "de": 160, "it": 50}) < 0.05
    assert categorical_psi(reference, {"fr": 100, "de": 100, "it": 300}) > THRESHOLDS.psi
    assert categorical_psi(reference, {"fr": 250, "de": 100, "us": 150}) > THRESHOLDS.psi


def test_flag_rule_uses_psi_for_every_feature_and_ks_only_when_given():
    assert is_flagged(0.25, None, None, THRESHOLDS)
    assert not is_flagged(0.15, None, None, THRESHOLDS)
    assert is_flagged(0.05, 0.3, 1e-9, THRESHOLDS)
    assert not is_flagged(0.05, 0.3, 0.01, THRESHOLDS)


def test_merged_parts_score_like_the_whole_and_identifiers_are_not_monitored():
    rng = np.random.default_rng(3)
    values = rng.normal(5, 1, 600)
    halves = [FeatureHistogram(feature="x", numeric=grid(values[:300])),
              FeatureHistogram(feature="x", numeric=grid(values[300:]), missing=2)]
    merged = merge_parts([[halves[0]], [halves[1]]])
    assert merged["x"].numeric == grid(values) and merged["x"].missing == 2
    ids = Histogram(categories={f"u{i}": 1 for i in range(300)})
    country = Histogram(categories={"fr": 200, "de": 100})
    features = reference_features({"x": merged["x"], "id": ids, "country": country})
    assert {name: f.kind for name, f in features.items()} == {"x": "numeric", "country": "categorical"}
    shifted = Histogram(numeric=grid(values + 1.5))
    score = feature_score(features["x"], shifted, requests=600, thresholds=THRESHOLDS, min_count=200)
    assert score.flagged and score.psi is not None and score.psi > THRESHOLDS.psi
    small = feature_score(features["x"], Histogram(numeric=grid(values[:50] + 1.5)), requests=50,
                          thresholds=THRESHOLDS, min_count=200)
    assert not small.flagged and small.psi is not None  # scored, but too few requests to judge
    vanished = feature_score(features["country"], None, requests=300, thresholds=THRESHOLDS, min_count=200)
    assert vanished.psi is None and vanished.flagged and vanished.missing == 300
    assert Histogram.from_json(merged["x"].to_json()) == merged["x"]
