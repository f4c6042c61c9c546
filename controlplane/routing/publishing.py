"""Sending snapshots to ``rdv.config``: the one way routing changes reach the workers."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

from contracts.kafka import KafkaError, TopicPartition
from contracts.topics import CONFIG_TOPIC
from controlplane.errors import StreamUnavailable
from controlplane.kafka import get_producer, platform_topics_ensure

log = logging.getLogger(__name__)

# How long one wait for the acknowledgement blocks before checking again (the producer is shared by
# threads, and any thread's poll may serve this record's delivery report).
_WAIT_SLICE_S = 0.1


class _Delivery:
    """The outcome of one produced record, set from whichever thread serves its delivery report."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.position: TopicPartition | None = None
        self.error: KafkaError | None = None

    def report(self, error: KafkaError | None, position: TopicPartition) -> None:
        if error is not None:
            self.error = error
        else:
            self.position = position
        self.done.set()


def config_send(*, key: str, value: bytes | None) -> TopicPartition:
    """Produce one record (``None`` is a tombstone) and wait for the broker's acknowledgement.

    Synchronous on purpose: a caller that was told "revision 7" must be able to rely on workers
    receiving revision 7, so a broker that does not acknowledge within ``RDV_PUBLISH_TIMEOUT_S`` is an
    error, not a log line. The record is not withdrawn then: the producer keeps retrying it, and the
    republish sweep (``config_republish_pending``) sends the revision again, which workers treat as
    the same revision.
    """
    delivery = _Delivery()
    budget = settings.RDV_PUBLISH_TIMEOUT_S
    started = time.monotonic()
    try:
        platform_topics_ensure()
        producer = get_producer()
        producer.produce(CONFIG_TOPIC, value, key=key.encode(), on_delivery=delivery.report)
        # Wait on this record's own report, not on an empty queue: another thread may be publishing
        # too, and its flush may serve this record's report.
        while not delivery.done.is_set():
            remaining = budget - (time.monotonic() - started)
            if remaining <= 0:
                break
            producer.flush(min(_WAIT_SLICE_S, remaining))
            # An empty queue with no report yet: another thread is serving it right now.
            delivery.done.wait(0.005)
    except KafkaError as exc:
        delivery.error = exc
    if delivery.error is not None or delivery.position is None:
        elapsed = time.monotonic() - started
        reason = str(delivery.error) if delivery.error is not None else f"no acknowledgement within {elapsed:.1f} s"
        log.error("publishing %s to %s failed: %s", key, CONFIG_TOPIC, reason)
        raise StreamUnavailable(f"could not publish {key} to {CONFIG_TOPIC}: {reason}")
    log.info(
        "published %s to %s at offset %s in %.0f ms",
        key,
        CONFIG_TOPIC,
        delivery.position.offset,
        (time.monotonic() - started) * 1000,
    )
    return delivery.position
