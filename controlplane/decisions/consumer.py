"""The decisions consumer: every ``rdv.<t>.<s>.decisions`` topic into DecisionRecord rows.

It learns the services from ``rdv.config`` exactly as the workers do, and its subscription only grows
(each change is a rebalance). Records are taken in batches of what is already fetched; a batch's
offsets are committed only after its decisions are stored and its poison records have reached the
dead-letter topic, so a consumer killed at any moment loses nothing: the next owner of the partition
reads the batch again, and storing is idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import msgspec
from django.conf import settings
from django.db import DataError, IntegrityError, close_old_connections, connections
from django.utils import timezone

from contracts.codec import DecodeError, decode_decisions
from contracts.dead_letter import send_to_dead_letter
from contracts.follower import ConfigFollower
from contracts.kafka import (
    KafkaError,
    KafkaSettings,
    Record,
    TopicPartition,
    make_admin,
    make_consumer,
    make_producer,
)
from contracts.messages import Decision
from contracts.topics import service_topics
from contracts.topology import platform_topics
from controlplane.decisions.services import decisions_expire, decisions_store
from controlplane.kafka import batch_commit

log = logging.getLogger(__name__)

GROUP_ID = "rdv-decisions"


@dataclass(frozen=True, slots=True)
class DecisionsConsumerSettings:
    kafka: KafkaSettings
    group_id: str = GROUP_ID
    batch_size: int = 500
    # Decisions are not on the hot path: waiting a little longer when idle costs nobody anything.
    poll_wait_s: float = 0.5
    retention: timedelta = timedelta(days=7)
    sweep_interval_s: float = 3600.0

    @classmethod
    def from_django(cls, **overrides: object) -> DecisionsConsumerSettings:
        values: dict[str, object] = {
            "kafka": settings.RDV_KAFKA,
            "retention": timedelta(days=settings.RDV_DECISION_RETENTION_DAYS),
        }
        return cls(**{**values, **overrides})  # type: ignore[arg-type]


def decisions_topics(services: Sequence[tuple[str, str]]) -> list[str]:
    return [service_topics(tenant, service).decisions for tenant, service in services]


def wrong_topic(record: Record, decision: Decision) -> str | None:
    """A decision must name the service whose topic carries it: one tenant cannot write into another's."""
    try:
        expected = service_topics(decision.tenant, decision.service).decisions
    except ValueError as exc:
        return str(exc)
    if record.topic != expected:
        return f"decision of {decision.tenant}/{decision.service} on {record.topic} (expected {expected})"
    return None


