"""The roll-up consumer against the real broker and database, read back as a user would: over HTTP.

Decisions are written to the service's decisions topic as rendezvous workers write them (DecisionBatch
records); the consumer runs as the control plane's principal, so its group must fit its ACLs.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from contracts import encode, service_topics
from contracts.kafka import KafkaSettings, Producer, make_producer
from contracts.messages import Decision, DecisionBatch
from controlplane.monitoring.consumer import RollupsConsumer, RollupsConsumerSettings
from controlplane.monitoring.models import RollupMinute
from controlplane.routing.models import Service
from controlplane.routing.services import service_create
from controlplane.tenancy.models import Tenant
from tests.controlplane.monitoring.builders import assert_metrics_match, random_decisions
from tests.factories import TenantFactory, unique_slug
from tests.kafka_auth import worker_env

pytestmark = pytest.mark.django_db(transaction=True)
PER_RECORD = 25


class ConsumerThread:
    """``manage.py consume_rollups`` in-process, so it writes to the test database."""

    def __init__(self, config: RollupsConsumerSettings) -> None:
        self.consumer = RollupsConsumer(config)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="rollups-consumer", daemon=True)

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
        assert self.error is None, self.error
        return self

    def stop(self) -> None:
        self.consumer.stop()
        self._thread.join(30)
        assert not self._thread.is_alive()


def _controlplane_kafka() -> KafkaSettings:
    return KafkaSettings.from_env(
        {"RDV_KAFKA_BOOTSTRAP": settings.RDV_KAFKA.bootstrap_servers, **worker_env("controlplane")}
    )


def _config() -> RollupsConsumerSettings:
    """Each run its own group (a fresh group reads every decisions topic from the beginning)."""
    group = f"rdv-rollups-{uuid.uuid4().hex[:8]}"
    return RollupsConsumerSettings.from_django(kafka=_controlplane_kafka(), group_id=group)


@pytest.fixture
def producer(kafka: object) -> Iterator[Producer]:
    producer = make_producer(settings.RDV_KAFKA)
    yield producer
    producer.close()


def _service(tenant: Tenant) -> Service:
    return service_create(tenant=tenant, slug=unique_slug("s"), name="Iris", input_schema={"type": "object"},
                          partitions=2)


def _send_batches(producer: Producer, topic: str, decisions: list[Decision]) -> None:
    for index, start in enumerate(range(0, len(decisions), PER_RECORD)):
        batch = DecisionBatch(decisions=decisions[start:start + PER_RECORD])
        producer.produce(topic, encode(batch), key=f"b{start}".encode(), partition=index % 2)
    assert producer.flush(10.0) == 0


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0, describe: Callable[[], str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"condition not met in time ({describe() if describe else ''})"
        time.sleep(0.2)


def _metrics(client: APIClient, service: Service, window: str = "15m") -> dict:
    response = client.get(f"/api/v1/tenants/{service.tenant.slug}/services/{service.slug}/metrics?window={window}")
    assert response.status_code == 200, response.content
    return response.json()


def _rows(service: Service) -> list[tuple]:
    return sorted(RollupMinute.objects.filter(service=service).values_list(
        "minute", "model", "version", "role", "count", "errors", "timeouts", "fallbacks", "wins", "compared",
        "agreed", "latency"))


def test_metrics_agree_with_the_decisions_topic_and_a_replay_gives_the_same_numbers(
    producer: Producer, client_for: Callable[..., APIClient]
) -> None:
    tenant = TenantFactory()
    service = _service(tenant)
    topic = service_topics(tenant.slug, service.slug).decisions
    decisions = random_decisions(tenant.slug, service.slug, 1500, seed=16, decided_at=time.time() - 30)
    _send_batches(producer, topic, decisions)
    client = client_for(tenant, scopes=("read",))

    running = ConsumerThread(_config()).start()
    try:
        _wait_for(lambda: running.consumer.stored == len(decisions))
    finally:
        running.stop()
    assert running.error is None
    body = _metrics(client, service)
    assert_metrics_match(body, decisions, body["relative_accuracy"])
    rows = _rows(service)

    # A new group replays the whole topic: every record is at or below its partition's watermark.
    marker = random_decisions(tenant.slug, service.slug, 2 * PER_RECORD, seed=17, decided_at=time.time())
    replay = ConsumerThread(_config()).start()
    try:
        _send_batches(producer, topic, marker)  # one record per partition, after everything replayed
        _wait_for(lambda: replay.consumer.stored == len(marker))
        time.sleep(1.0)  # anything counted twice would show by now
    finally:
        replay.stop()
    assert replay.error is None and replay.consumer.stored == len(marker)
    assert_metrics_match(_metrics(client, service), decisions + marker, body["relative_accuracy"])
    assert len(_rows(service)) >= len(rows)


def test_decisions_smuggled_into_another_tenants_service_count_nowhere(
    producer: Producer, client_for: Callable[..., APIClient]
) -> None:
    attacker, victim = TenantFactory(), TenantFactory()
    attacker_service, victim_service = _service(attacker), _service(victim)
    honest = random_decisions(attacker.slug, attacker_service.slug, 40, seed=1, decided_at=time.time())
    forged = random_decisions(victim.slug, victim_service.slug, 40, seed=2, decided_at=time.time())
    # On the attacker's own topic, decisions naming the victim's service (alone, and mixed in a batch).
    attacker_topic = service_topics(attacker.slug, attacker_service.slug).decisions
    _send_batches(producer, attacker_topic, forged + honest[:10])
    _send_batches(producer, attacker_topic, honest[10:])

    running = ConsumerThread(_config()).start()
    try:
        # At least ours: a fresh group also reads every other test's decisions topic, poison included.
        _wait_for(lambda: running.consumer.stored == 30 and running.consumer.dead_letters >= 2,
                  describe=lambda: f"{running.consumer.stored} counted, {running.consumer.dead_letters} dead letters")
    finally:
        running.stop()
    assert running.error is None
    assert _metrics(client_for(victim, scopes=("read",)), victim_service)["deployments"] == []
    attacker_body = _metrics(client_for(attacker, scopes=("read",)), attacker_service)
    assert_metrics_match(attacker_body, honest[10:], attacker_body["relative_accuracy"])
    # And the victim's numbers are not readable with the attacker's token.
    response = client_for(attacker, scopes=("read",)).get(
        f"/api/v1/tenants/{victim.slug}/services/{victim_service.slug}/metrics")
    assert response.status_code == 403
