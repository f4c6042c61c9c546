"""The one Kafka loop: every consuming process runs its processing step on a ``StreamLoop``.

Each turn: check the config follower is alive and follow a new config generation (topics created as
needed, the subscription only grows), poll what is fetched in one batch (waiting no longer than the
step's next timer), hand the batch to the step, run its timers, serve delivery callbacks, and commit
what is done. One thread does all of it, so steps need no locks.

Commits never wait on the producer: a record is held (``streaming.offsets``) until everything produced
from it is acknowledged, so a commit is one broker round trip of positions that are already safe, and
a delivery the producer gives up on stops the loop without committing (a restart redoes the work).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from contracts.config import ServiceConfig
from contracts.kafka import Admin, Consumer, KafkaError, Producer, Record, TopicPartition, TopicSpec
from contracts.keys import ServiceKey
from streaming.health import HealthFile, LoopHealth
from streaming.io import StepIO
from streaming.metrics import LoopMetrics
from streaming.offsets import OffsetTracker, PartitionRef
from streaming.step import Step

log = logging.getLogger(__name__)


class DeliveryFailed(RuntimeError):
    """The producer gave up on a record: the loop stops without committing, so a restart redoes the work."""


class ConfigView:
    """What a loop needs of the config follower (``contracts.follower.ConfigFollower`` is one)."""

    generation: int

    @property
    def services(self) -> Mapping[ServiceKey, ServiceConfig]:  # pragma: no cover - interface
        raise NotImplementedError

    def check(self) -> None:
        """Raise when the follower cannot keep the config current (its thread died, the topic is unreadable)."""


@dataclass(frozen=True, slots=True)
class LoopSettings:
    # Records handed to the step at once: what is already fetched, up to this many.
    max_batch: int = 500
    # The longest a poll waits for a first record (a step's timer may shorten it).
    max_wait_s: float = 0.05
    # Once a record is there, keep polling up to this long for more (never past the step's next timer)
    # before handing the batch over: for steps off the hot path whose cost is per batch (a database
    # transaction), not per record. 0 hands over what is fetched at once.
    gather_s: float = 0.0
    # Commit at least this often while positions move, and after this many records.
    commit_interval_s: float = 1.0
    commit_every_records: int = 5000
    # Records handed to the step at a time when it keeps timers: between two slices its due timers
    # run (a deadline must not wait for a whole batch); None hands the batch over whole.
    timer_slice: int | None = None
    # How long a rebalance waits for the revoked partitions' deliveries before committing them.
    revoke_flush_s: float = 2.0
    # How long a graceful stop waits for every delivery.
    stop_flush_s: float = 10.0
    # Consumer lag per topic (``LoopMetrics.lag``) is sampled this often, from what the client already
    # knows (no broker round trip); None never samples it.
    lag_interval_s: float | None = 5.0


@dataclass(frozen=True, slots=True)
class Assignment:
    """Read these partitions without a consumer group (nothing is committed): ``offset`` -2 is the
    beginning, -1 the end, else that offset."""

    partitions: tuple[TopicPartition, ...]


@dataclass(frozen=True, slots=True)
class Subscription:
    """Read these topics in the consumer's group; with a config, also the topics the step wants."""

    topics: tuple[str, ...] = ()


Source = Assignment | Subscription


