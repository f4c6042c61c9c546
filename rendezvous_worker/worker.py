"""The Kafka shell around the rendezvous: read requests and scores, produce results and decisions.

Offsets are committed only once the Result of every record before them has been delivered (the
ledger), so a worker killed at any moment loses nothing: its partitions' next owner re-reads the
unfinished records and decides them again, with identical content.
"""

from __future__ import annotations

import logging
import threading
import time

from contracts.codec import encode
from contracts.config import ServiceConfig
from contracts.dead_letter import send_to_dead_letter
from contracts.follower import ConfigFollower
from contracts.kafka import (
    Admin,
    Consumer,
    KafkaError,
    Producer,
    Record,
    TopicPartition,
    make_admin,
    make_consumer,
    make_producer,
)
from contracts.messages import DecisionBatch, Request, Score
from contracts.provenance import Refused, RepliesPartitions, admit_request, admit_scores
from contracts.status import StatusReporter
from contracts.topics import service_topics
from contracts.topology import platform_topics, service_topic_specs
from rendezvous_worker.ledger import OffsetLedger
from rendezvous_worker.rendezvous import Answer, Finished, Outcome, Rendezvous, batch_decisions, stream_of
from rendezvous_worker.rendezvous import Record as DecisionRecord
from rendezvous_worker.settings import WorkerSettings

log = logging.getLogger(__name__)

MAX_POLL_WAIT_S = 0.05
# Records handled between two looks at the clock while draining what is fetched: a full fetch buffer
# (thousands of records at 3,000 req/s) must not hold a deadline timer back (the timer rule below).
DRAIN_CHECK_EVERY = 64


def subscribed_topics(services: dict[tuple[str, str], ServiceConfig]) -> list[str]:
    topics: list[str] = []
    for tenant, service in sorted(services):
        names = service_topics(tenant, service)
        topics += [names.requests, names.scores]
    return topics


