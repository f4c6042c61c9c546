"""One small Kafka adapter, two backends (DESIGN.md §3): pick with ``RDV_KAFKA_CLIENT``.

Backends are imported lazily so a process only loads the client library it uses.
"""

from __future__ import annotations

from typing import Any

from contracts.kafka.base import (
    BEGINNING,
    END,
    AclBinding,
    Admin,
    Consumer,
    DeliveryCallback,
    KafkaAuthorizationError,
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
    session_timeout_ms: int | None = None,
) -> Consumer:
    """``session_timeout_ms``: how long the group waits for a member that vanished without leaving
    (a killed process) before handing its partitions to the others; the brokers' default is 45 s."""
    options: dict[str, Any] = {"group_id": group_id, "auto_offset_reset": auto_offset_reset, "assignor": assignor}
    heartbeat_ms = None if session_timeout_ms is None else max(100, session_timeout_ms // 3)
    if settings.client == "confluent":
        from contracts.kafka.confluent_backend import ConfluentConsumer

        if session_timeout_ms is not None:
            options |= {"session.timeout.ms": session_timeout_ms, "heartbeat.interval.ms": heartbeat_ms}
        return ConfluentConsumer(settings, **options)
    from contracts.kafka.kafka_python_backend import KafkaPythonConsumer

    if session_timeout_ms is not None:
        options |= {"session_timeout_ms": session_timeout_ms, "heartbeat_interval_ms": heartbeat_ms}
    return KafkaPythonConsumer(settings, **options)


def make_admin(settings: KafkaSettings) -> Admin:
    if settings.client == "confluent":
        from contracts.kafka.confluent_backend import ConfluentAdmin

        return ConfluentAdmin(settings)
    from contracts.kafka.kafka_python_backend import KafkaPythonAdmin

    return KafkaPythonAdmin(settings)


__all__ = [
    "AclBinding",
    "Admin",
    "BEGINNING",
    "Consumer",
    "DeliveryCallback",
    "END",
    "KafkaAuthorizationError",
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
