"""Writes of drift: store report parts, fix a service's reference, score merged buckets, expire.

Every part of a bucket (one per canary runner and report, or one per scan) is stored as it came; the
bucket's point per feature is the score of the *sum* of its parts against the service's reference,
recomputed whenever a part arrives, so it does not matter which runner owned which partition, in what
order their reports arrive, or whether a runner restarted in between (DESIGN.md §7).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from contracts.keys import ServiceKey
from contracts.messages import DriftReport
from controlplane.drift.models import DriftPart, DriftPoint, DriftReference
from controlplane.drift.scoring import (
    DriftThresholds,
    Histogram,
    ReferenceFeature,
    feature_score,
    merge_parts,
    reference_features,
)
from controlplane.routing.models import Service

log = logging.getLogger(__name__)

# A reference is fixed once no part of its buckets arrived for this long: every runner of the pool has
# reported its share of them by then (a runner reports an ended bucket after 2 quiet seconds).
REFERENCE_SETTLE_S = 10.0
SCAN_SOURCE = "scan"


@dataclass(frozen=True, slots=True)
class DriftSettings:
    reference_size: int = 500
    min_count: int = 200
    bins: int = 10
    thresholds: DriftThresholds = field(default_factory=DriftThresholds)
    retention: timedelta = timedelta(days=30)
    settle_s: float = REFERENCE_SETTLE_S

    @classmethod
    def from_django(cls, **overrides: object) -> DriftSettings:
        values: dict[str, object] = {
            "reference_size": settings.RDV_DRIFT_WINDOW,
            "min_count": settings.RDV_DRIFT_MIN_WINDOW,
            "bins": settings.RDV_DRIFT_BINS,
            "thresholds": DriftThresholds(
                psi=settings.RDV_DRIFT_PSI_THRESHOLD,
                ks_alpha=settings.RDV_DRIFT_KS_ALPHA,
                ks_min_statistic=settings.RDV_DRIFT_KS_MIN_STATISTIC,
            ),
            "retention": timedelta(days=settings.RDV_DRIFT_RETENTION_DAYS),
        }
        return cls(**{**values, **overrides})  # type: ignore[arg-type]


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _service_ids(keys: Iterable[ServiceKey]) -> dict[ServiceKey, int]:
    found: dict[ServiceKey, int] = {}
    for tenant, slug in set(keys):
        pk = Service.objects.filter(tenant__slug=tenant, slug=slug).values_list("pk", flat=True).first()
        if pk is not None:
            found[ServiceKey(tenant, slug)] = pk
    return found


def _part_row(report: DriftReport, *, service_id: int, source: str) -> DriftPart:
    return DriftPart(
        service_id=service_id,
        report_id=report.report_id,
        source=source,
        runner=report.runner,
        bucket_start=_at(report.bucket_start),
        bucket_s=report.bucket_s,
        count=report.count,
        features={name: histogram.to_json() for name, histogram in merge_parts([report.features]).items()},
    )


def drift_parts_store(
    *, reports: Sequence[DriftReport], config: DriftSettings, scan: bool = False, now: datetime | None = None
) -> int:
    """Store report parts (replays of a part are stored once; a scan's part replaces the previous scan of
    its bucket) and rescore the buckets they touched. Returns how many parts are stored now. Parts of
    services the database does not know are skipped."""
    ids = _service_ids(ServiceKey(r.tenant, r.service) for r in reports)
    touched: dict[int, set[datetime]] = defaultdict(set)
    rows: list[DriftPart] = []
    for report in reports:
        service_id = ids.get(ServiceKey(report.tenant, report.service))
        if service_id is None:
            log.warning("drift report of unknown service %s/%s skipped", report.tenant, report.service)
            continue
        rows.append(_part_row(report, service_id=service_id, source=SCAN_SOURCE if scan else report.pool))
        touched[service_id].add(_at(report.bucket_start))
    with transaction.atomic():
        if scan:
            for service_id, buckets in touched.items():
                DriftPart.objects.filter(service_id=service_id, source=SCAN_SOURCE, bucket_start__in=buckets).delete()
        DriftPart.objects.bulk_create(rows, ignore_conflicts=True)
        for service_id, buckets in touched.items():
            drift_service_rescore(service_id=service_id, buckets=buckets, config=config, now=now)
    return len(rows)


def drift_service_rescore(
    *, service_id: int, buckets: Iterable[datetime] | None, config: DriftSettings, now: datetime | None = None
) -> int:
    """Score ``buckets`` (None: every bucket) of a service against its reference, fixing the reference
    first when it is due. Returns how many buckets were scored."""
    # One writer per service at a time (the consumer and a scan may meet): the service row is the lock.
    Service.objects.select_for_update().filter(pk=service_id).first()
    reference = DriftReference.objects.filter(service_id=service_id).first()
    if reference is None:
        reference = _reference_fix(service_id=service_id, config=config, now=now or timezone.now())
        if reference is None:
            return 0
        buckets = None  # a new reference: score every bucket after it
    features = {
        name: ReferenceFeature(name, spec["kind"], Histogram.from_json(spec["histogram"]))
        for name, spec in reference.features.items()
    }
    parts = DriftPart.objects.filter(service_id=service_id, bucket_start__gt=reference.last_bucket)
    if buckets is not None:
        parts = parts.filter(bucket_start__in=[b for b in buckets if b > reference.last_bucket])
    by_bucket: dict[datetime, list[DriftPart]] = defaultdict(list)
    for part in parts.only("bucket_start", "bucket_s", "count", "features"):
        by_bucket[part.bucket_start].append(part)
    points: list[DriftPoint] = []
    for start, bucket_parts in by_bucket.items():
        merged = merge_parts(
            [(name, Histogram.from_json(h)) for name, h in part.features.items()] for part in bucket_parts
        )
        requests = sum(part.count for part in bucket_parts)
        end = start + timedelta(seconds=max(part.bucket_s for part in bucket_parts))
        for reference_feature in features.values():
            score = feature_score(
                reference_feature, merged.get(reference_feature.feature), requests=requests,
                thresholds=config.thresholds, bins=config.bins, min_count=config.min_count,
            )
            points.append(DriftPoint(
                service_id=service_id, bucket_start=start, bucket_end=end, feature=score.feature, kind=score.kind,
                psi=score.psi, ks=score.ks, ks_pvalue=score.ks_pvalue, threshold=config.thresholds.psi,
                flagged=score.flagged, requests=requests, count=score.count, missing=score.missing,
            ))
    DriftPoint.objects.bulk_create(
        points,
        update_conflicts=True,
        unique_fields=["service", "bucket_start", "feature"],
        update_fields=["bucket_end", "kind", "psi", "ks", "ks_pvalue", "threshold", "flagged", "requests", "count",
                       "missing", "updated_at"],
    )
    return len(by_bucket)


def _reference_fix(*, service_id: int, config: DriftSettings, now: datetime) -> DriftReference | None:
    """The service's first buckets, merged, once they hold ``reference_size`` requests and have settled."""
    totals = (
        DriftPart.objects.filter(service_id=service_id)
        .values("bucket_start")
        .annotate(requests=Sum("count"), stored=Max("created_at"), length=Max("bucket_s"))
        .order_by("bucket_start")
    )
    cumulative, chosen, settled_at, length = 0, [], None, 0.0
    for bucket in totals:
        chosen.append(bucket["bucket_start"])
        length = bucket["length"]
        cumulative += bucket["requests"]
        settled_at = max(settled_at or bucket["stored"], bucket["stored"])
        if cumulative >= config.reference_size:
            break
    if cumulative < config.reference_size or settled_at is None:
        return None
    if (now - settled_at).total_seconds() < config.settle_s:
        return None
    parts = DriftPart.objects.filter(service_id=service_id, bucket_start__in=chosen).only("features")
    merged = merge_parts([(name, Histogram.from_json(h)) for name, h in part.features.items()] for part in parts)
    features = {
        name: {"kind": feature.kind, "histogram": feature.histogram.to_json()}
        for name, feature in reference_features(merged).items()
    }
    reference = DriftReference.objects.create(
        service_id=service_id, first_bucket=chosen[0], last_bucket=chosen[-1],
        end=chosen[-1] + timedelta(seconds=length), count=cumulative, features=features,
    )
    log.info("drift reference of service %d: %d requests in %d buckets, %d features",
             service_id, cumulative, len(chosen), len(features))
    return reference


def drift_references_settle(*, config: DriftSettings, now: datetime | None = None) -> int:
    """Fix the references that became due (called now and then by the consumer): services with parts and
    no reference yet, whose first buckets have settled. Returns how many were fixed."""
    pending = (
        DriftPart.objects.filter(service__drift_reference__isnull=True).values_list("service_id", flat=True).distinct()
    )
    fixed = 0
    for service_id in list(pending):
        with transaction.atomic():
            drift_service_rescore(service_id=service_id, buckets=None, config=config, now=now)
            fixed += DriftReference.objects.filter(service_id=service_id).exists()
    return fixed


def drift_expire(*, older_than: datetime) -> int:
    """Delete parts and points of buckets that started before ``older_than``; returns how many rows went."""
    parts, _ = DriftPart.objects.filter(bucket_start__lt=older_than).delete()
    points, _ = DriftPoint.objects.filter(bucket_start__lt=older_than).delete()
    return parts + points
