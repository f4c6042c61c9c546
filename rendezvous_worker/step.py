"""The rendezvous as a processing step on the streaming runtime: read requests and scores, produce
results (and replies) and decisions.

A request or score stays held (uncommitted) until its Result is delivered, so an instance killed at
any moment loses nothing: its partitions' next owner re-reads the unfinished records and decides them
again, with identical content. A score is released only once its request is committable too: it must
be re-read with the request for as long as the request may be.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

from contracts.codec import encode
from contracts.config import ServiceConfig
from contracts.kafka import KafkaError, Record, TopicPartition, TopicSpec
from contracts.keys import ServiceKey
from contracts.messages import DecisionBatch, Request, Score
from contracts.provenance import Refused, RepliesPartitions, admit_request, admit_scores
from contracts.status import StatusReporter
from contracts.topics import service_topics
from contracts.topology import service_topic_specs
from rendezvous_worker.metrics import RendezvousMetrics
from rendezvous_worker.rendezvous import Answer, Finished, Outcome, Rendezvous, batch_decisions, stream_of
from rendezvous_worker.rendezvous import Record as DecisionRecord
from streaming import RecordRef, Step, StepIO

log = logging.getLogger(__name__)


def wanted_topic_specs(services: Mapping[ServiceKey, ServiceConfig]) -> list[TopicSpec]:
    """Every followed service's requests and scores topics."""
    specs: list[TopicSpec] = []
    for (tenant, service), config in sorted(services.items()):
        names = service_topics(tenant, service)
        wanted = {names.requests, names.scores}
        specs += [spec for spec in service_topic_specs(tenant, service, config.partitions) if spec.name in wanted]
    return specs


class RendezvousStep(Step):
    name = "rendezvous"

    def __init__(
        self,
        rendezvous: Rendezvous,
        replies: RepliesPartitions,
        status: StatusReporter,
        metrics: RendezvousMetrics | None = None,
    ) -> None:
        self._rendezvous = rendezvous
        self._replies = replies
        self._status = status
        self._metrics = metrics
        self.answered = 0

    # -- config --------------------------------------------------------------------------------------

    def wanted_topics(self, services: Mapping[ServiceKey, ServiceConfig]) -> list[TopicSpec]:
        return wanted_topic_specs(services)

    def configure(self, services: Mapping[ServiceKey, ServiceConfig], io: StepIO) -> None:
        # The rendezvous reads the follower's snapshot per request: these revisions are live.
        self._status.applied(services)

    # -- records -------------------------------------------------------------------------------------

    def process(self, records: Sequence[Record], io: StepIO) -> None:
        """Decide on each record; poison and records whose body disagrees with their topic (another
        tenant or service, a ``reply_to`` other than an existing replies partition) go to the DLQ."""
        now = time.time()
        rendezvous = self._rendezvous
        for record in records:
            admitted: Request | list[Score] | Refused
            if record.topic.endswith(".requests"):
                admitted = admit_request(record.value, record.topic, replies_partitions=self._replies.count)
            else:
                # A ScoreBatch (or a single Score from a runner not yet upgraded), refused whole if any
                # of its scores names another tenant or service.
                admitted = admit_scores(record.value, record.topic)
            if isinstance(admitted, Refused):
                io.dead_letter(record, admitted.reason)
                continue
            ref = RecordRef(record.topic, record.partition, record.offset)
            if isinstance(admitted, Request):
                io.hold(ref)
                self._carry_out(rendezvous.on_request(admitted, ref, now), io)
            elif admitted:
                # Held once per score: each is released on its own (its request answered, or late).
                io.hold(ref, len(admitted))
                self._carry_out(rendezvous.on_scores(admitted, ref, now), io)

    def tick(self, now: float, io: StepIO) -> None:
        self._carry_out(self._rendezvous.on_tick(now), io)
        self._status.tick()

    def next_wakeup(self) -> float | None:
        return self._rendezvous.next_wakeup()

    def _carry_out(self, outcomes: list[Outcome], io: StepIO) -> None:
        decisions: list[DecisionRecord] = []
        for outcome in outcomes:
            if isinstance(outcome, Answer):
                self._answer(outcome, io)
            elif isinstance(outcome, DecisionRecord):
                decisions.append(outcome)
            elif isinstance(outcome, Finished):
                for ref in outcome.refs:
                    io.release(ref)  # type: ignore[arg-type]
        if decisions and self._metrics is not None:
            self._metrics.decided(record.decision for record in decisions)
        # The Decisions closed together leave as one DecisionBatch record per partition; no key.
        for batch in batch_decisions(decisions):
            io.produce(
                service_topics(batch.tenant, batch.service).decisions,
                encode(DecisionBatch(decisions=batch.decisions)),
                partition=batch.partition,
            )

    def _answer(self, answer: Answer, io: StepIO) -> None:
        payload = encode(answer.result)
        key = answer.result.request_id.encode()
        reply_to = answer.request.reply_to
        if reply_to is not None:  # checked when the request was read (contracts.provenance)
            try:
                io.produce(reply_to.topic, payload, key=key, partition=reply_to.partition)
            except Exception as exc:  # kafka-python raises AssertionError for a partition it does not know
                # Only if the topic changed since the check: that gateway times out, the result still goes out.
                log.error("reply to %s[%d] for %s failed: %s", reply_to.topic, reply_to.partition, key, exc)
        refs: list[RecordRef] = answer.refs  # type: ignore[assignment]
        request_ref = next((ref for ref in refs if ref.topic.endswith(".requests")), None)

        def delivered(err: KafkaError | None, _tp: TopicPartition) -> None:
            if err is not None:
                return  # the runtime stops the loop without committing: a restart decides again
            for ref in refs:
                if request_ref is not None and ref != request_ref:
                    io.release_after(ref, after=request_ref)
                else:
                    io.release(ref)

        topics = service_topics(answer.request.tenant, answer.request.service)
        io.produce(topics.results, payload, key=key, partition=answer.partition, on_delivery=delivered)
        self.answered += 1

    # -- partitions ----------------------------------------------------------------------------------

    def assigned(self, partitions: list[TopicPartition], io: StepIO) -> None:
        self._rendezvous.note_assigned({(stream_of(p.topic), p.partition) for p in partitions}, time.time())

    def revoking(self, partitions: list[TopicPartition], io: StepIO) -> None:
        streams = {(stream_of(p.topic), p.partition) for p in partitions}
        self._carry_out(self._rendezvous.close_answered(streams, time.time()), io)
        self._rendezvous.drop_partitions(streams)

    def health(self) -> dict[str, object]:
        return {"pending": len(self._rendezvous), "answered": self.answered}
