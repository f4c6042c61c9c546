"""One service's input windows: a reference window, then tumbling windows compared against it.

No Kafka here: the canary monitor loop feeds requests in and publishes the reports that come out.
The reference is the first ``window_size`` requests the monitor sees for the service; after it, a
window closes when it holds ``window_size`` requests, or when ``window_seconds`` have passed since it
opened and it holds at least ``min_window``. Small windows make PSI noisy: with 10 bins two samples of
one distribution give about ``9 * (1/n_reference + 1/n_window)`` (0.036 for 500 and 500, 0.063 for 500
and 200, but 0.2 - the threshold - for 500 and 50), hence the defaults of 500 and 200.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
import numpy as np

from contracts.messages import DriftReport, FeatureDrift, Request
from model_runner.drift import (
    DEFAULT_BINS,
    DriftThresholds,
    bin_counts,
    categorical_psi,
    is_flagged,
    ks_statistic,
    psi_from_counts,
    quantile_edges,
)
from model_runner.scoring import request_row

FeatureKind = Literal["numeric", "categorical"]
# A categorical feature with more distinct reference values than this (or than half its values) is an
# identifier, not a distribution: every window would hold "new categories" and drift forever, so it is
# not monitored.
MAX_CATEGORIES = 100
MAX_FEATURES = 200


@dataclass(frozen=True, slots=True)
class WindowSettings:
    window_size: int = 500
    window_seconds: float = 300.0
    min_window: int = 200
    bins: int = DEFAULT_BINS
    thresholds: DriftThresholds = DriftThresholds()

    def __post_init__(self) -> None:
        if self.window_size < 2 or not 1 <= self.min_window <= self.window_size:
            raise ValueError(
                f"window_size must be at least 2 and min_window between 1 and it "
                f"(got {self.window_size}, {self.min_window})"
            )
        if self.window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive, not {self.window_seconds}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _category(value: Any) -> str:
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


@dataclass(slots=True)
class _Window:
    opened_at: float
    count: int = 0
    first_sent_at: float = math.inf
    last_sent_at: float = -math.inf
    values: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, row: Mapping[str, Any], sent_at: float) -> None:
        self.count += 1
        self.first_sent_at = min(self.first_sent_at, sent_at)
        self.last_sent_at = max(self.last_sent_at, sent_at)
        for name, value in row.items():
            if value is None or isinstance(value, dict | list):
                continue
            values = self.values.get(name)
            if values is None:
                if len(self.values) >= MAX_FEATURES:
                    continue
                values = self.values[name] = []
            values.append(value)


@dataclass(frozen=True, slots=True)
class _ReferenceFeature:
    name: str
    kind: FeatureKind
    count: int
    numbers: np.ndarray | None = None
    edges: np.ndarray | None = None
    counts: np.ndarray | None = None
    categories: tuple[str, ...] = ()


def _reference_feature(name: str, values: list[Any], settings: WindowSettings) -> _ReferenceFeature | None:
    if all(_is_number(v) for v in values):
        numbers = np.asarray(values, dtype=float)
        edges = quantile_edges(numbers, settings.bins)
        return _ReferenceFeature(name, "numeric", len(values), numbers, edges, bin_counts(numbers, edges))
    categories = [_category(v) for v in values]
    distinct = len(set(categories))
    if distinct > MAX_CATEGORIES or distinct > len(categories) / 2:
        return None
    return _ReferenceFeature(name, "categorical", len(values), categories=tuple(categories))


class ServiceWindows:
    """Windows of one service. ``add`` and ``tick`` answer a report when they close a window."""

    def __init__(
        self, tenant: str, service: str, settings: WindowSettings, *, pool: str, runner: str
    ) -> None:
        self.tenant, self.service = tenant, service
        self._settings = settings
        self._pool, self._runner = pool, runner
        self._reference_window: _Window | None = None
        self._reference: dict[str, _ReferenceFeature] | None = None
        self._window: _Window | None = None
        self._index = 0

    @property
    def has_reference(self) -> bool:
        return self._reference is not None

    def add(self, request: Request, now: float) -> DriftReport | None:
        row = request_row(request)
        if self._reference is None:
            if self._reference_window is None:
                self._reference_window = _Window(opened_at=now)
            self._reference_window.add(row, request.sent_at)
            if self._reference_window.count >= self._settings.window_size:
                self._reference = {
                    name: feature
                    for name, values in sorted(self._reference_window.values.items())
                    if (feature := _reference_feature(name, values, self._settings)) is not None
                }
                self._reference_window.values = {}  # kept in the reference features from here on
            return None
        if self._window is None:
            self._window = _Window(opened_at=now)
        self._window.add(row, request.sent_at)
        if self._window.count >= self._settings.window_size:
            return self._close()
        return None

    def tick(self, now: float) -> DriftReport | None:
        """Close a window that has been open for ``window_seconds`` and holds enough requests."""
        window = self._window
        if window is None or now - window.opened_at < self._settings.window_seconds:
            return None
        if window.count < self._settings.min_window:
            return None
        return self._close()

    def _close(self) -> DriftReport:
        assert self._window is not None and self._reference is not None and self._reference_window is not None
        window, self._window = self._window, None
        reference = self._reference_window
        features = [self._compare(feature, window) for feature in self._reference.values()]
        report = DriftReport(
            tenant=self.tenant,
            service=self.service,
            pool=self._pool,
            runner=self._runner,
            window_index=self._index,
            window_start=window.first_sent_at,
            window_end=window.last_sent_at,
            window_count=window.count,
            reference_start=reference.first_sent_at,
            reference_end=reference.last_sent_at,
            reference_count=reference.count,
            ks_alpha=self._settings.thresholds.ks_alpha,
            features=features,
            flagged=[f.feature for f in features if f.flagged],
            published_at=time.time(),
        )
        self._index += 1
        return report

    def _compare(self, feature: _ReferenceFeature, window: _Window) -> FeatureDrift:
        thresholds = self._settings.thresholds
        raw = window.values.get(feature.name, [])
        ks = ks_pvalue = psi = None
        if feature.kind == "numeric":
            assert feature.numbers is not None and feature.edges is not None and feature.counts is not None
            numbers = np.asarray([v for v in raw if _is_number(v)], dtype=float)
            present = int(numbers.size)
            if present:
                psi = psi_from_counts(feature.counts, bin_counts(numbers, feature.edges))
                ks, ks_pvalue = ks_statistic(feature.numbers, numbers)
        else:
            categories = [_category(v) for v in raw]
            present = len(categories)
            if present:
                psi = categorical_psi(feature.categories, categories)
        # A feature that vanished from the traffic is the largest drift there is.
        flagged = psi is None or is_flagged(psi, ks, ks_pvalue, thresholds)
        return FeatureDrift(
            feature=feature.name,
            kind=feature.kind,
            psi=psi,
            threshold=thresholds.psi,
            ks=ks,
            ks_pvalue=ks_pvalue,
            flagged=flagged,
            reference_count=feature.count,
            window_count=present,
            missing=window.count - present,
        )
