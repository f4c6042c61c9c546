"""Status reports: revisions keep the time they were first applied; reports reach ``rdv.status`` keyed by worker."""

from __future__ import annotations

import time
import uuid

import pytest

from contracts.codec import decode
from contracts.config import ServiceConfig
from contracts.kafka import TopicPartition, make_admin, make_consumer, make_producer
from contracts.messages import AppliedRevision, VersionStatus, WorkerStatus
from contracts.status import StatusReporter, applied_revisions
from contracts.topics import STATUS_TOPIC
from contracts.topology import platform_topics
from tests.kafka_auth import kafka_settings


def _config(service: str, revision: int) -> ServiceConfig:
    return ServiceConfig(tenant="acme", service=service, revision=revision, deadline_ms=100, partitions=1)


def test_a_heartbeat_keeps_the_time_a_revision_was_first_applied() -> None:
    first = applied_revisions({}, {("acme", "a"): _config("a", 3)}, now=10.0)
    again = applied_revisions(first, {("acme", "a"): _config("a", 3), ("acme", "b"): _config("b", 1)}, now=12.0)
    changed = applied_revisions(again, {("acme", "a"): _config("a", 4)}, now=15.0)

    assert first == {"acme/a": AppliedRevision(revision=3, applied_at=10.0)}
    assert again == {
        "acme/a": AppliedRevision(revision=3, applied_at=10.0),
        "acme/b": AppliedRevision(revision=1, applied_at=12.0),
    }
    # A deleted service is no longer reported; a new revision gets its own time.
    assert changed == {"acme/a": AppliedRevision(revision=4, applied_at=15.0)}


def test_the_interval_must_be_positive(kafka_bootstrap: str) -> None:
    producer = make_producer(kafka_settings(kafka_bootstrap))
    try:
        with pytest.raises(ValueError, match="positive"):
            StatusReporter(producer, worker="w", kind="runner", interval_s=0)
    finally:
        producer.close()


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_reports_reach_the_status_topic_on_apply_and_as_heartbeat(client: str, kafka_bootstrap: str) -> None:
    settings = kafka_settings(kafka_bootstrap, client)
    admin = make_admin(settings)
    admin.ensure_topics(platform_topics())
    admin.close()
    worker = f"w-{uuid.uuid4().hex[:8]}"
    consumer = make_consumer(settings, group_id=None)
    starts = [consumer.watermarks(STATUS_TOPIC, p)[1] for p in range(4)]
    consumer.assign([TopicPartition(STATUS_TOPIC, p, offset) for p, offset in enumerate(starts)])
    producer = make_producer(settings)
    state = {"value": "loading"}

    def versions() -> list[VersionStatus]:
        return [VersionStatus(tenant="acme", model="m", version=1, sha256="a" * 64, state=state["value"])]

    reporter = StatusReporter(producer, worker=worker, kind="runner", pool="gpu", interval_s=0.5, versions=versions)
    try:
        reporter.applied({("acme", "a"): _config("a", 7)})
        state["value"] = "ready"
        time.sleep(0.55)
        reporter.tick()  # due: a heartbeat
        producer.flush(10)

        reports: list[WorkerStatus] = []
        deadline = time.monotonic() + 15
        while len(reports) < 2 and time.monotonic() < deadline:
            record = consumer.poll(0.5)
            if record is not None and record.key == worker.encode():
                reports.append(decode(WorkerStatus, record.value or b""))
        assert [r.versions[0].state for r in reports] == ["loading", "ready"]
        first, heartbeat = reports
        assert (first.kind, first.pool, first.interval_s) == ("runner", "gpu", 0.5)
        assert first.revisions["acme/a"].revision == 7
        # The heartbeat repeats when the revision was applied, not when the heartbeat left.
        assert heartbeat.revisions == first.revisions and heartbeat.at > first.at
        assert reporter.published == 2
    finally:
        consumer.close()
        producer.close()


def test_a_version_state_change_is_reported_before_the_next_heartbeat(kafka_bootstrap: str) -> None:
    settings = kafka_settings(kafka_bootstrap)
    worker = f"w-{uuid.uuid4().hex[:8]}"
    consumer = make_consumer(settings, group_id=None)
    starts = [consumer.watermarks(STATUS_TOPIC, p)[1] for p in range(4)]
    consumer.assign([TopicPartition(STATUS_TOPIC, p, offset) for p, offset in enumerate(starts)])
    producer = make_producer(settings)
    state = {"value": "loading"}

    def versions() -> list[VersionStatus]:
        return [VersionStatus(tenant="acme", model="m", version=1, sha256="a" * 64, state=state["value"],
                              error="boom" if state["value"] == "failed" else None)]

    reporter = StatusReporter(producer, worker=worker, kind="runner", interval_s=60, versions=versions)
    try:
        reporter.applied({("acme", "a"): _config("a", 1)})
        time.sleep(0.55)
        reporter.tick()
        assert reporter.published == 1  # nothing changed, and the heartbeat is a minute away
        state["value"] = "failed"
        time.sleep(0.55)
        reporter.tick()
        assert reporter.published == 2
        producer.flush(10)
        reports: list[WorkerStatus] = []
        deadline = time.monotonic() + 15
        while len(reports) < 2 and time.monotonic() < deadline:
            record = consumer.poll(0.5)
            if record is not None and record.key == worker.encode():
                reports.append(decode(WorkerStatus, record.value or b""))
        assert [(r.versions[0].state, r.versions[0].error) for r in reports] == [("loading", None), ("failed", "boom")]
    finally:
        consumer.close()
        producer.close()
