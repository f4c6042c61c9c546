"""Which topics exist and how they are configured; every process ensures them idempotently."""

from __future__ import annotations

from contracts.kafka.base import TopicSpec
from contracts.topics import CONFIG_TOPIC, DLQ_TOPIC, DRIFT_TOPIC, REPLIES_TOPIC, service_topics

REPLIES_PARTITIONS = 16
DAY_MS = 24 * 3600 * 1000


def platform_topics() -> list[TopicSpec]:
    return [
        # One partition keeps every snapshot in publication order and makes catch-up one read.
        TopicSpec(CONFIG_TOPIC, 1, {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}),
        TopicSpec(DLQ_TOPIC, 4, {"retention.ms": str(14 * DAY_MS)}),
        TopicSpec(REPLIES_TOPIC, REPLIES_PARTITIONS, {"retention.ms": str(3600 * 1000)}),
        TopicSpec(DRIFT_TOPIC, 4, {"retention.ms": str(30 * DAY_MS)}),
    ]


def service_topic_specs(tenant: str, service: str, partitions: int) -> list[TopicSpec]:
    """Requests and scores share a partition count: the rendezvous relies on co-partitioning."""
    topics = service_topics(tenant, service)
    return [
        TopicSpec(topics.requests, partitions, {"retention.ms": str(DAY_MS)}),
        TopicSpec(topics.scores, partitions, {"retention.ms": str(DAY_MS)}),
        TopicSpec(topics.results, partitions, {"retention.ms": str(DAY_MS)}),
        TopicSpec(topics.decisions, partitions, {"retention.ms": str(7 * DAY_MS)}),
        TopicSpec(topics.archive, partitions, {"retention.ms": str(30 * DAY_MS)}),
    ]
