"""The rendezvous decision policy (DESIGN.md §4) as pure functions over plain data.

Kept free of Kafka and clocks so that every rule is unit-tested directly; the worker loop only feeds
it the request, the scores seen so far and the current time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from contracts.config import DeploymentSpec, ServiceConfig
from contracts.keys import ModelVersion
from contracts.messages import Candidate, Request, ResultReason, Score

BUCKETS = 10_000


def routing_key(request: Request) -> str:
    """The key that keeps a user in one arm; without a user, each request is its own key."""
    return request.user_key if request.user_key is not None else request.request_id


def bucket_of(key: str, buckets: int = BUCKETS) -> int:
    """A stable bucket in ``[0, buckets)``: the same on every process, machine and Python run."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


def choose_champion(champions: Sequence[DeploymentSpec], key: str) -> DeploymentSpec | None:
    """Weighted, sticky choice: the key's bucket falls into one champion's share of the buckets."""
    weighted = [c for c in sorted(champions, key=lambda c: (c.model, c.version)) if c.weight > 0]
    if not weighted:
        return None
    total = sum(c.weight for c in weighted)
    point = bucket_of(key) * total / BUCKETS
    upper = 0.0
    for champion in weighted:
        upper += champion.weight
        if point < upper:
            return champion
    return weighted[-1]


@dataclass(frozen=True, slots=True)
class RouteTable:
    """What every request of one config revision shares; built once per revision, not per request."""

    champions: tuple[DeploymentSpec, ...]
    behind: tuple[DeploymentSpec, ...]  # fallbacks by rank, then canaries marked last resort

    @classmethod
    def of(cls, config: ServiceConfig) -> RouteTable:
        fallbacks = sorted(config.by_role("fallback"), key=lambda d: (d.rank, d.model, d.version))
        last_resorts = sorted((d for d in config.by_role("canary") if d.last_resort), key=lambda d: (d.rank, d.key))
        return cls(champions=config.by_role("champion"), behind=tuple(fallbacks) + tuple(last_resorts))

    def preference(self, key: str) -> tuple[DeploymentSpec, ...]:
        champion = choose_champion(self.champions, key)
        return ((champion,) if champion is not None else ()) + self.behind


def preference_list(config: ServiceConfig, key: str) -> tuple[DeploymentSpec, ...]:
    """The chosen champion, then the fallbacks by rank, then canaries marked last resort: the order in
    which scores may answer. Challengers and other canaries never answer."""
    return RouteTable.of(config).preference(key)


def demote_last(preference: Sequence[DeploymentSpec], demoted: Collection[ModelVersion]) -> tuple[DeploymentSpec, ...]:
    """Demoted versions go to the end of the list: still a last resort, never waited for first."""
    healthy = tuple(d for d in preference if d.key not in demoted)
    return healthy + tuple(d for d in preference if d.key in demoted)


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str  # ok | timeout
    reason: ResultReason
    score: Score | None


def decide(
    preference: Sequence[DeploymentSpec],
    scores: Mapping[ModelVersion, Score],
    *,
    at_deadline: bool,
) -> Verdict | None:
    """The answer for a request, or None while it is still worth waiting.

    Before the deadline an entry answers once it has an ``ok`` score and every entry ahead of it
    has failed, so a healthy champion answers the moment its score arrives. At the deadline the best
    ``ok`` score in list order answers, or nothing does.
    """
    for deployment in preference:
        score = scores.get(deployment.key)
        if score is None:
            break
        if score.status == "ok":
            return Verdict("ok", "champion" if deployment.role == "champion" else "fallback", score)
    if not at_deadline:
        return None
    for deployment in preference:
        score = scores.get(deployment.key)
        if score is not None and score.status == "ok":
            return Verdict("ok", "deadline", score)
    return Verdict("timeout", "timeout", None)


def result_latency_ms(request: Request, verdict: Verdict) -> float:
    """Latency derived from the data, not from when this process decided.

    A request re-read after a crash is decided again from the same scores; deriving the latency from
    them makes the duplicate Result identical in content to the first one.
    """
    if verdict.reason == "deadline" or verdict.score is None:
        return float(request.deadline_ms)
    return round(max(0.0, (verdict.score.scored_at - request.sent_at) * 1000.0), 3)


def candidates_of(
    config: ServiceConfig | None,
    scores: Mapping[ModelVersion, Score],
    late: frozenset[ModelVersion],
    demoted: Mapping[ModelVersion, str] | None = None,
) -> list[Candidate]:
    """Every scoring deployment of the service and every score seen, for the decision record."""
    demoted = demoted or {}
    seen: dict[ModelVersion, Candidate] = {}
    for key, score in scores.items():
        seen[key] = Candidate(
            model=score.model,
            version=score.version,
            role=score.role,
            status=score.status,
            output=score.output,
            error=score.error,
            latency_ms=score.latency_ms,
            late=key in late,
            demoted=demoted.get(key),
        )
    if config is not None:
        for deployment in config.deployments:
            if deployment.role != "decoy" and deployment.key not in seen:
                seen[deployment.key] = Candidate(
                    model=deployment.model,
                    version=deployment.version,
                    role=deployment.role,
                    status="missing",
                    demoted=demoted.get(deployment.key),
                )
    return list(seen.values())
