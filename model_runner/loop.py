"""The Kafka shell around scoring: poll one record, drain what is fetched, score, produce, commit.

One thread does all consuming, producing and committing (delivery callbacks run inside its
``poll``/``flush``), so nothing here needs a lock; model loading runs elsewhere (hosting), and each
version's scoring call runs on a worker thread under its timeout (isolation) while this one waits.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from contracts.config import DeploymentSpec, ServiceConfig
from contracts.dead_letter import send_to_dead_letter
from contracts.follower import ConfigFollower
from contracts.kafka import (
    Admin,
    Consumer,
    KafkaError,
    Producer,
    Record,
    TopicPartition,
)
from contracts.messages import Score
from contracts.provenance import Refused, RepliesPartitions, admit_request
from contracts.status import StatusReporter
from contracts.topics import service_topics
from contracts.topology import service_topic_specs
from model_runner.hosting import HostedModels, HostedVersion
from model_runner.isolation import IsolatedCalls, effective_timeout_ms
from model_runner.loading import LoadedModel
from model_runner.offsets import OffsetTracker
from model_runner.scoring import (
    MODEL_LOADING,
    Inbound,
    PendingScores,
    ServiceKey,
    error_scores,
    score_version,
    scores_records,
    split_expired,
)
from model_runner.settings import RunnerSettings
from model_runner.state import InternalState

log = logging.getLogger(__name__)

# Each commit first flushes the producer (a broker round trip that pauses consuming): once a second
# keeps that under 1% of the loop while a crash re-scores at most a second of requests.
COMMIT_INTERVAL_S = 1.0
COMMIT_EVERY_RECORDS = 2000
_ROLE_PRIORITY = {"champion": 0, "fallback": 1, "canary": 2, "challenger": 3}


def scoring_priority(spec: DeploymentSpec) -> tuple[int, int]:
    return (_ROLE_PRIORITY.get(spec.role, 4), spec.rank)
HEALTH_INTERVAL_S = 5.0
STATS_INTERVAL_S = 60.0


class RunnerLoop:
    def __init__(
        self,
        settings: RunnerSettings,
        *,
        consumer: Consumer,
        producer: Producer,
        admin: Admin,
        follower: ConfigFollower,
        hosting: HostedModels,
        calls: IsolatedCalls | None = None,
        state: InternalState | None = None,
        status: StatusReporter | None = None,
    ) -> None:
        self._settings = settings
        self._calls = calls or IsolatedCalls()
        self._state = state or InternalState(settings.redis_url, timeout_s=settings.state_timeout_ms / 1000)
        self._consumer = consumer
        self._producer = producer
        self._admin = admin
        self._replies = RepliesPartitions(admin.partition_count)
        self._follower = follower
        self._hosting = hosting
        self._status = status
        self._applied_services: Mapping[ServiceKey, ServiceConfig] = {}
        self._offsets = OffsetTracker()
        self._pending = PendingScores()
        self._topic_services: dict[str, ServiceKey] = {}
        self._subscribed: tuple[str, ...] = ()
        self._generation = -1
        self._delivery_error: KafkaError | None = None
        self._last_commit = time.monotonic()
        self._uncommitted_records = 0
        self._assigned = False
        self._next_health = 0.0
        self._next_stats = time.monotonic() + STATS_INTERVAL_S
        self.stats = {"records": 0, "scores": 0, "expired": 0, "dead_lettered": 0}

    # -- lifecycle ---------------------------------------------------------------------------

    def run(self, stop: threading.Event, on_ready: Callable[[], None] | None = None) -> None:
        self._replies.count()  # read the metadata now, not on the first request's hot path
        self._apply_config()
        self._report_applied()
        while not stop.is_set():
            if self._follower.generation != self._generation:
                self._apply_config()
                self._report_applied()
            if on_ready is not None and (self._assigned or not self._subscribed):
                # Ready means partitions are owned: a request sent now is read at once.
                on_ready()
                on_ready = None
            self._step()
            self._housekeeping()
        self.shutdown()

    def shutdown(self) -> None:
        """Everything handed to the producer is delivered, then its positions are committed."""
        self._commit(force=True)
        self._calls.close()

    # -- config and subscription -------------------------------------------------------------

    def _report_applied(self) -> None:
        """Tell the control plane (rdv.status) which revisions this runner now scores by."""
        if self._status is not None:
            self._status.applied(self._applied_services)

    def _apply_config(self) -> None:
        self._generation = self._follower.generation
        services = self._follower.services
        self._applied_services = services
        self._hosting.sync(services)
        routed = self._hosting.routed_services()
        topic_services = {service_topics(t, s).requests: (t, s) for (t, s) in routed}
        # The subscription only grows: every change of it is a group rebalance that stalls every
        # service of the pool (seconds with kafka-python), while a routing change must take effect
        # at once. Records of services no longer routed here are acknowledged unscored.
        topics = tuple(sorted(set(self._subscribed) | set(topic_services)))
        new = [key for topic, key in topic_services.items() if topic not in self._topic_services]
        self._topic_services = topic_services
        if topics == self._subscribed:
            return
        self._ensure_service_topics(new)
        self._commit(force=True)
        self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        self._subscribed = topics
        log.info("subscribed to %d request topics (%d new)", len(topics), len(new))

    def _ensure_service_topics(self, keys: Sequence[ServiceKey]) -> None:
        """Requests and scores topics of newly routed services, so subscribing never waits on them."""
        specs = []
        for tenant, service in keys:
            config = self._follower.get(tenant, service)
            if config is not None:
                topics = service_topics(tenant, service)
                wanted = {topics.requests, topics.scores}
                specs += [
                    t for t in service_topic_specs(tenant, service, config.partitions) if t.name in wanted
                ]
        if specs:
            try:
                self._admin.ensure_topics(specs)
            except Exception as exc:  # the control plane normally created them already
                log.warning("could not ensure service topics: %s", exc)

    def _on_assign(self, partitions: list[TopicPartition]) -> None:
        self._assigned = True

    def _on_revoke(self, partitions: list[TopicPartition]) -> None:
        revoked = {(p.topic, p.partition) for p in partitions}
        self._commit(force=True, only=revoked)
        self._pending.drop_partitions(revoked)
        self._offsets.forget(revoked)

    # -- the hot path --------------------------------------------------------------------------

    def _step(self) -> None:
        record = self._consumer.poll(0.05) if self._subscribed else None
        if record is None:
            if not self._subscribed:
                time.sleep(0.05)
            return
        records = [record]
        while len(records) < self._settings.max_batch:
            more = self._consumer.poll(0)
            if more is None:
                break
            records.append(more)
        self._handle(records)

    def _handle(self, records: Sequence[Record]) -> None:
        now = time.time()
        by_service: dict[ServiceKey, list[Inbound]] = {}
        for record in records:
            self._offsets.seen(record.topic, record.partition, record.offset)
            item = self._admit(record, now)
            if item is not None:
                # The topic says whose request it is (_admit checked the body agrees).
                by_service.setdefault(self._topic_services[record.topic], []).append(item)
        self.stats["records"] += len(records)
        self._uncommitted_records += len(records)
        for service_key, items in by_service.items():
            # Answering roles first: the champion's scores leave before a slow challenger is scored.
            for spec in sorted(self._hosting.deployments(*service_key), key=scoring_priority):
                hosted = self._hosting.acquire(service_key[0], spec)
                model = hosted.model if hosted is not None else None
                if model is None and (hosted is None or hosted.state != "failed"):
                    # Not loaded yet (lazily loaded, or evicted): the requests wait for the load.
                    for item in items:
                        self._offsets.hold(item.topic, item.partition, item.offset)
                        self._pending.add(service_key, spec, item)
                else:
                    self._emit(items, self._scores(items, spec, hosted, model))
        self._producer.poll(0)

    def _admit(self, record: Record, now: float) -> Inbound | None:
        """The decoded request, or None when it is poison, expired or not for a routed service."""
        service_key = self._topic_services.get(record.topic)
        if service_key is None:
            return None
        request = admit_request(record.value, record.topic, replies_partitions=self._replies.count)
        if isinstance(request, Refused):
            # Poison, another tenant's or service's name, or a reply_to the rendezvous would refuse: not scored.
            return self._dead_letter(record, request.reason)
        if request.deadline_at <= now:
            self.stats["expired"] += 1
            return None
        return Inbound(request=request, partition=record.partition, offset=record.offset, topic=record.topic)

    def _dead_letter(self, record: Record, error: str) -> None:
        send_to_dead_letter(self._producer, record, error)
        self.stats["dead_lettered"] += 1

    def _emit(self, items: Sequence[Inbound], scores: Sequence[Score]) -> None:
        # One ScoreBatch record per (scores topic, partition) of this scoring call, to the partition
        # number of its requests (scoring.scores_records); no key: the partition is explicit.
        for record in scores_records(items, scores):
            self._producer.produce(record.topic, record.value, partition=record.partition, on_delivery=self._delivered)
        self.stats["scores"] += len(scores)

    def _delivered(self, error: KafkaError | None, _tp: TopicPartition) -> None:
        if error is not None and self._delivery_error is None:
            self._delivery_error = error

    @property
    def _runner_id(self) -> str:
        return self._settings.runner_id

    # -- pending versions, commits, health -------------------------------------------------------

    def _serve_pending(self) -> None:
        now = time.time()
        for group in sorted(self._pending.groups(), key=lambda g: scoring_priority(g.spec)):
            hosted = self._hosting.acquire(group.tenant, group.spec)
            model = hosted.model if hosted is not None else None
            if hosted is None or group.spec not in self._hosting.deployments(group.tenant, group.service):
                self._release(group.items)  # no longer deployed: nobody waits for its score
                self._pending.discard(group)
            elif model is None and hosted.state != "failed":
                live, expired = split_expired(group.items, now)
                if expired:
                    self._emit(
                        expired, error_scores(expired, group.spec, MODEL_LOADING, runner_id=self._runner_id)
                    )
                    self._release(expired)
                    group.items = live
                    if not live:
                        self._pending.discard(group)
            else:
                self._emit(group.items, self._scores(group.items, group.spec, hosted, model))
                self._release(group.items)
                self._pending.discard(group)

    def _scores(
        self, items: Sequence[Inbound], spec: DeploymentSpec, hosted: HostedVersion, model: LoadedModel | None
    ) -> list[Score]:
        if model is None:
            return error_scores(items, spec, hosted.error or "model failed to load", runner_id=self._runner_id)
        settings = self._settings
        timeout_ms = effective_timeout_ms(
            spec, default_ms=settings.model_timeout_ms, max_ms=settings.model_timeout_max_ms
        )
        label = f"{hosted.key[0]}/{spec.model} v{spec.version}"

        def call(predict: Callable[[list], list], rows: list) -> list:  # type: ignore[type-arg]
            return self._calls.call(hosted.key, predict, rows, timeout_ms=timeout_ms, label=label)

        # This version's internal state, fetched for the batch right before its predict call only.
        rows = self._state.rows(spec, [item.request for item in items], tenant=hosted.key[0])
        return score_version(items, spec, model, runner_id=self._runner_id, call=call, rows=rows)

    def _release(self, items: Sequence[Inbound]) -> None:
        for item in items:
            self._offsets.release(item.topic, item.partition, item.offset)

    def _housekeeping(self) -> None:
        if self._pending:
            self._serve_pending()
        self._producer.poll(0)
        self._commit()
        if self._status is not None:
            self._status.tick()
        now = time.monotonic()
        if now >= self._next_health:
            self._next_health = now + HEALTH_INTERVAL_S
            self._write_health()
        if now >= self._next_stats:
            self._next_stats = now + STATS_INTERVAL_S
            log.info("stats %s pending=%d", self.stats, len(self._pending))

    def _commit(self, *, force: bool = False, only: set[tuple[str, int]] | None = None) -> None:
        due = time.monotonic() - self._last_commit >= COMMIT_INTERVAL_S
        if not (force or due or self._uncommitted_records >= COMMIT_EVERY_RECORDS):
            return
        self._last_commit = time.monotonic()
        offsets = self._offsets.committable()
        if only is not None:
            offsets = [tp for tp in offsets if (tp.topic, tp.partition) in only]
        if not offsets:
            return
        undelivered = self._producer.flush(10.0)
        if self._delivery_error is not None:
            # Idempotent retries are exhausted: stop without committing; a restart re-scores.
            raise RuntimeError(f"score delivery failed: {self._delivery_error}")
        if undelivered:
            log.warning("%d scores still undelivered after flush; commit postponed", undelivered)
            return
        try:
            self._consumer.commit(offsets)
        except KafkaError as exc:  # e.g. a rebalance in progress; the next commit catches up
            log.warning("commit failed: %s", exc)
            return
        self._offsets.committed(offsets)
        self._uncommitted_records = 0

    def _write_health(self) -> None:
        path = self._settings.health_file
        if path is None:
            return
        status = {
            "runner": self._runner_id,
            "pool": self._settings.pool,
            "at": time.time(),
            "subscribed": list(self._subscribed),
            "pending": len(self._pending),
            **self.stats,
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(status))
        tmp.replace(path)
