"""The latency sketch: quantiles within 1 % of the exact ones, merges in any order, bytes round-trip."""

from __future__ import annotations

import math
import random

import pytest

from controlplane.monitoring.sketch import (
    RELATIVE_ACCURACY,
    LatencySketch,
    SketchFormatError,
    merge_serialised,
)
from tests.controlplane.monitoring.builders import exact_quantile


def _sketch(values: list[float]) -> LatencySketch:
    sketch = LatencySketch()
    for value in values:
        sketch.add(value)
    return sketch


@pytest.mark.parametrize("seed", range(5))
def test_quantiles_stay_within_the_relative_accuracy(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(math.log(5.0), 1.5) for _ in range(rng.randint(1, 3000))]
    sketch = _sketch(values)
    for fraction in (0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0):
        exact = exact_quantile(values, fraction)
        assert exact is not None
        assert abs(sketch.quantile(fraction) - exact) <= RELATIVE_ACCURACY * exact * (1 + 1e-9)


def test_merging_in_any_order_is_the_sketch_of_all_the_values() -> None:
    rng = random.Random(7)
    parts = [[rng.expovariate(0.1) for _ in range(rng.randint(0, 200))] for _ in range(12)]
    whole = _sketch([v for part in parts for v in part])
    forward, backward = LatencySketch(), LatencySketch()
    for part in parts:
        forward.merge(_sketch(part))
    for part in reversed(parts):
        backward.merge(_sketch(part))
    assert forward.buckets == backward.buckets == whole.buckets
    merged = merge_serialised(_sketch(part).to_bytes() for part in parts)
    assert merged.buckets == whole.buckets and merged.count == whole.count


def test_zero_and_tiny_values_count_as_zero() -> None:
    sketch = _sketch([0.0, 0.0, 0.0, 5.0])
    assert sketch.count == 4
    assert sketch.quantile(0.5) == 0.0
    assert sketch.quantile(1.0) == pytest.approx(5.0, rel=RELATIVE_ACCURACY)


def test_empty_sketch_has_no_quantile_and_round_trips() -> None:
    assert LatencySketch().quantile(0.5) is None
    assert merge_serialised([]).count == 0
    assert LatencySketch.from_bytes(LatencySketch().to_bytes()).count == 0


def test_bytes_and_json_round_trip() -> None:
    sketch = _sketch([0.0, 0.3, 1.0, 1.0, 250.0, 60_000.0])
    again = LatencySketch.from_bytes(sketch.to_bytes())
    assert (again.buckets, again.zero_count) == (sketch.buckets, sketch.zero_count)
    again = LatencySketch.from_json(sketch.to_json())
    assert (again.buckets, again.zero_count) == (sketch.buckets, sketch.zero_count)


def test_garbage_bytes_are_refused() -> None:
    with pytest.raises(SketchFormatError):
        LatencySketch.from_bytes(b"\x02" + b"\x00" * 20)
    with pytest.raises(SketchFormatError):
        LatencySketch.from_bytes(_sketch([1.0]).to_bytes()[:-1])


def test_absurd_latencies_land_in_the_last_bucket_and_the_format_stays_bounded() -> None:
    sketch = _sketch([5.0, 1e12, float("inf")])
    assert sketch.count == 3 and len(sketch.buckets) == 2
    again = merge_serialised([sketch.to_bytes(), sketch.to_bytes()])
    assert again.count == 6


def test_counts_past_32_bits_are_kept() -> None:
    sketch = LatencySketch({10: 2**40, 12: 1})
    assert LatencySketch.from_bytes(sketch.to_bytes()).buckets == {10: 2**40, 12: 1}
    assert merge_serialised([sketch.to_bytes(), LatencySketch({11: 3}).to_bytes()]).buckets == {
        10: 2**40, 11: 3, 12: 1}
