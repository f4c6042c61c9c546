"""What a record read from a service's topic may claim (DESIGN.md §3, *changed (security)*).

Tenants may produce requests straight to ``rdv.<tenant>.<service>.requests``, so a record's body is
untrusted. The topic it was read from is the truth (the broker names it, and only that tenant may write
it): the body's ``tenant`` and ``service`` may only repeat it, and ``reply_to`` may only name an existing
partition of the replies topic. Each check returns the reason a record is refused, or None; the worker
loops send a refused record to ``rdv.dlq`` with that reason and neither score nor answer it.

Pure functions over plain data, except :class:`RepliesPartitions`, which caches the replies topic's
partition count read from the broker's metadata.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from contracts.codec import DecodeError, decode, decode_scores
from contracts.config import ServiceConfig
from contracts.drift import report_signature_valid
from contracts.keys import ServiceKey
from contracts.messages import DriftReport, ReplyTo, Request, Score
from contracts.pool_tokens import pool_token
from contracts.topics import REPLIES_TOPIC, ServiceTopic, config_key, is_valid_slug, parse_service_topic
from contracts.topology import REPLIES_PARTITIONS

log = logging.getLogger(__name__)


def _topic_problem(kind: str, topic: str, tenant: str, service: str) -> tuple[ServiceTopic | None, str | None]:
    named = parse_service_topic(topic)
    if named is None or named.kind != kind:
        return None, f"a {kind[:-1]} read from {topic!r}, which is not a {kind} topic"
    if (tenant, service) != (named.tenant, named.service):
        return named, (
            f"{kind[:-1]} names tenant {tenant!r}, service {service!r} but was read from {topic}, "
            f"which belongs to tenant {named.tenant!r}, service {named.service!r}: the topic decides"
        )
    return named, None


def reply_to_problem(reply_to: ReplyTo | None, *, replies_partitions: int) -> str | None:
    """``reply_to`` may be absent, or name a partition that exists of the replies topic, nothing else:
    the rendezvous produces the Result there, so any other topic would let a tenant write where it may
    not (another tenant's results, ``rdv.config``), and a partition that does not exist would fail the
    produce."""
    if reply_to is None:
        return None
    if reply_to.topic != REPLIES_TOPIC:
        return f"reply_to names topic {reply_to.topic!r}; only {REPLIES_TOPIC} may be named"
    if not 0 <= reply_to.partition < replies_partitions:
        return (
            f"reply_to names partition {reply_to.partition} of {REPLIES_TOPIC}, "
            f"which has partitions 0 to {replies_partitions - 1}"
        )
    return None


# The longest a request may ask the workers to hold it, and how far ahead of a worker's clock its
# ``sent_at`` may lie. A direct producer bypasses the gateway's per-service deadline (at most 60 s),
# and the rendezvous keeps a pending request, and holds back its partition's commits, until
# ``sent_at + deadline_ms``: without a bound one record could pin them for years.
MAX_DEADLINE_MS = 300_000
MAX_CLOCK_SKEW_S = 60.0


def timing_problem(request: Request, *, now: float) -> str | None:
    """Why a Request's deadline is refused: not positive, longer than :data:`MAX_DEADLINE_MS`, or sent
    (by its own ``sent_at``) further in the future than :data:`MAX_CLOCK_SKEW_S`."""
    if not 0 < request.deadline_ms <= MAX_DEADLINE_MS:
        return f"deadline_ms {request.deadline_ms} is outside 1..{MAX_DEADLINE_MS}"
    if request.sent_at != request.sent_at or request.sent_at > now + MAX_CLOCK_SKEW_S:
        return f"sent_at {request.sent_at} lies more than {MAX_CLOCK_SKEW_S:.0f} s ahead of the worker's clock"
    return None


def request_problem(
    request: Request, topic: str, *, replies_partitions: int, now: float | None = None
) -> str | None:
    """Why a Request read from ``topic`` is refused, or None when its body agrees with the topic and its
    deadline is one the workers will hold (``now``: the worker's clock, epoch seconds)."""
    _named, problem = _topic_problem("requests", topic, request.tenant, request.service)
    return (
        problem
        or reply_to_problem(request.reply_to, replies_partitions=replies_partitions)
        or timing_problem(request, now=time.time() if now is None else now)
    )


def score_problem(score: Score, topic: str) -> str | None:
    """Why a Score read from ``topic`` is refused, or None when its body agrees with the topic."""
    _named, problem = _topic_problem("scores", topic, score.tenant, score.service)
    return problem


@dataclass(frozen=True, slots=True)
class Refused:
    """A record no worker may act on, and why (the ``error`` of its dead letter)."""

    reason: str


def admit_request(
    value: bytes | None, topic: str, *, replies_partitions: Callable[[ReplyTo | None], int]
) -> Request | Refused:
    """The Request a record of ``topic`` holds, or why it is refused: a tombstone, not a Request, or a
    body that disagrees with its topic. ``replies_partitions`` gives the count to check ``reply_to``
    against (:meth:`RepliesPartitions.count`). Never raises, whatever the bytes."""
    if value is None:
        return Refused("empty record (tombstone) on a requests topic")
    try:
        request = decode(Request, value)
    except DecodeError as exc:
        return Refused(str(exc))
    problem = request_problem(request, topic, replies_partitions=replies_partitions(request.reply_to))
    return request if problem is None else Refused(problem)


def admit_score(value: bytes | None, topic: str) -> Score | Refused:
    """The Score a record of ``topic`` holds, or why it is refused. Never raises, whatever the bytes."""
    if value is None:
        return Refused("empty record (tombstone) on a scores topic")
    try:
        score = decode(Score, value)
    except DecodeError as exc:
        return Refused(str(exc))
    problem = score_problem(score, topic)
    return score if problem is None else Refused(problem)


def admit_scores(value: bytes | None, topic: str) -> list[Score] | Refused:
    """The Scores a record of ``topic`` holds (a ScoreBatch or a single Score), or why the record is
    refused, whole: every score must agree with the topic, so one naming another tenant or service
    sends the entire record to the DLQ and none of its scores is used. Never raises, whatever the bytes."""
    if value is None:
        return Refused("empty record (tombstone) on a scores topic")
    try:
        scores = decode_scores(value)
    except DecodeError as exc:
        return Refused(str(exc))
    for score in scores:
        problem = score_problem(score, topic)
        if problem is not None:
            return Refused(problem)
    return scores


def drift_report_problem(
    report: DriftReport,
    key: bytes | None,
    *,
    services: Mapping[ServiceKey, ServiceConfig],
    runner_secret: str,
) -> str | None:
    """Why a DriftReport read from ``rdv.drift`` is refused (*changed (monitoring)*), or None.

    Every runner writes ``rdv.drift`` with the same Kafka principal, so the broker cannot tell pools
    apart: the report's signature does. It must be the HMAC of the report keyed by the token of the pool
    it names (only that pool's runners hold it; the control plane derives it from ``runner_secret``), and
    the service it names must have a canary deployed to that pool in its current config: a runner may
    report only on the services whose inputs its pool reads. The key must name the same service (one
    service's reports stay on one partition), and counts cannot be negative."""
    expected_key = config_key(report.tenant, report.service).encode()
    if key != expected_key:
        return f"drift report of {report.tenant}/{report.service} under the key {key!r}"
    if not (report.bucket_s > 0 and math.isfinite(report.bucket_start) and report.count >= 0):
        return f"drift report with an unusable bucket ({report.bucket_start}, {report.bucket_s} s, {report.count})"
    for feature in report.features:
        counts = [*feature.numeric.values(), *feature.categories.values(), feature.missing]
        if any(count < 0 for count in counts):
            return f"drift report with a negative count for feature {feature.feature!r}"
    if not is_valid_slug(report.pool):
        return f"drift report names pool {report.pool!r}, which is not a pool name"
    if not report_signature_valid(report, pool_token(secret=runner_secret, pool=report.pool)):
        return f"drift report for pool {report.pool!r} is not signed with that pool's token"
    config = services.get(ServiceKey(report.tenant, report.service))
    if config is None or not any(d.role == "canary" for d in config.in_pool(report.pool)):
        return (
            f"drift report of {report.tenant}/{report.service} from pool {report.pool!r}, "
            "where that service has no canary"
        )
    return None


def admit_drift_report(
    value: bytes | None,
    key: bytes | None,
    *,
    services: Mapping[ServiceKey, ServiceConfig],
    runner_secret: str,
) -> DriftReport | Refused:
    """The DriftReport a record of ``rdv.drift`` holds, or why it is refused. Never raises."""
    if value is None:
        return Refused("empty record (tombstone) on rdv.drift")
    try:
        report = decode(DriftReport, value)
    except DecodeError as exc:
        return Refused(str(exc))
    problem = drift_report_problem(report, key, services=services, runner_secret=runner_secret)
    return report if problem is None else Refused(problem)


class RepliesPartitions:
    """The replies topic's partition count, from the broker's metadata, cached.

    Read once, then again (at most every ``recheck_s``) only when a record names a partition past the
    cached count: partitions can be added to a topic, never removed, so a cached count is never too
    high. When the metadata cannot be read (the topic is missing, or this principal may not describe
    it), the count the platform creates the topic with is assumed, and said once in the log.
    """

    def __init__(
        self,
        lookup: Callable[[str], int | None],
        *,
        recheck_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._recheck_s = recheck_s
        self._clock = clock
        self._count: int | None = None
        self._known = False  # False while the count is the assumed one: read the metadata again later
        self._checked_at = float("-inf")

    def count(self, reply_to: ReplyTo | None = None) -> int:
        """The partition count to check ``reply_to`` against (re-read first if it names one past it)."""
        past = reply_to is not None and self._count is not None and reply_to.partition >= self._count
        due = self._clock() - self._checked_at >= self._recheck_s
        if self._count is None or (due and (past or not self._known)):
            self._refresh()
        assert self._count is not None
        return self._count

    def _refresh(self) -> None:
        self._checked_at = self._clock()
        try:
            count = self._lookup(REPLIES_TOPIC)
        except Exception as exc:  # the broker is briefly unreachable: keep what we had
            log.warning("could not read the partition count of %s: %s", REPLIES_TOPIC, exc)
            count = None
        if count is not None:
            self._count = count if not self._known else max(count, self._count or 0)
            self._known = True
        elif self._count is None:
            log.warning("no metadata for %s; assuming its %d partitions", REPLIES_TOPIC, REPLIES_PARTITIONS)
            self._count = REPLIES_PARTITIONS
