"""The canary's drift monitor in a real runner process on the real broker (acceptance 6).

Iris-like traffic first: a reference window, then windows of the same traffic that must stay quiet;
then traffic with one feature shifted, which must flag that feature and no other.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from contracts.codec import decode, encode
from contracts.config import ServiceConfig
from contracts.kafka import Producer, make_admin, make_producer
from contracts.messages import DriftReport, Request
from contracts.topics import DRIFT_TOPIC, config_key, service_topics
from contracts.topology import platform_topics, service_topic_specs
from tests.kafka_auth import kafka_settings
from tests.model_runner.factories import SavedModel
from tests.model_runner.runner_process import RunnerProcess, high_watermarks, publish_config, read_all

PARTITIONS = 4
WINDOW = 400


def _send(producer: Producer, topic: str, requests: list[Request]) -> None:
    for index, request in enumerate(requests):
        producer.produce(topic, encode(request), key=request.request_id.encode(), partition=index % PARTITIONS)
    assert producer.flush(10) == 0


def _traffic(
    rng: np.random.Generator, X: np.ndarray, features: tuple[str, ...], tenant: str, n: int, start: int,
    shift: dict[str, float] | None = None,
) -> list[Request]:
    shift = shift or {}
    requests = []
    for i in range(start, start + n):
        row = X[rng.integers(len(X))]
        requests.append(Request(
            request_id=f"r-{i}",
            tenant=tenant,
            service="iris",
            sent_at=time.time(),
            deadline_ms=60_000,
            config_revision=1,
            inputs={name: round(float(v) + shift.get(name, 0.0), 2) for name, v in zip(features, row, strict=True)},
            external_state={"country": str(rng.choice(["fr", "de", "it"], p=[0.6, 0.3, 0.1]))},
        ))
    return requests


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_canary_flags_the_shifted_feature_only_and_stays_quiet_on_unshifted_traffic(
    client: str, kafka_bootstrap: str, iris_classifier: SavedModel, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:10]
    tenant, pool = f"t-{suffix}", f"p-{suffix}"
    topics = service_topics(tenant, "iris")
    settings = kafka_settings(kafka_bootstrap, client)
    admin = make_admin(settings)
    admin.ensure_topics(platform_topics())
    admin.ensure_topics(service_topic_specs(tenant, "iris", PARTITIONS))
    producer = make_producer(settings)
    canary = iris_classifier.spec("skops", model="iris-base", version=1, role="canary", pool=pool)
    config = ServiceConfig(
        tenant=tenant, service="iris", revision=1, deadline_ms=5000, partitions=PARTITIONS,
        deployments=(canary,), published_at=time.time(),
    )
    publish_config(producer, config, tenant=tenant, service="iris")
    runner = RunnerProcess(
        bootstrap=kafka_bootstrap, client=client, pool=pool, runner_id=f"test-{suffix}", tmp=tmp_path,
        RDV_DRIFT_WINDOW=str(WINDOW), RDV_DRIFT_MIN_WINDOW=str(WINDOW), RDV_DRIFT_WINDOW_SECONDS="600",
    )
    key = config_key(tenant, "iris").encode()

    def reports(until: int) -> list[DriftReport]:
        found = read_all(settings, DRIFT_TOPIC, 4, until=until, start=drift_start, runner=runner,
                         accept=lambda record: record.key == key, timeout=90)
        return sorted((decode(DriftReport, r.value) for r in found), key=lambda r: r.window_index)

    try:
        assert runner.ready.wait(60), f"runner never became ready:\n{runner.output()}"
        drift_start = high_watermarks(settings, DRIFT_TOPIC, 4)
        rng = np.random.default_rng(2026)
        features = iris_classifier.features
        # The reference window, then two windows of the same traffic.
        _send(producer, topics.requests, _traffic(rng, iris_classifier.X, features, tenant, 3 * WINDOW, 0))
        quiet = reports(until=2)
        assert [r.window_index for r in quiet] == [0, 1]
        for report in quiet:
            detail = [(f.feature, f.psi, f.ks, f.ks_pvalue) for f in report.features]
            assert report.flagged == [], detail
            assert (report.window_count, report.reference_count) == (WINDOW, WINDOW)
            assert {f.feature for f in report.features} == {*features, "country"}
            assert (report.tenant, report.service, report.pool) == (tenant, "iris", pool)
            assert report.runner == f"test-{suffix}"

        # Sent only once the quiet windows are closed, so no window mixes the two kinds of traffic.
        shifted = _traffic(rng, iris_classifier.X, features, tenant, WINDOW, 3 * WINDOW, shift={"petal_length": 1.5})
        _send(producer, topics.requests, shifted)
        loud = reports(until=3)[2]
        assert loud.window_index == 2 and loud.flagged == ["petal_length"], [
            (f.feature, f.psi, f.ks, f.ks_pvalue) for f in loud.features
        ]
        petal = next(f for f in loud.features if f.feature == "petal_length")
        assert petal.psi is not None and petal.psi > petal.threshold and petal.kind == "numeric"
        assert loud.window_start >= shifted[0].sent_at and loud.window_end <= shifted[-1].sent_at
        assert runner.stop() == 0, runner.output()
    finally:
        runner.stop()
        publish_config(producer, None, tenant=tenant, service="iris")
        admin.delete_topics(topics.all())
        admin.close()
