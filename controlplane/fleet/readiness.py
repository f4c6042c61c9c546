"""Is a routing revision live on its runners? Pure functions over plain data (no database, no clock).

A revision is **ready** when every version in an answering role (champion, fallback) is usable on at
least one live runner of its pool that applied the revision: champions must be ``ready`` (runners
preload them); a fallback may also be ``idle``, as runners may load it on its first request. It has
**failed** as soon as a runner that applied it reports such a version ``failed``, or once
``timeout_s`` has passed since it was published without being ready. A pool with no live runner at
all keeps it **pending**: nothing can be told about the version there, and rolling back would not make
it servable (that is an operator's problem, not the deployment's). Challengers and decoys never answer
and a canary only as the very last resort, so they are reported but not judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from contracts.keys import VersionDigest

JUDGED_ROLES = ("champion", "fallback")
# Usable before its first request: a runner may keep a non-champion unloaded until it is needed.
_LAZY_OK = {"fallback": ("ready", "idle"), "champion": ("ready",)}

VerdictState = Literal["ready", "pending", "failed"]


@dataclass(frozen=True, slots=True)
class DeploymentRef:
    model: str
    version: int
    sha256: str
    role: str
    pool: str

    @property
    def key(self) -> VersionDigest:
        return VersionDigest(self.model, self.version, self.sha256.lower())

    @property
    def label(self) -> str:
        return f"{self.model} v{self.version} ({self.role}, pool {self.pool})"


@dataclass(frozen=True, slots=True)
class RunnerView:
    """A live runner as it last reported: the revision it applied for this service and its versions."""

    worker: str
    pool: str
    applied_revision: int | None
    # (state, error) per version of this tenant.
    versions: Mapping[VersionDigest, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Placement:
    deployment: DeploymentRef
    runners_live: int
    runners_applied: int
    runners_ready: int
    runners_failed: int
    # ``worker: state`` for every runner that applied the revision, and the errors it reported.
    states: dict[str, str]
    errors: dict[str, str]


@dataclass(frozen=True, slots=True)
class Verdict:
    state: VerdictState
    reason: str
    placements: tuple[Placement, ...]


def placement_of(deployment: DeploymentRef, runners: Sequence[RunnerView], revision: int) -> Placement:
    in_pool = [r for r in runners if r.pool == deployment.pool]
    applied = [r for r in in_pool if r.applied_revision is not None and r.applied_revision >= revision]
    states: dict[str, str] = {}
    errors: dict[str, str] = {}
    for runner in applied:
        state, error = runner.versions.get(deployment.key, ("absent", ""))
        states[runner.worker] = state
        if error:
            errors[runner.worker] = error
    return Placement(
        deployment=deployment,
        runners_live=len(in_pool),
        runners_applied=len(applied),
        runners_ready=sum(1 for s in states.values() if s == "ready"),
        runners_failed=sum(1 for s in states.values() if s == "failed"),
        states=states,
        errors=errors,
    )


def readiness_verdict(
    *,
    revision: int,
    deployments: Sequence[DeploymentRef],
    runners: Sequence[RunnerView],
    published_at: float | None,
    now: float,
    timeout_s: float,
) -> Verdict:
    placements = tuple(placement_of(d, runners, revision) for d in deployments)
    judged = [p for p in placements if p.deployment.role in JUDGED_ROLES]
    for placement in judged:
        if placement.runners_failed:
            worker, error = next(
                ((w, placement.errors.get(w, "")) for w, s in placement.states.items() if s == "failed")
            )
            detail = f": {error}" if error else ""
            return Verdict("failed", f"{placement.deployment.label} failed on runner {worker}{detail}", placements)
    unusable = [p for p in judged if not _usable(p)]
    if not unusable:
        return Verdict("ready", "", placements)
    unobserved = [p for p in unusable if p.runners_live == 0]
    if unobserved:
        names = ", ".join(sorted({p.deployment.pool for p in unobserved}))
        return Verdict("pending", f"no live runner in pool {names}", placements)
    if published_at is not None and now - published_at >= timeout_s:
        first = unusable[0]
        states = ", ".join(f"{w}: {s}" for w, s in sorted(first.states.items())) or "no runner applied the revision"
        reason = f"{first.deployment.label} not ready on any live runner within {timeout_s:g} s ({states})"
        return Verdict("failed", reason, placements)
    waiting = ", ".join(p.deployment.label for p in unusable)
    return Verdict("pending", f"waiting for {waiting}", placements)


def _usable(placement: Placement) -> bool:
    accepted = _LAZY_OK.get(placement.deployment.role, ("ready",))
    return any(state in accepted for state in placement.states.values())
