"""Scoring as a processing step on the streaming runtime: admit each request of a batch, score it with
every deployment of its service in micro-batches per version, produce the scores.

The runtime's one thread does all consuming, producing and committing, so nothing here needs a lock;
model loading runs elsewhere (hosting), and each version's scoring call runs on a worker thread under
its timeout (isolation) while this one waits. A request is committed only once every score made from
it is acknowledged; one waiting for a loading version is held until that version answers or fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from contracts.config import DeploymentSpec, ServiceConfig
from contracts.kafka import Record, TopicPartition, TopicSpec
from contracts.keys import ServiceKey
from contracts.messages import Score
from contracts.provenance import Refused, RepliesPartitions, admit_request
from contracts.status import StatusReporter
from contracts.topics import ServiceTopics, service_topics
from contracts.topology import service_topic_specs
from model_runner.hosting import HostedModels, HostedVersion
from model_runner.isolation import IsolatedCalls, effective_timeout_ms
from model_runner.loading import LoadedModel
from model_runner.metrics import tally_scores
from model_runner.scoring import (
    MODEL_LOADING,
    Inbound,
    PendingScores,
    error_scores,
    score_version,
    scores_records,
    split_expired,
)
from model_runner.settings import RunnerSettings
from model_runner.state import InternalState
from streaming import RecordRef, Step, StepIO
from streaming.exporter import RequestMetrics, RequestTally

log = logging.getLogger(__name__)

_ROLE_PRIORITY = {"champion": 0, "fallback": 1, "canary": 2, "challenger": 3}
STATS_INTERVAL_S = 60.0


def scoring_priority(spec: DeploymentSpec) -> tuple[int, int]:
    return (_ROLE_PRIORITY.get(spec.role, 4), spec.rank)


def _ref(item: Inbound) -> RecordRef:
    return RecordRef(item.topic, item.partition, item.offset)


class ScoringStep(Step):
    name = "scoring"

    def __init__(
        self,
        settings: RunnerSettings,
        *,
        hosting: HostedModels,
        replies: RepliesPartitions,
        calls: IsolatedCalls | None = None,
        state: InternalState | None = None,
        status: StatusReporter | None = None,
        requests: RequestMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._hosting = hosting
        self._replies = replies
        self._calls = calls or IsolatedCalls()
        self._state = state or InternalState(settings.redis_url, timeout_s=settings.state_timeout_ms / 1000)
        self._status = status
        # Prometheus (model_runner.metrics): what a batch scored is tallied with no lock, merged once.
        self._requests = requests
        self._tally = RequestTally()
        self._pending = PendingScores()
        self._topic_services: dict[str, ServiceKey] = {}
        self._next_stats = time.monotonic() + STATS_INTERVAL_S
        self.stats = {"records": 0, "scores": 0, "expired": 0, "dead_lettered": 0}

    @property
    def pending(self) -> int:
        return len(self._pending)

    # -- config --------------------------------------------------------------------------------------

    def configure(self, services: Mapping[ServiceKey, ServiceConfig], io: StepIO) -> None:
        self._hosting.sync(services)
        # Records of services no longer routed here are acknowledged unscored (the subscription only grows).
        self._topic_services = {
            service_topics(t, s).requests: ServiceKey(t, s) for (t, s) in self._hosting.routed_services()
        }
        if self._status is not None:
            # Tell the control plane (rdv.status) which revisions this runner now scores by.
            self._status.applied(services)

    def wanted_topics(self, services: Mapping[ServiceKey, ServiceConfig]) -> list[TopicSpec]:
        """The requests topics of the services routed here."""
        return self._specs(services, lambda names: names.requests)

    def output_topics(self, services: Mapping[ServiceKey, ServiceConfig]) -> list[TopicSpec]:
        """Their scores topics, created if missing before the first score is produced."""
        return self._specs(services, lambda names: names.scores)

    def _specs(
        self, services: Mapping[ServiceKey, ServiceConfig], pick: Callable[[ServiceTopics], str]
    ) -> list[TopicSpec]:
        specs: list[TopicSpec] = []
        for tenant, service in self._topic_services.values():
            config = services.get(ServiceKey(tenant, service))
            if config is not None:
                name = pick(service_topics(tenant, service))
                specs += [t for t in service_topic_specs(tenant, service, config.partitions) if t.name == name]
        return specs

    # -- the hot path --------------------------------------------------------------------------------

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        now = time.time()
        by_service: dict[ServiceKey, list[Inbound]] = {}
        for record in records:
            item = self._admit(record, now, io)
            if item is not None:
                # The topic says whose request it is (_admit checked the body agrees).
                by_service.setdefault(self._topic_services[record.topic], []).append(item)
        self.stats["records"] += len(records)
        for service_key, items in by_service.items():
            # Answering roles first: the champion's scores leave before a slow challenger is scored.
            for spec in sorted(self._hosting.deployments(*service_key), key=scoring_priority):
                hosted = self._hosting.acquire(service_key[0], spec)
                model = hosted.model if hosted is not None else None
                if model is None and (hosted is None or hosted.state != "failed"):
                    # Not loaded yet (lazily loaded, or evicted): the requests wait for the load.
                    for item in items:
                        io.hold(_ref(item))
                        self._pending.add(service_key, spec, item)
                else:
                    self._emit(items, self._scores(items, spec, hosted, model), io)
            io.producer.poll(0)
        self._merge_metrics()

    def _merge_metrics(self) -> None:
        if self._requests is not None and self._tally:
            self._requests.merge(self._tally)
            self._tally = RequestTally()

    def _admit(self, record: Record, now: float, io: StepIO) -> Inbound | None:
        """The decoded request, or None when it is poison, expired or not for a routed service."""
        if record.topic not in self._topic_services:
            return None
        request = admit_request(record.value, record.topic, replies_partitions=self._replies.count)
        if isinstance(request, Refused):
            # Poison, another tenant's or service's name, or a reply_to the rendezvous would refuse: not scored.
            io.dead_letter(record, request.reason)
            self.stats["dead_lettered"] += 1
            return None
        if request.deadline_at <= now:
            self.stats["expired"] += 1
            return None
        return Inbound(request=request, partition=record.partition, offset=record.offset, topic=record.topic)

    def _emit(self, items: Sequence[Inbound], scores: Sequence[Score], io: StepIO) -> None:
        # One ScoreBatch record per (scores topic, partition) of this scoring call, to the partition
        # number of its requests (the rendezvous relies on co-partitioning); no key: the partition is
        # explicit. Its requests are committed only once it is acknowledged.
        for record in scores_records(items, scores):
            io.produce(record.topic, record.value, partition=record.partition, after=map(_ref, record.items))
        self.stats["scores"] += len(scores)
        if self._requests is not None:
            tally_scores(self._tally, scores)

    def _scores(
        self, items: Sequence[Inbound], spec: DeploymentSpec, hosted: HostedVersion, model: LoadedModel | None
    ) -> list[Score]:
        runner_id = self._settings.runner_id
        if model is None:
            return error_scores(items, spec, hosted.error or "model failed to load", runner_id=runner_id)
        settings = self._settings
        timeout_ms = effective_timeout_ms(
            spec, default_ms=settings.model_timeout_ms, max_ms=settings.model_timeout_max_ms
        )
        label = f"{hosted.key[0]}/{spec.model} v{spec.version}"

        def call(predict: Callable[[list], list], rows: list) -> list:  # type: ignore[type-arg]
            return self._calls.call(hosted.key, predict, rows, timeout_ms=timeout_ms, label=label)

        # This version's internal state, fetched for the batch right before its predict call only.
        rows = self._state.rows(spec, [item.request for item in items], tenant=hosted.key[0])
        return score_version(items, spec, model, runner_id=runner_id, call=call, rows=rows)

    # -- pending versions, timers, partitions --------------------------------------------------------

    def tick(self, now: float, io: StepIO) -> None:
        if self._pending:
            self._serve_pending(now, io)
            self._merge_metrics()
        if self._status is not None:
            self._status.tick()
        clock = time.monotonic()
        if clock >= self._next_stats:
            self._next_stats = clock + STATS_INTERVAL_S
            log.info("stats %s pending=%d", self.stats, len(self._pending))

    def _serve_pending(self, now: float, io: StepIO) -> None:
        runner_id = self._settings.runner_id
        for group in sorted(self._pending.groups(), key=lambda g: scoring_priority(g.spec)):
            hosted = self._hosting.acquire(group.tenant, group.spec)
            model = hosted.model if hosted is not None else None
            if hosted is None or group.spec not in self._hosting.deployments(group.tenant, group.service):
                self._release(group.items, io)  # no longer deployed: nobody waits for its score
                self._pending.discard(group)
            elif model is None and hosted.state != "failed":
                live, expired = split_expired(group.items, now)
                if expired:
                    self._emit(expired, error_scores(expired, group.spec, MODEL_LOADING, runner_id=runner_id), io)
                    self._release(expired, io)
                    group.items = live
                    if not live:
                        self._pending.discard(group)
            else:
                self._emit(group.items, self._scores(group.items, group.spec, hosted, model), io)
                self._release(group.items, io)
                self._pending.discard(group)

    @staticmethod
    def _release(items: Sequence[Inbound], io: StepIO) -> None:
        for item in items:
            io.release(_ref(item))

    def revoking(self, partitions: list[TopicPartition], io: StepIO) -> None:
        # Their new owner scores them; the runtime forgets their holds.
        self._pending.drop_partitions({(p.topic, p.partition) for p in partitions})

    def stopping(self, io: StepIO) -> None:
        self._calls.close()

    def health(self) -> dict[str, object]:
        return {"pending": len(self._pending), "routed": sorted(self._topic_services), **self.stats}
