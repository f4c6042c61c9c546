"""A mergeable latency sketch (DDSketch's logarithmic buckets): quantiles within a relative error, any merge order.

A value ``x > 0`` goes to bucket ``i = ceil(log(x) / log(gamma))`` with ``gamma = (1 + a) / (1 - a)``, so
every value of bucket ``i`` lies in ``(gamma**(i-1), gamma**i]``, and the bucket's representative value
``2 * gamma**i / (gamma + 1)`` is within ``a`` (``RELATIVE_ACCURACY``, 1 %) of each of them, relatively. A
quantile is the representative of the bucket holding the element of rank ``floor(q * (n - 1))`` of the
sorted values, so it is within 1 % of that element. Merging adds bucket counts: a minute's sketch merged
into an hour's gives exactly the sketch of the hour's values, whatever the order, which is what makes the
roll-ups exact under replay and hour roll-ups. Values at or below ``MIN_VALUE`` (0 included) count in a
zero bucket whose representative is 0. Latencies of 1 µs to 10 min fit in about 1,400 buckets; a
minute of one deployment usually fills a few dozen.

Serialised form (``to_bytes``): ``<B version><Q zero count><I n>`` then ``n`` little-endian int32 bucket
indices and ``n`` uint64 counts, so many stored sketches merge in one numpy pass (``merge_serialised``).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping

import numpy as np

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
# Below this (ms), a value counts as zero: no latency is measured that finely.
MIN_VALUE = 1e-6
_FORMAT_VERSION = 1
_HEADER = struct.Struct("<BQI")


class SketchFormatError(ValueError):
    """Bytes that are not a serialised sketch of this format."""


def bucket_of(value: float) -> int:
    return math.ceil(math.log(value) / _LOG_GAMMA)


def bucket_value(index: int) -> float:
    return 2.0 * GAMMA**index / (GAMMA + 1.0)


class LatencySketch:
    """Counts per logarithmic bucket; ``add`` one value, ``merge`` another sketch, ``quantile``."""

    __slots__ = ("buckets", "zero_count")

    def __init__(self, buckets: Mapping[int, int] | None = None, zero_count: int = 0) -> None:
        self.buckets: dict[int, int] = dict(buckets or {})
        self.zero_count = zero_count

    @property
    def count(self) -> int:
        return self.zero_count + sum(self.buckets.values())

    def add(self, value: float) -> None:
        if value <= MIN_VALUE or math.isnan(value):
            self.zero_count += 1
            return
        index = math.ceil(math.log(value) / _LOG_GAMMA)
        buckets = self.buckets
        buckets[index] = buckets.get(index, 0) + 1

    def merge(self, other: LatencySketch) -> None:
        self.zero_count += other.zero_count
        buckets = self.buckets
        for index, count in other.buckets.items():
            buckets[index] = buckets.get(index, 0) + count

    def quantile(self, fraction: float) -> float | None:
        """The value at rank ``floor(fraction * (count - 1))``, within the relative accuracy; None when empty."""
        total = self.count
        if total == 0:
            return None
        rank = math.floor(fraction * (total - 1))
        if rank < self.zero_count:
            return 0.0
        seen = self.zero_count
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen > rank:
                return bucket_value(index)
        raise AssertionError("unreachable: the rank is below the count")

    def to_bytes(self) -> bytes:
        indices = np.fromiter(self.buckets.keys(), dtype="<i4", count=len(self.buckets))
        counts = np.fromiter(self.buckets.values(), dtype="<u8", count=len(self.buckets))
        return _HEADER.pack(_FORMAT_VERSION, self.zero_count, len(indices)) + indices.tobytes() + counts.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> LatencySketch:
        zero_count, indices, counts = _unpack(data)
        return cls(dict(zip(indices.tolist(), counts.tolist(), strict=True)), zero_count)

    def to_json(self) -> dict[str, object]:
        """JSON-friendly form (for humans and other tools): ``{relative_accuracy, zero_count, buckets}``."""
        return {
            "relative_accuracy": RELATIVE_ACCURACY,
            "zero_count": self.zero_count,
            "buckets": {str(index): count for index, count in sorted(self.buckets.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> LatencySketch:
        if data.get("relative_accuracy") != RELATIVE_ACCURACY:
            raise SketchFormatError(f"relative accuracy {data.get('relative_accuracy')!r} != {RELATIVE_ACCURACY}")
        buckets = data.get("buckets") or {}
        if not isinstance(buckets, Mapping):
            raise SketchFormatError("buckets must be an object")
        return cls({int(k): int(v) for k, v in buckets.items()}, int(data.get("zero_count") or 0))  # type: ignore[call-overload]


def _unpack(data: bytes) -> tuple[int, np.ndarray, np.ndarray]:
    if len(data) < _HEADER.size:
        raise SketchFormatError("too short for a sketch header")
    version, zero_count, size = _HEADER.unpack_from(data)
    if version != _FORMAT_VERSION or len(data) != _HEADER.size + 12 * size:
        raise SketchFormatError(f"not a version-{_FORMAT_VERSION} sketch of {size} buckets")
    indices = np.frombuffer(data, dtype="<i4", count=size, offset=_HEADER.size)
    counts = np.frombuffer(data, dtype="<u8", count=size, offset=_HEADER.size + 4 * size)
    return zero_count, indices, counts


def merge_serialised(blobs: Iterable[bytes]) -> LatencySketch:
    """Many stored sketches merged in one numpy pass (the metrics endpoint merges thousands)."""
    zero_total = 0
    all_indices: list[np.ndarray] = []
    all_counts: list[np.ndarray] = []
    for blob in blobs:
        zero_count, indices, counts = _unpack(bytes(blob))
        zero_total += zero_count
        all_indices.append(indices)
        all_counts.append(counts)
    if not all_indices or not sum(len(i) for i in all_indices):
        return LatencySketch(zero_count=zero_total)
    indices = np.concatenate(all_indices).astype(np.int64)
    counts = np.concatenate(all_counts)
    low = int(indices.min())
    summed = np.bincount(indices - low, weights=counts.astype(np.float64))
    present = np.nonzero(summed)[0]
    # Float weights are exact below 2**53 counts: far beyond any window's requests.
    return LatencySketch(
        dict(zip((present + low).tolist(), summed[present].astype(np.int64).tolist(), strict=True)), zero_total
    )
