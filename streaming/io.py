"""What a step may do to the outside world: produce (holding the records it depends on until the
broker has them), dead-letter a record, hold and release records, count things."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from contracts.codec import encode
from contracts.dead_letter import dead_letter_for
from contracts.kafka import DeliveryCallback, KafkaError, Producer, Record, TopicPartition
from contracts.topics import DLQ_TOPIC
from streaming.metrics import LoopMetrics
from streaming.offsets import OffsetTracker, RecordRef

log = logging.getLogger(__name__)


def ref_of(record: Record) -> RecordRef:
    return RecordRef(record.topic, record.partition, record.offset)


@dataclass(slots=True)
class StepIO:
    producer: Producer
    offsets: OffsetTracker
    metrics: LoopMetrics
    loop_name: str = "loop"
    # The first delivery the producer gave up on; the runtime stops without committing.
    delivery_error: KafkaError | None = field(default=None)

    def produce(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        partition: int | None = None,
        after: Iterable[RecordRef] = (),
        on_delivery: DeliveryCallback | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Queue one record. Each record in ``after`` stays uncommitted until the broker has it."""
        held = tuple(after)
        offsets = self.offsets
        for ref in held:
            offsets.hold(ref)

        def delivered(error: KafkaError | None, tp: TopicPartition) -> None:
            if error is not None:
                if self.delivery_error is None:
                    self.delivery_error = error
                log.error("%s: delivery to %s failed: %s", self.loop_name, topic, error)
            else:
                for ref in held:
                    offsets.release(ref)
            if on_delivery is not None:
                on_delivery(error, tp)

        self.producer.produce(
            topic, value, key=key, partition=partition, on_delivery=delivered, timestamp_ms=timestamp_ms
        )
        self.metrics.produced += 1

    def dead_letter(self, record: Record, reason: str) -> None:
        """Poison (or a record whose body disagrees with its topic) to ``rdv.dlq``, with the reason;
        its offset is committed only once the dead letter is acknowledged."""
        log.warning(
            "%s: dead letter %s[%d]@%d: %s", self.loop_name, record.topic, record.partition, record.offset, reason
        )
        self.produce(DLQ_TOPIC, encode(dead_letter_for(record, reason)), key=record.key, after=(ref_of(record),))
        self.metrics.dead_lettered += 1

    def hold(self, ref: RecordRef, times: int = 1) -> None:
        """Keep ``ref`` uncommitted until it is released as many times."""
        self.offsets.hold(ref, times)

    def release(self, ref: RecordRef) -> None:
        self.offsets.release(ref)

    def release_after(self, ref: RecordRef, *, after: RecordRef) -> None:
        self.offsets.release_after(ref, after=after)
