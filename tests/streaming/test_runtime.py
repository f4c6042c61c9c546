"""The streaming runtime against the real broker, on both clients: it hands batches to its step,
commits only what is done (held records and undelivered outputs stay uncommitted), dead-letters,
keeps a step's timers, follows the config and stops when the config stops being followed."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from contracts.codec import decode
from contracts.config import ServiceConfig
from contracts.kafka import (
    BEGINNING,
    KafkaSettings,
    Record,
    TopicPartition,
    TopicSpec,
    make_admin,
    make_consumer,
    make_producer,
)
from contracts.keys import ServiceKey
from contracts.messages import DeadLetter
from contracts.topics import DLQ_TOPIC
from contracts.topology import platform_topics
from streaming import LoopSettings, Step, StepIO, StreamLoop, Subscription, ref_of
from streaming.health import HealthFile
from streaming.runtime import ConfigView
from tests.kafka_auth import kafka_settings

FAST = LoopSettings(max_wait_s=0.05, commit_interval_s=0.1)


@pytest.fixture(params=["confluent", "kafka-python"])
def settings(request: pytest.FixtureRequest, kafka_bootstrap: str) -> KafkaSettings:
    return kafka_settings(kafka_bootstrap, request.param)


@pytest.fixture
def topics(settings: KafkaSettings) -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:8]
    names = (f"rt-in-{tag}", f"rt-out-{tag}")
    admin = make_admin(settings)
    admin.ensure_topics(platform_topics() + [TopicSpec(name, 2) for name in names])
    yield names
    admin.delete_topics(list(names))
    admin.close()


class Echo(Step):
    """Copies each record to ``out``; refuses values starting with ``bad``; holds values ``hold``."""

    name = "echo"

    def __init__(self, out: str) -> None:
        self.out = out
        self.seen: list[bytes] = []
        self.held = []

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        for record in records:
            value = record.value or b""
            self.seen.append(value)
            if value.startswith(b"bad"):
                io.dead_letter(record, "not a good record")
            elif value == b"hold":
                self.held.append(ref_of(record))
                io.hold(ref_of(record))
            else:
                io.produce(self.out, value, key=record.key, partition=record.partition, after=[ref_of(record)])


def _produce(settings: KafkaSettings, topic: str, values: Sequence[bytes], partition: int = 0) -> None:
    producer = make_producer(settings)
    for value in values:
        producer.produce(topic, value, key=value, partition=partition)
    assert producer.flush(10.0) == 0
    producer.close()


def _group() -> str:
    return f"rdv-runner-rt-{uuid.uuid4().hex[:8]}"


def _run_until(loop: StreamLoop, done, timeout: float = 30.0) -> None:  # noqa: ANN001
    stop = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            loop.run(stop)
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            failure.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    stop.set()
    thread.join(20.0)
    if failure:
        raise failure[0]
    assert done(), "the loop did not get there in time"


def _committed(settings: KafkaSettings, group: str, topic: str, partition: int = 0) -> int:
    """The group's committed position of one partition."""
    consumer = make_consumer(settings, group_id=group)
    try:
        return consumer.committed([TopicPartition(topic, partition)])[0].offset
    finally:
        consumer.close()


def _loop(settings: KafkaSettings, step: Step, group: str, topic: str, **kwargs) -> StreamLoop:  # noqa: ANN003
    return StreamLoop(
        step,
        consumer=make_consumer(settings, group_id=group),
        producer=make_producer(settings),
        admin=make_admin(settings),
        source=Subscription((topic,)),
        settings=FAST,
        **kwargs,
    )


def _read(settings: KafkaSettings, topic: str) -> list[bytes]:
    admin = make_admin(settings)
    partitions = admin.partition_count(topic) or 0
    admin.close()
    consumer = make_consumer(settings, group_id=None)
    consumer.assign([TopicPartition(topic, p, BEGINNING) for p in range(partitions)])
    values = []
    idle_until = time.monotonic() + 3.0
    while time.monotonic() < idle_until:
        record = consumer.poll(0.1)
        if record is not None:
            values.append(record.value)
            idle_until = time.monotonic() + 1.0
    consumer.close()
    return values


