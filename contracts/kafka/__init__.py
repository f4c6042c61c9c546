"""One small Kafka adapter, two backends (DESIGN.md §3): pick with ``RDV_KAFKA_CLIENT``.

Backends are imported lazily so a process only loads the client library it uses.
"""

from __future__ import annotations

from typing import Any

from contracts.kafka.base import (
    BEGINNING,
    END,
    Admin,
    Consumer,
    DeliveryCallback,
    KafkaError,
    KafkaSettings,
    Producer,
    Record,
    TopicPartition,
    TopicSpec,
)


def make_producer(settings: KafkaSettings, **overrides: Any) -> Producer:
    if settings.client == "confluent":
        from contracts.kafka.confluent_backend import ConfluentProducer

        return ConfluentProducer(settings, **overrides)
    from contracts.kafka.kafka_python_backend import KafkaPythonProducer

    return KafkaPythonProducer(settings, **overrides)


def make_consumer(
    settings: KafkaSettings,
    *,
    group_id: str | None = None,
    auto_offset_reset: str = "earliest",
    assignor: str = "range",
) -> Consumer:
    if settings.client == "confluent":
        from contracts.kafka.confluent_backend import ConfluentConsumer

        return ConfluentConsumer(
            settings, group_id=group_id, auto_offset_reset=auto_offset_reset, assignor=assignor
        )
    from contracts.kafka.kafka_python_backend import KafkaPythonConsumer

    return KafkaPythonConsumer(
        settings, group_id=group_id, auto_offset_reset=auto_offset_reset, assignor=assignor
    )


def make_admin(settings: KafkaSettings) -> Admin:
    if settings.client == "confluent":
        from contracts.kafka.confluent_backend import ConfluentAdmin

        return ConfluentAdmin(settings)
    from contracts.kafka.kafka_python_backend import KafkaPythonAdmin

    return KafkaPythonAdmin(settings)


__all__ = [
    "Admin",
    "BEGINNING",
    "Consumer",
    "DeliveryCallback",
    "END",
    "KafkaError",
    "KafkaSettings",
    "Producer",
    "Record",
    "TopicPartition",
    "TopicSpec",
    "make_admin",
    "make_consumer",
    "make_producer",
]
