"""The rendezvous itself: requests and scores meet here and leave as one Result and one Decision.

No Kafka and no clock inside: the worker loop passes records and the current time in and carries out
the outcomes (produce a Result, produce a Decision, mark offsets finished). That keeps every timing
rule (deadline, grace, orphans, stale replays) testable with plain numbers.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from contracts.config import DeploymentSpec, ServiceConfig
from contracts.keys import ModelVersion, ServiceVersion
from contracts.messages import Decision, Request, Result, Score
from rendezvous_worker.health import HealthBoard
from rendezvous_worker.policy import (
    RouteTable,
    Verdict,
    candidates_of,
    decide,
    demote_last,
    result_latency_ms,
    routing_key,
)
from streaming.offsets import RecordRef

# A request is known by its stream (so its tenant and service) and its id: request ids are chosen by
# clients, and a score on one tenant's topic must never meet another tenant's request of the same id.
PendingKey = tuple[str, str]  # stream, request_id
ConfigLookup = Callable[[str, str], ServiceConfig | None]
# Grace periods end on a shared tick of this many seconds, so the Decisions of requests answered close
# together are closed in one ``on_tick`` and leave as one DecisionBatch per partition (DESIGN.md §3).
CLOSE_TICK_S = 0.05


@dataclass(slots=True)
class Answer:
    """A Result to produce; its records are finished once it is delivered."""

    result: Result
    request: Request
    partition: int
    refs: list[RecordRef]


@dataclass(slots=True)
class Record:
    """The Decision record of a request whose grace period is over."""

    decision: Decision
    partition: int


@dataclass(frozen=True, slots=True)
class DecisionBatchRecord:
    """Decision records closed together, for one partition of one service's decisions topic."""

    tenant: str
    service: str
    partition: int
    decisions: list[Decision]


def batch_decisions(records: list[Record]) -> list[DecisionBatchRecord]:
    """Decision records as one batch per (service, partition), in order of first appearance."""
    batches: dict[tuple[str, str, int], DecisionBatchRecord] = {}
    for record in records:
        key = (record.decision.tenant, record.decision.service, record.partition)
        batch = batches.get(key)
        if batch is None:
            batch = batches[key] = DecisionBatchRecord(*key, [])
        batch.decisions.append(record.decision)
    return list(batches.values())


def close_tick(at: float) -> float:
    """``at`` rounded up to the next CLOSE_TICK_S boundary."""
    return math.ceil(at / CLOSE_TICK_S - 1e-9) * CLOSE_TICK_S


@dataclass(slots=True)
class Finished:
    """Records that need nothing more (late scores, expired orphans, stale replays)."""

    refs: list[RecordRef]


Outcome = Answer | Record | Finished


def stream_of(topic: str) -> str:
    """``rdv.t.s.requests`` and ``rdv.t.s.scores`` are one stream: ``rdv.t.s``."""
    return topic.rsplit(".", 1)[0]


@dataclass(slots=True)
class _Pending:
    request_id: str
    request: Request | None = None
    stream: str = ""
    partition: int = -1
    config: ServiceConfig | None = None
    preference: tuple[DeploymentSpec, ...] = ()
    scores: dict[ModelVersion, Score] = field(default_factory=dict)
    demoted: dict[ModelVersion, str] = field(default_factory=dict)
    late: set[ModelVersion] = field(default_factory=set)
    refs: list[RecordRef] = field(default_factory=list)
    result: Result | None = None
    first_seen: float = 0.0

    @property
    def key(self) -> PendingKey:
        return (self.stream, self.request_id)


