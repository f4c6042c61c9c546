"""``python -m model_runner`` against the real broker, on both Kafka clients.

It follows a config published to ``rdv.config``, scores requests read from every partition and writes
each score to the same partition number, refuses a pickle version with error scores, and sends a poison
record to ``rdv.dlq`` while it keeps serving.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from contracts.codec import decode, decode_scores, encode
from contracts.config import ServiceConfig
from contracts.kafka import KafkaSettings, TopicPartition, make_admin, make_consumer, make_producer
from contracts.messages import DeadLetter, Request, Score
from contracts.topics import CONFIG_TOPIC, DLQ_TOPIC, config_key, service_topics
from contracts.topology import platform_topics, service_topic_specs
from tests.kafka_auth import kafka_settings
from tests.model_runner.factories import SavedModel
from tests.model_runner.runner_process import RunnerProcess

PARTITIONS = 4


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_runner_scores_every_partition_in_place_and_dead_letters_poison(
    client: str, kafka_bootstrap: str, iris_classifier: SavedModel, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:10]
    tenant, service, pool = f"t-{suffix}", "iris", f"p-{suffix}"
    topics = service_topics(tenant, service)
    settings = kafka_settings(kafka_bootstrap, client)
    admin = make_admin(settings)
    admin.ensure_topics(platform_topics())
    admin.ensure_topics(service_topic_specs(tenant, service, PARTITIONS))
    producer = make_producer(settings)

    champion = iris_classifier.spec("skops", model="iris-lr", version=1, role="champion", pool=pool)
    pickled = iris_classifier.spec("joblib", model="iris-pkl", version=2, role="challenger", pool=pool)
    decoy = iris_classifier.spec("skops", model="iris-decoy", version=1, role="decoy", pool=pool)
    elsewhere = iris_classifier.spec(
        "skops", model="iris-gpu", version=1, role="challenger", pool=f"{pool}-x"
    )
    config = ServiceConfig(
        tenant=tenant,
        service=service,
        revision=1,
        deadline_ms=5000,
        partitions=PARTITIONS,
        deployments=(champion, pickled, decoy, elsewhere),
        published_at=time.time(),
    )
    producer.produce(CONFIG_TOPIC, encode(config), key=config_key(tenant, service).encode())
    producer.flush()

    def start_runner() -> RunnerProcess:
        return RunnerProcess(
            bootstrap=kafka_bootstrap, client=client, pool=pool, runner_id=f"test-{suffix}", tmp=tmp_path,
            RDV_RUNNER_HEALTH_FILE=str(tmp_path / "health.json"),
        )

    runner = start_runner()
    try:
        assert runner.ready.wait(60), f"runner never became ready:\n{runner.output()}"

        dlq_start = _high_watermarks(settings, DLQ_TOPIC, 4)
        poison_key = f"poison-{suffix}".encode()
        producer.produce(topics.requests, b"{not json", key=poison_key, partition=1)
        rows = iris_classifier.rows(150)[::15]  # 10 rows covering all three classes
        sent: dict[str, tuple[int, dict[str, float]]] = {}
        for index, row in enumerate(rows):
            partition = index % PARTITIONS
            request = Request(
                request_id=f"{suffix}-{index}",
                tenant=tenant,
                service=service,
                sent_at=time.time(),
                deadline_ms=60_000,
                config_revision=1,
                inputs=row,
            )
            producer.produce(
                topics.requests, encode(request), key=request.request_id.encode(), partition=partition
            )
            sent[request.request_id] = (partition, row)
        producer.flush()

        scores = _collect_scores(settings, topics.scores, expected=2 * len(sent), runner=runner)

        by_model: dict[tuple[str, str], tuple[int, Score]] = {
            (s.request_id, s.model): (p, s) for p, s in scores
        }
        assert len(scores) == 2 * len(sent), "each request is scored once per scoring version of this pool"
        for request_id, (partition, row) in sent.items():
            score_partition, score = by_model[(request_id, "iris-lr")]
            features = [[row[name] for name in iris_classifier.features]]
            assert score_partition == partition
            assert score.status == "ok" and score.role == "champion" and score.runner == f"test-{suffix}"
            assert score.output is not None
            assert score.output["label"] == iris_classifier.estimator.predict(features)[0]
            expected_proba = iris_classifier.estimator.predict_proba(features)[0]
            assert score.output["probabilities"] == pytest.approx(
                dict(zip("012", expected_proba, strict=True))
            )
            refused_partition, refused = by_model[(request_id, "iris-pkl")]
            assert refused_partition == partition
            assert refused.status == "error" and "trusted pool" in (refused.error or "")

        health = json.loads((tmp_path / "health.json").read_text())
        assert (health["pool"], health["runner"]) == (pool, f"test-{suffix}")

        letters = _dead_letters(settings, dlq_start, poison_key, runner=runner)
        assert len(letters) == 1
        assert letters[0].topic == topics.requests and letters[0].partition == 1
        assert letters[0].value == "{not json" and letters[0].error.startswith("Request:")

        assert runner.stop() == 0, runner.output()
        assert any("loaded" in line and "iris-lr v1" in line for line in runner.lines), runner.output()

        # A restarted runner resumes after the committed offsets: nothing is scored twice.
        runner = start_runner()
        assert runner.ready.wait(60), f"restarted runner never became ready:\n{runner.output()}"
        late = Request(
            request_id=f"{suffix}-late",
            tenant=tenant,
            service=service,
            sent_at=time.time(),
            deadline_ms=60_000,
            config_revision=1,
            inputs=rows[0],
        )
        producer.produce(topics.requests, encode(late), key=late.request_id.encode(), partition=3)
        producer.flush()
        scores = _collect_scores(settings, topics.scores, expected=2 * (len(sent) + 1), runner=runner)
        keys = [(s.request_id, s.model) for _p, s in scores]
        assert len(keys) == len(set(keys)) and (late.request_id, "iris-lr") in keys
        assert runner.stop() == 0, runner.output()
    finally:
        if runner.process.poll() is None:
            runner.stop()
        producer.produce(CONFIG_TOPIC, None, key=config_key(tenant, service).encode())
        producer.flush()
        admin.delete_topics(topics.all())
        admin.close()


def _high_watermarks(settings: KafkaSettings, topic: str, partitions: int) -> list[TopicPartition]:
    consumer = make_consumer(settings)
    try:
        return [TopicPartition(topic, p, consumer.watermarks(topic, p)[1]) for p in range(partitions)]
    finally:
        consumer.close()


def _collect_scores(
    settings: KafkaSettings, topic: str, *, expected: int, runner: RunnerProcess
) -> list[tuple[int, Score]]:
    consumer = make_consumer(settings)
    consumer.assign([TopicPartition(topic, p, -2) for p in range(PARTITIONS)])
    found: list[tuple[int, Score]] = []
    deadline = time.monotonic() + 60
    try:
        while len(found) < expected and time.monotonic() < deadline:
            record = consumer.poll(0.2)
            if record is not None and record.value is not None:
                found.extend((record.partition, score) for score in decode_scores(record.value))
    finally:
        consumer.close()
    assert len(found) >= expected, f"{len(found)} of {expected} scores arrived:\n{runner.output()}"
    return found


def _dead_letters(
    settings: KafkaSettings, start: list[TopicPartition], key: bytes, *, runner: RunnerProcess
) -> list[DeadLetter]:
    consumer = make_consumer(settings)
    consumer.assign(start)
    letters: list[DeadLetter] = []
    deadline = time.monotonic() + 30
    try:
        while not letters and time.monotonic() < deadline:
            record = consumer.poll(0.2)
            if record is not None and record.key == key and record.value is not None:
                letters.append(decode(DeadLetter, record.value))
    finally:
        consumer.close()
    assert letters, f"the poison record never reached {DLQ_TOPIC}:\n{runner.output()}"
    return letters
