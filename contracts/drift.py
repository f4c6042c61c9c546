"""Drift histograms that merge: the fixed grid, one service's time buckets, and report signatures.

Every runner of a canary's pool (and the control plane's scan of a requests topic) describes what it
saw of a service's inputs in the same terms: per time bucket of the requests' ``sent_at``, per feature,
counts over a grid that is the same everywhere (numbers: logarithmic bins of ``GRID_RATIO`` relative
width; other values: their text). Two runners' counts of one bucket therefore add up to the counts of
the whole pool, whichever partitions each owned, and a runner that restarts loses only the part it
had not reported yet. The control plane chooses the reference and scores the drift from the sums
(``controlplane.drift.scoring``); nothing here compares anything.

Django-free and Kafka-free: the runner and the control plane both import it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from contracts.codec import encode
from contracts.messages import DriftReport, FeatureHistogram

# Bins of the numeric grid are this much wider than the one below: values within 2 % of each other may
# share a bin, which moves a PSI decile edge or a KS step by at most that much.
GRID_RATIO = 1.02
# Magnitudes below this are one bin (zero); above the maximum, one bin each side.
MIN_MAGNITUDE = 1e-9
MAX_MAGNITUDE = 1e12
_LOG_RATIO = math.log(GRID_RATIO)

# What one part may carry: more features are not monitored, more categories are counted together.
MAX_FEATURES = 200
MAX_CATEGORIES_PER_PART = 256
OTHER_CATEGORY = "\u0000other"
# A report larger than this is split by features (the broker's default record limit is 1 MB).
MAX_REPORT_BYTES = 900_000
# A bucket is reported once it has ended and no request has joined it for this long (monotonic seconds).
QUIET_S = 2.0

_SIGN_LABEL = b"rendezvous drift report v1\x00"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def numeric_bin(value: float) -> int:
    """The grid bin of a finite number: order-preserving (a larger value never has a smaller bin)."""
    magnitude = abs(value)
    if magnitude < MIN_MAGNITUDE:
        return 0
    index = 1 + math.ceil(math.log(min(magnitude, MAX_MAGNITUDE) / MIN_MAGNITUDE) / _LOG_RATIO)
    return index if value > 0 else -index


def category_of(value: Any) -> str:
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


def bucket_start_of(sent_at: float, bucket_s: float) -> float:
    return math.floor(sent_at / bucket_s) * bucket_s


@dataclass(slots=True)
class _Part:
    """What is not reported yet of one bucket."""

    count: int = 0
    first_sent_at: float = math.inf
    last_sent_at: float = -math.inf
    numeric: dict[str, dict[int, int]] = field(default_factory=dict)
    categories: dict[str, dict[str, int]] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    touched_at: float = 0.0

    def add(self, row: Mapping[str, Any], sent_at: float, now: float) -> None:
        self.count += 1
        self.first_sent_at = min(self.first_sent_at, sent_at)
        self.last_sent_at = max(self.last_sent_at, sent_at)
        self.touched_at = now
        for name, value in row.items():
            if value is None or isinstance(value, dict | list):
                continue
            if name not in self.present:
                if len(self.present) >= MAX_FEATURES:
                    continue
                self.present[name] = 0
            self.present[name] += 1
            if is_number(value):
                bins = self.numeric.setdefault(name, {})
                index = numeric_bin(value)
                bins[index] = bins.get(index, 0) + 1
            else:
                counts = self.categories.setdefault(name, {})
                category = category_of(value)
                if category not in counts and len(counts) >= MAX_CATEGORIES_PER_PART:
                    category = OTHER_CATEGORY
                counts[category] = counts.get(category, 0) + 1

    def histograms(self) -> list[FeatureHistogram]:
        return [
            FeatureHistogram(
                feature=name,
                numeric=dict(sorted(self.numeric.get(name, {}).items())),
                categories=self.categories.get(name, {}),
                missing=self.count - present,
            )
            for name, present in sorted(self.present.items())
        ]


class DriftBuckets:
    """One service's open buckets in one runner: ``add`` requests, then take the reports ``due`` (or
    all of them with ``flush``, on a graceful stop). Reports are signed with ``token`` when given."""

    def __init__(
        self,
        tenant: str,
        service: str,
        *,
        bucket_s: float,
        pool: str,
        runner: str,
        token: str | None = None,
        quiet_s: float = QUIET_S,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        if bucket_s <= 0:
            raise ValueError(f"bucket_s must be positive, not {bucket_s}")
        self.tenant, self.service = tenant, service
        self.bucket_s = bucket_s
        self._pool, self._runner, self._token = pool, runner, token
        self._quiet_s = quiet_s
        self._new_id = new_id
        self._parts: dict[float, _Part] = {}

    @property
    def open_buckets(self) -> int:
        return len(self._parts)

    def add(self, row: Mapping[str, Any], sent_at: float, now: float) -> None:
        """One request's row (``now``: the monotonic clock, to know when a bucket went quiet)."""
        start = bucket_start_of(sent_at, self.bucket_s)
        part = self._parts.get(start)
        if part is None:
            part = self._parts[start] = _Part()
        part.add(row, sent_at, now)

    def due(self, wall_now: float, now: float) -> list[DriftReport]:
        """Reports of the buckets that have ended (by ``wall_now``) and that no request joined for ``quiet_s``."""
        ready = [
            start
            for start, part in self._parts.items()
            if start + self.bucket_s <= wall_now and now - part.touched_at >= self._quiet_s
        ]
        return [report for start in sorted(ready) for report in self._report(start, self._parts.pop(start))]

    def flush(self) -> list[DriftReport]:
        """Reports of every open bucket, ended or not (a later part of the same bucket merges with it)."""
        starts = sorted(self._parts)
        return [report for start in starts for report in self._report(start, self._parts.pop(start))]

    def _report(self, start: float, part: _Part) -> Iterator[DriftReport]:
        report = DriftReport(
            report_id=self._new_id(),
            tenant=self.tenant,
            service=self.service,
            pool=self._pool,
            runner=self._runner,
            bucket_start=start,
            bucket_s=self.bucket_s,
            count=part.count,
            first_sent_at=part.first_sent_at,
            last_sent_at=part.last_sent_at,
            features=part.histograms(),
            published_at=time.time(),
        )
        for piece in split_report(report, new_id=self._new_id):
            yield piece if self._token is None else sign_report(piece, self._token)


