"""The decisions consumer against the real broker and database, read back as a user would: over HTTP."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from django.conf import settings
from django.db import OperationalError
from rest_framework.test import APIClient

from contracts import DLQ_TOPIC, Decision, encode, service_topics
from contracts.kafka import Producer, TopicPartition, make_consumer, make_producer
from contracts.messages import DecisionBatch
from controlplane.decisions import consumer as consumer_module
from controlplane.decisions.consumer import DecisionsConsumer, DecisionsConsumerSettings
from controlplane.decisions.models import DecisionRecord
from controlplane.routing.models import Service
from controlplane.routing.services import service_create
from controlplane.tenancy.models import Tenant
from tests.controlplane.decisions.builders import decision_for
from tests.factories import TenantFactory, unique_slug

pytestmark = pytest.mark.django_db(transaction=True)


class ConsumerThread:
    """``manage.py consume_decisions`` in-process, so it writes to the test database."""

    def __init__(self, config: DecisionsConsumerSettings) -> None:
        self.consumer = DecisionsConsumer(config)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="decisions-consumer", daemon=True)

    def _run(self) -> None:
        try:
            self.consumer.run()
        except BaseException as exc:  # noqa: BLE001  (reported to the test)
            self.error = exc

    def start(self) -> ConsumerThread:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self.consumer.ready.wait(0.1) and self._thread.is_alive():
            assert time.monotonic() < deadline, "consumer never ready"
        return self

    def stop(self) -> None:
        self.consumer.stop()
        self._thread.join(30)
        assert not self._thread.is_alive()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


@pytest.fixture(params=["confluent", "kafka-python"])
def consumer_config(request: pytest.FixtureRequest, kafka: object) -> DecisionsConsumerSettings:
    """Each test its own group, so no departed member of an earlier test delays the join."""
    return DecisionsConsumerSettings.from_django(
        kafka=replace(settings.RDV_KAFKA, client=request.param), group_id=f"rdv-decisions-{uuid.uuid4().hex[:8]}"
    )


@pytest.fixture
def producer(kafka: object) -> Iterator[Producer]:
    producer = make_producer(settings.RDV_KAFKA)
    yield producer
    producer.close()


def _service(tenant: Tenant) -> Service:
    return service_create(tenant=tenant, slug=unique_slug("s"), name="Iris", input_schema={"type": "object"},
                          partitions=2)


def _send(producer: Producer, topic: str, *values: tuple[bytes, bytes]) -> None:
    for key, value in values:
        producer.produce(topic, value, key=key)
    assert producer.flush(10.0) == 0


def _decision_bytes(decision: Decision) -> tuple[bytes, bytes]:
    return decision.request_id.encode(), encode(decision)


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def _dead_letters_of(topic: str, start: dict[int, int], count: int) -> list[dict]:
    """The dead letters of ``topic`` written since ``start``, in the order they were read."""
    reader = make_consumer(settings.RDV_KAFKA, group_id=None)
    reader.assign([TopicPartition(DLQ_TOPIC, p, offset) for p, offset in start.items()])
    found: list[dict] = []
    deadline = time.monotonic() + 20
    try:
        while len(found) < count and time.monotonic() < deadline:
            record = reader.poll(0.5)
            if record is not None and json.loads(record.value or b"{}")["topic"] == topic:
                found.append(json.loads(record.value or b"{}"))
    finally:
        reader.close()
    return found


def _dlq_ends() -> dict[int, int]:
    reader = make_consumer(settings.RDV_KAFKA, group_id=None)
    try:
        return {p: reader.watermarks(DLQ_TOPIC, p)[1] for p in range(4)}
    finally:
        reader.close()


def test_decisions_become_readable_over_http_including_services_created_later(
    consumer_config: DecisionsConsumerSettings, producer: Producer, client_for: Callable[..., APIClient]
) -> None:
    tenant = TenantFactory()
    service = _service(tenant)
    early = [decision_for(service) for _ in range(3)]
    # Written before the consumer starts: a new group reads each decisions topic from the beginning.
    _send(producer, service_topics(tenant.slug, service.slug).decisions, *map(_decision_bytes, early))
    running = ConsumerThread(consumer_config).start()
    try:
        later_service = _service(tenant)
        late = decision_for(later_service, reason="fallback")
        _send(producer, service_topics(tenant.slug, later_service.slug).decisions, _decision_bytes(late))
        client = client_for(tenant, scopes=("read",))
        late_url = f"/api/v1/tenants/{tenant.slug}/services/{later_service.slug}/requests/{late.request_id}"
        _wait_for(lambda: client.get(late_url).status_code == 200)
        _wait_for(lambda: DecisionRecord.objects.filter(service=service).count() == 3)
    finally:
        running.stop()

    assert running.error is None
    body = client.get(f"/api/v1/tenants/{tenant.slug}/services/{service.slug}/requests/{early[0].request_id}").json()
    assert body["request_id"] == early[0].request_id and body["reason"] == "champion"
    assert [c["role"] for c in body["candidates"]] == ["champion", "challenger", "fallback"]
    assert client.get(late_url).json()["reason"] == "fallback"


def test_poison_records_go_to_the_dead_letter_topic_and_the_consumer_keeps_going(
    consumer_config: DecisionsConsumerSettings, producer: Producer
) -> None:
    tenant, other_tenant = TenantFactory(), TenantFactory()
    service, other_service = _service(tenant), _service(other_tenant)
    topic = service_topics(tenant.slug, service.slug).decisions
    dlq_start = _dlq_ends()
    before, after = decision_for(service), decision_for(service)
    # A well-formed decision naming another tenant's service, on this tenant's topic.
    smuggled = decision_for(other_service)
    _send(
        producer,
        topic,
        _decision_bytes(before),
        (b"poison-1", b"not json at all"),
        (b"poison-2", json.dumps({"request_id": "r", "status": "maybe"}).encode()),
        (smuggled.request_id.encode(), encode(smuggled)),
        _decision_bytes(after),
    )

    running = ConsumerThread(consumer_config).start()
    try:
        _wait_for(lambda: DecisionRecord.objects.filter(service=service).count() == 2)
        dead = _dead_letters_of(topic, dlq_start, count=3)
    finally:
        running.stop()

    assert running.error is None
    by_key = {d["key"]: d for d in dead}
    assert set(by_key) == {"poison-1", "poison-2", smuggled.request_id}
    assert by_key["poison-1"]["value"] == "not json at all" and "Decision" in by_key["poison-1"]["error"]
    assert f"on {topic} (expected" in by_key[smuggled.request_id]["error"]
    assert not DecisionRecord.objects.filter(service=other_service).exists()


def test_a_batch_that_could_not_be_stored_is_read_again_by_the_next_consumer(
    consumer_config: DecisionsConsumerSettings, producer: Producer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offsets are committed only after storing: a crash in between loses nothing."""
    tenant = TenantFactory()
    service = _service(tenant)
    decisions = [decision_for(service) for _ in range(5)]
    _send(producer, service_topics(tenant.slug, service.slug).decisions, *map(_decision_bytes, decisions))
    real_store = consumer_module.decisions_store

    def database_down(*, decisions: list[Decision]) -> int:
        raise OperationalError("database unreachable")

    monkeypatch.setattr(consumer_module, "decisions_store", database_down)
    crashed = ConsumerThread(consumer_config).start()
    crashed.join(30)
    assert isinstance(crashed.error, OperationalError)
    assert not DecisionRecord.objects.filter(service=service).exists()

    monkeypatch.setattr(consumer_module, "decisions_store", real_store)
    running = ConsumerThread(consumer_config).start()
    try:
        _wait_for(lambda: DecisionRecord.objects.filter(service=service).count() == 5)
    finally:
        running.stop()
    assert running.error is None


