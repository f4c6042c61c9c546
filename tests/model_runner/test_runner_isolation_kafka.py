"""A real runner process on the real broker: a hung model and a raising one never stop the others,
and versions evicted over the memory budget load again on their next request.

The hung and raising models are trusted ``python`` models (tests/model_runner/python_models.py), so
the runner runs with ``RDV_RUNNER_TRUSTED=1``; a trusted pool also loads a joblib file.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import joblib
import pytest
import skops.io
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from contracts.codec import decode_scores, encode
from contracts.config import DeploymentSpec, ServiceConfig
from contracts.kafka import KafkaSettings, Producer, TopicPartition, make_admin, make_consumer, make_producer
from contracts.messages import Request, Score
from contracts.topics import CONFIG_TOPIC, config_key, service_topics
from contracts.topology import platform_topics, service_topic_specs
from tests.kafka_auth import security_env, worker_env
from tests.model_runner.factories import SavedModel, sha256_of
from tests.model_runner.python_models import RAISER_TARGET, SLEEPER_TARGET
from tests.model_runner.runner_process import runner_ready
from tests.piped_process import REPO, PipedProcess

PARTITIONS = 2
TIMEOUT_MS = 800


@dataclass
class _Service:
    tenant: str
    service: str
    pool: str
    settings: KafkaSettings
    producer: Producer

    def publish(self, *deployments: DeploymentSpec) -> None:
        config = ServiceConfig(
            tenant=self.tenant,
            service=self.service,
            revision=1,
            deadline_ms=30_000,
            partitions=PARTITIONS,
            deployments=deployments,
            published_at=time.time(),
        )
        self.producer.produce(CONFIG_TOPIC, encode(config), key=config_key(self.tenant, self.service).encode())
        self.producer.flush()

    def send(self, request_id: str, inputs: dict[str, float], partition: int) -> float:
        sent_at = time.time()
        request = Request(
            request_id=request_id,
            tenant=self.tenant,
            service=self.service,
            sent_at=sent_at,
            deadline_ms=30_000,
            config_revision=1,
            inputs=inputs,
        )
        topic = service_topics(self.tenant, self.service).requests
        self.producer.produce(topic, encode(request), key=request_id.encode(), partition=partition)
        self.producer.flush()
        return sent_at

    def runner_env(self, tmp_path: Path, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            **worker_env("runner"),
            "PYTHONPATH": str(REPO),
            "RDV_KAFKA_BOOTSTRAP": self.settings.bootstrap_servers,
            "RDV_RUNNER_POOL": self.pool,
            "RDV_RUNNER_ID": f"runner-{self.pool}",
            "RDV_ARTIFACT_CACHE": str(tmp_path / "cache"),
            **extra,
        }


@pytest.fixture
def service(kafka_bootstrap: str) -> Iterator[_Service]:
    suffix = uuid.uuid4().hex[:10]
    settings = KafkaSettings.from_env({"RDV_KAFKA_BOOTSTRAP": kafka_bootstrap, **security_env()})
    admin = make_admin(settings)
    admin.ensure_topics(platform_topics())
    tenant, name = f"t-{suffix}", "iris"
    admin.ensure_topics(service_topic_specs(tenant, name, PARTITIONS))
    producer = make_producer(settings)
    try:
        yield _Service(tenant, name, f"p-{suffix}", settings, producer)
    finally:
        producer.produce(CONFIG_TOPIC, None, key=config_key(tenant, name).encode())
        producer.flush()
        admin.delete_topics(service_topics(tenant, name).all())
        admin.close()


class _ScoreReader:
    """Scores of the service as they arrive, each with the time it was read."""

    def __init__(self, service: _Service) -> None:
        self._consumer = make_consumer(service.settings)
        topic = service_topics(service.tenant, service.service).scores
        self._consumer.assign([TopicPartition(topic, p, -2) for p in range(PARTITIONS)])
        self.arrived: dict[tuple[str, str], tuple[float, Score]] = {}

    def until(self, wanted: set[tuple[str, str]], runner: PipedProcess, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not wanted <= self.arrived.keys() and time.monotonic() < deadline:
            record = self._consumer.poll(0.05)
            if record is not None and record.value is not None:
                for score in decode_scores(record.value):
                    self.arrived.setdefault((score.request_id, score.model), (time.time(), score))
        missing = wanted - self.arrived.keys()
        assert not missing, f"scores missing: {sorted(missing)}\n{runner.output()}"

    def score(self, request_id: str, model: str) -> Score:
        return self.arrived[(request_id, model)][1]

    def latency_s(self, request_id: str, model: str, sent_at: float) -> float:
        return self.arrived[(request_id, model)][0] - sent_at

    def close(self) -> None:
        self._consumer.close()


def _wait_loaded(runner: PipedProcess, markers: list[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(any("loaded" in line and m in line for line in runner.lines) for m in markers):
        assert time.monotonic() < deadline, f"not loaded: {markers}\n{runner.output()}"
        time.sleep(0.1)


def _python_spec(tmp_path: Path, model: str, target: str, role: str, pool: str) -> DeploymentSpec:
    path = tmp_path / f"{model}.txt"
    path.write_text(target + "\n")
    return DeploymentSpec(
        model=model, version=1, role=role, pool=pool, format="python", sha256=sha256_of(path),
        artifact_url=path.as_uri(),
    )


def test_a_hung_model_delays_the_others_by_at_most_its_timeout_and_the_runner_keeps_serving(
    service: _Service, iris_classifier: SavedModel, tmp_path: Path
) -> None:
    pool = service.pool
    joblib_path = tmp_path / "iris.joblib"
    joblib.dump(iris_classifier.estimator, joblib_path)
    pickled = SavedModel(iris_classifier.estimator, joblib_path, iris_classifier.features, iris_classifier.X)
    service.publish(
        iris_classifier.spec("skops", model="lr", role="champion", pool=pool),
        _python_spec(tmp_path, "sleeper", SLEEPER_TARGET, "challenger", pool),
        _python_spec(tmp_path, "raiser", RAISER_TARGET, "fallback", pool),
        pickled.spec("joblib", model="pickled", role="challenger", pool=pool),
    )
    runner = PipedProcess(
        "model_runner",
        service.runner_env(tmp_path, RDV_RUNNER_TRUSTED="1", RDV_MODEL_TIMEOUT_MS=str(TIMEOUT_MS)),
        runner_ready,
    )
    reader = _ScoreReader(service)
    models = ("lr", "sleeper", "raiser", "pickled")
    rows = iris_classifier.rows(150)[::50]
    try:
        assert runner.ready.wait(60), f"runner never became ready:\n{runner.output()}"
        _wait_loaded(runner, [f"/{m} v1 (" for m in ("lr", "raiser")])  # the answering roles are preloaded

        # Round 1: the sleeper hangs; everyone else's scores must not wait for more than its timeout.
        sent = {f"a{i}": service.send(f"a{i}", row, i % PARTITIONS) for i, row in enumerate(rows)}
        reader.until({(r, m) for r in sent for m in models}, runner)
        for request_id, sent_at in sent.items():
            assert reader.score(request_id, "lr").status == "ok"
            assert reader.score(request_id, "pickled").output == reader.score(request_id, "lr").output
            assert (reader.score(request_id, "raiser").error or "").startswith("RuntimeError: broken model")
            sleeper = reader.score(request_id, "sleeper")
            assert sleeper.status == "error", runner.output()
            assert sleeper.error == f"timed out after {TIMEOUT_MS} ms" or (sleeper.error or "").startswith(
                "still running a call that timed out"
            )
            # Generous margin for a loaded machine: the bound that matters is "one timeout, not more".
            assert reader.latency_s(request_id, "lr", sent_at) < TIMEOUT_MS / 1000 + 2.0, runner.output()
        timeouts = [line for line in runner.lines if "timed out after" in line and "WARNING" in line]
        assert len(timeouts) == 1, "the hung version is reported once\n" + runner.output()

        # Round 2: the sleeper is still stuck: its requests fail at once and nobody waits for it.
        sent = {f"b{i}": service.send(f"b{i}", row, i % PARTITIONS) for i, row in enumerate(rows)}
        reader.until({(r, m) for r in sent for m in models}, runner)
        for request_id, sent_at in sent.items():
            assert reader.score(request_id, "lr").status == "ok"
            assert (reader.score(request_id, "sleeper").error or "").startswith("still running a call")
            assert reader.latency_s(request_id, "lr", sent_at) < TIMEOUT_MS / 1000, runner.output()
            assert reader.latency_s(request_id, "sleeper", sent_at) < TIMEOUT_MS / 1000, runner.output()
        assert runner.process.poll() is None
        assert runner.stop(20) == 0, "a hung model never blocks the runner's exit\n" + runner.output()
    finally:
        reader.close()
        if runner.process.poll() is None:
            runner.stop(20)


def test_versions_evicted_over_the_memory_budget_load_again_on_their_next_request(
    service: _Service, iris_classifier: SavedModel, tmp_path: Path
) -> None:
    pool = service.pool
    X, y = load_iris(return_X_y=True)
    forests = []
    for seed in range(3):
        path = tmp_path / f"forest-{seed}.skops"
        skops.io.dump(RandomForestClassifier(n_estimators=20, random_state=seed).fit(X, y), path)
        saved = SavedModel(None, path, iris_classifier.features, X)
        forests.append(saved.spec("skops", model=f"forest-{seed}", role="challenger", pool=pool))
    service.publish(iris_classifier.spec("skops", model="lr", role="champion", pool=pool), *forests)
    # About 19 KB per 20-tree forest, 5 KB for the champion: 50 KB holds two forests, not three.
    runner = PipedProcess(
        "model_runner", service.runner_env(tmp_path, RDV_MODEL_MEMORY_MB="0.05", RDV_LOG_LEVEL="INFO"), runner_ready
    )
    reader = _ScoreReader(service)
    models = ("lr", *(spec.model for spec in forests))
    row = iris_classifier.rows(1)[0]
    try:
        assert runner.ready.wait(60), f"runner never became ready:\n{runner.output()}"
        for round_ in range(2):
            request_id = f"r{round_}"
            service.send(request_id, row, 0)
            reader.until({(request_id, m) for m in models}, runner)
            assert {reader.score(request_id, m).status for m in models} == {"ok"}, runner.output()
        loads = {m: sum(f"/{m} v1 (skops) in" in line for line in runner.lines) for m in models}
        assert loads["lr"] == 1, "the champion is loaded once and never evicted\n" + runner.output()
        assert any(count >= 2 for m, count in loads.items() if m != "lr"), runner.output()
        assert any(" evicted " in line for line in runner.lines), runner.output()
    finally:
        reader.close()
        if runner.process.poll() is None:
            runner.stop(20)