class RendezvousWorker:
    def __init__(self, settings: WorkerSettings) -> None:
        self._settings = settings
        self._stop = threading.Event()
        self._follower = ConfigFollower(settings.kafka)
        self._rendezvous = Rendezvous(
            self._follower.get,
            orphan_ttl_s=settings.orphan_ttl_s,
            stale_after_s=settings.stale_after_s,
        )
        self._ledger = OffsetLedger()
        self._producer: Producer = make_producer(settings.kafka)
        self._consumer: Consumer = make_consumer(
            settings.kafka,
            group_id=settings.group_id,
            assignor="range",
            session_timeout_ms=settings.session_timeout_ms,
        )
        self._status = StatusReporter(
            self._producer,
            worker=settings.instance_id,
            kind="rendezvous",
            interval_s=settings.status_interval_s,
        )
        self._admin: Admin | None = None
        self._replies: RepliesPartitions | None = None
        self._topics: list[str] = []
        self._assigned = False
        self.answered = 0

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        admin = self._admin = make_admin(self._settings.kafka)
        admin.ensure_topics(platform_topics())
        # Kept open: a request naming a reply partition past the cached count re-reads the metadata.
        self._replies = RepliesPartitions(admin.partition_count)
        self._replies.count()
        self._follower.start()
        if not self._follower.wait_ready(60):
            raise SystemExit("rendezvous worker: could not read rdv.config within 60 s")
        generation = -1
        last_commit = time.monotonic()
        announced = False
        try:
            while not self._stop.is_set():
                if generation != self._follower.generation:
                    generation = self._follower.generation
                    services = self._follower.services
                    self._resubscribe()
                    # The rendezvous reads the follower's snapshot per request: these revisions are live.
                    self._status.applied(services)
                if not announced and (self._assigned or not self._topics):
                    # Ready means partitions are owned: a request sent now is read at once.
                    print(f"[rendezvous {self._settings.instance_id}] ready", flush=True)
                    announced = True
                self._poll_once()
                self._producer.poll(0)
                self._status.tick()
                if time.monotonic() - last_commit >= self._settings.commit_interval_s:
                    # Never a synchronous commit here: the loop would stop for a coordinator round
                    # trip (p99 27 ms) and the deadline timers due meanwhile fire that much late.
                    self._commit(wait=False)
                    last_commit = time.monotonic()
        finally:
            self._shutdown()

    def _resubscribe(self) -> None:
        # Only grows, like the runners': each change is a rebalance that stalls every service.
        services = dict(self._follower.services)
        topics = sorted(set(self._topics) | set(subscribed_topics(services)))
        if topics == self._topics:
            return
        self._ensure_topics(services, set(topics) - set(self._topics))
        self._topics = topics
        if topics:
            self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
            log.info("subscribed to %d topics", len(topics))

    def _ensure_topics(self, services: dict[tuple[str, str], ServiceConfig], new: set[str]) -> None:
        """The requests and scores topics of newly followed services exist before they are subscribed.

        The control plane creates them with the service; a config whose topics are gone (deleted by
        hand, or never created) would otherwise stay in the subscription as a topic without metadata,
        and kafka-python then keeps the whole group waiting on it when the next service is added.
        """
        specs = [
            spec
            for (tenant, service), config in services.items()
            for spec in service_topic_specs(tenant, service, config.partitions)
            if spec.name in new
        ]
        if not specs:
            return
        admin = make_admin(self._settings.kafka)
        try:
            admin.ensure_topics(specs)
        except Exception as exc:  # the control plane normally created them already
            log.warning("could not ensure %d service topics: %s", len(specs), exc)
        finally:
            admin.close()

    def _poll_once(self) -> None:
        """The timer rule: nothing the loop does between two ``on_tick`` calls may take longer than the
        deadline slack (10 ms). The poll waits at most until the next timer; the drain of what is
        already fetched stops once a timer is due; commits never wait (see ``run``)."""
        wakeup = self._rendezvous.next_wakeup()
        wait = MAX_POLL_WAIT_S if wakeup is None else max(0.0, min(MAX_POLL_WAIT_S, wakeup - time.time()))
        record = self._consumer.poll(wait) if self._topics else self._idle(wait)
        handled = 0
        while record is not None:
            self._handle(record)
            handled += 1
            if handled % DRAIN_CHECK_EVERY == 0:
                wakeup = self._rendezvous.next_wakeup()
                if wakeup is not None and time.time() >= wakeup:
                    break
            record = self._consumer.poll(0)
        self._carry_out(self._rendezvous.on_tick(time.time()))

    def _idle(self, wait: float) -> None:
        self._stop.wait(wait)
        return None

    def _handle(self, record: Record) -> None:
        """Decide on one record; poison and records whose body disagrees with their topic (another
        tenant or service, a ``reply_to`` other than an existing replies partition) go to the DLQ."""
        ref = (record.topic, record.partition, record.offset)
        now = time.time()
        assert self._replies is not None
        admitted: Request | list[Score] | Refused
        if record.topic.endswith(".requests"):
            admitted = admit_request(record.value, record.topic, replies_partitions=self._replies.count)
        else:
            # A ScoreBatch (or a single Score from a runner not yet upgraded), refused whole if any
            # of its scores names another tenant or service.
            admitted = admit_scores(record.value, record.topic)
        if isinstance(admitted, Refused):
            send_to_dead_letter(self._producer, record, admitted.reason)
            self._ledger.seen_done(*ref)
            return
        if isinstance(admitted, Request):
            self._ledger.opened(*ref)
            self._carry_out(self._rendezvous.on_request(admitted, ref, now))
        elif admitted:
            # Open once per score: each is finished on its own (its request's Result delivered, or late).
            self._ledger.opened(*ref, count=len(admitted))
            self._carry_out(self._rendezvous.on_scores(admitted, ref, now))
        else:
            self._ledger.seen_done(*ref)  # an empty batch: nothing to do

    def _carry_out(self, outcomes: list[Outcome]) -> None:
        decisions: list[DecisionRecord] = []
        for outcome in outcomes:
            if isinstance(outcome, Answer):
                self._answer(outcome)
            elif isinstance(outcome, DecisionRecord):
                decisions.append(outcome)
            elif isinstance(outcome, Finished):
                for ref in outcome.refs:
                    self._ledger.finished(*ref)
        # The Decisions closed together leave as one DecisionBatch record per partition; no key.
        for batch in batch_decisions(decisions):
            topics = service_topics(batch.tenant, batch.service)
            self._producer.produce(
                topics.decisions, encode(DecisionBatch(decisions=batch.decisions)), partition=batch.partition
            )

    def _answer(self, answer: Answer) -> None:
        payload = encode(answer.result)
        key = answer.result.request_id.encode()
        reply_to = answer.request.reply_to
        if reply_to is not None:  # checked when the request was read (contracts.provenance)
            try:
                self._producer.produce(reply_to.topic, payload, key=key, partition=reply_to.partition)
            except Exception as exc:  # kafka-python raises AssertionError for a partition it does not know
                # Only if the topic changed since the check: that gateway times out, the result still goes out.
                log.error("reply to %s[%d] for %s failed: %s", reply_to.topic, reply_to.partition, key, exc)
        refs = answer.refs
        ledger = self._ledger
        request_ref = next((ref for ref in refs if ref[0].endswith(".requests")), None)

        def delivered(err: KafkaError | None, _tp: TopicPartition) -> None:
            if err is not None:
                log.error("result of %s not delivered: %s", answer.result.request_id, err)
                return
            for ref in refs:
                if request_ref is not None and ref != request_ref:
                    # Its scores must be re-read with the request for as long as the request may be.
                    ledger.finished_after(*ref, after=request_ref)
                else:
                    ledger.finished(*ref)

        topics = service_topics(answer.request.tenant, answer.request.service)
        self._producer.produce(topics.results, payload, key=key, partition=answer.partition, on_delivery=delivered)
        self.answered += 1

    def _commit(self, *, wait: bool = True) -> None:
        moves = self._ledger.committable()
        if not moves:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in moves.items()]
        try:
            if wait:
                self._consumer.commit(offsets)
            else:
                self._consumer.commit_nowait(offsets)
        except KafkaError as exc:
            # A rebalance took the partition away; its new owner re-reads from the last commit.
            log.warning("commit failed: %s", exc)

    def _on_assign(self, partitions: list[TopicPartition]) -> None:
        self._assigned = True
        self._rendezvous.note_assigned({(stream_of(p.topic), p.partition) for p in partitions}, time.time())
        log.info("assigned %d partitions", len(partitions))

    def _on_revoke(self, partitions: list[TopicPartition]) -> None:
        gone = [(p.topic, p.partition) for p in partitions]
        streams = {(stream_of(t), p) for t, p in gone}
        self._carry_out(self._rendezvous.close_answered(streams, time.time()))
        # Short: a record for a topic deleted meanwhile must not hold the whole group's rebalance.
        self._producer.flush(2.0)
        self._commit()
        self._ledger.forget(gone)
        self._rendezvous.drop_partitions(streams)
        log.info("revoked %d partitions", len(gone))

    def _shutdown(self) -> None:
        self._producer.flush(10.0)
        self._commit()
        self._consumer.close()
        self._follower.stop()
        if self._admin is not None:
            self._admin.close()