def test_every_record_is_processed_and_committed_once_its_output_is_acknowledged(
    settings: KafkaSettings, topics: tuple[str, str]
) -> None:
    source, out = topics
    values = [f"v{i}".encode() for i in range(200)]
    _produce(settings, source, values)
    step = Echo(out)
    group = _group()
    loop = _loop(settings, step, group, source)
    _run_until(loop, lambda: len(step.seen) == 200)
    assert sorted(_read(settings, out)) == sorted(values)
    assert _committed(settings, group, source) == 200
    assert loop.metrics.records == 200
    assert loop.metrics.batches < 200, "records are handed over in batches"


def test_the_loop_keeps_its_health_file_current(
    settings: KafkaSettings, topics: tuple[str, str], tmp_path: Path
) -> None:
    source, out = topics
    _produce(settings, source, [b"a", b"b"])
    path = tmp_path / "health.json"
    step = Echo(out)

    def written() -> dict:
        return json.loads(path.read_text()) if path.exists() else {}

    loop = _loop(
        settings, step, _group(), source, health_file=HealthFile(path, identity={"worker": "w1"}, interval_s=0.05)
    )
    _run_until(loop, lambda: written().get("loops", {}).get("echo", {}).get("records") == 2)
    status = written()
    assert status["alive"] is True and status["worker"] == "w1"
    assert status["loops"]["echo"]["ready"] is True  # it owns its partitions


def test_a_held_record_is_read_again_by_the_next_member(settings: KafkaSettings, topics: tuple[str, str]) -> None:
    source, out = topics
    _produce(settings, source, [b"a", b"b", b"hold", b"c", b"d"])
    step = Echo(out)
    group = _group()
    _run_until(_loop(settings, step, group, source), lambda: len(step.seen) == 5)
    assert _committed(settings, group, source) == 2  # the held record and everything after it
    again = Echo(out)
    _run_until(_loop(settings, again, group, source), lambda: len(again.seen) == 3)
    assert again.seen == [b"hold", b"c", b"d"]


def test_poison_goes_to_the_dead_letter_topic_and_is_committed(
    settings: KafkaSettings, topics: tuple[str, str]
) -> None:
    source, out = topics
    marker = f"bad-{uuid.uuid4().hex}".encode()
    _produce(settings, source, [b"ok", marker])
    step = Echo(out)
    group = _group()
    loop = _loop(settings, step, group, source)
    _run_until(loop, lambda: len(step.seen) == 2)
    assert _committed(settings, group, source) == 2
    letters = [decode(DeadLetter, v) for v in _read(settings, DLQ_TOPIC)]
    mine = [letter for letter in letters if letter.value == marker.decode()]
    assert len(mine) == 1 and mine[0].error == "not a good record" and mine[0].topic == source
    assert loop.metrics.dead_lettered == 1


class Timer(Step):
    """Asks to be woken every 20 ms and notes how late each tick came."""

    name = "timer"

    def __init__(self) -> None:
        self.due = time.time() + 0.02
        self.late_ms: list[float] = []

    def next_wakeup(self) -> float:
        return self.due

    def tick(self, now: float, io: StepIO) -> None:
        if now >= self.due:
            self.late_ms.append((now - self.due) * 1000)
            self.due = now + 0.02


