"""The drift maths on distributions whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from model_runner.drift import (
    DriftThresholds,
    bin_counts,
    categorical_psi,
    is_flagged,
    ks_statistic,
    numeric_psi,
    psi_from_counts,
    quantile_edges,
)

THRESHOLDS = DriftThresholds()


def test_psi_matches_the_textbook_value_and_is_zero_for_equal_histograms():
    # Without smoothing: 0.4 ln(0.9/0.5) + 0.4 ln(0.5/0.1) = 0.8789; large counts make smoothing negligible.
    textbook = 0.4 * math.log(1.8) + 0.4 * math.log(5)
    assert psi_from_counts([5000, 5000], [9000, 1000]) == pytest.approx(textbook, rel=1e-3)
    assert psi_from_counts([30, 50, 20], [300, 500, 200]) == pytest.approx(0.0, abs=1e-3)
    # An empty bin is a large but finite term, not infinity.
    assert 1.0 < psi_from_counts([50, 50], [100, 0]) < 10.0
    with pytest.raises(ValueError, match="same"):
        psi_from_counts([1, 2], [1, 2, 3])


def test_quantile_edges_merge_ties_and_bins_cover_the_whole_line():
    edges = quantile_edges([1.0] * 90 + [2.0] * 10, bins=10)
    assert list(edges) == [1.0]
    assert list(bin_counts([0.5, 1.0, 1.5, 2.0, 9.0], edges)) == [2, 3]
    deciles = quantile_edges(np.arange(1000, dtype=float), bins=10)
    assert len(deciles) == 9 and all(99 <= n <= 101 for n in bin_counts(np.arange(1000.0), deciles))
    with pytest.raises(ValueError, match="no values"):
        quantile_edges([])


def test_ks_statistic_of_known_samples():
    statistic, pvalue = ks_statistic([1, 2, 3, 4], [3, 4, 5, 6])
    assert statistic == pytest.approx(0.5)
    assert 0 < pvalue <= 1
    assert ks_statistic([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])[0] == 0.0


def test_unshifted_windows_stay_quiet_in_two_hundred_comparisons():
    """Each comparison draws its own reference: the false-alarm rate per window, not one unlucky reference."""
    rng = np.random.default_rng(7)
    flagged = 0
    worst_psi = 0.0
    for _ in range(200):
        reference, window = rng.normal(0, 1, 500), rng.normal(0, 1, 500)
        psi = numeric_psi(reference, window)
        ks, pvalue = ks_statistic(reference, window)
        worst_psi = max(worst_psi, psi)
        flagged += is_flagged(psi, ks, pvalue, THRESHOLDS)
    # At alpha = 0.001 two hundred comparisons expect 0.2 false alarms.
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
    reference = rng.normal(0, 1, 500)
    window = make_window(rng)
    psi = numeric_psi(reference, window)
    ks, pvalue = ks_statistic(reference, window)
    assert is_flagged(psi, ks, pvalue, THRESHOLDS), (label, psi, ks, pvalue)


def test_a_tiny_shift_in_a_huge_window_is_not_flagged_by_ks_alone():
    """KS rejects anything with enough data; the minimum statistic keeps a 0.05 sd shift quiet."""
    rng = np.random.default_rng(3)
    reference, window = rng.normal(0, 1, 50_000), rng.normal(0.05, 1, 50_000)
    ks, pvalue = ks_statistic(reference, window)
    assert pvalue < THRESHOLDS.ks_alpha
    assert not is_flagged(numeric_psi(reference, window), ks, pvalue, THRESHOLDS)


def test_categorical_psi_flags_a_changed_mix_and_a_new_category():
    reference = ["fr"] * 300 + ["de"] * 150 + ["it"] * 50
    assert categorical_psi(reference, ["fr"] * 290 + ["de"] * 160 + ["it"] * 50) < 0.05
    assert categorical_psi(reference, ["fr"] * 100 + ["de"] * 100 + ["it"] * 300) > THRESHOLDS.psi
    assert categorical_psi(reference, ["fr"] * 250 + ["de"] * 100 + ["us"] * 150) > THRESHOLDS.psi


def test_flag_rule_uses_psi_for_every_feature_and_ks_only_when_given():
    assert is_flagged(0.25, None, None, THRESHOLDS)
    assert not is_flagged(0.15, None, None, THRESHOLDS)
    assert is_flagged(0.05, 0.3, 1e-9, THRESHOLDS)
    assert not is_flagged(0.05, 0.3, 0.01, THRESHOLDS)