class StreamLoop:
    def __init__(
        self,
        step: Step,
        *,
        consumer: Consumer,
        producer: Producer,
        admin: Admin | None = None,
        source: Source = Subscription(),
        config: ConfigView | None = None,
        settings: LoopSettings | None = None,
        on_ready: Callable[[], None] | None = None,
        health_file: HealthFile | None = None,
    ) -> None:
        self.step = step
        self.name = step.name
        self._consumer = consumer
        self._producer = producer
        self._admin = admin
        self._source = source
        self._config = config
        self._settings = settings or LoopSettings()
        self._on_ready = on_ready
        self.offsets = OffsetTracker()
        self.metrics = LoopMetrics()
        self.io = StepIO(producer=producer, offsets=self.offsets, metrics=self.metrics, loop_name=self.name)
        self._commits = isinstance(source, Subscription)
        self._topics: tuple[str, ...] = ()
        self._ensured: set[str] = set()  # topics (read or written) already created when missing
        self._generation = -1
        self._assigned = False
        self._uncommitted = 0
        self._last_commit = time.monotonic()
        self._next_lag = time.monotonic()
        self.health = LoopHealth(self.name)
        self._health_file = health_file
        if health_file is not None:
            health_file.add_loop(self.name, self.report)

    # -- lifecycle ---------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Turn until ``stop`` is set (or a failure raises), then finish: flush and commit."""
        self.health.started()
        try:
            self._start()
            while not stop.is_set():
                self._turn(stop)
            self._finish()
        except BaseException as exc:
            self.health.failed(f"{type(exc).__name__}: {exc}")
            # Nothing more is committed (closing the consumer may revoke its partitions): a batch
            # whose step raised was marked seen, and must be read again by the next owner.
            self._commits = False
            raise
        finally:
            self.health.stopped()
            self._close()

    def _close(self) -> None:
        """The loop owns its clients and closes them. The consumer first: closing it may revoke partitions, whose
        callback flushes the producer and commits."""
        for client in (self._consumer, self._producer, self._admin):
            if client is None:
                continue
            try:
                client.close()
            except Exception as exc:  # closing must not hide the failure that stopped the loop
                log.warning("%s: closing %s: %s", self.name, type(client).__name__, exc)

    def _start(self) -> None:
        if isinstance(self._source, Assignment):
            self._consumer.assign(list(self._source.partitions))
            self._topics = tuple(sorted({tp.topic for tp in self._source.partitions}))
            self._assigned = True
        elif self._config is None:
            self._subscribe(self._source.topics)

    def _finish(self) -> None:
        self.step.stopping(self.io)
        self._producer.flush(self._settings.stop_flush_s)
        self._raise_on_delivery_failure()
        self._commit(force=True)

    # -- one turn ----------------------------------------------------------------------------------

    def _turn(self, stop: threading.Event) -> None:
        if self._config is not None:
            self._config.check()
            if self._config.generation != self._generation:
                self._follow_config()
        if self.health.ready_at is None and (self._assigned or not self._topics):
            # Ready means partitions are owned: a record sent now is read at once.
            self.health.ready()
            if self._on_ready is not None:
                self._on_ready()
        wait = self._wait()
        if self._topics:
            records = self._consumer.poll_batch(self._settings.max_batch, wait)
            if records and self._settings.gather_s > 0:
                records = self._gather(records, stop)
        else:
            stop.wait(wait)
            records = []
        if records:
            self._process(records)
        self.step.tick(time.time(), self.io)
        self._producer.poll(0)
        self._raise_on_delivery_failure()
        self._commit()
        self._sample_lag()
        self.health.turned()
        if self._health_file is not None:
            self._health_file.tick()

    def _gather(self, records: list[Record], stop: threading.Event) -> list[Record]:
        until = time.monotonic() + self._settings.gather_s
        wakeup = self.step.next_wakeup()
        if wakeup is not None:
            until = min(until, time.monotonic() + max(0.0, wakeup - time.time()))
        while len(records) < self._settings.max_batch and not stop.is_set():
            left = until - time.monotonic()
            if left <= 0:
                break
            wanted = self._settings.max_batch - len(records)
            records.extend(self._consumer.poll_batch(wanted, min(left, self._settings.max_wait_s)))
        return records

    def _wait(self) -> float:
        wakeup = self.step.next_wakeup()
        if wakeup is None:
            return self._settings.max_wait_s
        return max(0.0, min(self._settings.max_wait_s, wakeup - time.time()))

    def _process(self, records: Sequence[Record]) -> None:
        started = time.perf_counter()
        self.offsets.seen_all(records)
        size = self._settings.timer_slice
        if size is None or len(records) <= size:
            self.step.process(records, self.io)
        else:
            # The timer rule: nothing between two ticks of a due timer takes longer than one slice.
            for start in range(0, len(records), size):
                self.step.process(records[start : start + size], self.io)
                wakeup = self.step.next_wakeup()
                if wakeup is not None and time.time() >= wakeup:
                    self.step.tick(time.time(), self.io)
        self._uncommitted += len(records)
        self.metrics.batch(self.name, len(records), time.perf_counter() - started)

    def _sample_lag(self) -> None:
        interval = self._settings.lag_interval_s
        if interval is None or not self._topics:
            return
        now = time.monotonic()
        if now < self._next_lag:
            return
        self._next_lag = now + interval
        try:
            lag = self._consumer.lag()
        except (KafkaError, NotImplementedError) as exc:  # a gauge is not worth stopping the loop for
            log.debug("%s: consumer lag unavailable: %s", self.name, exc)
            return
        by_topic: dict[str, int] = {}
        for partition in lag:
            by_topic[partition.topic] = by_topic.get(partition.topic, 0) + partition.offset
        self.metrics.lag = by_topic

    def _raise_on_delivery_failure(self) -> None:
        if self.io.delivery_error is not None:
            # Idempotent retries are exhausted: stop without committing; a restart redoes the work.
            raise DeliveryFailed(f"{self.name}: delivery failed: {self.io.delivery_error}")

    # -- the subscription follows the config ----------------------------------------------------------

    def _follow_config(self) -> None:
        assert self._config is not None
        self._generation = self._config.generation
        services = self._config.services
        assert isinstance(self._source, Subscription)
        self.step.configure(services, self.io)
        wanted = list(self.step.wanted_topics(services))
        outputs = list(self.step.output_topics(services))
        self._ensure([spec for spec in wanted + outputs if spec.name not in self._ensured])
        topics = tuple(sorted(set(self._topics) | set(self._source.topics) | {spec.name for spec in wanted}))
        if topics != self._topics:
            self._subscribe(topics)

    def _ensure(self, specs: list[TopicSpec]) -> None:
        """New topics exist before they are subscribed: a subscribed topic without metadata keeps a
        kafka-python group waiting on it. The control plane normally created them already."""
        if not specs or self._admin is None:
            return
        try:
            self._admin.ensure_topics(specs)
        except Exception as exc:
            log.warning("%s: could not ensure %d topics: %s", self.name, len(specs), exc)
            return
        self._ensured |= {spec.name for spec in specs}

    def _subscribe(self, topics: Sequence[str]) -> None:
        self._commit(force=True)
        self._topics = tuple(topics)
        if topics:
            self._consumer.subscribe(list(topics), on_assign=self._on_assign, on_revoke=self._on_revoke)
            log.info("%s: subscribed to %d topics", self.name, len(topics))

    def _on_assign(self, partitions: list[TopicPartition]) -> None:
        self._assigned = True
        self.step.assigned(partitions, self.io)
        log.info("%s: assigned %d partitions", self.name, len(partitions))

    def _on_revoke(self, partitions: list[TopicPartition]) -> None:
        self.step.revoking(partitions, self.io)
        # Short: a record for a topic deleted meanwhile must not hold the whole group's rebalance.
        self._producer.flush(self._settings.revoke_flush_s)
        revoked = [PartitionRef(p.topic, p.partition) for p in partitions]
        self._commit(force=True, only=revoked)
        self.offsets.forget(revoked)
        log.info("%s: revoked %d partitions", self.name, len(partitions))

    # -- commits -----------------------------------------------------------------------------------

    def _commit(self, *, force: bool = False, only: list[PartitionRef] | None = None) -> None:
        if not self._commits:
            return
        now = time.monotonic()
        due = now - self._last_commit >= self._settings.commit_interval_s
        if not (force or due or self._uncommitted >= self._settings.commit_every_records):
            return
        self._last_commit = now
        offsets = self.offsets.committable(only)
        if not offsets:
            return
        try:
            if force:
                # On revoke and at stop the positions must land before the partitions move on.
                self._consumer.commit(offsets)
            else:
                # Periodic commits never wait: a synchronous one stops the loop for a coordinator round
                # trip (measured p99 27 ms) and every timer due meanwhile fires that much late. Every
                # position goes, moved or not, so one that did not land is repaired by the next.
                offsets = self.offsets.positions()
                self._consumer.commit_nowait(offsets)
        except KafkaError as exc:  # e.g. a rebalance in progress; the next commit catches up
            self.metrics.commit_failures += 1
            log.warning("%s: commit failed: %s", self.name, exc)
            return
        self.offsets.committed(offsets)
        self.metrics.commits += 1
        self._uncommitted = 0

    # -- reports -----------------------------------------------------------------------------------

    def report(self) -> dict[str, object]:
        return {
            **self.health.report(),
            "topics": len(self._topics),
            **self.metrics.snapshot(),
            **self.step.health(),
        }