def test_a_steps_timer_is_kept_while_the_poll_waits(settings: KafkaSettings, topics: tuple[str, str]) -> None:
    source, _ = topics
    step = Timer()
    loop = StreamLoop(
        step,
        consumer=make_consumer(settings, group_id=_group()),
        producer=make_producer(settings),
        source=Subscription((source,)),
        settings=LoopSettings(max_wait_s=1.0),  # the timer, not this, must bound the wait
    )
    started = time.monotonic()
    _run_until(loop, lambda: len(step.late_ms) >= 50)
    # 50 ticks 20 ms apart: had the poll waited its full second, this would take 50 s.
    assert time.monotonic() - started < 15.0
    late = sorted(step.late_ms)
    assert late[len(late) // 2] < 20.0, late


class FakeConfig(ConfigView):
    def __init__(self) -> None:
        self.generation = 0
        self._services: dict[ServiceKey, ServiceConfig] = {}
        self.failure: str | None = None

    @property
    def services(self) -> Mapping[ServiceKey, ServiceConfig]:
        return self._services

    def add(self, name: str) -> None:
        self._services = {
            **self._services,
            ServiceKey("t", name): ServiceConfig(tenant="t", service=name, revision=1, deadline_ms=100, partitions=1)
        }
        self.generation += 1

    def check(self) -> None:
        if self.failure is not None:
            raise RuntimeError(self.failure)


class PerService(Step):
    """Wants one topic per service of the config (created by the runtime), and counts its records."""

    name = "per-service"

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.seen: list[bytes] = []
        self.configured = 0

    def wanted_topics(self, services: Mapping[ServiceKey, ServiceConfig]) -> list[TopicSpec]:
        return [TopicSpec(f"rt-{self.tag}-{key.service}", 1) for key in services]

    def configure(self, services: Mapping[ServiceKey, ServiceConfig], io: StepIO) -> None:
        self.configured += 1

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        self.seen += [record.value or b"" for record in records]


def test_the_subscription_follows_the_config_and_a_dead_follower_stops_the_loop(settings: KafkaSettings) -> None:
    tag = uuid.uuid4().hex[:8]
    config = FakeConfig()
    config.add("one")
    step = PerService(tag)
    loop = StreamLoop(
        step,
        consumer=make_consumer(settings, group_id=_group()),
        producer=make_producer(settings),
        admin=make_admin(settings),
        config=config,
        settings=FAST,
    )
    stop = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            loop.run(stop)
        except BaseException as exc:  # noqa: BLE001
            failure.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        admin = make_admin(settings)
        while admin.partition_count(f"rt-{tag}-one") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        config.add("two")  # a new service: its topic is created and read
        while admin.partition_count(f"rt-{tag}-two") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        _produce(settings, f"rt-{tag}-two", [b"x"])
        while step.seen != [b"x"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert step.seen == [b"x"]
        assert step.configured == 2
        config.failure = "the follower thread is gone"
        thread.join(10.0)
        assert not thread.is_alive(), "the loop kept running on a config nobody follows"
        assert failure and "follower thread is gone" in str(failure[0])
        assert loop.health.failure is not None and not loop.health.alive()
        admin.delete_topics([f"rt-{tag}-one", f"rt-{tag}-two"])
        admin.close()
    finally:
        stop.set()
        thread.join(10.0)


class Batches(Step):
    name = "batches"

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        self.batches.append([record.value or b"" for record in records])


def test_a_gathering_loop_hands_records_that_arrive_close_together_over_as_one_batch(
    settings: KafkaSettings, topics: tuple[str, str]
) -> None:
    source, _ = topics
    step = Batches()
    ready = threading.Event()
    loop = StreamLoop(
        step,
        consumer=make_consumer(settings, group_id=_group()),
        producer=make_producer(settings),
        admin=make_admin(settings),
        source=Subscription((source,)),
        settings=LoopSettings(max_wait_s=0.05, commit_interval_s=0.1, gather_s=2.0),
        on_ready=ready.set,
    )

    def produce_apart() -> None:
        assert ready.wait(30.0)
        _produce(settings, source, [b"a"])
        time.sleep(0.5)  # far longer than a poll's wait: without gathering, "a" is handed over alone
        _produce(settings, source, [b"b", b"c"])

    producer = threading.Thread(target=produce_apart, daemon=True)
    producer.start()
    _run_until(loop, lambda: sum(len(batch) for batch in step.batches) >= 3)
    producer.join(5.0)
    assert step.batches == [[b"a", b"b", b"c"]]


class Slow(Echo):
    """Echo, a batch of at most ten at a time, noting the loop's sampled lag before each batch."""

    def __init__(self, out: str) -> None:
        super().__init__(out)
        self.loop: StreamLoop | None = None
        self.lags: list[int] = []

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        assert self.loop is not None
        self.lags.append(sum(self.loop.metrics.lag.values()))
        time.sleep(0.02)
        super().process(records, io)


def test_the_loop_samples_its_consumer_lag_per_topic(settings: KafkaSettings, topics: tuple[str, str]) -> None:
    source, out = topics
    _produce(settings, source, [f"v{i}".encode() for i in range(300)])
    step = Slow(out)
    loop = StreamLoop(
        step,
        consumer=make_consumer(settings, group_id=_group()),
        producer=make_producer(settings),
        admin=make_admin(settings),
        source=Subscription((source,)),
        settings=LoopSettings(max_batch=10, max_wait_s=0.05, commit_interval_s=0.1, lag_interval_s=0.05),
    )
    step.loop = loop
    _run_until(loop, lambda: len(step.seen) == 300 and loop.metrics.lag.get(source) == 0)
    # While it worked through the backlog, the records not yet read showed as lag on their topic.
    assert max(step.lags) > 100
    assert set(loop.metrics.lag) == {source}
