"""``python -m model_runner`` as a subprocess for integration tests, with its output kept for failures."""

from __future__ import annotations

import os
import time
from pathlib import Path

from contracts.codec import encode
from contracts.config import ServiceConfig
from contracts.kafka import KafkaSettings, Producer, TopicPartition, make_consumer
from contracts.topics import CONFIG_TOPIC, config_key
from tests.kafka_auth import worker_env
from tests.piped_process import REPO, PipedProcess


def runner_ready(line: str) -> bool:
    return " ready" in line and line.startswith("[runner ")


class RunnerProcess(PipedProcess):
    """``python -m model_runner`` on one pool; ``env`` adds or overrides settings."""

    def __init__(self, *, bootstrap: str, client: str, pool: str, runner_id: str, tmp: Path, **env: str) -> None:
        environment = {
            **os.environ,
            **worker_env("runner"),
            "PYTHONPATH": str(REPO),
            "RDV_KAFKA_BOOTSTRAP": bootstrap,
            "RDV_KAFKA_CLIENT": client,
            "RDV_RUNNER_POOL": pool,
            "RDV_RUNNER_ID": runner_id,
            "RDV_ARTIFACT_CACHE": str(tmp / "cache"),
            **env,
        }
        super().__init__("model_runner", environment, runner_ready)

    def stop(self, timeout: float = 30.0) -> int:
        return super().stop(timeout)


def publish_config(producer: Producer, config: ServiceConfig | None, *, tenant: str, service: str) -> None:
    producer.produce(
        CONFIG_TOPIC, None if config is None else encode(config), key=config_key(tenant, service).encode()
    )
    assert producer.flush(10) == 0


def read_all(
    settings: KafkaSettings,
    topic: str,
    partitions: int,
    *,
    until: int,
    runner: RunnerProcess,
    start: list[TopicPartition] | None = None,
    timeout: float = 60.0,
    accept=lambda record: True,  # noqa: ANN001
    count=lambda record: 1,  # noqa: ANN001
) -> list:
    """Records of every partition (from ``start`` or the beginning) until ``until`` accepted ones arrived
    (``count``: how many each record is worth, e.g. the scores of a ScoreBatch)."""
    consumer = make_consumer(settings)
    consumer.assign(start or [TopicPartition(topic, p, -2) for p in range(partitions)])
    found = []
    arrived = 0
    deadline = time.monotonic() + timeout
    try:
        while arrived < until and time.monotonic() < deadline:
            record = consumer.poll(0.2)
            if record is not None and accept(record):
                found.append(record)
                arrived += count(record)
    finally:
        consumer.close()
    assert arrived >= until, f"{arrived} of {until} arrived on {topic}:\n{runner.output()}"
    return found


def high_watermarks(settings: KafkaSettings, topic: str, partitions: int) -> list[TopicPartition]:
    consumer = make_consumer(settings)
    try:
        return [TopicPartition(topic, p, consumer.watermarks(topic, p)[1]) for p in range(partitions)]
    finally:
        consumer.close()
