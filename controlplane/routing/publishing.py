"""Sending snapshots to ``rdv.config``: the one way routing changes reach the workers."""

from __future__ import annotations

import logging

from django.conf import settings

from contracts.kafka import KafkaError, TopicPartition
from contracts.topics import CONFIG_TOPIC
from controlplane.errors import StreamUnavailable
from controlplane.kafka import get_producer, platform_topics_ensure

log = logging.getLogger(__name__)


def config_send(*, key: str, value: bytes | None) -> TopicPartition:
    """Produce one record (``None`` is a tombstone) and wait for the broker's acknowledgement.

    Synchronous on purpose: a caller that was told "revision 7" must be able to rely on workers
    receiving revision 7, so a broker that does not acknowledge is an error, not a log line.
    """
    delivered: list[TopicPartition] = []
    errors: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, position: TopicPartition) -> None:
        if error is not None:
            errors.append(error)
        else:
            delivered.append(position)

    try:
        platform_topics_ensure()
        producer = get_producer()
        producer.produce(CONFIG_TOPIC, value, key=key.encode(), on_delivery=on_delivery)
        producer.flush(settings.RDV_PUBLISH_TIMEOUT_S)
    except KafkaError as exc:
        errors.append(exc)
    if errors or not delivered:
        reason = (
            str(errors[0]) if errors else f"no acknowledgement within {settings.RDV_PUBLISH_TIMEOUT_S:g} s"
        )
        log.error("publishing %s to %s failed: %s", key, CONFIG_TOPIC, reason)
        raise StreamUnavailable(f"could not publish {key} to {CONFIG_TOPIC}: {reason}")
    log.info("published %s to %s at offset %s", key, CONFIG_TOPIC, delivered[0].offset)
    return delivered[0]
