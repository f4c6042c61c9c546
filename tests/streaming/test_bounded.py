"""A bounded read on the real broker, on both clients: exactly the records of each range, then it returns;
a range the topic never reaches raises instead of waiting forever."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from contracts.kafka import KafkaSettings, TopicSpec, make_admin, make_consumer, make_producer
from streaming.bounded import ReadStalled, read_ranges
from tests.kafka_auth import kafka_settings


@pytest.fixture(params=["confluent", "kafka-python"])
def settings(request: pytest.FixtureRequest, kafka_bootstrap: str) -> KafkaSettings:
    return kafka_settings(kafka_bootstrap, request.param)


@pytest.fixture
def topic(settings: KafkaSettings) -> Iterator[str]:
    name = f"rt-bounded-{uuid.uuid4().hex[:8]}"
    admin = make_admin(settings)
    admin.ensure_topics([TopicSpec(name, 2)])
    producer = make_producer(settings)
    for partition in (0, 1):
        for offset in range(10):
            producer.produce(name, f"{partition}-{offset}".encode(), partition=partition)
    assert producer.flush(10) == 0
    producer.close()
    yield name
    admin.delete_topics([name])
    admin.close()


def test_each_range_is_read_exactly_then_the_read_returns(settings: KafkaSettings, topic: str) -> None:
    consumer = make_consumer(settings, group_id=None)
    try:
        records = list(read_ranges(consumer, topic, {0: (2, 5), 1: (7, 10)}, idle_timeout=10))
    finally:
        consumer.close()
    assert sorted((r.partition, r.offset) for r in records) == [(0, 2), (0, 3), (0, 4), (1, 7), (1, 8), (1, 9)]
    assert {r.value for r in records if r.partition == 0} == {b"0-2", b"0-3", b"0-4"}


def test_a_range_past_the_end_of_the_topic_raises_once_idle(settings: KafkaSettings, topic: str) -> None:
    consumer = make_consumer(settings, group_id=None)
    try:
        with pytest.raises(ReadStalled, match="0@10<20"):
            list(read_ranges(consumer, topic, {0: (8, 20), 1: (0, 0)}, idle_timeout=1.0))
    finally:
        consumer.close()
