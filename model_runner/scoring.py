"""Turning a micro-batch of requests into scores: plain functions over plain data, no Kafka.

Every version scores all the requests it holds in ONE ``predict_batch`` call (DESIGN.md §9: the
per-call overhead of scikit-learn dominates small models), and every request of that call reports
the call's duration as its latency, since that is what it waited for.
"""

from __future__ import annotations

import time
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts.codec import encode
from contracts.config import DeploymentSpec
from contracts.keys import ServiceKey
from contracts.messages import Request, Score, ScoreBatch, pack_scores
from contracts.topics import parse_service_topic, service_topics
from model_runner.isolation import IsolationError
from model_runner.loading import LoadedModel, Prediction, Row, RowError

Predict = Callable[[list[Row]], list[Prediction]]
MODEL_LOADING = "model loading"


@dataclass(slots=True)
class Inbound:
    """A decoded request and where it was read: its score goes to the same partition number."""

    request: Request
    partition: int
    offset: int
    topic: str


def request_row(request: Request) -> Mapping[str, Any]:
    """The model's view of a request: its inputs, then the external state injected before fan-out."""
    return ChainMap(request.inputs, request.external_state)


def _score(request: Request, spec: DeploymentSpec, runner_id: str, **fields: Any) -> Score:
    return Score(
        request_id=request.request_id,
        tenant=request.tenant,
        service=request.service,
        model=spec.model,
        version=spec.version,
        role=spec.role,
        runner=runner_id,
        **fields,
    )


def error_scores(
    items: Sequence[Inbound],
    spec: DeploymentSpec,
    message: str,
    *,
    runner_id: str,
    latency_ms: float = 0.0,
    clock: Callable[[], float] = time.time,
) -> list[Score]:
    now = clock()
    return [
        _score(
            i.request, spec, runner_id, status="error", error=message, latency_ms=latency_ms, scored_at=now
        )
        for i in items
    ]


def call_directly(predict: Predict, rows: list[Row]) -> list[Prediction]:
    return predict(rows)


def score_version(
    items: Sequence[Inbound],
    spec: DeploymentSpec,
    model: LoadedModel,
    *,
    runner_id: str,
    clock: Callable[[], float] = time.time,
    call: Callable[[Predict, list[Row]], list[Prediction]] = call_directly,
    rows: Sequence[Mapping[str, Any]] | None = None,
) -> list[Score]:
    """One score per item, in order; a model that raises fails its batch, never the runner.

    ``call`` runs the prediction: the loop passes one that runs it off its thread under a timeout.
    ``rows`` are what the model sees, one per item (model_runner.state lays a version's internal state
    over them); by default each request's inputs and external state.
    """
    started = time.perf_counter()
    try:
        batch = list(rows) if rows is not None else [request_row(i.request) for i in items]
        predictions = call(model.predict_batch, batch)
    except Exception as exc:  # a model bug fails its batch only
        latency_ms = (time.perf_counter() - started) * 1000
        message = str(exc) if isinstance(exc, IsolationError) else f"{type(exc).__name__}: {exc}"
        return error_scores(items, spec, message, runner_id=runner_id, latency_ms=latency_ms, clock=clock)
    latency_ms = (time.perf_counter() - started) * 1000
    now = clock()
    scores = []
    for item, prediction in zip(items, predictions, strict=True):
        if isinstance(prediction, RowError):
            fields: dict[str, Any] = {"status": "error", "error": prediction.message}
        else:
            fields = {"status": "ok", "output": prediction}
        scores.append(_score(item.request, spec, runner_id, latency_ms=latency_ms, scored_at=now, **fields))
    return scores


# Under the broker's default message.max.bytes (1 MiB) with room for the record's overhead: a batch of
# large outputs is split in halves until every part fits, as single Score records always did.
MAX_SCORES_RECORD_BYTES = 900_000


@dataclass(frozen=True, slots=True)
class ScoresRecord:
    """One record for a scores topic: a ScoreBatch, encoded, for one partition."""

    topic: str
    partition: int
    value: bytes
    count: int  # how many scores it carries
    # The requests it answers (in order): they stay uncommitted until this record is acknowledged.
    items: tuple[Inbound, ...] = ()


