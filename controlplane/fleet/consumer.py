"""The status consumer: ``rdv.status`` into the latest WorkerReport per worker (and its version placements).

A processing step on the streaming runtime (streaming.runtime), in the ``rdv-status`` group. Reports are
taken in batches of what is already fetched; only the newest report of each worker in a batch is stored
before ``process`` returns, and poison stays uncommitted until its dead letter is acknowledged.
A consumer killed at any moment loses nothing that matters: the next reader stores the same reports again,
and every worker sends a fresh one within seconds anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone

from contracts.codec import DecodeError, decode
from contracts.kafka import KafkaSettings, Record, make_consumer, make_producer
from contracts.messages import WorkerStatus
from contracts.topics import STATUS_TOPIC
from controlplane.consuming import ConsumerProcess, StoringStep, ensure_platform_topics
from controlplane.fleet.services import worker_reports_expire, worker_statuses_store
from streaming import LoopSettings, StepIO, StreamLoop, Subscription

log = logging.getLogger(__name__)

GROUP_ID = "rdv-status"


@dataclass(frozen=True, slots=True)
class StatusConsumerSettings:
    kafka: KafkaSettings
    group_id: str = GROUP_ID
    batch_size: int = 500
    # Readiness is judged on these reports: a short wait keeps the stored state close to the workers'.
    poll_wait_s: float = 0.2
    # Workers silent this long are forgotten altogether (they stopped counting long before).
    forget_after: timedelta = timedelta(days=1)
    sweep_interval_s: float = 3600.0

    @classmethod
    def from_django(cls, **overrides: object) -> StatusConsumerSettings:
        return cls(**{"kafka": settings.RDV_KAFKA, **overrides})  # type: ignore[arg-type]


class StatusStep(StoringStep):
    """Stores the newest report of each worker in a batch; poison goes to the DLQ."""

    name = "status"

    def __init__(self, config: StatusConsumerSettings) -> None:
        super().__init__(config.sweep_interval_s)
        self._config = config

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        statuses: list[WorkerStatus] = []
        for record in records:
            try:
                status = decode(WorkerStatus, record.value or b"")
            except DecodeError as exc:
                self.dead_letter(record, str(exc), io)
                continue
            if record.key is not None and record.key != status.worker.encode():
                self.dead_letter(record, f"status of {status.worker!r} under the key {record.key!r}", io)
                continue
            statuses.append(status)
        if statuses:
            self._store(statuses)

    def _store(self, statuses: list[WorkerStatus]) -> None:
        """A database hiccup costs these reports, not the consumer: every worker repeats its state within
        seconds (heartbeat), and the newest report is all that is kept anyway."""
        close_old_connections()
        try:
            self.stored += worker_statuses_store(statuses=statuses)
        except DatabaseError as exc:
            log.warning("%d status reports not stored (the next heartbeats replace them): %s", len(statuses), exc)
            connections.close_all()

    def sweep(self) -> None:
        forgotten = worker_reports_expire(older_than=timezone.now() - self._config.forget_after)
        if forgotten:
            log.info("forgot %d workers silent for more than %s", forgotten, self._config.forget_after)


class StatusConsumer(ConsumerProcess):
    """``manage.py consume_status``: the status step on a loop subscribed to ``rdv.status``."""

    def __init__(self, config: StatusConsumerSettings) -> None:
        super().__init__(StatusStep(config))
        self._config = config

    def run(self) -> None:
        kafka = self._config.kafka
        ensure_platform_topics(kafka)
        loop = StreamLoop(
            self.step,
            consumer=make_consumer(kafka.background(), group_id=self._config.group_id),
            producer=make_producer(kafka),
            source=Subscription((STATUS_TOPIC,)),
            # Readiness is judged on these reports: a short wait keeps the stored state close to the workers'.
            settings=LoopSettings(max_batch=self._config.batch_size, max_wait_s=self._config.poll_wait_s),
            on_ready=self.announce_ready,
        )
        try:
            self.run_loop(loop)
        finally:
            connections.close_all()
