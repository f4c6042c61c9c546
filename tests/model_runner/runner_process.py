"""``python -m model_runner`` as a subprocess for integration tests, with its output kept for failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from contracts.codec import encode
from contracts.config import ServiceConfig
from contracts.kafka import KafkaSettings, Producer, TopicPartition, make_consumer
from contracts.topics import CONFIG_TOPIC, config_key

REPO = Path(__file__).resolve().parents[2]


class RunnerProcess:
    def __init__(self, *, bootstrap: str, client: str, pool: str, runner_id: str, tmp: Path, **env: str) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        environment = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "RDV_KAFKA_BOOTSTRAP": bootstrap,
            "RDV_KAFKA_CLIENT": client,
            "RDV_RUNNER_POOL": pool,
            "RDV_RUNNER_ID": runner_id,
            "RDV_ARTIFACT_CACHE": str(tmp / "cache"),
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "model_runner"],
            cwd=REPO,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if " ready" in line and line.startswith("[runner "):
                self.ready.set()

    def output(self, last: int = 40) -> str:
        return "\n".join(self.lines[-last:])

    def stop(self) -> int:
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


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
) -> list:
    """Records of every partition (from ``start`` or the beginning) until ``until`` accepted ones arrived."""
    consumer = make_consumer(settings)
    consumer.assign(start or [TopicPartition(topic, p, -2) for p in range(partitions)])
    found = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < until and time.monotonic() < deadline:
            record = consumer.poll(0.2)
            if record is not None and accept(record):
                found.append(record)
    finally:
        consumer.close()
    assert len(found) >= until, f"{len(found)} of {until} records arrived on {topic}:\n{runner.output()}"
    return found


def high_watermarks(settings: KafkaSettings, topic: str, partitions: int) -> list[TopicPartition]:
    consumer = make_consumer(settings)
    try:
        return [TopicPartition(topic, p, consumer.watermarks(topic, p)[1]) for p in range(partitions)]
    finally:
        consumer.close()
