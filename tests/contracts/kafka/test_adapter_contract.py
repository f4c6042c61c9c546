"""The adapter's contract (DESIGN.md §3): one suite, run against the real broker on both backends.

Code above the adapter (the streaming runtime above all) relies on exactly what is asserted here, on
either client: delivery callbacks only inside ``poll``/``flush`` on the caller's thread, ``flush``
returning the records still undelivered, synchronous commits that the next member resumes from,
placement by ``assign``/``seek`` (beginning, end, an offset), ``position`` as the next offset ``poll``
returns, watermarks, offsets by time, idempotent topic administration, and every failure raised as
the adapter's own ``KafkaError`` (``KafkaAuthorizationError`` for the broker's refusals), never as a
client library's exception.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from contracts.kafka import (
    BEGINNING,
    END,
    Consumer,
    KafkaAuthorizationError,
    KafkaError,
    KafkaSettings,
    Record,
    TopicPartition,
    TopicSpec,
    make_admin,
    make_consumer,
    make_producer,
)
from contracts.kafka.base import CLIENTS
from tests.kafka_auth import kafka_settings

# Records are written this long before the test, so that "now" is clearly after all of them.
PAST_MS = 600_000


@pytest.fixture(params=CLIENTS)
def settings(request: pytest.FixtureRequest, kafka_bootstrap: str) -> KafkaSettings:
    return kafka_settings(kafka_bootstrap, request.param)


def new_topic(settings: KafkaSettings, partitions: int = 1, **config: str) -> str:
    name = f"rdv.contract.{uuid.uuid4().hex[:10]}"
    admin = make_admin(settings)
    try:
        assert admin.ensure_topics([TopicSpec(name, partitions, dict(config))]) == [name]
    finally:
        admin.close()
    return name


def write(settings: KafkaSettings, topic: str, partition: int, count: int, base_ms: int | None = None) -> None:
    """``count`` records ``v0``… (keys ``k0``…) to one partition, stamped a second apart from ``base_ms``."""
    producer = make_producer(settings)
    try:
        for i in range(count):
            stamp = None if base_ms is None else base_ms + i * 1000
            producer.produce(topic, f"v{i}".encode(), key=f"k{i}".encode(), partition=partition, timestamp_ms=stamp)
        assert producer.flush(15) == 0
    finally:
        producer.close()


def read(consumer: Consumer, count: int, timeout: float = 15.0) -> list[Record]:
    got: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        record = consumer.poll(0.2)
        if record is not None:
            got.append(record)
    assert len(got) == count, f"{len(got)} of {count} records in {timeout} s"
    return got


def read_nothing(consumer: Consumer, seconds: float = 1.5) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        record = consumer.poll(0.2)
        assert record is None, record


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


# --- producing --------------------------------------------------------------------------------------


def test_a_record_round_trips_with_its_key_partition_and_timestamp(settings: KafkaSettings) -> None:
    topic = new_topic(settings, partitions=3)
    stamp = int(time.time() * 1000) - PAST_MS
    producer = make_producer(settings)
    producer.produce(topic, b"value", key=b"key", partition=2, timestamp_ms=stamp)
    producer.produce(topic, None, key=b"tombstone", partition=2)
    assert producer.flush(15) == 0
    producer.close()

    consumer = make_consumer(settings)
    consumer.assign([TopicPartition(topic, 2, BEGINNING)])
    first, second = read(consumer, 2)
    consumer.close()
    assert (first.topic, first.partition, first.offset) == (topic, 2, 0)
    assert (first.key, first.value, first.timestamp_ms) == (b"key", b"value", stamp)
    assert (second.offset, second.key, second.value) == (1, b"tombstone", None)
    assert abs(second.timestamp_ms - time.time() * 1000) < 60_000  # the default stamp is "now"


def test_delivery_callbacks_run_only_inside_poll_and_flush_on_the_callers_thread(settings: KafkaSettings) -> None:
    topic = new_topic(settings, partitions=2)
    producer = make_producer(settings)
    reports: list[tuple[KafkaError | None, TopicPartition, int]] = []

    def on_delivery(err: KafkaError | None, tp: TopicPartition) -> None:
        reports.append((err, tp, threading.get_ident()))

    try:
        for i in range(3):
            producer.produce(topic, f"a{i}".encode(), partition=1, on_delivery=on_delivery)
        assert producer.flush(15) == 0
        assert [(err, tp) for err, tp, _ in reports] == [(None, TopicPartition(topic, 1, i)) for i in range(3)]

        for i in range(3):
            producer.produce(topic, f"b{i}".encode(), partition=0, on_delivery=on_delivery)
        time.sleep(1.0)  # acknowledged by now, but nobody served the reports
        assert len(reports) == 3
        served = 0
        deadline = time.monotonic() + 15
        while served < 3 and time.monotonic() < deadline:
            served += producer.poll(0.2)
        assert served == 3
        assert [(err, tp) for err, tp, _ in reports[3:]] == [(None, TopicPartition(topic, 0, i)) for i in range(3)]
        assert {thread for _, _, thread in reports} == {threading.get_ident()}
        assert producer.flush(5) == 0 and producer.poll(0) == 0  # nothing is reported twice
    finally:
        producer.close()


@contextmanager
def broker_frozen() -> Iterator[None]:
    """The test broker stopped (SIGSTOP) and resumed: it keeps its connections but answers nothing,
    as behind a network partition. A second of it is harmless to the broker (its KRaft session times
    out after 9 s)."""
    pidfile = Path(os.environ.get("RDV_KAFKA_DATA", "/nonexistent")) / "kafka.pid"
    assert pidfile.is_file(), "the test broker's pid file (RDV_KAFKA_DATA, set by scripts/test.sh) is missing"
    pid = int(pidfile.read_text().strip())
    assert "kafka.Kafka" in Path(f"/proc/{pid}/cmdline").read_text(), f"process {pid} is not the test broker"
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_flush_returns_how_many_records_are_still_undelivered(settings: KafkaSettings) -> None:
    topic = new_topic(settings)
    producer = make_producer(settings)
    reports: list[KafkaError | None] = []
    try:
        producer.produce(topic, b"warm-up", partition=0)  # connections and producer id in place
        assert producer.flush(15) == 0
        with broker_frozen():
            for i in range(5):
                producer.produce(topic, f"r{i}".encode(), partition=0, on_delivery=lambda e, _tp: reports.append(e))
            producer.produce(topic, b"no callback", partition=0)
            started = time.monotonic()
            assert producer.flush(0.5) == 6
            assert time.monotonic() - started < 5  # flush keeps to its timeout
            assert reports == []
        assert producer.flush(30) == 0
        assert reports == [None] * 5
    finally:
        producer.close()


def test_a_delivery_failure_reaches_the_callback_as_the_adapters_error(settings: KafkaSettings) -> None:
    """The broker refuses a record larger than the topic allows: the callback gets a KafkaError."""
    topic = new_topic(settings, **{"max.message.bytes": "1024"})
    producer = make_producer(settings)
    reports: list[tuple[KafkaError | None, TopicPartition]] = []
    try:
        producer.produce(topic, b"x" * 4096, partition=0, on_delivery=lambda e, tp: reports.append((e, tp)))
        assert producer.flush(15) == 0
    finally:
        producer.close()
    [(err, tp)] = reports
    assert type(err) is KafkaError, repr(err)
    assert (tp.topic, tp.partition) == (topic, 0) and tp.offset < 0


# --- consuming ---------------------------------------------------------------------------------------


def test_a_commit_is_where_the_next_member_of_the_group_resumes(settings: KafkaSettings) -> None:
    topic = new_topic(settings, partitions=1)
    write(settings, topic, 0, 5)
    group = f"rdv-contract-{uuid.uuid4().hex[:8]}"

    first = make_consumer(settings, group_id=group)
    try:
        first.subscribe([topic])
        assert [r.offset for r in read(first, 2, timeout=30)] == [0, 1]
        first.commit([TopicPartition(topic, 0, 3)])
        first.commit([])  # nothing to commit is not an error
    finally:
        first.close()

    second = make_consumer(settings, group_id=group)
    try:
        second.subscribe([topic])
        assert [r.value for r in read(second, 2, timeout=30)] == [b"v3", b"v4"]
        assert [(tp.topic, tp.partition) for tp in second.assignment()] == [(topic, 0)]
    finally:
        second.close()


def test_committed_reads_the_groups_position(settings: KafkaSettings) -> None:
    topic = new_topic(settings, partitions=2)
    group = f"rdv-contract-{uuid.uuid4().hex[:8]}"
    consumer = make_consumer(settings, group_id=group)
    try:
        parts = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        assert [(tp.partition, tp.offset) for tp in consumer.committed(parts)] == [(0, -1), (1, -1)]
        consumer.commit([TopicPartition(topic, 1, 7)])
        assert [(tp.partition, tp.offset) for tp in consumer.committed(parts)] == [(0, -1), (1, 7)]
    finally:
        consumer.close()


def test_commit_nowait_returns_at_once_and_lands(settings: KafkaSettings) -> None:
    topic = new_topic(settings, partitions=1)
    group = f"rdv-contract-{uuid.uuid4().hex[:8]}"
    consumer = make_consumer(settings, group_id=group)
    try:
        consumer.commit_nowait([TopicPartition(topic, 0, 4)])
        consumer.commit_nowait([])  # nothing to commit is not an error
        wait_for(lambda: consumer.poll(0.05) is None and consumer.committed([TopicPartition(topic, 0)])[0].offset == 4)
    finally:
        consumer.close()
    loose = make_consumer(settings, group_id=None)
    try:
        with pytest.raises(KafkaError):
            loose.commit_nowait([TopicPartition(topic, 0, 1)])
    finally:
        loose.close()


def test_poll_batch_drains_what_is_fetched_and_waits_only_for_the_first_record(settings: KafkaSettings) -> None:
    topic = new_topic(settings, partitions=1)
    consumer = make_consumer(settings, group_id=None)
    try:
        consumer.assign([TopicPartition(topic, 0, BEGINNING)])
        started = time.monotonic()
        assert consumer.poll_batch(100, 0.3) == []  # nothing there: waits its timeout, no more
        assert time.monotonic() - started < 5.0
        write(settings, topic, 0, 20)
        got: list[Record] = []
        deadline = time.monotonic() + 15
        while len(got) < 20 and time.monotonic() < deadline:
            batch = consumer.poll_batch(8, 10.0)
            assert len(batch) <= 8
            got += batch
        assert [r.offset for r in got] == list(range(20))
        # A batch that cannot be filled returns what there is at once, not after its timeout.
        write(settings, topic, 0, 1)
        started = time.monotonic()
        batch = consumer.poll_batch(100, 10.0)
        assert [r.offset for r in batch] == [20] and time.monotonic() - started < 5.0
    finally:
        consumer.close()


def test_assign_places_the_consumer_at_the_beginning_the_end_or_an_offset(settings: KafkaSettings) -> None:
    topic = new_topic(settings, partitions=3)
    for partition in range(3):
        write(settings, topic, partition, 4)
    consumer = make_consumer(settings)
    try:
        consumer.assign(
            [TopicPartition(topic, 0, BEGINNING), TopicPartition(topic, 1, END), TopicPartition(topic, 2, 2)]
        )
        assert sorted((tp.topic, tp.partition) for tp in consumer.assignment()) == [(topic, p) for p in range(3)]
        got = sorted((r.partition, r.offset) for r in read(consumer, 6))
        assert got == [(0, 0), (0, 1), (0, 2), (0, 3), (2, 2), (2, 3)]
        read_nothing(consumer)
        write(settings, topic, 1, 1)  # the end of partition 1: what is written after the assign
        [record] = read(consumer, 1)
        assert (record.partition, record.offset) == (1, 4)
    finally:
        consumer.close()


def test_seek_moves_what_poll_returns_next(settings: KafkaSettings) -> None:
    topic = new_topic(settings, partitions=2)
    write(settings, topic, 0, 6)
    write(settings, topic, 1, 2)
    consumer = make_consumer(settings)
    try:
        consumer.assign([TopicPartition(topic, 0, BEGINNING)])
        assert read(consumer, 1)[0].offset == 0
        # Ahead, past records the client may have fetched already…
        consumer.seek(TopicPartition(topic, 0, 3))
        assert consumer.position(topic, 0) == 3
        assert read(consumer, 1)[0].offset == 3
        # …back…
        consumer.seek(TopicPartition(topic, 0, 1))
        assert [r.offset for r in read(consumer, 5)] == [1, 2, 3, 4, 5]
        # …to the beginning…
        consumer.seek(TopicPartition(topic, 0, BEGINNING))
        assert [r.offset for r in read(consumer, 6)] == [0, 1, 2, 3, 4, 5]
        # …and to the end: only what is written later comes.
        consumer.seek(TopicPartition(topic, 0, 2))
        consumer.seek(TopicPartition(topic, 0, END))
        read_nothing(consumer)
        write(settings, topic, 0, 1)
        [record] = read(consumer, 1)
        assert (record.partition, record.offset) == (0, 6)
        # Only the partition named moves.
        consumer.assign([TopicPartition(topic, 0, 5), TopicPartition(topic, 1, BEGINNING)])
        consumer.seek(TopicPartition(topic, 1, 1))
        assert sorted((r.partition, r.offset) for r in read(consumer, 3)) == [(0, 5), (0, 6), (1, 1)]
    finally:
        consumer.close()


def test_seek_within_a_group_rereads_from_the_offset(settings: KafkaSettings) -> None:
    topic = new_topic(settings, partitions=1)
    write(settings, topic, 0, 4)
    consumer = make_consumer(settings, group_id=f"rdv-contract-{uuid.uuid4().hex[:8]}")
    try:
        consumer.subscribe([topic])
        assert [r.offset for r in read(consumer, 2, timeout=30)] == [0, 1]
        consumer.seek(TopicPartition(topic, 0, 0))
        assert consumer.position(topic, 0) == 0
        assert [r.offset for r in read(consumer, 4)] == [0, 1, 2, 3]
    finally:
        consumer.close()


def test_position_is_the_next_offset_poll_returns_and_watermarks_bound_the_partition(
    settings: KafkaSettings,
) -> None:
    topic = new_topic(settings, partitions=1)
    write(settings, topic, 0, 10)
    consumer = make_consumer(settings)
    try:
        assert consumer.watermarks(topic, 0) == (0, 10)
        consumer.assign([TopicPartition(topic, 0, 4)])
        assert consumer.position(topic, 0) == 4
        [record] = read(consumer, 1)
        assert record.offset == 4
        # One record returned, however many the client fetched behind it.
        assert consumer.position(topic, 0) == 5
        read(consumer, 5)
        assert consumer.position(topic, 0) == 10 == consumer.watermarks(topic, 0)[1]
    finally:
        consumer.close()


def test_lag_is_what_poll_has_not_returned_yet_of_each_assigned_partition(settings: KafkaSettings) -> None:
    topic = new_topic(settings, partitions=2)
    write(settings, topic, 0, 10)
    write(settings, topic, 1, 4)
    consumer = make_consumer(settings)
    try:
        consumer.assign([TopicPartition(topic, 0, 0), TopicPartition(topic, 1, 0)])
        read(consumer, 3)

        def lag() -> dict[int, int]:
            return {tp.partition: tp.offset for tp in consumer.lag() if tp.topic == topic}

        # The client learns the high watermarks from its fetches: 14 records, 3 returned so far.
        wait_for(lambda: len(lag()) == 2 and sum(lag().values()) == 11)
        read(consumer, 11)
        assert lag() == {0: 0, 1: 0}
        write(settings, topic, 1, 5)
        # The fetch that brought two of them carried the new high watermark (kafka-python fetches only
        # inside poll); the three fetched but not returned are still lag.
        read(consumer, 2)
        wait_for(lambda: lag() == {0: 0, 1: 3})
        read(consumer, 3)
        assert lag() == {0: 0, 1: 0}
    finally:
        consumer.close()


def test_offsets_for_times_finds_the_first_record_at_or_after_a_time(settings: KafkaSettings) -> None:
    topic = new_topic(settings, partitions=2)
    base_ms = int(time.time() * 1000) - PAST_MS
    write(settings, topic, 0, 4, base_ms)  # a second apart: base, +1 s, +2 s, +3 s
    write(settings, topic, 1, 2, base_ms + 10_000)
    consumer = make_consumer(settings)
    try:
        assert consumer.offsets_for_times(topic, [0, 1], base_ms - 5000) == {0: 0, 1: 0}
        assert consumer.offsets_for_times(topic, [0, 1], base_ms + 1500) == {0: 2, 1: 0}
        assert consumer.offsets_for_times(topic, [0, 1], base_ms + 10_500) == {0: None, 1: 1}
        assert consumer.offsets_for_times(topic, [1], base_ms + 60_000) == {1: None}
    finally:
        consumer.close()


# --- administration ------------------------------------------------------------------------------------


def test_topic_administration_is_idempotent(settings: KafkaSettings) -> None:
    names = [f"rdv.contract.{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = make_admin(settings)
    try:
        assert admin.partition_count(names[0]) is None
        assert admin.ensure_topics([TopicSpec(names[0], 2)]) == [names[0]]
        assert sorted(admin.ensure_topics([TopicSpec(n, 3) for n in names])) == [names[1]]
        assert admin.ensure_topics([TopicSpec(n, 3) for n in names]) == []
        assert (admin.partition_count(names[0]), admin.partition_count(names[1])) == (2, 3)
        admin.delete_topics(names)
        wait_for(lambda: all(admin.partition_count(n) is None for n in names))
        admin.delete_topics(names)  # deleting what does not exist is not an error
        admin.delete_topics([])
    finally:
        admin.close()


# --- errors --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stranger(kafka_bootstrap: str) -> Iterator[tuple[str, str]]:
    """A principal that logs in but holds no ACL at all."""
    username, password = f"rdv-stranger-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(24)
    admin = make_admin(kafka_settings(kafka_bootstrap))
    admin.upsert_scram_credential(username, password)
    try:
        yield username, password
    finally:
        admin.delete_scram_credential(username)
        admin.close()


def test_the_brokers_refusals_are_authorization_errors(settings: KafkaSettings, stranger: tuple[str, str]) -> None:
    topic = new_topic(settings, partitions=1)
    write(settings, topic, 0, 1)
    denied = settings.as_user(*stranger)

    # Producing: refused either at once or in the delivery report, never acknowledged.
    reports: list[KafkaError | None] = []
    producer = make_producer(denied)
    try:
        producer.produce(topic, b"x", partition=0, on_delivery=lambda e, _tp: reports.append(e))
        producer.flush(15)
    except KafkaAuthorizationError:
        pass
    else:
        assert len(reports) == 1 and isinstance(reports[0], KafkaAuthorizationError), reports
    finally:
        with suppress(KafkaError):  # closing a refused client may report it again
            producer.close()

    # Consuming, without a group and within one.
    for group in (None, f"rdv-contract-{uuid.uuid4().hex[:8]}"):
        consumer = make_consumer(denied, group_id=group)
        try:
            with pytest.raises(KafkaAuthorizationError):
                if group is None:
                    consumer.assign([TopicPartition(topic, 0, BEGINNING)])
                else:
                    consumer.subscribe([topic])
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    assert consumer.poll(0.2) is None
        finally:
            with suppress(KafkaError):  # closing a refused client may report it again
                consumer.close()

    # Administration.
    admin = make_admin(denied)
    try:
        with pytest.raises(KafkaAuthorizationError):
            admin.ensure_topics([TopicSpec(f"rdv.contract.{uuid.uuid4().hex[:10]}", 1)])
        with pytest.raises(KafkaAuthorizationError):
            admin.partition_count(topic)  # refused, not "missing"
        with pytest.raises(KafkaAuthorizationError):
            admin.delete_topics([topic])
    finally:
        admin.close()


def test_misuse_and_invalid_requests_raise_the_adapters_error(settings: KafkaSettings) -> None:
    topic = new_topic(settings, partitions=1)
    write(settings, topic, 0, 1)

    admin = make_admin(settings)
    try:
        for invalid in (TopicSpec("not a topic name!", 1), TopicSpec(f"rdv.contract.{uuid.uuid4().hex}", 0)):
            with pytest.raises(KafkaError):
                admin.ensure_topics([invalid])
    finally:
        admin.close()

    # A partition the topic does not have: refused at once (kafka-python) or in the delivery report
    # (librdkafka queues it until the metadata says), never acknowledged.
    reports: list[KafkaError | None] = []
    producer = make_producer(settings)
    try:
        producer.produce(topic, b"x", partition=7, on_delivery=lambda e, _tp: reports.append(e))
        assert producer.flush(15) == 0
    except KafkaError:
        assert reports == []
    else:
        assert len(reports) == 1 and type(reports[0]) is KafkaError, reports
    finally:
        producer.close()

    consumer = make_consumer(settings)
    try:
        consumer.assign([TopicPartition(topic, 0, BEGINNING)])
        with pytest.raises(KafkaError):
            consumer.position(topic, 5)  # not assigned
        with pytest.raises(KafkaError):
            consumer.seek(TopicPartition(topic, 5, 0))
        with pytest.raises(KafkaError):
            consumer.commit([TopicPartition(topic, 0, 1)])  # no group to commit for
    finally:
        consumer.close()


def test_an_unreachable_broker_raises_the_adapters_error(settings: KafkaSettings) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}", client=settings.client)
    started = time.monotonic()
    with pytest.raises(KafkaError):
        admin = make_admin(nowhere)
        try:
            admin.partition_count("rdv.config")
        finally:
            admin.close()
    assert time.monotonic() - started < 60  # kafka-python gives up bootstrapping after 30 s, librdkafka after 10
