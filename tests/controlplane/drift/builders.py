"""Drift reports as runners write them, from iris-like rows, for the control plane's tests."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from contracts.drift import DriftBuckets
from contracts.messages import DriftReport
from controlplane.routing.models import Service

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
BUCKET_S = 60.0
T0 = 1_800_000_000.0  # a bucket boundary (a multiple of 60)


def iris_rows(rng: np.random.Generator, n: int, shift: dict[str, float] | None = None) -> Iterator[dict[str, object]]:
    from sklearn.datasets import load_iris

    data = load_iris().data
    shift = shift or {}
    for _ in range(n):
        row = data[rng.integers(len(data))]
        values: dict[str, object] = {
            name: round(float(v) + shift.get(name, 0.0), 2) for name, v in zip(FEATURES, row, strict=True)
        }
        values["country"] = str(rng.choice(["fr", "de", "it"], p=[0.6, 0.3, 0.1]))
        yield values


def bucket_reports(
    tenant: str, service: str, bucket: int, rows: list[dict[str, object]], *, runners: int = 2, pool: str = "p",
) -> list[DriftReport]:
    """The reports of ``runners`` runners that shared bucket number ``bucket``'s requests between them."""
    parts = [DriftBuckets(tenant, service, bucket_s=BUCKET_S, pool=pool, runner=f"r{i}") for i in range(runners)]
    start = T0 + bucket * BUCKET_S
    for index, row in enumerate(rows):
        parts[index % runners].add(row, start + BUCKET_S * index / max(len(rows), 1), 0.0)
    return [report for part in parts for report in part.flush()]


def drift_store_recent(service: Service, shift: dict[str, float] | None = None) -> None:
    """A reference and two scored buckets of ``service`` in the last half hour (the second one shifted)."""
    from datetime import UTC, datetime, timedelta

    from contracts.drift import bucket_start_of
    from controlplane.drift.services import DriftSettings, drift_parts_store

    rng = np.random.default_rng(5)
    first = round((bucket_start_of(time.time() - 1800, BUCKET_S) - T0) / BUCKET_S)  # bucket numbers count from T0
    for offset, bucket_shift in [(0, None), (1, None), (2, shift or {"petal_length": 1.5})]:
        rows = list(iris_rows(rng, 600 if offset == 0 else 400, bucket_shift))
        reports = bucket_reports(service.tenant.slug, service.slug, first + offset, rows)
        drift_parts_store(reports=reports, config=DriftSettings(), now=datetime.now(tz=UTC) + timedelta(hours=1))
