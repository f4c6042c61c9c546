"""The status consumer: ``rdv.status`` into the latest WorkerReport per worker (and its version placements).

Reports are taken in batches of what is already fetched; only the newest report of each worker in a batch
is stored, then the batch's offsets are committed (poison records go to the dead-letter topic first).
A consumer killed at any moment loses nothing that matters: the next reader stores the same reports again,
and every worker sends a fresh one within seconds anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone

from contracts.codec import DecodeError, decode
from contracts.dead_letter import send_to_dead_letter
from contracts.kafka import KafkaError, KafkaSettings, Record, TopicPartition, make_admin, make_consumer, make_producer
from contracts.messages import WorkerStatus
from contracts.topics import STATUS_TOPIC
from contracts.topology import platform_topics
from controlplane.fleet.services import worker_reports_expire, worker_statuses_store
from controlplane.kafka import batch_commit

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


class StatusConsumer:
    def __init__(self, config: StatusConsumerSettings) -> None:
        self._config = config
        self._stop = threading.Event()
        self.ready = threading.Event()
        self._consumer = make_consumer(config.kafka, group_id=config.group_id)
        self._producer = make_producer(config.kafka)
        self.stored = 0
        self.dead_letters = 0

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        admin = make_admin(self._config.kafka)
        try:
            admin.ensure_topics(platform_topics())
        finally:
            admin.close()
        self._consumer.subscribe([STATUS_TOPIC], on_assign=self._on_assign)
        next_sweep = 0.0
        try:
            while not self._stop.is_set():
                if time.monotonic() >= next_sweep:
                    self._sweep()
                    next_sweep = time.monotonic() + self._config.sweep_interval_s
                self._flush(self._fetch())
        finally:
            self._consumer.close()
            self._producer.close()
            connections.close_all()

    def _fetch(self) -> list[Record]:
        batch: list[Record] = []
        record = self._consumer.poll(self._config.poll_wait_s)
        while record is not None:
            batch.append(record)
            if len(batch) >= self._config.batch_size:
                break
            record = self._consumer.poll(0)
        return batch

    def _flush(self, batch: list[Record]) -> None:
        if not batch:
            return
        statuses: list[WorkerStatus] = []
        for record in batch:
            try:
                status = decode(WorkerStatus, record.value or b"")
            except DecodeError as exc:
                self._dead_letter(record, str(exc))
                continue
            if record.key is not None and record.key != status.worker.encode():
                self._dead_letter(record, f"status of {status.worker!r} under the key {record.key!r}")
                continue
            statuses.append(status)
        if statuses:
            self._store(statuses)
        if self._producer.flush(10.0) > 0:
            raise KafkaError("dead letters not acknowledged; offsets left uncommitted")
        batch_commit(self._consumer, batch)

    def _store(self, statuses: list[WorkerStatus]) -> None:
        """A database hiccup costs these reports, not the consumer: every worker repeats its state within
        seconds (heartbeat), and the newest report is all that is kept anyway."""
        close_old_connections()
        try:
            self.stored += worker_statuses_store(statuses=statuses)
        except DatabaseError as exc:
            log.warning("%d status reports not stored (the next heartbeats replace them): %s", len(statuses), exc)
            connections.close_all()

    def _dead_letter(self, record: Record, error: str) -> None:
        send_to_dead_letter(self._producer, record, error)
        self.dead_letters += 1

    def _sweep(self) -> None:
        close_old_connections()
        forgotten = worker_reports_expire(older_than=timezone.now() - self._config.forget_after)
        if forgotten:
            log.info("forgot %d workers silent for more than %s", forgotten, self._config.forget_after)

    def _on_assign(self, partitions: list[TopicPartition]) -> None:
        log.info("assigned %d partitions", len(partitions))
        if not self.ready.is_set():
            print("[status] ready", flush=True)
            self.ready.set()
