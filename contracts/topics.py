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