def scores_topic_of(requests_topic: str) -> str:
    named = parse_service_topic(requests_topic)
    if named is None or named.kind != "requests":
        raise ValueError(f"{requests_topic!r} is not a requests topic")
    return service_topics(named.tenant, named.service).scores


def scores_records(items: Sequence[Inbound], scores: Sequence[Score]) -> list[ScoresRecord]:
    """A scoring call's scores as records: one ScoreBatch per (scores topic, partition), each to the
    same partition number as its requests (the rendezvous relies on co-partitioning), instead of one
    record per request (DESIGN.md §3, *changed (runtime)*). ``scores[i]`` is ``items[i]``'s."""
    groups: dict[tuple[str, int], list[tuple[Inbound, Score]]] = {}
    for item, score in zip(items, scores, strict=True):
        groups.setdefault((item.topic, item.partition), []).append((item, score))
    records: list[ScoresRecord] = []
    topics: dict[str, str] = {}
    for (requests_topic, partition), group in groups.items():
        topic = topics.get(requests_topic)
        if topic is None:
            topic = topics[requests_topic] = scores_topic_of(requests_topic)
        start = 0  # batches keep the scores' order, so each record answers the next ``count`` requests
        for batch in pack_scores([score for _, score in group]):
            for value, count in _encoded(batch):
                sources = tuple(item for item, _ in group[start : start + count])
                records.append(ScoresRecord(topic, partition, value, count, sources))
                start += count
    return records


def _encoded(batch: ScoreBatch) -> list[tuple[bytes, int]]:
    value = encode(batch)
    if len(value) <= MAX_SCORES_RECORD_BYTES or len(batch.scores) == 1:
        return [(value, len(batch.scores))]
    half = len(batch.scores) // 2
    first = ScoreBatch(**{f: getattr(batch, f) for f in batch.__struct_fields__ if f != "scores"},
                       scores=batch.scores[:half])
    second = ScoreBatch(**{f: getattr(batch, f) for f in batch.__struct_fields__ if f != "scores"},
                        scores=batch.scores[half:])
    return _encoded(first) + _encoded(second)


@dataclass(slots=True)
class PendingGroup:
    tenant: str
    service: str
    spec: DeploymentSpec
    items: list[Inbound] = field(default_factory=list)


class PendingScores:
    """Requests held for a version that is still loading, scored once it is, or failed at deadline."""

    def __init__(self) -> None:
        self._groups: dict[tuple[ServiceKey, DeploymentSpec], PendingGroup] = {}

    def __len__(self) -> int:
        return sum(len(g.items) for g in self._groups.values())

    def __bool__(self) -> bool:
        return bool(self._groups)

    def add(self, service_key: ServiceKey, spec: DeploymentSpec, item: Inbound) -> None:
        group = self._groups.get((service_key, spec))
        if group is None:
            group = self._groups[(service_key, spec)] = PendingGroup(*service_key, spec)
        group.items.append(item)

    def groups(self) -> Iterator[PendingGroup]:
        yield from list(self._groups.values())

    def discard(self, group: PendingGroup) -> None:
        self._groups.pop(((group.tenant, group.service), group.spec), None)

    def drop_partitions(self, partitions: set[tuple[str, int]]) -> list[Inbound]:
        """Forget requests of revoked partitions (their new owner scores them); returns them."""
        dropped: list[Inbound] = []
        for group in self.groups():
            kept = [i for i in group.items if (i.topic, i.partition) not in partitions]
            dropped.extend(i for i in group.items if (i.topic, i.partition) in partitions)
            group.items = kept
            if not kept:
                self.discard(group)
        return dropped


def split_expired(items: Sequence[Inbound], now: float) -> tuple[list[Inbound], list[Inbound]]:
    """(still within deadline, past deadline)."""
    live = [i for i in items if i.request.deadline_at > now]
    expired = [i for i in items if i.request.deadline_at <= now]
    return live, expired
