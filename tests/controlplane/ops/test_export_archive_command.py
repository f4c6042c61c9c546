"""``manage.py export_archive`` against the real broker: a time range of the archive, every partition."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from contracts.codec import encode
from contracts.kafka import Admin, make_producer
from contracts.messages import Request
from contracts.topics import service_topics
from contracts.topology import service_topic_specs
from model_runner.decoy import archive_timestamp_ms
from tests.controlplane.ops.pandas_reading import read_export

PARTITIONS = 3


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _archive(kafka: Admin, tenant: str, service: str, requests: list[Request], poison_at: float | None) -> None:
    """Write the archive as the decoy does: the request bytes, keyed by id, stamped with sent_at."""
    topic = service_topics(tenant, service).archive
    kafka.ensure_topics(service_topic_specs(tenant, service, PARTITIONS))
    producer = make_producer(settings.RDV_KAFKA)
    now = time.time()
    for request in requests:
        if poison_at is not None and request.sent_at > poison_at:  # written in time order, like the decoy
            producer.produce(topic, b"not a request", key=b"junk", partition=1, timestamp_ms=int(poison_at * 1000))
            poison_at = None
        producer.produce(
            topic,
            encode(request),
            key=request.request_id.encode(),
            timestamp_ms=archive_timestamp_ms(request.sent_at, now),
        )
    assert producer.flush(10) == 0
    producer.close()


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_export_writes_the_requests_of_the_range_and_reports_progress(kafka, tmp_path: Path, fmt: str):
    tenant, service = f"t-{uuid.uuid4().hex[:8]}", "churn"
    now = time.time()
    # Two hours of traffic, one request a minute; the export asks for the middle hour.
    requests = [
        Request(
            request_id=f"req-{i:03d}",
            tenant=tenant,
            service=service,
            user_key=f"user-{i % 7}",
            sent_at=now - 7200 + i * 60 + 0.25,
            deadline_ms=300,
            config_revision=2,
            inputs={"tenure": i, "plan": ["basic", "pro"][i % 2], "spend": i * 1.5},
            external_state={"hour": (i // 60) % 24},
        )
        for i in range(120)
    ]
    _archive(kafka, tenant, service, requests, poison_at=now - 3000)
    since, until = now - 5400, now - 1800
    out, err = StringIO(), StringIO()
    output = tmp_path / f"export.{fmt}"
    call_command(
        "export_archive", tenant=tenant, service=service, since=_iso(since), until=_iso(until),
        format=fmt, output=output, stdout=out, stderr=err,
    )
    expected = [r for r in requests if since <= r.sent_at < until]
    frame = read_export(output)
    frame = frame.sort_values("request_id").reset_index(drop=True)
    assert list(frame["request_id"]) == [r.request_id for r in expected]
    assert list(frame["sent_at"]) == [r.sent_at for r in expected]
    assert list(frame["inputs.tenure"]) == [r.inputs["tenure"] for r in expected]
    assert list(frame["inputs.plan"]) == [r.inputs["plan"] for r in expected]
    assert list(frame["external_state.hour"]) == [r.external_state["hour"] for r in expected]
    assert set(frame["config_revision"]) == {2}
    assert not any(tmp_path.glob("*.partial"))

    summary = out.getvalue()
    assert f"exported {len(expected)} requests from {service_topics(tenant, service).archive}" in summary
    assert "1 unreadable" in summary and "(3 partitions" in summary
    progress = err.getvalue().splitlines()[-1]
    assert "records" in progress and "rec/s" in progress and "100.0%" in progress
    kafka.delete_topics([service_topics(tenant, service).archive])


def test_export_of_a_service_without_an_archive_is_a_clear_error(kafka, tmp_path: Path):
    with pytest.raises(CommandError, match="no archive for nobody/nothing"):
        call_command(
            "export_archive", tenant="nobody", service="nothing", since="1h", output=tmp_path / "x.jsonl",
            stdout=StringIO(), stderr=StringIO(),
        )
    with pytest.raises(CommandError, match="not a time"):
        call_command(
            "export_archive", tenant="nobody", service="nothing", since="last week", output=tmp_path / "x.jsonl",
            stdout=StringIO(), stderr=StringIO(),
        )
