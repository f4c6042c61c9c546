"""Topic names (DESIGN.md §3). Every per-service topic carries the tenant in its name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

CONFIG_TOPIC = "rdv.config"
DLQ_TOPIC = "rdv.dlq"
# Each gateway process owns one partition of this topic and names it in Request.reply_to.
REPLIES_TOPIC = "rdv.replies"
# Drift reports of every service's canary monitor, keyed ``tenant/service`` (one service stays ordered).
DRIFT_TOPIC = "rdv.drift"
# Every worker's WorkerStatus, keyed by worker id: which revisions it applied, which versions loaded.
STATUS_TOPIC = "rdv.status"

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def is_valid_slug(slug: str) -> bool:
    return bool(SLUG_PATTERN.match(slug))


def config_key(tenant: str, service: str) -> str:
    return f"{tenant}/{service}"


@dataclass(frozen=True, slots=True)
class ServiceTopics:
    requests: str
    scores: str
    results: str
    decisions: str
    archive: str

    def all(self) -> tuple[str, ...]:
        return (self.requests, self.scores, self.results, self.decisions, self.archive)


# The last part of every per-service topic name (``rdv.<tenant>.<service>.<kind>``).
SERVICE_TOPIC_KINDS = frozenset({"requests", "scores", "results", "decisions", "archive"})


@dataclass(frozen=True, slots=True)
class ServiceTopic:
    """What a per-service topic's name says: whose it is and which stream of the service."""

    tenant: str
    service: str
    kind: str


@lru_cache(maxsize=65536)
def parse_service_topic(topic: str) -> ServiceTopic | None:
    """The tenant, service and kind named by a per-service topic, or None for any other topic.

    Slugs hold no dot, so the name splits one way only. Workers take a record's tenant and service from
    here, never from its body: the broker tells which topic a record was read from, and only that
    tenant may write it (DESIGN.md §3, *changed (security)*).
    """
    parts = topic.split(".")
    if len(parts) != 4 or parts[0] != "rdv" or parts[3] not in SERVICE_TOPIC_KINDS:
        return None
    tenant, service, kind = parts[1], parts[2], parts[3]
    if not (is_valid_slug(tenant) and is_valid_slug(service)):
        return None
    return ServiceTopic(tenant, service, kind)


@lru_cache(maxsize=65536)
def service_topics(tenant: str, service: str) -> ServiceTopics:
    """The topics of one service; cached, as every record on the hot path asks for them."""
    for slug in (tenant, service):
        if not is_valid_slug(slug):
            raise ValueError(f"not a valid slug: {slug!r} (expected {SLUG_PATTERN.pattern})")
    base = f"rdv.{tenant}.{service}"
    return ServiceTopics(
        requests=f"{base}.requests",
        scores=f"{base}.scores",
        results=f"{base}.results",
        decisions=f"{base}.decisions",
        archive=f"{base}.archive",
    )
