"""The canary's drift monitor in a real runner process on the real broker (*changed (monitoring)*).

The runner counts what it reads per time bucket of the requests' ``sent_at`` and reports each bucket once
it has ended and gone quiet, signed with its pool's token; scoring is the control plane's (tests in
tests/controlplane/drift).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from contracts.codec import decode, encode
from contracts.config import ServiceConfig
from contracts.drift import bucket_start_of, report_signature_valid
from contracts.kafka import Producer, make_admin, make_producer
from contracts.messages import DriftReport, Request
from contracts.pool_tokens import DEV_RUNNER_SECRET, pool_token
from contracts.topics import DRIFT_TOPIC, config_key, service_topics
from contracts.topology import platform_topics, service_topic_specs
from tests.kafka_auth import kafka_settings
from tests.model_runner.factories import SavedModel
from tests.model_runner.runner_process import RunnerProcess, high_watermarks, publish_config, read_all

PARTITIONS = 4
BUCKET_S = 60.0


def _send(producer: Producer, topic: str, requests: list[Request]) -> None:
    for index, request in enumerate(requests):
        producer.produce(topic, encode(request), key=request.request_id.encode(), partition=index % PARTITIONS)
    assert producer.flush(10) == 0


def _traffic(rng: np.random.Generator, X: np.ndarray, features: tuple[str, ...], tenant: str, n: int, start: int,
             bucket_start: float) -> list[Request]:
    return [
        Request(
            request_id=f"r-{i}", tenant=tenant, service="iris", sent_at=bucket_start + (i - start) * BUCKET_S / n,
            deadline_ms=60_000, config_revision=1,
            inputs={name: round(float(v), 2) for name, v in zip(features, X[rng.integers(len(X))], strict=True)},
            external_state={"country": str(rng.choice(["fr", "de", "it"], p=[0.6, 0.3, 0.1]))},
        )
        for i in range(start, start + n)
    ]


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_the_canary_reports_every_request_once_per_bucket_signed_for_its_pool(
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
    runner = RunnerProcess(bootstrap=kafka_bootstrap, client=client, pool=pool, runner_id=f"test-{suffix}",
                           tmp=tmp_path, RDV_DRIFT_WINDOW_SECONDS=str(BUCKET_S))
    key = config_key(tenant, "iris").encode()
    try:
        assert runner.ready.wait(60), f"runner never became ready:\n{runner.output()}"
        drift_start = high_watermarks(settings, DRIFT_TOPIC, 4)
        rng = np.random.default_rng(2026)
        first = bucket_start_of(time.time() - 10 * BUCKET_S, BUCKET_S)
        sent = {first: 300, first + BUCKET_S: 200}
        _send(producer, topics.requests, _traffic(rng, iris_classifier.X, iris_classifier.features, tenant,
                                                  300, 0, first))
        _send(producer, topics.requests, _traffic(rng, iris_classifier.X, iris_classifier.features, tenant,
                                                  200, 300, first + BUCKET_S))
        found = read_all(settings, DRIFT_TOPIC, 4, until=500, start=drift_start, runner=runner,
                         accept=lambda record: record.key == key,
                         count=lambda record: decode(DriftReport, record.value).count, timeout=90)
        reports = [decode(DriftReport, r.value) for r in found]
        counted: dict[float, int] = {}
        for report in reports:
            counted[report.bucket_start] = counted.get(report.bucket_start, 0) + report.count
            assert (report.tenant, report.service, report.pool, report.runner) == (tenant, "iris", pool,
                                                                                   f"test-{suffix}")
            assert report.bucket_s == BUCKET_S
            assert report_signature_valid(report, pool_token(secret=DEV_RUNNER_SECRET, pool=pool))
            features = {f.feature: f for f in report.features}
            assert set(features) == {*iris_classifier.features, "country"}
            assert sum(features["petal_length"].numeric.values()) == report.count
            assert sum(features["country"].categories.values()) == report.count
        assert counted == sent
        assert runner.stop() == 0, runner.output()
    finally:
        runner.stop()
        publish_config(producer, None, tenant=tenant, service="iris")
        admin.delete_topics(topics.all())
        admin.close()
