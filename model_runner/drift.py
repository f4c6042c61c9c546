"""Drift maths: how far one window of a feature's values moved from a reference window.

Plain functions over plain data (no Kafka, no state) so the thresholds can be checked on known
distributions. The choices, and why:

- **PSI** (population stability index) ``sum((a - e) * ln(a / e))`` over bins, for every feature.
  Numeric features are cut at the reference window's deciles (ties merge bins, so a feature with few
  distinct values gets fewer, fuller bins); categorical ones use their categories. Proportions are
  smoothed with half a count per bin (Jeffreys) so an empty bin gives a large but finite term instead of
  infinity. The usual reading: < 0.1 stable, 0.1-0.2 moderate, > 0.2 a shift worth acting on; 0.2 is
  the default threshold. With 10 bins and 500 values per window, identical distributions give about
  0.02 (the sampling noise is roughly ``(bins - 1) * (1/n + 1/m) / 2``).
- **KS** (two-sample Kolmogorov-Smirnov) for numeric features: the largest gap between the two
  empirical CDFs, with scipy's p-value. A large window makes the test reject shifts too small to
  matter, so it flags only when the p-value is below ``ks_alpha`` (0.001: four features checked every
  window would otherwise raise false alarms) AND the statistic is at least ``ks_min_statistic`` (0.1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import ks_2samp

DEFAULT_BINS = 10
PSI_THRESHOLD = 0.2
KS_ALPHA = 0.001
KS_MIN_STATISTIC = 0.1
# Half a count per bin keeps empty bins finite without swamping small windows.
PSEUDO_COUNT = 0.5


@dataclass(frozen=True, slots=True)
class DriftThresholds:
    psi: float = PSI_THRESHOLD
    ks_alpha: float = KS_ALPHA
    ks_min_statistic: float = KS_MIN_STATISTIC


def psi_from_counts(expected: Sequence[float], actual: Sequence[float]) -> float:
    """PSI between two histograms over the same bins (counts, not proportions)."""
    e = np.asarray(expected, dtype=float) + PSEUDO_COUNT
    a = np.asarray(actual, dtype=float) + PSEUDO_COUNT
    if e.shape != a.shape or e.size == 0:
        raise ValueError(f"histograms must have the same, non-zero number of bins: {e.shape} vs {a.shape}")
    e /= e.sum()
    a /= a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def quantile_edges(reference: Sequence[float] | np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Interior bin edges at the reference's quantiles; repeated edges (ties) are merged.

    Edges are observed values (inverted CDF, no interpolation), so a feature with few distinct values
    is split between them rather than at made-up points next to them."""
    values = np.asarray(reference, dtype=float)
    if values.size == 0:
        raise ValueError("the reference window holds no values")
    if bins < 2:
        raise ValueError(f"need at least 2 bins, not {bins}")
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1], method="inverted_cdf"))


def bin_counts(values: Sequence[float] | np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin ``(-inf, e0], (e0, e1], ..., (ek, inf)``: one more bin than edges."""
    index = np.searchsorted(edges, np.asarray(values, dtype=float), side="left")
    return np.bincount(index, minlength=edges.size + 1)


def numeric_psi(
    reference: Sequence[float] | np.ndarray, window: Sequence[float] | np.ndarray, bins: int = DEFAULT_BINS
) -> float:
    edges = quantile_edges(reference, bins)
    return psi_from_counts(bin_counts(reference, edges), bin_counts(window, edges))


def categorical_psi(reference: Iterable[Hashable], window: Iterable[Hashable]) -> float:
    """PSI over the union of categories: one never seen in the reference counts as drift."""
    ref_counts, win_counts = Counter(reference), Counter(window)
    categories = sorted(ref_counts.keys() | win_counts.keys(), key=repr)
    if not categories:
        raise ValueError("no values in either window")
    return psi_from_counts([ref_counts[c] for c in categories], [win_counts[c] for c in categories])


def ks_statistic(
    reference: Sequence[float] | np.ndarray, window: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample KS test."""
    if len(reference) == 0 or len(window) == 0:
        raise ValueError("both windows need values for a KS test")
    result = ks_2samp(np.asarray(reference, dtype=float), np.asarray(window, dtype=float))
    return float(result.statistic), float(result.pvalue)


def is_flagged(psi: float, ks: float | None, ks_pvalue: float | None, thresholds: DriftThresholds) -> bool:
    if psi > thresholds.psi:
        return True
    if ks is None or ks_pvalue is None:
        return False
    return ks_pvalue < thresholds.ks_alpha and ks >= thresholds.ks_min_statistic
