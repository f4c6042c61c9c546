"""kafka-python backend: a member left without partitions after a revoke starts over as a new member."""

from __future__ import annotations

import time
import uuid

import pytest

from contracts.kafka import (
    TopicPartition,
    TopicSpec,
    kafka_python_backend,
    make_admin,
    make_consumer,
    make_producer,
)
from tests.kafka_auth import kafka_settings


def test_a_member_stalled_after_a_revoke_rejoins_and_gets_its_partitions_back(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kafka_python_backend, "REJOIN_STALL_S", 1.0)
    settings = kafka_settings(kafka_bootstrap, "kafka-python")
    topic = f"rdv.test.{uuid.uuid4().hex[:10]}"
    admin = make_admin(settings)
    admin.ensure_topics([TopicSpec(topic, 2)])
    admin.close()
    events: list[tuple[str, list[TopicPartition]]] = []
    consumer = make_consumer(settings, group_id=f"rejoin-{uuid.uuid4().hex[:8]}")
    consumer.subscribe(
        [topic],
        on_assign=lambda parts: events.append(("assign", parts)),
        on_revoke=lambda parts: events.append(("revoke", parts)),
    )
    producer = make_producer(settings)

    def wait_owning_both(since: int, timeout: float = 30.0) -> None:
        """Poll until an assignment after event ``since`` holds both partitions."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            consumer.poll(0.1)
            owned = [sorted(p.partition for p in parts) for kind, parts in events[since:] if kind == "assign"]
            if owned and owned[-1] == [0, 1] and events[-1][0] == "assign":
                return
        raise AssertionError(f"no assignment of both partitions: {events[since:]}")

    try:
        wait_owning_both(0)
        before = len(events)

        # The stall as seen in the suite: the member revoked everything and no assignment follows.
        consumer._events.put(("revoke", events[-1][1]))  # noqa: SLF001
        started = time.monotonic()
        wait_owning_both(before)
        assert time.monotonic() - started >= 1.0
        assert events[before][0] == "revoke"

        # The new member consumes.
        producer.produce(topic, b"after", key=b"k")
        producer.flush(10)
        record = None
        while record is None and time.monotonic() < started + 30:
            record = consumer.poll(0.2)
        assert record is not None and record.value == b"after"
    finally:
        consumer.close()
        producer.close()
