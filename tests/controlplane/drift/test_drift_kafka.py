"""Drift end to end on the real broker: two canary runners of one pool, the drift consumer, the API.

Requests carry ``sent_at`` in past buckets, so every bucket is over when it is sent and the runners
report it once it has been quiet for two seconds: the test waits for reports, never for wall-clock
buckets to end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import skops.io
from django.conf import settings
from rest_framework.test import APIClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from contracts.codec import decode, encode
from contracts.config import ServiceConfig
from contracts.drift import DriftBuckets, bucket_start_of
from contracts.kafka import KafkaSettings, Producer, TopicPartition, make_consumer, make_producer
from contracts.messages import DeadLetter, Request
from contracts.pool_tokens import pool_token
from contracts.topics import DLQ_TOPIC, DRIFT_TOPIC, config_key, service_topics
from contracts.topology import service_topic_specs
from controlplane.drift.consumer import DriftConsumer, DriftConsumerSettings
from controlplane.drift.models import DriftPart, DriftPoint
from controlplane.drift.scan import drift_scan
from controlplane.drift.services import DriftSettings
from controlplane.routing.models import Service
from tests.controlplane.drift.builders import FEATURES, iris_rows
from tests.factories import ServiceFactory
from tests.kafka_auth import worker_env
from tests.model_runner.factories import SavedModel
from tests.model_runner.runner_process import RunnerProcess, publish_config

pytestmark = pytest.mark.django_db(transaction=True)

PARTITIONS = 4
BUCKET_S = 60.0
DRIFT = DriftSettings(reference_size=500, min_count=200, settle_s=3.0)


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> SavedModel:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    path = tmp_path_factory.mktemp("drift-models") / "iris.skops"
    skops.io.dump(model, path)
    return SavedModel(model, path, FEATURES, X)


class ConsumerThread:
    """``manage.py consume_drift`` in-process, so it writes to the test database."""

    def __init__(self, config: DriftConsumerSettings) -> None:
        import threading

        self.consumer = DriftConsumer(config)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="drift-consumer", daemon=True)

    def _run(self) -> None:
        try:
            self.consumer.run()
        except BaseException as exc:  # noqa: BLE001  (reported to the test)
            self.error = exc

    def start(self) -> ConsumerThread:
        self._thread.start()
        deadline = time.monotonic() + 90
        while not self.consumer.ready.wait(0.1):
            assert self._thread.is_alive(), f"consumer died: {self.error!r}"
            assert time.monotonic() < deadline, "consumer never ready"
        return self

    def stop(self) -> None:
        self.consumer.stop()
        self._thread.join(30)


@pytest.fixture
def drift_consumer(kafka: object) -> Iterator[ConsumerThread]:
    config = DriftConsumerSettings.from_django(
        group_id=f"rdv-drift-{uuid.uuid4().hex[:8]}", drift=DRIFT, settle_interval_s=1.0, poll_wait_s=0.2
    )
    thread = ConsumerThread(config).start()
    yield thread
    thread.stop()
    assert thread.error is None, repr(thread.error)


@pytest.fixture
def producer(kafka: object) -> Iterator[Producer]:
    producer = make_producer(settings.RDV_KAFKA)
    yield producer
    producer.close()


class Canary:
    """A service with a canary in its own pool, its topics, and the runners of that pool."""

    def __init__(self, model: SavedModel, producer: Producer, tmp: Path) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.service: Service = ServiceFactory(partitions=PARTITIONS)
        self.tenant, self.slug, self.pool = self.service.tenant.slug, self.service.slug, f"p-{suffix}"
        self.topics = service_topics(self.tenant, self.slug)
        self.producer = producer
        self._tmp = tmp
        self.runners: dict[str, RunnerProcess] = {}
        from contracts.kafka import make_admin

        admin = make_admin(settings.RDV_KAFKA)
        try:
            admin.ensure_topics(service_topic_specs(self.tenant, self.slug, PARTITIONS))
        finally:
            admin.close()
        canary = model.spec("skops", model="iris-base", version=1, role="canary", pool=self.pool)
        self.config = ServiceConfig(tenant=self.tenant, service=self.slug, revision=1, deadline_ms=5000,
                                    partitions=PARTITIONS, deployments=(canary,), published_at=time.time())
        publish_config(producer, self.config, tenant=self.tenant, service=self.slug)
        self._next_id = 0

    def start_runner(self, name: str) -> RunnerProcess:
        runner = RunnerProcess(
            bootstrap=settings.RDV_KAFKA.bootstrap_servers, client="confluent", pool=self.pool, runner_id=name,
            tmp=self._tmp / name, RDV_RUNNER_TOKEN=pool_token(secret=settings.RDV_RUNNER_SECRET, pool=self.pool),
            RDV_DRIFT_WINDOW_SECONDS=str(BUCKET_S),
        )
        assert runner.ready.wait(90), f"runner {name} never became ready:\n{runner.output()}"
        self.runners[name] = runner
        return runner

    def send(self, bucket_start: float, rows: list[dict[str, object]], span: float = BUCKET_S) -> None:
        """Requests spread over ``span`` seconds from ``bucket_start`` (and over every partition)."""
        for index, row in enumerate(rows):
            self._next_id += 1
            request = Request(
                request_id=f"r-{self._next_id}", tenant=self.tenant, service=self.slug,
                sent_at=bucket_start + span * index / len(rows), deadline_ms=60_000, config_revision=1,
                inputs={k: v for k, v in row.items() if k != "country"}, external_state={"country": row["country"]},
            )
            self.producer.produce(self.topics.requests, encode(request), key=request.request_id.encode(),
                                  partition=self._next_id % PARTITIONS)
        assert self.producer.flush(10) == 0

    def close(self) -> None:
        for runner in self.runners.values():
            runner.stop()
        publish_config(self.producer, None, tenant=self.tenant, service=self.slug)


@pytest.fixture
def canary(iris_model: SavedModel, producer: Producer, tmp_path: Path) -> Iterator[Canary]:
    made = Canary(iris_model, producer, tmp_path)
    yield made
    made.close()


def _requests_per_bucket(service: Service) -> dict[float, int]:
    return {p.bucket_start.timestamp(): p.requests for p in DriftPoint.objects.filter(service=service,
                                                                                        feature="petal_length")}


def _wait_for_points(service: Service, expected: dict[float, int], runners: dict[str, RunnerProcess],
                     timeout: float = 90.0, *, at_least: dict[float, int] | None = None) -> dict[float, int]:
    """Until the points' request counts are ``expected`` (or, for the buckets of ``at_least``, at least that)."""
    at_least = at_least or {}

    def done(found: dict[float, int]) -> bool:
        return found.keys() == expected.keys() | at_least.keys() and all(
            found[b] == c for b, c in expected.items()) and all(found[b] >= c for b, c in at_least.items())

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _requests_per_bucket(service)
        if done(found):
            return found
        time.sleep(0.5)
    outputs = "\n".join(f"--- {name}\n{r.output()}" for name, r in runners.items())
    raise AssertionError(f"points {_requests_per_bucket(service)} != {expected} (at least {at_least})\n{outputs}")