class Rendezvous:
    def __init__(
        self,
        configs: ConfigLookup,
        *,
        orphan_ttl_s: float = 30.0,
        stale_after_s: float = 60.0,
        replay_settle_s: float = 0.25,
        replay_window_s: float = 10.0,
        health: HealthBoard | None = None,
    ) -> None:
        self._configs = configs
        self._health = health or HealthBoard()
        self._orphan_ttl_s = orphan_ttl_s
        self._stale_after_s = stale_after_s
        self._replay_settle_s = replay_settle_s
        self._replay_window_s = replay_window_s
        self._assigned_at: dict[tuple[str, int], float] = {}
        self._tables: dict[tuple[str, str], tuple[ServiceConfig, RouteTable]] = {}
        self._pending: dict[PendingKey, _Pending] = {}
        # (when, (stream, request_id), kind): deadlines, ends of grace periods, orphan expiries.
        # The counter orders timers of the same time (grace periods share close ticks) without comparing keys.
        self._timers: list[tuple[float, int, PendingKey, str]] = []
        self._timer_seq = itertools.count()

    def __len__(self) -> int:
        return len(self._pending)

    def note_assigned(self, partitions: set[tuple[str, int]], now: float) -> None:
        """(stream, partition) pairs just taken over: their first records may be replays."""
        for key in partitions:
            self._assigned_at[key] = now

    def _route_table(self, config: ServiceConfig) -> RouteTable:
        key = (config.tenant, config.service)
        cached = self._tables.get(key)
        if cached is None or cached[0] is not config:
            cached = self._tables[key] = (config, RouteTable.of(config))
        return cached[1]

    def _at(self, when: float, key: PendingKey, kind: str) -> None:
        heapq.heappush(self._timers, (when, next(self._timer_seq), key, kind))

    def next_wakeup(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def on_request(self, request: Request, ref: RecordRef, now: float) -> list[Outcome]:
        key = (stream_of(ref[0]), request.request_id)
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = _Pending(request.request_id, stream=key[0], first_seen=now)
        elif entry.request is not None:
            # The same request twice (a client retry or a replay): nothing new to decide.
            return [Finished([ref])]
        if now - request.deadline_at > self._stale_after_s and not entry.scores:
            # A replay of something long gone: nobody waits for it any more.
            del self._pending[key]
            return [Finished([ref])]
        config = self._configs(request.tenant, request.service)
        entry.request = request
        entry.partition = ref[1]
        entry.config = config
        if config is not None:
            preference = self._route_table(config).preference(routing_key(request))
            versions = [ServiceVersion(request.tenant, request.service, *d.key) for d in preference]
            demoted = self._health.demoted(versions)
            if demoted:
                entry.demoted = {ModelVersion(ref.model, ref.version): why for ref, why in demoted.items()}
                preference = demote_last(preference, entry.demoted)
            entry.preference = preference
        entry.refs.append(ref)
        decide_at = request.deadline_at
        if now >= request.deadline_at:
            # Read after its deadline. On a partition just taken over, it is a replay of a crashed or
            # departed instance's work: its scores sit right behind it in the co-partitioned topic,
            # so give them a moment to be read too. Otherwise it only arrived late: decide at once.
            assigned_at = self._assigned_at.get((entry.stream, entry.partition), float("-inf"))
            catching_up = now - assigned_at < self._replay_window_s
            decide_at = now + self._replay_settle_s if catching_up else now
        self._at(decide_at, key, "deadline")
        return self._try_decide(entry, now, at_deadline=False)

    def on_scores(self, scores: list[Score], ref: RecordRef, now: float) -> list[Outcome]:
        """The scores of one record (a ScoreBatch), each as ``on_score``: the record is finished once
        every one of them is (the worker opens it once per score)."""
        outcomes: list[Outcome] = []
        for score in scores:
            outcomes.extend(self.on_score(score, ref, now))
        return outcomes

    def on_score(self, score: Score, ref: RecordRef, now: float) -> list[Outcome]:
        pending_key = (stream_of(ref[0]), score.request_id)
        entry = self._pending.get(pending_key)
        if entry is None:
            # The score outran its request (different partitions fetch independently): keep it.
            entry = self._pending[pending_key] = _Pending(
                score.request_id, stream=pending_key[0], partition=ref[1], first_seen=now
            )
            self._at(now + self._orphan_ttl_s, pending_key, "orphan")
        key = (score.model, score.version)
        entry.scores.setdefault(key, score)
        if entry.result is not None:
            entry.late.add(key)
            return [Finished([ref])]
        entry.refs.append(ref)
        if entry.request is None:
            return []
        # The deadline rule belongs to the timer alone, so a replay decides as the original did.
        return self._try_decide(entry, now, at_deadline=False)

    def on_tick(self, now: float) -> list[Outcome]:
        outcomes: list[Outcome] = []
        while self._timers and self._timers[0][0] <= now:
            _, _, key, kind = heapq.heappop(self._timers)
            entry = self._pending.get(key)
            if entry is None:
                continue
            if kind == "deadline" and entry.result is None:
                outcomes.extend(self._try_decide(entry, now, at_deadline=True))
            elif kind == "grace" and entry.result is not None:
                outcomes.append(self._close(entry, now))
            elif kind == "orphan" and entry.request is None:
                del self._pending[key]
                outcomes.append(Finished(entry.refs))
        return outcomes

    def close_answered(self, partitions: set[tuple[str, int]], now: float) -> list[Outcome]:
        """Decision records of answered requests in partitions about to move, with the scores seen.

        Their offsets are committed once the Result is delivered, so the partitions' next owner never
        re-reads them: closed here, or the record is lost (a new service or instance rebalances all).
        """
        answered = [e for e in self._pending.values() if (e.stream, e.partition) in partitions and e.result is not None]
        return [self._close(entry, now) for entry in answered]

    def drop_partitions(self, partitions: set[tuple[str, int]]) -> None:
        """Forget work of partitions this instance no longer owns; their new owner re-reads them.

        ``partitions`` holds (stream, partition) pairs, the stream being a topic name without its
        last part: requests and scores of one partition number always move together.
        """
        gone = [key for key, e in self._pending.items() if (e.stream, e.partition) in partitions]
        for key in gone:
            del self._pending[key]

    def _try_decide(self, entry: _Pending, now: float, *, at_deadline: bool) -> list[Outcome]:
        if entry.result is not None or entry.request is None:
            return []
        # Only scores produced by the deadline may answer. What existed at the deadline is a fact of
        # the data, not of when this process read it, so a request re-read after a crash (long past
        # its deadline, every late score already there) is decided as it was the first time.
        in_time = {k: s for k, s in entry.scores.items() if s.scored_at <= entry.request.deadline_at}
        verdict = decide(entry.preference, in_time, at_deadline=False)
        if verdict is None and at_deadline:
            verdict = decide(entry.preference, in_time, at_deadline=True)
        if verdict is None:
            return []
        if verdict.score is not None and entry.demoted and verdict.reason != "deadline":
            first_choice = next((d for d in entry.preference if d.key not in entry.demoted), None)
            if first_choice is not None and first_choice.key == (verdict.score.model, verdict.score.version):
                # The answer came from this entry only because a version ahead of it was demoted.
                verdict = Verdict(verdict.status, "demoted", verdict.score)
        entry.result = self._result(entry.request, entry.config, verdict)
        grace_s = (entry.config.grace_ms if entry.config is not None else 1000) / 1000.0
        close_at = close_tick(max(now, entry.request.deadline_at) + grace_s)
        self._at(close_at, entry.key, "grace")
        refs, entry.refs = entry.refs, []
        return [Answer(entry.result, entry.request, entry.partition, refs)]

    @staticmethod
    def _result(request: Request, config: ServiceConfig | None, verdict: Verdict) -> Result:
        score = verdict.score
        return Result(
            request_id=request.request_id,
            tenant=request.tenant,
            service=request.service,
            status=verdict.status,  # type: ignore[arg-type]
            output=score.output if score is not None else None,
            model=score.model if score is not None else None,
            version=score.version if score is not None else None,
            reason=verdict.reason,
            latency_ms=result_latency_ms(request, verdict),
            config_revision=config.revision if config is not None else request.config_revision,
        )

    def _close(self, entry: _Pending, now: float) -> Record:
        del self._pending[entry.key]
        result = entry.result
        assert result is not None and entry.request is not None
        self._record_health(entry)
        decision = Decision(
            **{f: getattr(result, f) for f in result.__struct_fields__},
            candidates=candidates_of(entry.config, entry.scores, self._late(entry), entry.demoted),
            decided_at=now,
        )
        return Record(decision, entry.partition)

    @staticmethod
    def _late(entry: _Pending) -> frozenset[ModelVersion]:
        """Scores that came after the answer, or were produced after the deadline (so never used)."""
        assert entry.request is not None
        deadline_at = entry.request.deadline_at
        return frozenset(entry.late | {k for k, s in entry.scores.items() if s.scored_at > deadline_at})

    def _record_health(self, entry: _Pending) -> None:
        """Every answering version's outcome for this request, as the demotion rules see it."""
        request = entry.request
        assert request is not None
        for deployment in entry.preference:
            ref = ServiceVersion(request.tenant, request.service, *deployment.key)
            score = entry.scores.get(deployment.key)
            if score is None:
                self._health.record(
                    ref, ok=False, latency_ms=2.0 * request.deadline_ms, deadline_ms=request.deadline_ms
                )
            else:
                latency_ms = max(0.0, (score.scored_at - request.sent_at) * 1000.0)
                self._health.record(
                    ref, ok=score.status == "ok", latency_ms=latency_ms, deadline_ms=request.deadline_ms
                )
