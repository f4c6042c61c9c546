"""Poison records go to ``rdv.dlq`` with the error, never crash a worker (DESIGN.md §6)."""

from __future__ import annotations

import base64
import logging

from contracts.codec import encode
from contracts.kafka import Producer, Record
from contracts.messages import DeadLetter
from contracts.topics import DLQ_TOPIC

log = logging.getLogger(__name__)


def dead_letter_for(record: Record, error: str) -> DeadLetter:
    raw = record.value or b""
    try:
        value, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        value, encoding = base64.b64encode(raw).decode("ascii"), "base64"
    key = record.key.decode("utf-8", "replace") if record.key is not None else None
    return DeadLetter(
        error=error,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=key,
        value=value,
        encoding=encoding,  # type: ignore[arg-type]
    )


def send_to_dead_letter(producer: Producer, record: Record, error: str) -> None:
    log.warning("poison record %s[%d]@%d: %s", record.topic, record.partition, record.offset, error)
    producer.produce(DLQ_TOPIC, encode(dead_letter_for(record, error)), key=record.key)