def _client(service: Service) -> APIClient:
    from controlplane.tenancy.services import token_create

    _token, secret = token_create(tenant=service.tenant, name="drift", scopes=("read",))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_two_runners_give_one_merged_series_that_flags_the_shifted_feature_and_clears(
    canary: Canary, drift_consumer: ConsumerThread
) -> None:
    canary.start_runner("runner-a")
    canary.start_runner("runner-b")
    rng = np.random.default_rng(2026)
    first = bucket_start_of(time.time() - 30 * BUCKET_S, BUCKET_S)
    plan = [(600, None), (400, None), (400, None), (400, {"petal_length": 1.5}), (400, {"petal_length": 1.5}),
            (400, None), (400, None)]
    for index, (count, shift) in enumerate(plan):
        canary.send(first + index * BUCKET_S, list(iris_rows(rng, count, shift)))
    scored = {first + i * BUCKET_S: count for i, (count, _) in enumerate(plan) if i > 0}
    _wait_for_points(canary.service, scored, canary.runners)

    # Both runners reported (each owns half of the partitions), and each bucket is one point, not two.
    assert set(DriftPart.objects.filter(service=canary.service).values_list("runner", flat=True)) == {
        "runner-a", "runner-b"}
    body = _client(canary.service).get(
        f"/api/v1/tenants/{canary.tenant}/services/{canary.slug}/drift?window=1h").json()
    features = {f["feature"]: f for f in body["features"]}
    assert set(features) == {*FEATURES, "country"}
    assert body["reference"]["requests"] == 600
    for name, feature in features.items():
        assert len(feature["series"]) == len(plan) - 1, name
        assert [p["requests"] for p in feature["series"]] == [c for c, _ in plan[1:]]
        flags = [p["flagged"] for p in feature["series"]]
        detail = [(p["psi"], p["ks"]) for p in feature["series"]]
        if name == "petal_length":
            assert flags == [False, False, True, True, False, False], detail
            assert all(p["psi"] > feature["threshold"] for p in feature["series"][2:4]), detail
            assert all(p["psi"] < feature["threshold"] for p in feature["series"][4:]), detail
        else:
            assert not any(flags), (name, detail)
    for runner in canary.runners.values():
        assert runner.stop() == 0, runner.output()


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_a_runner_restarted_mid_stream_leaves_a_continuous_series(
    canary: Canary, drift_consumer: ConsumerThread, how: str
) -> None:
    """Stopped gracefully, a runner reports its open buckets: nothing is lost. Killed, it loses at most what
    it had not reported of the bucket it was in; either way every bucket has its one point."""
    canary.start_runner("runner-a")
    canary.start_runner("runner-b")
    rng = np.random.default_rng(7)
    first = bucket_start_of(time.time() - 30 * BUCKET_S, BUCKET_S)
    counts = [600, 400, 400, 400, 400]
    for index in range(2):
        canary.send(first + index * BUCKET_S, list(iris_rows(rng, counts[index])))
    _wait_for_points(canary.service, {first + BUCKET_S: 400}, canary.runners)
    # Half of bucket 2, then runner a goes while the other half is sent; it comes back (same name) for 3 and 4.
    rows = list(iris_rows(rng, counts[2]))
    canary.send(first + 2 * BUCKET_S, rows[:200], span=BUCKET_S / 2)
    time.sleep(0.5)
    stopped = canary.runners.pop("runner-a")
    if how == "sigterm":
        assert stopped.stop() == 0, stopped.output(200)
    else:
        stopped.process.kill()
        stopped.process.wait(10)
    canary.send(first + 2 * BUCKET_S + BUCKET_S / 2, rows[200:], span=BUCKET_S / 2)
    canary.start_runner("runner-a")
    for index in (3, 4):
        canary.send(first + index * BUCKET_S, list(iris_rows(rng, counts[index])))

    expected = {first + i * BUCKET_S: counts[i] for i in range(1, len(counts))}
    if how == "sigterm":
        _wait_for_points(canary.service, expected, canary.runners)
    else:
        # Bucket 2 lost the part runner a held unreported (at most its share of the first half: 100 requests,
        # fewer when its offsets were not committed yet and the next owner read them again).
        crashed = first + 2 * BUCKET_S
        found = _wait_for_points(canary.service, {b: c for b, c in expected.items() if b != crashed},
                                 canary.runners, at_least={crashed: 300})
        assert found[crashed] <= 400
    flagged = DriftPoint.objects.filter(service=canary.service, flagged=True)
    assert not flagged.exists(), list(flagged.values_list("bucket_start", "feature", "psi"))


