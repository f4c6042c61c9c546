"""The roll-up consumer: every ``rdv.<t>.<s>.decisions`` topic into per-deployment minute rows.

A processing step on the streaming runtime, built like the decisions consumer (its own group,
``rdv-rollups``): it follows ``rdv.config`` for the services, and each batch is added into the minute rows
in one transaction together with each partition's offset watermark before ``process`` returns, so the
runtime commits only what is stored, and a record read again (a crash before the commit, a rebalance, a
replay by a new group) is skipped by the watermark: a replay gives the same numbers. Poison and records
whose decisions name another service go to the dead-letter topic; a failed store stops the loop
uncommitted. Rolling minutes into hours and retention are Celery beat's (``monitoring.tasks``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, close_old_connections

from contracts.config import ServiceConfig
from contracts.kafka import (
    KafkaSettings,
    Record,
    TopicPartition,
    TopicSpec,
)
from contracts.keys import ServiceKey
from contracts.messages import Decision
from contracts.topics import parse_service_topic
from controlplane.consuming import ConsumerProcess, StoringStep
from controlplane.decisions.consumer import decisions_of, decisions_topic_specs
from controlplane.monitoring.selectors import service_ids_by_key, watermarks_of
from controlplane.monitoring.services import RecordDecisions, rollups_store
from streaming import LoopSettings, StepIO

GROUP_ID = "rdv-rollups"
# Records per batch at most (each batch one transaction): only a backlog fills it (docs/benchmarks.md).
BATCH_SIZE = 2000


@dataclass(frozen=True, slots=True)
class RollupsConsumerSettings:
    kafka: KafkaSettings
    group_id: str = GROUP_ID
    batch_size: int = BATCH_SIZE
    poll_wait_s: float = 0.5
    # One transaction per batch: gathering a little longer makes each cover more decisions.
    gather_s: float = 0.25

    @classmethod
    def from_django(cls, **overrides: object) -> RollupsConsumerSettings:
        return cls(**{"kafka": settings.RDV_KAFKA, **overrides})  # type: ignore[arg-type]


class RollupsStep(StoringStep):
    """Adds each batch of decisions into the minute rows; poison goes to the DLQ."""

    name = "rollups"

    def __init__(self) -> None:
        super().__init__(sweep_interval_s=3600.0)
        # The watermark of each partition as last read or stored here: records at or below it are skipped
        # before they are decoded (a replay costs a fetch, not a decode). Only an optimisation: the store
        # checks the stored watermarks again, in its transaction. Forgotten at every config change (a
        # service deleted and re-created starts its topic at offset 0) and when partitions move.
        self._seen: dict[tuple[str, int], int] = {}

    def wanted_topics(self, services: Mapping[ServiceKey, ServiceConfig]) -> Sequence[TopicSpec]:
        return decisions_topic_specs(services)

    def configure(self, services: Mapping[ServiceKey, ServiceConfig], io: StepIO) -> None:
        self._seen.clear()

    def assigned(self, partitions: list[TopicPartition], io: StepIO) -> None:
        self._seen.clear()

    def revoking(self, partitions: list[TopicPartition], io: StepIO) -> None:
        self._seen.clear()

    def _unseen(self, records: Sequence[Record]) -> list[Record]:
        missing = {(r.topic, r.partition) for r in records} - self._seen.keys()
        if missing:
            close_old_connections()
            self._seen.update(dict.fromkeys(missing, -1))
            self._seen.update(watermarks_of(missing))
        return [r for r in records if r.offset > self._seen[(r.topic, r.partition)]]

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        decoded: list[tuple[Record, ServiceKey, list[Decision]]] = []
        for record in self._unseen(records):
            topic = parse_service_topic(record.topic)
            if topic is None or topic.kind != "decisions":
                continue
            admitted = decisions_of(record)
            if isinstance(admitted, str):
                self.dead_letter(record, admitted, io)
                continue
            decoded.append((record, (topic.tenant, topic.service), admitted))
        if not decoded:
            return
        # A long-running process outlives connections (server restarts, CONN_MAX_AGE): drop dead ones.
        close_old_connections()
        try:
            self.stored += self._store(decoded)
        except IntegrityError:
            # A service deleted between looking it up and storing: look again (its rows are gone with it).
            self.stored += self._store(decoded)
        for record, _, _ in decoded:
            self._seen[(record.topic, record.partition)] = record.offset

    @staticmethod
    def _store(decoded: list[tuple[Record, ServiceKey, list[Decision]]]) -> int:
        # Looked up every batch (one query): a deleted and re-created service must never get the old one's rows.
        service_ids = service_ids_by_key({key for _, key, _ in decoded})
        # Decisions of services the database does not know (deleted, another control plane's) count nowhere.
        return rollups_store(
            records=[
                RecordDecisions(service_ids[key], record.topic, record.partition, record.offset, decisions)
                for record, key, decisions in decoded
                if key in service_ids
            ]
        )

    def sweep(self) -> None:
        """Nothing: retention is Celery beat's, which deletes minute rows only once they are rolled."""


class RollupsConsumer(ConsumerProcess):
    """``manage.py consume_rollups``: the roll-up step on a loop that follows the config."""

    def __init__(self, config: RollupsConsumerSettings) -> None:
        super().__init__(RollupsStep())
        self._config = config

    def run(self) -> None:
        self.run_following_config(
            self._config.kafka,
            group_id=self._config.group_id,
            settings=LoopSettings(
                max_batch=self._config.batch_size, max_wait_s=self._config.poll_wait_s, gather_s=self._config.gather_s
            ),
        )
