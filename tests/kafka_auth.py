"""The broker's credentials in tests: scripts/test.sh exports the admin's (a super user) and every
platform role's (``RDV_KAFKA_<ROLE>_USERNAME``/``PASSWORD``), as ``scripts/kafka.sh env`` prints them.

Tests connect as the admin; the workers they start run as their own role's principal, so the suite
proves the platform's ACLs (contracts/kafka/acls.py) are enough for it.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any

from contracts.kafka import KafkaError, KafkaSettings, TopicPartition, make_consumer, make_producer
from contracts.kafka.acls import PlatformRole, role_env

SECURITY_VARS = ("RDV_KAFKA_SECURITY_PROTOCOL", "RDV_KAFKA_SASL_MECHANISM", "RDV_KAFKA_USERNAME", "RDV_KAFKA_PASSWORD")


def security_env() -> dict[str, str]:
    """The admin's security settings, for a ``KafkaSettings.from_env`` built from a dict of its own."""
    return {name: os.environ[name] for name in SECURITY_VARS if name in os.environ}


def worker_env(role: PlatformRole) -> dict[str, str]:
    """The security settings a process of ``role`` is started with."""
    return {**security_env(), **role_env(role, os.environ)}


def kafka_settings(bootstrap: str, client: str = "confluent", **overrides: Any) -> KafkaSettings:
    """The admin's settings on ``bootstrap`` with ``client``; ``overrides`` replace fields."""
    settings = KafkaSettings.from_env({"RDV_KAFKA_BOOTSTRAP": bootstrap, "RDV_KAFKA_CLIENT": client, **security_env()})
    return replace(settings, **overrides)


def produce_outcome(settings: KafkaSettings, topic: str) -> KafkaError | None:
    """Write one record with a fresh producer: None once the broker acknowledged it, else the refusal."""
    outcome: list[KafkaError | None] = []
    producer = make_producer(settings)
    try:
        producer.produce(topic, b"probe", key=b"k", on_delivery=lambda err, _tp: outcome.append(err))
        producer.flush(15)
        producer.poll(1)
    except KafkaError as exc:
        return exc
    finally:
        producer.close()
    assert outcome, f"no delivery report for {topic}"
    return outcome[0]


def consume_outcome(
    settings: KafkaSettings, topic: str, group: str | None, seconds: float = 15, partitions: int = 2
) -> KafkaError | bytes:
    """Read the first record of ``topic`` (with ``group``, else its ``partitions`` from the beginning):
    its value, or the refusal."""
    consumer = make_consumer(settings, group_id=group)
    try:
        if group is None:
            consumer.assign([TopicPartition(topic, p, -2) for p in range(partitions)])
        else:
            consumer.subscribe([topic])
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            record = consumer.poll(0.5)
            if record is not None:
                return record.value or b""
        raise AssertionError(f"neither a record nor a refusal on {topic} in {seconds} s")
    except KafkaError as exc:
        return exc
    finally:
        consumer.close()