class DecisionsConsumer:
    def __init__(self, config: DecisionsConsumerSettings) -> None:
        self._config = config
        self._stop = threading.Event()
        self.ready = threading.Event()
        self._follower = ConfigFollower(config.kafka)
        self._consumer = make_consumer(config.kafka, group_id=config.group_id, assignor="range")
        self._producer = make_producer(config.kafka)
        self._topics: list[str] = []
        self._batch: list[Record] = []
        self.stored = 0
        self.dead_letters = 0

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        # rdv.config must exist compacted and rdv.dlq must exist before anything reads or writes them.
        admin = make_admin(self._config.kafka)
        try:
            admin.ensure_topics(platform_topics())
        finally:
            admin.close()
        self._follower.start()
        try:
            if not self._follower.wait_ready(60):
                raise KafkaError("could not read rdv.config within 60 s")
            self._loop()
        finally:
            self._shutdown()

    def _loop(self) -> None:
        generation = -1
        next_sweep = 0.0
        while not self._stop.is_set():
            if generation != self._follower.generation:
                generation = self._follower.generation
                self._resubscribe()
            if not self._topics:
                self._announce_ready()
            if time.monotonic() >= next_sweep:
                self._sweep()
                next_sweep = time.monotonic() + self._config.sweep_interval_s
            self._fetch()
            self._flush()

    def _resubscribe(self) -> None:
        topics = sorted(set(self._topics) | set(decisions_topics(list(self._follower.services))))
        if topics != self._topics:
            self._topics = topics
            self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
            log.info("subscribed to %d decisions topics", len(topics))

    def _fetch(self) -> None:
        """Wait for one record, then drain what is already fetched, up to a batch."""
        if not self._topics:
            self._stop.wait(self._config.poll_wait_s)
            return
        record = self._consumer.poll(self._config.poll_wait_s)
        while record is not None:
            self._batch.append(record)
            if len(self._batch) >= self._config.batch_size:
                return
            record = self._consumer.poll(0)

    def _flush(self) -> None:
        """Store the batch, deliver its dead letters, then commit: in that order, or not at all."""
        batch, self._batch = self._batch, []
        if not batch:
            return
        decoded: list[tuple[Record, Decision]] = []
        for record in batch:
            try:
                # A DecisionBatch (what rendezvous workers write, *changed (runtime)*) or a single Decision.
                decisions = decode_decisions(record.value or b"")
            except DecodeError as exc:
                self._dead_letter(record, str(exc))
                continue
            # Refused whole: one decision naming another service sends the entire record to the DLQ.
            problem = next(filter(None, (wrong_topic(record, d) for d in decisions)), None)
            if problem is not None:
                self._dead_letter(record, problem)
                continue
            for decision in decisions:
                if decision.decided_at <= 0:
                    decision = msgspec.structs.replace(decision, decided_at=record.timestamp_ms / 1000.0)
                decoded.append((record, decision))
        self._store(decoded)
        if self._producer.flush(10.0) > 0:
            raise KafkaError("dead letters not acknowledged; offsets left uncommitted")
        batch_commit(self._consumer, batch)

    def _store(self, decoded: list[tuple[Record, Decision]]) -> None:
        if not decoded:
            return
        # A long-running process outlives connections (server restarts, CONN_MAX_AGE): drop dead ones.
        close_old_connections()
        try:
            self.stored += decisions_store(decisions=[decision for _, decision in decoded])
            return
        except (DataError, IntegrityError) as exc:
            log.warning("batch of %d decisions not storable (%s); storing one by one", len(decoded), exc)
        # One record the database refuses must not block its partition forever: it goes to the DLQ
        # (once, though a DecisionBatch may hold several refused decisions).
        # Any other database error (unreachable, …) propagates: nothing is committed, all is re-read.
        dead: set[tuple[str, int, int]] = set()
        for record, decision in decoded:
            try:
                self.stored += decisions_store(decisions=[decision])
            except (DataError, IntegrityError) as exc:
                if (record.topic, record.partition, record.offset) not in dead:
                    dead.add((record.topic, record.partition, record.offset))
                    self._dead_letter(record, f"not storable: {exc}")

    def _dead_letter(self, record: Record, error: str) -> None:
        send_to_dead_letter(self._producer, record, error)
        self.dead_letters += 1

    def _sweep(self) -> None:
        close_old_connections()
        expired = decisions_expire(older_than=timezone.now() - self._config.retention)
        if expired:
            log.info("retention: %d decision records older than %s deleted", expired, self._config.retention)

    def _announce_ready(self) -> None:
        if not self.ready.is_set():
            print("[decisions] ready", flush=True)
            self.ready.set()

    def _on_assign(self, partitions: list[TopicPartition]) -> None:
        log.info("assigned %d partitions", len(partitions))
        # Ready means partitions are owned: a decision written now is read at once.
        self._announce_ready()

    def _on_revoke(self, partitions: list[TopicPartition]) -> None:
        # Runs inside poll, on this thread: store and commit what was read before the partitions go.
        self._flush()
        log.info("revoked %d partitions", len(partitions))

    def _shutdown(self) -> None:
        try:
            self._flush()
        finally:
            self._consumer.close()
            self._producer.close()
            self._follower.stop()
            connections.close_all()
