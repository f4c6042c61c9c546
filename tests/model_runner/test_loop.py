"""The scoring step on the runtime without a broker: subscriptions follow the config, scores keep their
partition, requests wait for a loading version, and offsets are committed only once the scores made
from them are acknowledged."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from contracts.codec import decode, decode_scores, encode
from contracts.config import DeploymentSpec, ServiceConfig
from contracts.kafka import Admin, Consumer, Producer, Record, TopicPartition, TopicSpec
from contracts.messages import DeadLetter, ReplyTo, Request
from contracts.provenance import RepliesPartitions
from contracts.topics import DLQ_TOPIC, REPLIES_TOPIC, service_topics
from model_runner.hosting import HostedModels
from model_runner.loading import LoadedModel, Prediction
from model_runner.loop import ScoringStep
from model_runner.settings import RunnerSettings
from streaming import LoopSettings, StreamLoop

SETTINGS = RunnerSettings.from_env({"RDV_RUNNER_ID": "r1", "RDV_MAX_BATCH": "64"})


class FakeConsumer(Consumer):
    def __init__(self) -> None:
        self.records: deque[Record] = deque()
        self.subscriptions: list[tuple[str, ...]] = []
        self.commits: list[list[TopicPartition]] = []

    def subscribe(self, topics: Sequence[str], *, on_assign: Any = None, on_revoke: Any = None) -> None:
        self.subscriptions.append(tuple(topics))

    def poll(self, timeout: float) -> Record | None:
        return self.records.popleft() if self.records else None

    def commit(self, offsets: Iterable[TopicPartition]) -> None:
        self.commits.append(list(offsets))

    def assign(self, partitions: Sequence[TopicPartition]) -> None: ...
    def assignment(self) -> list[TopicPartition]:
        return []  # noqa: E704

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        return (0, 0)  # noqa: E704

    def position(self, topic: str, partition: int) -> int:
        return 0  # noqa: E704

    def close(self) -> None: ...


class FakeProducer(Producer):
    """Acknowledges what it was given when polled or flushed, unless ``hold_acks`` is set."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int | None, bytes | None]] = []
        self._unacked: list[tuple[Any, TopicPartition]] = []
        self.hold_acks = False

    def produce(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: Any = None,
        partition: Any = None,
        on_delivery: Any = None,
        timestamp_ms: Any = None,
    ) -> None:
        self.sent.append((topic, partition, value))
        if on_delivery is not None:
            self._unacked.append((on_delivery, TopicPartition(topic, partition or 0, len(self.sent))))

    def poll(self, timeout: float = 0.0) -> int:
        if self.hold_acks:
            return 0
        acks, self._unacked = self._unacked, []
        for callback, tp in acks:
            callback(None, tp)
        return len(acks)

    def flush(self, timeout: float = 10.0) -> int:  # noqa: E301
        self.poll()
        return len(self._unacked)

    def close(self) -> None: ...


class FakeAdmin(Admin):
    def __init__(self) -> None:
        self.ensured: list[str] = []

    def ensure_topics(self, topics: Sequence[TopicSpec]) -> list[str]:
        self.ensured += [t.name for t in topics]
        return []

    def partition_count(self, topic: str) -> int | None:
        return 4  # noqa: E704

    def delete_topics(self, names: Sequence[str]) -> None: ...
    def close(self) -> None: ...


class FakeFollower:
    def __init__(self) -> None:
        self.services: dict[tuple[str, str], ServiceConfig] = {}
        self.generation = 0

    def publish(self, config: ServiceConfig) -> None:
        self.services = {**self.services, (config.tenant, config.service): config}
        self.generation += 1

    def get(self, tenant: str, service: str) -> ServiceConfig | None:
        return self.services.get((tenant, service))

    def check(self) -> None: ...


class Echo(LoadedModel):
    def __init__(self) -> None:
        self.batches: list[int] = []

    def predict_batch(self, rows: Sequence[Any]) -> list[Prediction]:
        self.batches.append(len(rows))
        return [{"value": float(row["x"])} for row in rows]

    def _predict(self, matrix: Any) -> list[dict[str, Any]]:
        raise NotImplementedError


def _spec(model: str) -> DeploymentSpec:
    return DeploymentSpec(
        model=model, version=1, role="champion", format="skops", sha256="b" * 64, artifact_url="file:///x"
    )


def _config(service: str, *models: str) -> ServiceConfig:
    return ServiceConfig(
        tenant="acme",
        service=service,
        revision=1,
        deadline_ms=100,
        partitions=4,
        deployments=tuple(_spec(m) for m in models),
    )


def _record(service: str, offset: int, partition: int, value: bytes) -> Record:
    return Record(service_topics("acme", service).requests, partition, offset, b"k", value, 0)


