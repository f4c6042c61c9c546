"""A mergeable latency sketch (DDSketch's logarithmic buckets): quantiles within a relative error, any merge order.

A value ``x > 0`` goes to bucket ``i = ceil(log(x) / log(gamma))`` with ``gamma = (1 + a) / (1 - a)``, so
every value of bucket ``i`` lies in ``(gamma**(i-1), gamma**i]``, and the bucket's representative value
``2 * gamma**i / (gamma + 1)`` is within ``a`` (``RELATIVE_ACCURACY``, 1 %) of each of them, relatively. A
quantile is the representative of the bucket holding the element of rank ``floor(q * (n - 1))`` of the
sorted values, so it is within 1 % of that element. Merging adds bucket counts: a minute's sketch merged
into an hour's gives exactly the sketch of the hour's values, whatever the order, which is what makes the
roll-ups exact under replay and hour roll-ups. Values at or below ``MIN_VALUE`` (1 ns, 0 included) count
in a zero bucket whose representative is 0; values above ``MAX_VALUE`` (about 3 hours) count in the last
bucket (no latency of the platform gets there: deadlines are at most a minute).

Serialised form (``to_bytes``), dense over the occupied buckets, under 1 KB for an hour of one
deployment: ``<B version><B count width, 2, 4 or 8><Q zero count><i first index><I n>`` then ``n``
little-endian counts (uint16, uint32 or uint64: the narrowest that holds the largest), so thousands of
stored sketches merge with one numpy slice addition each (``merge_serialised``).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping

import numpy as np

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
MIN_VALUE = 1e-6  # ms
MAX_VALUE = 1e7  # ms
_MIN_INDEX = math.ceil(math.log(MIN_VALUE) / _LOG_GAMMA)
_MAX_INDEX = math.ceil(math.log(MAX_VALUE) / _LOG_GAMMA)
_FORMAT_VERSION = 1
_HEADER = struct.Struct("<BBQiI")
_WIDTHS = {2: "<u2", 4: "<u4", 8: "<u8"}


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
        index = math.ceil(math.log(value) / _LOG_GAMMA) if value < MAX_VALUE else _MAX_INDEX
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
        if not self.buckets:
            return _HEADER.pack(_FORMAT_VERSION, 2, self.zero_count, 0, 0)
        first, last = min(self.buckets), max(self.buckets)
        dense = np.zeros(last - first + 1, dtype=np.uint64)
        dense[np.fromiter(self.buckets.keys(), dtype=np.int64, count=len(self.buckets)) - first] = np.fromiter(
            self.buckets.values(), dtype=np.uint64, count=len(self.buckets)
        )
        largest = int(dense.max())
        width = 2 if largest <= 0xFFFF else 4 if largest <= 0xFFFFFFFF else 8
        header = _HEADER.pack(_FORMAT_VERSION, width, self.zero_count, first, len(dense))
        return header + dense.astype(_WIDTHS[width]).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> LatencySketch:
        zero_count, first, counts = _unpack(data)
        present = np.nonzero(counts)[0]
        return cls(dict(zip((present + first).tolist(), counts[present].tolist(), strict=True)), zero_count)

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
        parsed = {int(k): int(v) for k, v in buckets.items()}
        if any(not _MIN_INDEX <= index <= _MAX_INDEX or count < 0 for index, count in parsed.items()):
            raise SketchFormatError(f"bucket indices must be in {_MIN_INDEX}..{_MAX_INDEX}, counts positive")
        return cls(parsed, int(data.get("zero_count") or 0))  # type: ignore[call-overload]


def _unpack(data: bytes) -> tuple[int, int, np.ndarray]:
    if len(data) < _HEADER.size:
        raise SketchFormatError("too short for a sketch header")
    version, width, zero_count, first, size = _HEADER.unpack_from(data)
    if version != _FORMAT_VERSION or width not in _WIDTHS or len(data) != _HEADER.size + width * size:
        raise SketchFormatError(f"not a version-{_FORMAT_VERSION} sketch of {size} buckets")
    if size and not (first >= _MIN_INDEX and first + size - 1 <= _MAX_INDEX):
        raise SketchFormatError(f"buckets {first}..{first + size - 1} outside {_MIN_INDEX}..{_MAX_INDEX}")
    return zero_count, first, np.frombuffer(data, dtype=_WIDTHS[width], count=size, offset=_HEADER.size)


def merge_serialised(blobs: Iterable[bytes]) -> LatencySketch:
    """Many stored sketches merged in one pass: each adds its dense counts into one fixed-range array."""
    total = np.zeros(_MAX_INDEX - _MIN_INDEX + 1, dtype=np.uint64)
    zero_total = 0
    for blob in blobs:
        zero_count, first, counts = _unpack(blob if isinstance(blob, bytes) else bytes(blob))
        zero_total += zero_count
        if len(counts):
            start = first - _MIN_INDEX
            total[start:start + len(counts)] += counts
    present = np.nonzero(total)[0]
    return LatencySketch(dict(zip((present + _MIN_INDEX).tolist(), total[present].tolist(), strict=True)), zero_total)