def _runner_settings() -> KafkaSettings:
    env = worker_env("runner")
    return KafkaSettings.from_env({"RDV_KAFKA_BOOTSTRAP": settings.RDV_KAFKA.bootstrap_servers, **env})


def _dead_letters(key: bytes, start: list[TopicPartition], until: int, timeout: float = 30.0) -> list[DeadLetter]:
    consumer = make_consumer(settings.RDV_KAFKA)
    consumer.assign(start)
    found: list[DeadLetter] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < until and time.monotonic() < deadline:
            record = consumer.poll(0.2)
            if record is not None and record.key == key:
                letter = decode(DeadLetter, record.value or b"")
                if letter.topic == DRIFT_TOPIC:
                    found.append(letter)
    finally:
        consumer.close()
    return found


def test_a_report_forged_by_a_runner_of_another_pool_goes_to_the_dlq_and_is_not_stored(
    canary: Canary, drift_consumer: ConsumerThread
) -> None:
    """The runner principal may write rdv.drift, but only a pool running the service's canary may report on it."""
    key = config_key(canary.tenant, canary.slug).encode()
    consumer = make_consumer(settings.RDV_KAFKA)
    try:
        dlq_start = [TopicPartition(DLQ_TOPIC, p, consumer.watermarks(DLQ_TOPIC, p)[1])
                     for p in range(_count(DLQ_TOPIC))]
    finally:
        consumer.close()
    bucket = bucket_start_of(time.time() - 600, BUCKET_S)

    def forged(pool: str, token_pool: str) -> bytes:
        buckets = DriftBuckets(canary.tenant, canary.slug, bucket_s=BUCKET_S, pool=pool, runner="intruder",
                               token=pool_token(secret=settings.RDV_RUNNER_SECRET, pool=token_pool))
        for row in iris_rows(np.random.default_rng(1), 600, {"petal_length": 5.0}):
            buckets.add(row, bucket + 1, 0.0)
        return encode(buckets.flush()[0])

    producer = make_producer(_runner_settings())
    try:
        # A runner of pool "other" reporting as itself, and pretending to be the canary's pool.
        producer.produce(DRIFT_TOPIC, forged("other", "other"), key=key)
        producer.produce(DRIFT_TOPIC, forged(canary.pool, "other"), key=key)
        assert producer.flush(10) == 0
    finally:
        producer.close()
    letters = _dead_letters(key, dlq_start, until=2)
    assert len(letters) == 2, letters
    assert "no canary" in letters[0].error and "not signed" in letters[1].error, [x.error for x in letters]
    assert not DriftPart.objects.filter(service=canary.service).exists()