def _request(service: str, request_id: str, x: float, deadline_ms: int = 5000, age_s: float = 0.0) -> bytes:
    return encode(
        Request(
            request_id=request_id,
            tenant="acme",
            service=service,
            sent_at=time.time() - age_s,
            deadline_ms=deadline_ms,
            config_revision=1,
            inputs={"x": x},
        )
    )


def _loop(
    gate: threading.Event | None = None,
    settings: RunnerSettings = SETTINGS,
    models: dict[str, LoadedModel] | None = None,
) -> tuple[StreamLoop, FakeConsumer, FakeProducer, FakeFollower]:
    model = Echo()

    def loader(spec: DeploymentSpec) -> LoadedModel:
        if gate is not None:
            gate.wait(5)
        return models[spec.model] if models is not None else model

    consumer, producer, follower = FakeConsumer(), FakeProducer(), FakeFollower()
    admin = FakeAdmin()
    step = ScoringStep(
        settings, hosting=HostedModels("default", loader), replies=RepliesPartitions(admin.partition_count)
    )
    loop = StreamLoop(
        step,
        consumer=consumer,
        producer=producer,
        admin=admin,
        config=follower,  # type: ignore[arg-type]
        settings=LoopSettings(max_batch=settings.max_batch, commit_interval_s=3600),
    )
    return loop, consumer, producer, follower


_STOP = threading.Event()


