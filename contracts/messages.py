"""Message types of the streams (DESIGN.md §3). Decoding validates shape and types in one step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from contracts.roles import Role

ScoreStatus = Literal["ok", "error"]
ResultStatus = Literal["ok", "timeout", "error"]
# Why a Result is what it is (DESIGN.md §3): the champion answered, a fallback did, the best score at the
# deadline, nothing by the deadline, or an earlier entry was demoted (rendezvous_worker.health).
ResultReason = Literal["champion", "fallback", "deadline", "timeout", "demoted"]


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
    role: Role
    status: ScoreStatus
    output: dict[str, Any] | None = None
    error: str | None = None
    latency_ms: float
    runner: str
    # Wall-clock time the score was produced; lets the rendezvous tell late scores apart.
    scored_at: float = 0.0


class BatchedScore(msgspec.Struct, kw_only=True):
    """One request's part of a ScoreBatch: what differs from request to request."""

    request_id: str
    status: ScoreStatus
    output: dict[str, Any] | None = None
    error: str | None = None


class ScoreBatch(msgspec.Struct, kw_only=True):
    """The scores of one version's scoring call for the requests of one partition, in one record
    (DESIGN.md §3, *changed (runtime)*): what every Score of a call shares is written once.

    A runner scores a version's micro-batch in one call, so its scores share the call's
    ``latency_ms`` and ``scored_at``; one record per (version, partition) per micro-batch instead of
    one per request is what cut the scores topic's records (and the broker's work) by the batch size.
    """

    tenant: str
    service: str
    model: str
    version: int
    role: Role
    runner: str
    latency_ms: float
    scored_at: float
    scores: list[BatchedScore]

    def unpack(self) -> list[Score]:
        """The Scores it carries, in order, as single Score records would have carried them."""
        return [
            Score(
                request_id=item.request_id,
                tenant=self.tenant,
                service=self.service,
                model=self.model,
                version=self.version,
                role=self.role,
                status=item.status,
                output=item.output,
                error=item.error,
                latency_ms=self.latency_ms,
                runner=self.runner,
                scored_at=self.scored_at,
            )
            for item in self.scores
        ]


def pack_scores(scores: Sequence[Score]) -> list[ScoreBatch]:
    """Scores as few ScoreBatches as they fit in, in order: one per run of shared fields (a scoring
    call's scores all share them, so a call gives one batch). Lossless: unpacking gives them back."""
    batches: list[ScoreBatch] = []
    shared: tuple[Any, ...] | None = None
    for score in scores:
        key = (score.tenant, score.service, score.model, score.version, score.role, score.runner,
               score.latency_ms, score.scored_at)
        if key != shared:
            shared = key
            batches.append(ScoreBatch(
                tenant=score.tenant, service=score.service, model=score.model, version=score.version,
                role=score.role, runner=score.runner, latency_ms=score.latency_ms, scored_at=score.scored_at,
                scores=[],
            ))
        batches[-1].scores.append(
            BatchedScore(request_id=score.request_id, status=score.status, output=score.output, error=score.error)
        )
    return batches


class Result(msgspec.Struct, kw_only=True):
    request_id: str
    tenant: str
    service: str
    status: ResultStatus
    output: dict[str, Any] | None = None
    model: str | None = None
    version: int | None = None
    reason: ResultReason
    latency_ms: float
    config_revision: int


class Candidate(msgspec.Struct, kw_only=True):
    model: str
    version: int
    role: Role
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
    reason: ResultReason
    latency_ms: float
    config_revision: int
    candidates: list[Candidate] = []
    decided_at: float = 0.0


class DecisionBatch(msgspec.Struct, kw_only=True):
    """The Decisions one rendezvous worker closed together for one partition of a decisions topic, in
    one record (DESIGN.md §3, *changed (runtime)*): grace periods end on a shared 50 ms tick, so at
    thousands of requests a second one record carries dozens of them."""

    decisions: list[Decision]


class DeadLetter(msgspec.Struct, kw_only=True):
    """A poison record as it was read, and why it could not be handled (DESIGN.md §6)."""

    error: str
    topic: str
    partition: int
    offset: int
    key: str | None
    value: str
    encoding: Literal["utf-8", "base64"] = "utf-8"


class FeatureHistogram(msgspec.Struct, kw_only=True):
    """One input feature's values in one part of a drift bucket, as counts that add up across runners.

    ``numeric`` counts finite numbers per bin of the platform's fixed grid (``contracts.drift.numeric_bin``:
    the same for every runner and every service, so two runners' counts of one bucket simply add up);
    ``categories`` counts every other value by its text (at most ``contracts.drift.MAX_CATEGORIES_PER_PART``
    per part, the rest under ``contracts.drift.OTHER_CATEGORY``). ``missing``: requests of the part without
    the feature (or with null, an object or a list).
    """

    feature: str
    numeric: dict[int, int] = {}
    categories: dict[str, int] = {}
    missing: int = 0


class DriftReport(msgspec.Struct, kw_only=True):
    """*Changed (monitoring)*: what one runner saw of a service's requests in one time bucket (by the
    requests' ``sent_at``), as histograms that merge with every other runner's; the control plane
    merges the parts of a bucket, chooses the reference, and scores the drift (DESIGN.md §7).

    ``report_id`` is unique per part (replays of the record are stored once); a runner may report one
    bucket in several parts (late requests, a graceful stop). ``signature``: HMAC-SHA256 of the report
    (encoded with ``signature`` empty) keyed by the pool's runner token (``contracts.drift.sign_report``),
    so a report naming a pool was written by a holder of that pool's token.
    """

    report_id: str
    tenant: str
    service: str
    pool: str
    runner: str
    # The bucket: [bucket_start, bucket_start + bucket_s) of the requests' sent_at, bucket_start a multiple of bucket_s.
    bucket_start: float
    bucket_s: float
    # Requests in this part, and the sent_at of the first and last of them.
    count: int
    first_sent_at: float
    last_sent_at: float
    features: list[FeatureHistogram] = []
    published_at: float = 0.0
    signature: str = ""


WorkerKind = Literal["runner", "rendezvous"]


class AppliedRevision(msgspec.Struct, kw_only=True, frozen=True):
    """The config revision of one service a worker runs on, and when it started to."""

    revision: int
    applied_at: float


class VersionStatus(msgspec.Struct, kw_only=True, frozen=True):
    """One model version a runner hosts. ``state`` is ``loading``, ``ready`` or ``failed``, or ``idle``
    for a version routed to the runner but not loaded (loaded on its first request); a string, not a
    closed set, so a runner that learns a new state does not make the control plane drop its reports."""

    tenant: str
    model: str
    version: int
    sha256: str
    state: str
    error: str | None = None


class WorkerStatus(msgspec.Struct, kw_only=True):
    """What one worker runs on, published to ``rdv.status`` (key: ``worker``) right after every config
    application and as a heartbeat every ``interval_s``: the control plane learns from it whether a
    routing change reached every worker and whether its versions loaded."""

    worker: str
    kind: WorkerKind
    # The runner's pool; None for rendezvous workers, which serve every service.
    pool: str | None = None
    at: float
    # Seconds until the next heartbeat: a worker silent for a few of these is gone.
    interval_s: float
    # Key ``tenant/service``, as in ``rdv.config``.
    revisions: dict[str, AppliedRevision] = {}
    versions: list[VersionStatus] = []
