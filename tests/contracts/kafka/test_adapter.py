"""Both Kafka backends behave the same behind the adapter, against the real broker."""

import time
import uuid

import pytest

from contracts.kafka import (
    BEGINNING,
    KafkaSettings,
    TopicPartition,
    TopicSpec,
    make_admin,
    make_consumer,
    make_producer,
)
from tests.kafka_auth import kafka_settings


@pytest.fixture(params=["confluent", "kafka-python"])
def settings(request, kafka_bootstrap) -> KafkaSettings:
    return kafka_settings(kafka_bootstrap, request.param)


def fresh_topic(settings: KafkaSettings, partitions: int = 3) -> str:
    name = f"rdv.test.{uuid.uuid4().hex[:10]}"
    admin = make_admin(settings)
    assert admin.ensure_topics([TopicSpec(name, partitions)]) == [name]
    assert admin.ensure_topics([TopicSpec(name, partitions)]) == []
    assert admin.partition_count(name) == partitions
    admin.close()
    return name


def test_produce_to_partition_with_delivery_then_consume_in_order(settings):
    topic = fresh_topic(settings)
    producer = make_producer(settings)
    delivered = []
    for i in range(5):
        producer.produce(topic, f"v{i}".encode(), key=f"k{i}".encode(), partition=2,
                         on_delivery=lambda err, tp: delivered.append((err, tp.partition, tp.offset)))
    assert producer.flush(10) == 0
    producer.poll(0)
    assert sorted(delivered, key=lambda d: d[2]) == [(None, 2, i) for i in range(5)]

    consumer = make_consumer(settings)
    consumer.assign([TopicPartition(topic, 2, BEGINNING)])
    got = []
    deadline = time.monotonic() + 15
    while len(got) < 5 and time.monotonic() < deadline:
        record = consumer.poll(0.5)
        if record is not None:
            got.append((record.offset, record.key, record.value))
    assert got == [(i, f"k{i}".encode(), f"v{i}".encode()) for i in range(5)]
    assert consumer.watermarks(topic, 2) == (0, 5)
    consumer.close()
    producer.close()


def test_keyed_writes_use_murmur2_on_both_backends(kafka_bootstrap):
    """The same key lands on the same partition whichever client wrote it, as with Java clients."""
    placements = {}
    for client in ("confluent", "kafka-python"):
        settings = kafka_settings(kafka_bootstrap, client)
        topic = fresh_topic(settings, partitions=8)
        producer = make_producer(settings)
        seen = {}
        for i in range(20):
            producer.produce(topic, b"x", key=f"request-{i}".encode(),
                             on_delivery=lambda err, tp, i=i, seen=seen: seen.__setitem__(i, tp.partition))
        producer.flush(10)
        producer.poll(0)
        placements[client] = seen
    assert placements["confluent"] == placements["kafka-python"]
    assert len(set(placements["confluent"].values())) > 1


def test_group_commit_is_resumed_by_the_next_member(settings):
    topic = fresh_topic(settings, partitions=1)
    producer = make_producer(settings)
    for i in range(4):
        producer.produce(topic, f"v{i}".encode(), partition=0)
    producer.flush(10)
    group = f"g-{uuid.uuid4().hex[:8]}"

    first = make_consumer(settings, group_id=group)
    first.subscribe([topic])
    record = None
    deadline = time.monotonic() + 20
    while record is None and time.monotonic() < deadline:
        record = first.poll(0.5)
    assert record is not None and record.offset == 0
    first.commit([TopicPartition(topic, 0, 2)])
    first.close()

    second = make_consumer(settings, group_id=group)
    second.subscribe([topic])
    record = None
    deadline = time.monotonic() + 20
    while record is None and time.monotonic() < deadline:
        record = second.poll(0.5)
    assert record is not None and record.value == b"v2"
    second.close()
    producer.close()


def test_settings_from_environment_with_defaults_and_a_clear_error():
    assert KafkaSettings.from_env({}) == KafkaSettings()
    chosen = KafkaSettings.from_env({"RDV_KAFKA_CLIENT": "kafka-python", "RDV_KAFKA_BOOTSTRAP": "h:1"})
    assert (chosen.client, chosen.bootstrap_servers) == ("kafka-python", "h:1")
    with pytest.raises(ValueError, match="RDV_KAFKA_CLIENT"):
        KafkaSettings.from_env({"RDV_KAFKA_CLIENT": "java"})


def test_record_timestamps_and_offsets_for_times(settings):
    """Records stamped with a time of the writer's choosing are found again by that time, per partition."""
    topic = fresh_topic(settings, partitions=2)
    producer = make_producer(settings)
    base_ms = int(time.time() * 1000) - 600_000
    for partition in (0, 1):
        for i in range(4):
            # Partition 1 is written ten seconds later than partition 0, a second apart per record.
            stamp = base_ms + partition * 10_000 + i * 1000
            producer.produce(topic, f"p{partition}-{i}".encode(), partition=partition, timestamp_ms=stamp)
    assert producer.flush(10) == 0

    consumer = make_consumer(settings)
    assert consumer.offsets_for_times(topic, [0, 1], base_ms) == {0: 0, 1: 0}
    assert consumer.offsets_for_times(topic, [0, 1], base_ms + 2500) == {0: 3, 1: 0}
    assert consumer.offsets_for_times(topic, [0, 1], base_ms + 12_000) == {0: None, 1: 2}
    assert consumer.offsets_for_times(topic, [0, 1], base_ms + 60_000) == {0: None, 1: None}

    consumer.assign([TopicPartition(topic, 1, 2)])
    record = None
    deadline = time.monotonic() + 15
    while record is None and time.monotonic() < deadline:
        record = consumer.poll(0.5)
    assert record is not None and record.value == b"p1-2"
    assert record.timestamp_ms == base_ms + 12_000
    consumer.close()
    producer.close()