def _run_until(loop: StreamLoop, condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        loop._turn(_STOP)
        if condition():
            return
        assert time.monotonic() < deadline, "condition not reached"


def _stats(loop: StreamLoop) -> dict[str, int]:
    return loop.step.stats  # type: ignore[attr-defined, no-any-return]


def test_scores_keep_the_partition_and_poison_goes_to_the_dead_letter_topic() -> None:
    loop, consumer, producer, follower = _loop()
    follower.publish(_config("churn", "a", "b"))
    loop._turn(_STOP)
    consumer.records.extend(
        [
            _record("churn", 0, 3, _request("churn", "r0", 1.0)),
            _record("churn", 1, 3, b"{oops"),
            _record("churn", 0, 2, _request("churn", "r1", 2.0)),
            _record("churn", 2, 3, _request("churn", "old", 3.0, deadline_ms=100, age_s=10.0)),
        ]
    )

    _run_until(loop, lambda: len([s for s in producer.sent if s[0] != DLQ_TOPIC]) == 4)

    scores = [(t, p, s) for t, p, v in producer.sent if t != DLQ_TOPIC for s in decode_scores(v)]
    assert {(p, s.request_id, s.model) for _t, p, s in scores} == {
        (3, "r0", "a"),
        (3, "r0", "b"),
        (2, "r1", "a"),
        (2, "r1", "b"),
    }
    assert {t for t, _p, _s in scores} == {service_topics("acme", "churn").scores}
    [letter] = [decode(DeadLetter, v) for t, _p, v in producer.sent if t == DLQ_TOPIC]
    assert (letter.partition, letter.offset, letter.value) == (3, 1, "{oops")
    assert _stats(loop)["expired"] == 1


def test_requests_whose_body_disagrees_with_their_topic_are_dead_lettered_unscored() -> None:
    """Tenants produce requests themselves: the topic decides whose they are (contracts.provenance)."""
    loop, consumer, producer, follower = _loop()
    follower.publish(_config("churn", "a"))
    loop._turn(_STOP)

    def forged(request_id: str, **changes: Any) -> bytes:
        request = decode(Request, _request("churn", request_id, 1.0))
        for name, value in changes.items():
            setattr(request, name, value)
        return encode(request)

    consumer.records.extend(
        [
            _record("churn", 0, 0, forged("other-tenant", tenant="victim")),
            _record("churn", 1, 0, forged("other-service", service="fraud")),
            _record("churn", 2, 0, forged("config", reply_to=ReplyTo(topic="rdv.config", partition=0))),
            _record("churn", 3, 0, forged("too-far", reply_to=ReplyTo(topic=REPLIES_TOPIC, partition=4))),
            _record("churn", 4, 0, forged("negative", reply_to=ReplyTo(topic=REPLIES_TOPIC, partition=-1))),
            _record("churn", 5, 0, forged("fine", reply_to=ReplyTo(topic=REPLIES_TOPIC, partition=3))),
        ]
    )
    _run_until(loop, lambda: any(t != DLQ_TOPIC for t, _p, _v in producer.sent))

    scored = [s.request_id for t, _p, v in producer.sent if t != DLQ_TOPIC for s in decode_scores(v)]
    letters = [decode(DeadLetter, v) for t, _p, v in producer.sent if t == DLQ_TOPIC]
    assert scored == ["fine"]
    assert [letter.offset for letter in letters] == [0, 1, 2, 3, 4]
    assert "'victim'" in letters[0].error and "the topic decides" in letters[0].error
    assert "'fraud'" in letters[1].error
    assert "'rdv.config'" in letters[2].error
    assert "partition 4 of rdv.replies" in letters[3].error  # FakeAdmin's metadata: 4 partitions
    assert "partition -1 of rdv.replies" in letters[4].error


def test_requests_wait_for_a_loading_version_and_their_offset_waits_with_them() -> None:
    gate = threading.Event()
    loop, consumer, producer, follower = _loop(gate)
    follower.publish(_config("churn", "slow"))
    loop._turn(_STOP)
    consumer.records.extend(_record("churn", i, 0, _request("churn", f"r{i}", i)) for i in range(3))

    _run_until(loop, lambda: loop.step.pending == 3)  # type: ignore[attr-defined]
    loop._commit(force=True)
    assert all(tp.offset == 0 for batch in consumer.commits for tp in batch)

    gate.set()
    producer.hold_acks = True
    _run_until(loop, lambda: sum(len(decode_scores(v)) for _t, _p, v in producer.sent) == 3)  # one ScoreBatch
    loop._commit(force=True)
    assert all(tp.offset == 0 for batch in consumer.commits for tp in batch), "scores not acknowledged yet"

    producer.hold_acks = False
    producer.poll()
    loop._commit(force=True)
    assert consumer.commits[-1] == [TopicPartition(service_topics("acme", "churn").requests, 0, 3)]


def test_a_new_service_in_the_pool_is_subscribed_without_a_restart() -> None:
    loop, consumer, _producer, follower = _loop()
    follower.publish(_config("churn", "a"))
    loop._turn(_STOP)

    follower.publish(_config("fraud", "a"))
    _run_until(loop, lambda: len(consumer.subscriptions) == 2)

    assert consumer.subscriptions[-1] == (
        service_topics("acme", "churn").requests,
        service_topics("acme", "fraud").requests,
    )


class Sleeper(LoadedModel):
    """Never returns (until released): the hung model of issue 4's acceptance 4."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def predict_batch(self, rows: Sequence[Any]) -> list[Prediction]:
        self.release.wait(30)
        return [{"value": 0.0} for _ in rows]

    def _predict(self, matrix: Any) -> list[dict[str, Any]]:
        raise NotImplementedError


def test_a_hung_model_costs_its_timeout_once_and_never_holds_up_the_champion() -> None:
    sleeper, echo = Sleeper(), Echo()
    models = {"sleepy": sleeper, "a": echo}
    settings = RunnerSettings.from_env({"RDV_RUNNER_ID": "r1", "RDV_MODEL_TIMEOUT_MS": "300"})
    loop, consumer, producer, follower = _loop(settings=settings, models=models)  # type: ignore[arg-type]
    challenger = DeploymentSpec(
        model="sleepy", version=1, role="challenger", format="python", sha256="b" * 64, artifact_url="file:///x"
    )
    follower.publish(
        ServiceConfig(
            tenant="acme", service="churn", revision=1, deadline_ms=100, partitions=4,
            deployments=(challenger, _spec("a")),
        )
    )
    loop._turn(_STOP)
    hosting = loop.step._hosting  # type: ignore[attr-defined]
    _run_until(loop, lambda: hosting.version("acme", _spec("a")).state == "ready")  # the champion is preloaded
    try:
        consumer.records.append(_record("churn", 0, 1, _request("churn", "r0", 1.0)))
        started = time.monotonic()
        _run_until(loop, lambda: len(producer.sent) == 2)
        first_batch_s = time.monotonic() - started

        consumer.records.append(_record("churn", 1, 1, _request("churn", "r1", 2.0)))
        started = time.monotonic()
        _run_until(loop, lambda: len(producer.sent) == 4)
        second_batch_s = time.monotonic() - started
    finally:
        sleeper.release.set()

    scores = [s for _t, _p, value in producer.sent for s in decode_scores(value)]
    assert [(s.request_id, s.model, s.status) for s in scores] == [
        ("r0", "a", "ok"),  # the champion first, before the challenger's call is even started
        ("r0", "sleepy", "error"),
        ("r1", "a", "ok"),
        ("r1", "sleepy", "error"),
    ]
    assert scores[1].error == "timed out after 300 ms"
    assert (scores[3].error or "").startswith("still running a call that timed out")
    assert 0.3 <= first_batch_s < 3.0, "the hung call is waited for no longer than its timeout"
    assert second_batch_s < 0.25, "a stuck version never makes anyone wait again"
