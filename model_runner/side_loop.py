"""The shell shared by the runner's side consumers (decoy, canary): own group, live config, safe commits.

Each side loop reads the requests topics of the services that have its role in this runner's pool,
through a consumer group of its own (``rdv-<role>-<pool>``), so it never delays scoring and scoring
never delays it. It runs on its own thread with its own consumer and producer; nothing is shared
with the scoring loop but the (copy-on-write) config follower.

Offsets are committed about once a second, and only after everything produced for the records
before them has been delivered (flush, then commit): a crash re-reads, it never skips.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from contracts.config import ServiceConfig
from contracts.dead_letter import send_to_dead_letter
from contracts.kafka import (
    Admin,
    Consumer,
    KafkaError,
    Producer,
    Record,
    TopicPartition,
    TopicSpec,
    make_admin,
    make_consumer,
    make_producer,
)
from contracts.messages import Request
from contracts.provenance import Refused, RepliesPartitions, admit_request
from contracts.roles import SCORING_ROLES
from contracts.topics import service_topics
from contracts.topology import service_topic_specs
from model_runner.drift_windows import WindowSettings
from model_runner.offsets import OffsetTracker
from model_runner.settings import RunnerSettings
from streaming.follower import ConfigFollower

log = logging.getLogger(__name__)

ServiceKey = tuple[str, str]
COMMIT_INTERVAL_S = 1.0
MAX_DRAIN = 500


class DeliveryFailed(RuntimeError):
    """The producer gave up on a record: stop without committing, so a restart redoes the work."""


class SideLoop(ABC):
    role: str  # the deployment role this loop serves

    def __init__(
        self,
        *,
        pool: str,
        runner_id: str,
        consumer: Consumer,
        producer: Producer,
        admin: Admin,
        follower: ConfigFollower,
    ) -> None:
        self.pool = pool
        self.runner_id = runner_id
        self._consumer = consumer
        self._producer = producer
        self._admin = admin
        self._replies = RepliesPartitions(admin.partition_count)
        self._follower = follower
        self._offsets = OffsetTracker()
        self._generation = -1
        self._subscribed: tuple[str, ...] = ()
        self._active: dict[str, ServiceKey] = {}  # requests topic -> service, for services with the role
        self._scored_here: set[ServiceKey] = set()
        self._delivery_error: KafkaError | None = None
        self._last_commit = time.monotonic()
        self.stats = {"records": 0, "skipped": 0, "dead_lettered": 0}

    # -- what a side loop does -------------------------------------------------------------------

    @abstractmethod
    def handle(self, record: Record, service_key: ServiceKey) -> None:
        """One record of an active service's requests topic."""

    def tick(self, now: float) -> None:
        """Called every loop turn, records or not (time-based work)."""
        return None

    def services_changed(self, active: set[ServiceKey]) -> None:
        """The set of services with this loop's role in the pool changed."""
        return None

    def output_topics(self, config: ServiceConfig) -> set[str]:
        """Per-service topics this loop writes, ensured before it subscribes."""
        return set()

    # -- lifecycle ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        try:
            self._replies.count()  # read the metadata now, not on the first request's path
            while not stop.is_set():
                if self._follower.generation != self._generation:
                    self._apply_config()
                self._step()
                self.tick(time.monotonic())
                self._producer.poll(0)
                self._commit()
            self._commit(force=True)
        finally:
            self._consumer.close()
            self._producer.close()
            self._admin.close()
            log.info("%s loop stopped; stats %s", self.role, self.stats)

    # -- config and subscription -----------------------------------------------------------------

    def _apply_config(self) -> None:
        self._generation = self._follower.generation
        services = self._follower.services
        active: dict[str, ServiceKey] = {}
        scored: set[ServiceKey] = set()
        specs: list[TopicSpec] = []
        for (tenant, service), config in services.items():
            mine = config.in_pool(self.pool)
            if any(d.role in SCORING_ROLES for d in mine):
                scored.add((tenant, service))
            if not any(d.role == self.role for d in mine):
                continue
            topics = service_topics(tenant, service)
            active[topics.requests] = (tenant, service)
            if topics.requests not in self._active:
                wanted = {topics.requests} | self.output_topics(config)
                specs += [t for t in service_topic_specs(tenant, service, config.partitions) if t.name in wanted]
        if specs:
            try:
                self._admin.ensure_topics(specs)
            except Exception as exc:  # the control plane normally created them with the service
                log.warning("%s: could not ensure topics: %s", self.role, exc)
        changed = set(active.values()) != set(self._active.values())
        self._active, self._scored_here = active, scored
        if changed:
            self.services_changed(set(active.values()))
        # Grow-only, like the scoring loop: a service whose role was removed is read and acknowledged
        # without being handled, so re-adding the role later starts from then, not from the old offset.
        topics = tuple(sorted(set(self._subscribed) | set(active)))
        if topics != self._subscribed:
            self._commit(force=True)
            self._consumer.subscribe(topics, on_revoke=self._on_revoke)
            self._subscribed = topics
            log.info("%s: subscribed to %d requests topics (%d active)", self.role, len(topics), len(active))

    def _on_revoke(self, partitions: list[TopicPartition]) -> None:
        revoked = {(p.topic, p.partition) for p in partitions}
        self._commit(force=True, only=revoked)
        self._offsets.forget(revoked)

    # -- records ---------------------------------------------------------------------------------

    def _step(self) -> None:
        if not self._subscribed:
            time.sleep(0.1)
            return
        record = self._consumer.poll(0.1)
        drained = 0
        while record is not None:
            self._offsets.seen(record.topic, record.partition, record.offset)
            self.stats["records"] += 1
            service_key = self._active.get(record.topic)
            if service_key is None:
                self.stats["skipped"] += 1
            else:
                self.handle(record, service_key)
            drained += 1
            record = self._consumer.poll(0) if drained < MAX_DRAIN else None

    def admit(self, record: Record, service_key: ServiceKey) -> Request | None:
        """The decoded request, or None when the record is poison (dead-lettered): not JSON, not a Request,
        or one whose body disagrees with its topic (contracts.provenance), which is then not handled."""
        request = admit_request(record.value, record.topic, replies_partitions=self._replies.count)
        if isinstance(request, Refused):
            self.dead_letter(record, request.reason, service_key)
            return None
        return request

    def dead_letter(self, record: Record, error: str, service_key: ServiceKey) -> None:
        """Poison goes to ``rdv.dlq`` once per pool: when this pool also scores the service, the
        scoring loop has read the same record and already sent it there."""
        if service_key in self._scored_here:
            self.stats["skipped"] += 1
            return
        send_to_dead_letter(self._producer, record, error)
        self.stats["dead_lettered"] += 1

    def delivered(self, error: KafkaError | None, _tp: TopicPartition) -> None:
        if error is not None and self._delivery_error is None:
            self._delivery_error = error

    def _commit(self, *, force: bool = False, only: set[tuple[str, int]] | None = None) -> None:
        if not force and time.monotonic() - self._last_commit < COMMIT_INTERVAL_S:
            return
        self._last_commit = time.monotonic()
        offsets = self._offsets.committable()
        if only is not None:
            offsets = [tp for tp in offsets if (tp.topic, tp.partition) in only]
        if not offsets:
            return
        undelivered = self._producer.flush(10.0)
        if self._delivery_error is not None:
            raise DeliveryFailed(f"{self.role}: delivery failed: {self._delivery_error}")
        if undelivered:
            log.warning("%s: %d records still undelivered after flush; commit postponed", self.role, undelivered)
            return
        try:
            self._consumer.commit(offsets)
        except KafkaError as exc:  # e.g. a rebalance in progress; the next commit catches up
            log.warning("%s: commit failed: %s", self.role, exc)
            return
        self._offsets.committed(offsets)


