"""The decisions consumer: every ``rdv.<t>.<s>.decisions`` topic into DecisionRecord rows.

A processing step on the streaming runtime (streaming.runtime): it learns the services from
``rdv.config`` exactly as the workers do, and its subscription only grows (each change is a
rebalance). Each batch of what is already fetched is stored before ``process`` returns, and poison is
dead-lettered with its record held until the dead letter is acknowledged; the runtime commits only
positions that are done, so a consumer killed at any moment loses nothing: the next owner of the
partition reads the batch again, and storing is idempotent. A failed store stops the loop uncommitted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import msgspec
from django.conf import settings
from django.db import DataError, IntegrityError, close_old_connections
from django.utils import timezone

from contracts.codec import DecodeError, decode_decisions
from contracts.config import ServiceConfig
from contracts.kafka import KafkaSettings, Record, TopicSpec
from contracts.keys import ServiceKey
from contracts.messages import Decision
from contracts.topics import service_topics
from contracts.topology import service_topic_specs
from controlplane.consuming import ConsumerProcess, StoringStep
from controlplane.decisions.services import decisions_expire, decisions_store
from streaming import LoopSettings, StepIO

log = logging.getLogger(__name__)

GROUP_ID = "rdv-decisions"


@dataclass(frozen=True, slots=True)
class DecisionsConsumerSettings:
    kafka: KafkaSettings
    group_id: str = GROUP_ID
    batch_size: int = 500
    # Decisions are not on the hot path: waiting a little longer when idle costs nobody anything.
    poll_wait_s: float = 0.5
    # Records gathered this long into one batch: each batch is one transaction and one connection check,
    # which cost more than its rows (a fifth of this consumer's CPU at 1,500 req/s; docs/benchmarks.md).
    gather_s: float = 0.25
    retention: timedelta = timedelta(days=7)
    sweep_interval_s: float = 3600.0

    @classmethod
    def from_django(cls, **overrides: object) -> DecisionsConsumerSettings:
        values: dict[str, object] = {
            "kafka": settings.RDV_KAFKA,
            "retention": timedelta(days=settings.RDV_DECISION_RETENTION_DAYS),
        }
        return cls(**{**values, **overrides})  # type: ignore[arg-type]


def decisions_topic_specs(services: Mapping[ServiceKey, ServiceConfig]) -> list[TopicSpec]:
    return [
        spec
        for (tenant, service), config in services.items()
        for spec in service_topic_specs(tenant, service, config.partitions)
        if spec.name == service_topics(tenant, service).decisions
    ]


def wrong_topic(record: Record, decision: Decision) -> str | None:
    """A decision must name the service whose topic carries it: one tenant cannot write into another's."""
    try:
        expected = service_topics(decision.tenant, decision.service).decisions
    except ValueError as exc:
        return str(exc)
    if record.topic != expected:
        return f"decision of {decision.tenant}/{decision.service} on {record.topic} (expected {expected})"
    return None


def decisions_of(record: Record) -> list[Decision] | str:
    """The decisions of one record of a ``decisions`` topic, or why it goes to the DLQ.

    A DecisionBatch (what rendezvous workers write, *changed (runtime)*) or a single Decision, refused
    whole when one decision names another service than the topic; a decision without ``decided_at``
    takes the record's timestamp."""
    try:
        decisions = decode_decisions(record.value or b"")
    except DecodeError as exc:
        return str(exc)
    problem = next(filter(None, (wrong_topic(record, d) for d in decisions)), None)
    if problem is not None:
        return problem
    written_at = record.timestamp_ms / 1000.0
    return [d if d.decided_at > 0 else msgspec.structs.replace(d, decided_at=written_at) for d in decisions]


class DecisionsStep(StoringStep):
    """Stores each batch of decisions; poison (and what the database refuses) goes to the DLQ."""

    name = "decisions"

    def __init__(self, config: DecisionsConsumerSettings) -> None:
        super().__init__(config.sweep_interval_s)
        self._config = config

    def wanted_topics(self, services: Mapping[ServiceKey, ServiceConfig]) -> Sequence[TopicSpec]:
        return decisions_topic_specs(services)

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        decoded: list[tuple[Record, Decision]] = []
        for record in records:
            admitted = decisions_of(record)
            if isinstance(admitted, str):
                self.dead_letter(record, admitted, io)
                continue
            decoded += [(record, decision) for decision in admitted]
        self._store(decoded, io)

    def _store(self, decoded: list[tuple[Record, Decision]], io: StepIO) -> None:
        if not decoded:
            return
        # A long-running process outlives connections (server restarts, CONN_MAX_AGE): drop dead ones.
        close_old_connections()
        try:
            self.stored += decisions_store(decisions=[decision for _, decision in decoded])
            return
        except (DataError, IntegrityError) as exc:
            log.warning("batch of %d decisions not storable (%s); storing one by one", len(decoded), exc)
        # One record the database refuses must not block its partition forever: it goes to the DLQ.
        # Any other database error (unreachable, …) propagates: the loop stops uncommitted, all is re-read.
        dead: set[tuple[str, int, int]] = set()  # once per record, though a batch may hold several refused
        for record, decision in decoded:
            try:
                self.stored += decisions_store(decisions=[decision])
            except (DataError, IntegrityError) as exc:
                if (record.topic, record.partition, record.offset) not in dead:
                    dead.add((record.topic, record.partition, record.offset))
                    self.dead_letter(record, f"not storable: {exc}", io)

    def sweep(self) -> None:
        expired = decisions_expire(older_than=timezone.now() - self._config.retention)
        if expired:
            log.info("retention: %d decision records older than %s deleted", expired, self._config.retention)


class DecisionsConsumer(ConsumerProcess):
    """``manage.py consume_decisions``: the decisions step on a loop that follows the config."""

    def __init__(self, config: DecisionsConsumerSettings) -> None:
        super().__init__(DecisionsStep(config))
        self._config = config

    def run(self) -> None:
        self.run_following_config(
            self._config.kafka,
            group_id=self._config.group_id,
            settings=LoopSettings(
                max_batch=self._config.batch_size, max_wait_s=self._config.poll_wait_s, gather_s=self._config.gather_s
            ),
        )