def test_a_batch_of_decisions_is_stored_whole_and_a_batch_smuggling_another_services_is_refused_whole(
    consumer_config: DecisionsConsumerSettings, producer: Producer
) -> None:
    """Rendezvous workers write DecisionBatch records (DESIGN.md §3, *changed (runtime)*)."""
    tenant, other_tenant = TenantFactory(), TenantFactory()
    service, other_service = _service(tenant), _service(other_tenant)
    topic = service_topics(tenant.slug, service.slug).decisions
    dlq_start = _dlq_ends()
    batched = [decision_for(service) for _ in range(3)]
    mixed = [decision_for(service), decision_for(other_service)]
    _send(
        producer,
        topic,
        (b"mixed", encode(DecisionBatch(decisions=mixed))),
        (b"batched", encode(DecisionBatch(decisions=batched))),
    )

    running = ConsumerThread(consumer_config).start()
    try:
        _wait_for(lambda: DecisionRecord.objects.filter(service=service).count() == 3)
        [dead] = _dead_letters_of(topic, dlq_start, count=1)
    finally:
        running.stop()

    assert running.error is None
    stored = set(DecisionRecord.objects.filter(service=service).values_list("request_id", flat=True))
    assert stored == {d.request_id for d in batched}, "nothing of the smuggling batch is stored"
    assert dead["key"] == "mixed" and f"on {topic} (expected" in dead["error"]
