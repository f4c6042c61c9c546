"""Message types of the streams (DESIGN.md §3). Decoding validates shape and types in one step."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

ScoreStatus = Literal["ok", "error"]
ResultStatus = Literal["ok", "timeout", "error"]


class ReplyTo(msgspec.Struct, kw_only=True, frozen=True):
    """Where the gateway process holding the HTTP request listens for its Result."""

    topic: str
    partition: int


class Request(msgspec.Struct, kw_only=True):
    request_id: str
    tenant: str
    service: str
    user_key: str | None = None
    sent_at: float
    deadline_ms: int
    config_revision: int
    inputs: dict[str, Any]
    external_state: dict[str, Any] = {}
    reply_to: ReplyTo | None = None

    @property
    def deadline_at(self) -> float:
        return self.sent_at + self.deadline_ms / 1000.0


class Score(msgspec.Struct, kw_only=True):
    request_id: str
    tenant: str
    service: str
    model: str
    version: int
    role: str
    status: ScoreStatus
    output: dict[str, Any] | None = None
    error: str | None = None
    latency_ms: float
    runner: str
    # Wall-clock time the score was produced; lets the rendezvous tell late scores apart.
    scored_at: float = 0.0


class Result(msgspec.Struct, kw_only=True):
    request_id: str
    tenant: str
    service: str
    status: ResultStatus
    output: dict[str, Any] | None = None
    model: str | None = None
    version: int | None = None
    reason: str
    latency_ms: float
    config_revision: int


class Candidate(msgspec.Struct, kw_only=True):
    model: str
    version: int
    role: str
    status: ScoreStatus | Literal["missing"]
    output: dict[str, Any] | None = None
    error: str | None = None
    latency_ms: float | None = None
    late: bool = False
    # Why the rendezvous had demoted this version for the request (None: it was not demoted).
    demoted: str | None = None


class Decision(msgspec.Struct, kw_only=True):
    """The Result plus every candidate seen for the request, for monitoring and lookup."""

    request_id: str
    tenant: str
    service: str
    status: ResultStatus
    output: dict[str, Any] | None = None
    model: str | None = None
    version: int | None = None
    reason: str
    latency_ms: float
    config_revision: int
    candidates: list[Candidate] = []
    decided_at: float = 0.0


class DeadLetter(msgspec.Struct, kw_only=True):
    """A poison record as it was read, and why it could not be handled (DESIGN.md §6)."""

    error: str
    topic: str
    partition: int
    offset: int
    key: str | None
    value: str
    encoding: Literal["utf-8", "base64"] = "utf-8"


class FeatureDrift(msgspec.Struct, kw_only=True):
    """One input feature of one window against the reference window.

    ``psi`` is computed for every feature (numeric ones over bins cut at the reference deciles);
    ``ks`` and ``ks_pvalue`` only for numeric ones. ``flagged`` when ``psi > threshold`` or, for a
    numeric feature, when the KS test rejects at the report's ``ks_alpha``.
    """

    feature: str
    kind: Literal["numeric", "categorical"]
    # None when the window held no value of the feature at all (flagged: it vanished from the traffic).
    psi: float | None
    threshold: float
    ks: float | None = None
    ks_pvalue: float | None = None
    flagged: bool
    reference_count: int
    window_count: int
    # Requests of the window that lacked the feature (or held a value of another kind).
    missing: int = 0


class DriftReport(msgspec.Struct, kw_only=True):
    """Per-feature drift of one tumbling window of a service's requests, from its canary's monitor."""

    tenant: str
    service: str
    pool: str
    runner: str
    window_index: int
    # ``sent_at`` of the first and last request of the window, and how many it held.
    window_start: float
    window_end: float
    window_count: int
    reference_start: float
    reference_end: float
    reference_count: int
    ks_alpha: float
    features: list[FeatureDrift] = []
    flagged: list[str] = []
    published_at: float = 0.0
