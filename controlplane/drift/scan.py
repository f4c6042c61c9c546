"""Drift of a service without a canary: its requests topic read back over a window, in the same buckets.

No runner watches the inputs of a service without a canary, so this reads them from the service's
requests topic (a bounded read, ``streaming.bounded.read_ranges``: no group, nothing committed) over the
whole buckets of a window, counts them exactly as a canary runner would (``contracts.drift``) and stores
the result as one part per bucket with source ``scan``. A bucket scanned again replaces its scan, so a
scan repeated over an overlapping window counts nothing twice; it is merged and scored like any part.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import msgspec

from contracts.drift import DriftBuckets, bucket_start_of
from contracts.kafka import KafkaSettings, make_admin, make_consumer
from contracts.messages import DriftReport
from contracts.provenance import Refused, admit_request
from contracts.topics import service_topics
from contracts.topology import REPLIES_PARTITIONS
from controlplane.drift.services import SCAN_SOURCE, DriftSettings, drift_parts_store
from controlplane.ops.archive_export import TimeRange, plan_ranges
from streaming.bounded import read_ranges


@dataclass(slots=True)
class ScanSummary:
    requests: int = 0
    refused: int = 0
    outside: int = 0
    buckets: int = 0
    stored: int = 0


def scan_reports(
    kafka: KafkaSettings, *, tenant: str, service: str, window: timedelta, bucket_s: float, now: float | None = None
) -> tuple[list[DriftReport], ScanSummary]:
    """The buckets that ended within ``window`` before ``now``, as one report (or more, when large) each."""
    now = time.time() if now is None else now
    until = bucket_start_of(now, bucket_s)  # whole buckets only: the open one is scanned next time
    span = TimeRange(bucket_start_of(now - window.total_seconds(), bucket_s), until)
    topic = service_topics(tenant, service).requests
    summary = ScanSummary()
    admin = make_admin(kafka)
    try:
        partitions = admin.partition_count(topic) or 0
    finally:
        admin.close()
    buckets = DriftBuckets(tenant, service, bucket_s=bucket_s, pool=SCAN_SOURCE, runner=SCAN_SOURCE)
    consumer = make_consumer(kafka)
    try:
        ranges = plan_ranges(consumer, topic, list(range(partitions)), span)
        bounds = {r.partition: (r.start, r.end) for r in ranges}
        for record in read_ranges(consumer, topic, bounds):
            request = admit_request(record.value, topic, replies_partitions=lambda _reply_to: REPLIES_PARTITIONS)
            if isinstance(request, Refused):
                summary.refused += 1
            elif request.sent_at not in span:
                summary.outside += 1
            else:
                summary.requests += 1
                buckets.add({**request.external_state, **request.inputs}, request.sent_at, 0.0)
    finally:
        consumer.close()
    reports = buckets.flush()
    # One id per bucket and piece: the next scan of the bucket replaces this one.
    numbered: list[DriftReport] = []
    for report in reports:
        piece = sum(1 for r in numbered if r.bucket_start == report.bucket_start)
        numbered.append(msgspec.structs.replace(report, report_id=f"scan-{report.bucket_start:.0f}-{piece}"))
    summary.buckets = len({r.bucket_start for r in numbered})
    return numbered, summary


def drift_scan(
    kafka: KafkaSettings,
    *,
    tenant: str,
    service: str,
    window: timedelta,
    bucket_s: float,
    config: DriftSettings,
    now: float | None = None,
) -> ScanSummary:
    """Scan ``window`` of the service's requests and store it as scan parts (scored like any part)."""
    reports, summary = scan_reports(kafka, tenant=tenant, service=service, window=window, bucket_s=bucket_s, now=now)
    if reports:
        summary.stored = drift_parts_store(reports=reports, config=config, scan=True)
    return summary