def _count(topic: str) -> int:
    from contracts.kafka import make_admin

    admin = make_admin(settings.RDV_KAFKA)
    try:
        return admin.partition_count(topic) or 1
    finally:
        admin.close()


def test_a_service_without_a_canary_gets_the_same_series_from_its_requests_topic(
    canary: Canary,
) -> None:
    """No runner here: the scan reads the requests back; scanning again replaces, never doubles."""
    rng = np.random.default_rng(3)
    first = bucket_start_of(time.time() - 30 * BUCKET_S, BUCKET_S)
    plan = [(600, None), (400, None), (400, {"sepal_width": 1.0})]
    for index, (count, shift) in enumerate(plan):
        canary.send(first + index * BUCKET_S, list(iris_rows(rng, count, shift)))
    config = replace(DRIFT, settle_s=0.0)
    for _ in range(2):
        summary = drift_scan(settings.RDV_KAFKA, tenant=canary.tenant, service=canary.slug,
                             window=timedelta(hours=1), bucket_s=BUCKET_S, config=config)
        assert (summary.requests, summary.buckets) == (1400, 3)
    assert _requests_per_bucket(canary.service) == {first + BUCKET_S: 400, first + 2 * BUCKET_S: 400}
    flagged = set(DriftPoint.objects.filter(service=canary.service, flagged=True).values_list("feature", flat=True))
    assert flagged == {"sepal_width"}


def test_a_shifted_feature_raises_a_drift_alert_that_clears_when_the_shift_stops(
    canary: Canary, drift_consumer: ConsumerThread
) -> None:
    """Issue 16, acceptance 3: the alert rules read the merged series of two runners."""
    from controlplane.alerts.models import Alert
    from controlplane.alerts.services import alert_rules_set, alerts_evaluate

    canary.start_runner("runner-a")
    canary.start_runner("runner-b")
    rules, _ = alert_rules_set(service=canary.service, data={"drift": True}, actor="test")
    rng = np.random.default_rng(16)
    first = bucket_start_of(time.time() - 30 * BUCKET_S, BUCKET_S)
    phases = [
        [(600, None), (400, None), (400, {"petal_length": 1.5})],  # reference, normal, shifted
        [(400, None), (400, None)],  # the shift stops
    ]
    index, scored = 0, {}
    firing_after: list[set[tuple[str, str]]] = []
    for phase in phases:
        for count, shift in phase:
            canary.send(first + index * BUCKET_S, list(iris_rows(rng, count, shift)))
            if index > 0:
                scored[first + index * BUCKET_S] = count
            index += 1
        _wait_for_points(canary.service, scored, canary.runners)
        alerts_evaluate(rules=rules)
        firing_after.append(set(Alert.objects.filter(service=canary.service, state="firing")
                                .values_list("kind", "subject")))

    assert firing_after == [{("drift", "petal_length")}, set()]
    [alert] = Alert.objects.filter(service=canary.service)
    assert alert.state == "resolved" and alert.value_at_raise > alert.threshold > alert.value_latest
    for runner in canary.runners.values():
        assert runner.stop() == 0, runner.output()
