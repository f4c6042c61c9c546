"""``manage.py consume_status`` against the real broker and database: the newest report per worker is stored,
poison goes to the dead-letter topic, and the consumer keeps going."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import replace

import pytest
from django.conf import settings

from contracts import DLQ_TOPIC, STATUS_TOPIC, encode
from contracts.kafka import TopicPartition, make_consumer, make_producer
from controlplane.fleet.consumer import StatusConsumer, StatusConsumerSettings
from controlplane.fleet.models import VersionPlacement, WorkerReport
from tests.controlplane.fleet.builders import runner_status

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_reports_are_stored_per_worker_and_poison_is_dead_lettered(routed, client: str) -> None:  # noqa: ANN001
    service, v1, v2, bad = routed
    worker = f"runner-{uuid.uuid4().hex[:8]}"
    config = StatusConsumerSettings.from_django(
        kafka=replace(settings.RDV_KAFKA, client=client), group_id=f"rdv-status-{uuid.uuid4().hex[:8]}"
    )
    consumer = StatusConsumer(config)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            consumer.run()
        except BaseException as exc:  # noqa: BLE001  (reported to the test)
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    reader = make_consumer(settings.RDV_KAFKA, group_id=None)
    producer = make_producer(settings.RDV_KAFKA)
    try:
        assert consumer.ready.wait(60), errors
        dlq_start = {p: reader.watermarks(DLQ_TOPIC, p)[1] for p in range(4)}
        poison_key = f"poison-{uuid.uuid4().hex[:8]}".encode()
        producer.produce(STATUS_TOPIC, b'{"worker": 12}', key=poison_key)
        for state in ("loading", "ready"):
            status = runner_status(worker, service, bad.number, {v2: state})
            producer.produce(STATUS_TOPIC, encode(status), key=worker.encode())
        assert producer.flush(10) == 0

        deadline = time.monotonic() + 30
        while not VersionPlacement.objects.filter(report__worker=worker, state="ready").exists():
            assert time.monotonic() < deadline and not errors, errors
            time.sleep(0.2)
        report = WorkerReport.objects.get(worker=worker)
        assert (report.kind, report.pool) == ("runner", "default")
        assert report.revisions[f"{service.tenant.slug}/{service.slug}"]["revision"] == bad.number

        reader.assign([TopicPartition(DLQ_TOPIC, p, offset) for p, offset in dlq_start.items()])
        letters = []
        deadline = time.monotonic() + 20
        while not letters and time.monotonic() < deadline:
            record = reader.poll(0.5)
            if record is not None and record.key == poison_key:
                letters.append(json.loads(record.value or b"{}"))
        [letter] = letters
        assert letter["topic"] == STATUS_TOPIC and "WorkerStatus" in letter["error"]
        assert thread.is_alive()
    finally:
        consumer.stop()
        thread.join(30)
        reader.close()
        producer.close()
    assert not errors