def start_side_loop(loop: SideLoop, stop: threading.Event, failed: threading.Event) -> threading.Thread:
    """Run ``loop`` on its own thread; if it dies the whole runner stops (and is restarted by whoever
    runs it) rather than scoring on while the archive or the drift reports silently stop."""

    def target() -> None:
        try:
            loop.run(stop)
        except Exception:
            log.exception("%s loop failed; stopping the runner", loop.role)
            failed.set()
            stop.set()

    thread = threading.Thread(target=target, name=f"{loop.role}-loop", daemon=True)
    thread.start()
    return thread


def make_side_loops(settings: RunnerSettings, follower: ConfigFollower, windows: WindowSettings) -> list[SideLoop]:
    """The decoy and canary loops of this runner, each with Kafka clients of its own."""
    from model_runner.canary import CanaryLoop
    from model_runner.decoy import DecoyLoop

    def clients(group_id: str) -> dict[str, Any]:
        return {
            "pool": settings.pool,
            "runner_id": settings.runner_id,
            "consumer": make_consumer(settings.kafka, group_id=group_id, assignor="range"),
            "producer": make_producer(settings.kafka),
            "admin": make_admin(settings.kafka),
            "follower": follower,
        }

    return [
        DecoyLoop(**clients(f"rdv-decoy-{settings.pool}")),
        CanaryLoop(windows=windows, **clients(f"rdv-canary-{settings.pool}")),
    ]