def split_report(
    report: DriftReport, *, max_bytes: int = MAX_REPORT_BYTES, new_id: Callable[[], str] = lambda: uuid.uuid4().hex
) -> list[DriftReport]:
    """The report in parts of at most ``max_bytes`` encoded, split by features (each feature's counts
    stay whole, so the parts merge like any two reports); the first part keeps the report's id."""
    if len(encode(report)) <= max_bytes or len(report.features) < 2:
        return [report]
    half = len(report.features) // 2
    first = msgspec.structs.replace(report, features=report.features[:half])
    second = msgspec.structs.replace(report, report_id=new_id(), features=report.features[half:])
    return [*split_report(first, max_bytes=max_bytes, new_id=new_id),
            *split_report(second, max_bytes=max_bytes, new_id=new_id)]


def report_signature(report: DriftReport, token: str) -> str:
    """HMAC-SHA256 (hex) of the report encoded with an empty ``signature``, keyed by a pool token."""
    body = encode(msgspec.structs.replace(report, signature=""))
    return hmac.new(token.encode(), _SIGN_LABEL + body, hashlib.sha256).hexdigest()


def sign_report(report: DriftReport, token: str) -> DriftReport:
    return msgspec.structs.replace(report, signature=report_signature(report, token))


def report_signature_valid(report: DriftReport, token: str) -> bool:
    return hmac.compare_digest(report.signature.encode(), report_signature(report, token).encode())
