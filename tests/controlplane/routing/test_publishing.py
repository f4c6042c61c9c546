"""Publishing to ``rdv.config`` against the real broker: each call waits for its own acknowledgement,
and a revision whose publication failed is sent again by the sweep."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from django.utils import timezone

from contracts import ServiceConfig, config_key, decode
from contracts.kafka import Admin, make_producer
from controlplane.errors import StreamUnavailable
from controlplane.kafka import get_producer
from controlplane.routing import publishing
from controlplane.routing.models import ConfigRevision
from controlplane.routing.publishing import config_send
from controlplane.routing.services import config_republish_pending, service_create, service_update
from controlplane.routing.tasks import republish_pending
from tests.e2e.stack import free_port
from tests.factories import TenantFactory, unique_slug

SCHEMA = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}


def _service_with_two_revisions():  # noqa: ANN202
    service = service_create(tenant=TenantFactory(), slug=unique_slug("svc"), name="Svc", input_schema=SCHEMA)
    service_update(service=service, changes={"deadline_ms": 450}, actor="test")
    assert ConfigRevision.objects.filter(service=service).count() == 2
    return service


@pytest.mark.django_db(transaction=True)
def test_each_publisher_gets_its_own_acknowledgement_while_another_thread_polls(kafka: Admin) -> None:
    """The producer is shared: another thread's poll may serve this record's delivery report."""
    producer = get_producer()
    stop = threading.Event()

    def poll_forever() -> None:
        while not stop.is_set():
            producer.poll(0.001)

    poller = threading.Thread(target=poll_forever, daemon=True)
    poller.start()
    try:
        positions = [config_send(key=f"test/publish-{i}", value=b"{}") for i in range(30)]
    finally:
        stop.set()
        poller.join()
    offsets = [p.offset for p in positions]
    assert offsets == sorted(offsets) and len(set(offsets)) == 30


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_broker_is_a_stream_error_after_the_timeout(
    kafka: Admin,
    monkeypatch: pytest.MonkeyPatch,
    settings,  # noqa: ANN001
) -> None:
    settings.RDV_PUBLISH_TIMEOUT_S = 0.5
    # Its undeliverable record times out in 1 s, so closing it is quick; a producer left alive would
    # log "connection refused" for the rest of the suite.
    dead = make_producer(
        replace(settings.RDV_KAFKA, bootstrap_servers=f"127.0.0.1:{free_port()}", client="confluent"),
        **{"message.timeout.ms": 1000},
    )
    monkeypatch.setattr(publishing, "get_producer", lambda: dead)

    expected = r"could not publish t/s to rdv.config: no acknowledgement within 0\.\d s"
    try:
        with pytest.raises(StreamUnavailable, match=expected):
            config_send(key="t/s", value=b"{}")
    finally:
        monkeypatch.undo()
        dead.close()


@pytest.mark.django_db(transaction=True)
def test_the_sweep_sends_only_the_newest_unpublished_revision(kafka: Admin, request: pytest.FixtureRequest) -> None:
    service = _service_with_two_revisions()
    ConfigRevision.objects.filter(service=service).update(published_at=None)
    config_reader = request.getfixturevalue("config_reader")

    published = config_republish_pending(older_than_s=0)

    assert [(r.service_id, r.number) for r in published] == [(service.pk, 2)]
    values = config_reader(config_key(service.tenant.slug, service.slug), count=2, timeout=3.0)
    assert [decode(ServiceConfig, v).revision for v in values] == [2]
    assert decode(ServiceConfig, values[0]).deadline_ms == 450
    states = dict(ConfigRevision.objects.filter(service=service).values_list("number", "published_at"))
    assert states[1] is None and states[2] is not None


@pytest.mark.django_db(transaction=True)
def test_the_sweep_leaves_published_and_recent_revisions_alone(kafka: Admin) -> None:
    service = _service_with_two_revisions()
    assert config_republish_pending(older_than_s=0) == []

    ConfigRevision.objects.filter(service=service, number=2).update(published_at=None, created_at=timezone.now())
    assert config_republish_pending(older_than_s=60) == []
    # The Celery task waits as long as a publisher itself would have waited before giving up.
    assert republish_pending() == 0
