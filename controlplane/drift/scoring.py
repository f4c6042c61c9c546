"""Drift maths over merged histograms: how far one bucket of a feature moved from the reference.

Plain functions over plain data (no Django, no Kafka) so the thresholds can be checked on known
distributions. The runners' reports are counts over a fixed grid (``contracts.drift``); the sums of
every runner's counts are scored here. The choices, and why:

- **PSI** (population stability index) ``sum((a - e) * ln(a / e))`` over bins, for every feature.
  Numeric features are cut at the reference's deciles (taken on the grid: edges are grid bins, so a
  decile moves by at most the grid's 2 %; ties merge bins, so a feature with few distinct values gets
  fewer, fuller bins); categorical ones use their categories. Proportions are smoothed with half a
  count per bin (Jeffreys) so an empty bin gives a large but finite term instead of infinity. The
  usual reading: < 0.1 stable, 0.1-0.2 moderate, > 0.2 a shift worth acting on; 0.2 is the default
  threshold. Two samples of one distribution give about ``(bins - 1) * (1/n + 1/m) / 2``.
- **KS** (two-sample Kolmogorov-Smirnov) for numeric features: the largest gap between the two
  empirical CDFs, measured at the grid's bin boundaries (exact up to the mass of one grid bin), with
  the asymptotic p-value scipy's ``ks_2samp`` uses for large samples. A large window makes the test
  reject shifts too small to matter, so it flags only when the p-value is below ``ks_alpha`` (0.001)
  AND the statistic is at least ``ks_min_statistic`` (0.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.stats import kstwo

from contracts.messages import FeatureHistogram

DEFAULT_BINS = 10
PSI_THRESHOLD = 0.2
KS_ALPHA = 0.001
KS_MIN_STATISTIC = 0.1
# Half a count per bin keeps empty bins finite without swamping small windows.
PSEUDO_COUNT = 0.5
# A categorical feature with more distinct reference values than this (or than half its values) is an
# identifier, not a distribution: every bucket would hold "new categories" and drift forever, so it is
# not monitored.
MAX_CATEGORIES = 100

FeatureKind = Literal["numeric", "categorical"]


@dataclass(frozen=True, slots=True)
class DriftThresholds:
    psi: float = PSI_THRESHOLD
    ks_alpha: float = KS_ALPHA
    ks_min_statistic: float = KS_MIN_STATISTIC


@dataclass(slots=True)
class Histogram:
    """One feature's counts, summed over any number of report parts."""

    numeric: dict[int, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    missing: int = 0

    def add(self, part: FeatureHistogram | Histogram) -> None:
        for index, count in part.numeric.items():
            self.numeric[index] = self.numeric.get(index, 0) + count
        for category, count in part.categories.items():
            self.categories[category] = self.categories.get(category, 0) + count
        self.missing += part.missing

    def to_json(self) -> dict[str, object]:
        return {"numeric": {str(k): v for k, v in sorted(self.numeric.items())}, "categories": self.categories,
                "missing": self.missing}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Histogram:
        numeric = data.get("numeric") or {}
        categories = data.get("categories") or {}
        assert isinstance(numeric, dict) and isinstance(categories, dict)
        return cls({int(k): int(v) for k, v in numeric.items()}, {str(k): int(v) for k, v in categories.items()},
                   int(data.get("missing") or 0))  # type: ignore[arg-type]


def merge_parts(parts: Iterable[Iterable[FeatureHistogram | tuple[str, Histogram]]]) -> dict[str, Histogram]:
    """Feature -> the sum of its histograms over every part (a part: a report's features)."""
    merged: dict[str, Histogram] = {}
    for features in parts:
        for item in features:
            name, histogram = (item.feature, item) if isinstance(item, FeatureHistogram) else item
            merged.setdefault(name, Histogram()).add(histogram)
    return merged


def psi_from_counts(expected: Sequence[float], actual: Sequence[float]) -> float:
    """PSI between two histograms over the same bins (counts, not proportions)."""
    e = np.asarray(expected, dtype=float) + PSEUDO_COUNT
    a = np.asarray(actual, dtype=float) + PSEUDO_COUNT
    if e.shape != a.shape or e.size == 0:
        raise ValueError(f"histograms must have the same, non-zero number of bins: {e.shape} vs {a.shape}")
    e /= e.sum()
    a /= a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def quantile_edges(counts: Mapping[int, int], bins: int = DEFAULT_BINS) -> np.ndarray:
    """Interior bin edges (grid bins) at the quantiles of a histogram; repeated edges (ties) are merged.

    Inverted CDF: each edge is the first grid bin whose cumulative count reaches the quantile, so a
    feature with few distinct values is split between them rather than at made-up points."""
    if bins < 2:
        raise ValueError(f"need at least 2 bins, not {bins}")
    index = np.asarray(sorted(counts), dtype=np.int64)
    weights = np.asarray([counts[i] for i in index], dtype=float)
    total = weights.sum()
    if total <= 0:
        raise ValueError("the reference holds no values")
    cumulative = np.cumsum(weights)
    targets = np.linspace(0, 1, bins + 1)[1:-1] * total
    return np.unique(index[np.minimum(np.searchsorted(cumulative, targets, side="left"), index.size - 1)])


def binned(counts: Mapping[int, int], edges: np.ndarray) -> np.ndarray:
    """Counts per bin ``(-inf, e0], (e0, e1], ..., (ek, inf)`` of grid bins: one more bin than edges."""
    result = np.zeros(edges.size + 1)
    if counts:
        index = np.asarray(list(counts), dtype=np.int64)
        np.add.at(result, np.searchsorted(edges, index, side="left"), np.asarray(list(counts.values()), dtype=float))
    return result


def numeric_psi(reference: Mapping[int, int], window: Mapping[int, int], bins: int = DEFAULT_BINS) -> float:
    edges = quantile_edges(reference, bins)
    return psi_from_counts(binned(reference, edges), binned(window, edges))


def categorical_psi(reference: Mapping[str, int], window: Mapping[str, int]) -> float:
    """PSI over the union of categories: one never seen in the reference counts as drift."""
    categories = sorted(reference.keys() | window.keys())
    if not categories:
        raise ValueError("no values in either histogram")
    return psi_from_counts([reference.get(c, 0) for c in categories], [window.get(c, 0) for c in categories])


def ks_statistic(reference: Mapping[int, int], window: Mapping[int, int]) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample KS test between two grid histograms."""
    n, m = sum(reference.values()), sum(window.values())
    if n == 0 or m == 0:
        raise ValueError("both histograms need values for a KS test")
    index = sorted(reference.keys() | window.keys())
    cdf_reference = np.cumsum([reference.get(i, 0) for i in index]) / n
    cdf_window = np.cumsum([window.get(i, 0) for i in index]) / m
    statistic = float(np.max(np.abs(cdf_reference - cdf_window)))
    effective = max(1, round(n * m / (n + m)))
    return statistic, float(np.clip(kstwo.sf(statistic, effective), 0.0, 1.0))


def is_flagged(psi: float, ks: float | None, ks_pvalue: float | None, thresholds: DriftThresholds) -> bool:
    if psi > thresholds.psi:
        return True
    if ks is None or ks_pvalue is None:
        return False
    return ks_pvalue < thresholds.ks_alpha and ks >= thresholds.ks_min_statistic


@dataclass(frozen=True, slots=True)
class ReferenceFeature:
    feature: str
    kind: FeatureKind
    histogram: Histogram

    @property
    def count(self) -> int:
        return sum(self.histogram.numeric.values()) if self.kind == "numeric" else sum(
            self.histogram.categories.values())


def reference_features(merged: Mapping[str, Histogram]) -> dict[str, ReferenceFeature]:
    """The features a reference can be compared on: numeric when most of its values are numbers,
    categorical otherwise unless it looks like an identifier (too many distinct values)."""
    features: dict[str, ReferenceFeature] = {}
    for name, histogram in sorted(merged.items()):
        numbers, others = sum(histogram.numeric.values()), sum(histogram.categories.values())
        if numbers and numbers >= others:
            features[name] = ReferenceFeature(name, "numeric", histogram)
            continue
        distinct = len(histogram.categories)
        if others and distinct <= MAX_CATEGORIES and distinct <= others / 2:
            features[name] = ReferenceFeature(name, "categorical", histogram)
    return features


@dataclass(frozen=True, slots=True)
class FeatureScore:
    feature: str
    kind: FeatureKind
    # None when the bucket held no value of the feature (flagged when the bucket is large enough to judge).
    psi: float | None
    ks: float | None
    ks_pvalue: float | None
    flagged: bool
    # Values of the feature's kind in the bucket, and requests without one.
    count: int
    missing: int


def feature_score(
    reference: ReferenceFeature,
    window: Histogram | None,
    *,
    requests: int,
    thresholds: DriftThresholds,
    bins: int = DEFAULT_BINS,
    min_count: int = 1,
) -> FeatureScore:
    """One feature of one bucket (``requests`` in it) against the reference. A bucket with fewer than
    ``min_count`` requests is scored but never flagged: its PSI is mostly sampling noise."""
    window = window or Histogram()
    ks = ks_pvalue = psi = None
    if reference.kind == "numeric":
        present = sum(window.numeric.values())
        if present:
            psi = numeric_psi(reference.histogram.numeric, window.numeric, bins)
            ks, ks_pvalue = ks_statistic(reference.histogram.numeric, window.numeric)
    else:
        present = sum(window.categories.values())
        if present:
            psi = categorical_psi(reference.histogram.categories, window.categories)
    judged = requests >= min_count
    # A feature that vanished from the traffic is the largest drift there is.
    flagged = judged and (psi is None or is_flagged(psi, ks, ks_pvalue, thresholds))
    return FeatureScore(reference.feature, reference.kind, psi, ks, ks_pvalue, flagged, present,
                        max(0, requests - present))
