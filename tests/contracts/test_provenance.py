"""What a record's body may claim against the topic it was read from (DESIGN.md §3, *changed (security)*)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.codec import to_builtins
from contracts.messages import ReplyTo, Request, Score
from contracts.provenance import (
    MAX_CLOCK_SKEW_S,
    MAX_DEADLINE_MS,
    Refused,
    RepliesPartitions,
    admit_request,
    admit_score,
    reply_to_problem,
    request_problem,
    score_problem,
)
from contracts.topics import REPLIES_TOPIC, ServiceTopic, parse_service_topic
from contracts.topology import REPLIES_PARTITIONS

OWN_REQUESTS = "rdv.acme.fraud.requests"
OWN_SCORES = "rdv.acme.fraud.scores"


def request(*, tenant: str = "acme", service: str = "fraud", reply_to: ReplyTo | None = None) -> Request:
    return Request(
        request_id="r1", tenant=tenant, service=service, sent_at=1000.0, deadline_ms=100, config_revision=1,
        inputs={"x": 1.0}, reply_to=reply_to,
    )


def score(*, tenant: str = "acme", service: str = "fraud") -> Score:
    return Score(
        request_id="r1", tenant=tenant, service=service, model="m", version=1, role="champion", status="ok",
        output={"label": 1}, latency_ms=1.0, runner="r",
    )


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("rdv.acme.fraud.requests", ServiceTopic("acme", "fraud", "requests")),
        ("rdv.acme.fraud.scores", ServiceTopic("acme", "fraud", "scores")),
        ("rdv.a-1.s-2.archive", ServiceTopic("a-1", "s-2", "archive")),
        ("rdv.config", None),
        ("rdv.replies", None),
        ("rdv.dlq", None),
        ("rdv.acme.fraud.other", None),
        ("rdv.acme.fraud.requests.x", None),
        ("xyz.acme.fraud.requests", None),
        ("rdv.Acme.fraud.requests", None),
        ("rdv..fraud.requests", None),
        ("", None),
    ],
)
def test_a_per_service_topic_name_says_whose_it_is(topic: str, expected: ServiceTopic | None) -> None:
    assert parse_service_topic(topic) == expected


def test_a_request_that_repeats_its_topic_is_admitted() -> None:
    assert request_problem(request(), OWN_REQUESTS, replies_partitions=16) is None
    on_the_gateway_partition = request(reply_to=ReplyTo(topic=REPLIES_TOPIC, partition=15))
    assert request_problem(on_the_gateway_partition, OWN_REQUESTS, replies_partitions=16) is None


@pytest.mark.parametrize(
    ("forged", "words"),
    [
        (request(tenant="victim"), ["'victim'", OWN_REQUESTS, "'acme'", "the topic decides"]),
        (request(service="payments"), ["'payments'", OWN_REQUESTS, "'fraud'"]),
        (request(tenant="victim", service="payments"), ["'victim'", "'payments'"]),
    ],
)
def test_a_request_naming_another_tenant_or_service_than_its_topic_is_refused(
    forged: Request, words: list[str]
) -> None:
    problem = request_problem(forged, OWN_REQUESTS, replies_partitions=16)
    assert problem is not None and all(word in problem for word in words), problem


@pytest.mark.parametrize(
    ("reply_to", "words"),
    [
        (ReplyTo(topic="rdv.victim.fraud.results", partition=0), ["'rdv.victim.fraud.results'", REPLIES_TOPIC]),
        (ReplyTo(topic="rdv.config", partition=0), ["'rdv.config'"]),
        (ReplyTo(topic="rdv.acme.fraud.results", partition=0), ["'rdv.acme.fraud.results'"]),
        (ReplyTo(topic=REPLIES_TOPIC, partition=16), ["partition 16", "0 to 15"]),
        (ReplyTo(topic=REPLIES_TOPIC, partition=-1), ["partition -1", "0 to 15"]),
        (ReplyTo(topic=REPLIES_TOPIC, partition=2**63 - 1), [str(2**63 - 1)]),
    ],
)
def test_reply_to_may_only_name_an_existing_partition_of_the_replies_topic(
    reply_to: ReplyTo, words: list[str]
) -> None:
    problem = request_problem(request(reply_to=reply_to), OWN_REQUESTS, replies_partitions=16)
    assert problem is not None and all(word in problem for word in words), problem
    assert reply_to_problem(reply_to, replies_partitions=16) == problem


def test_the_topic_is_checked_before_reply_to() -> None:
    forged = request(tenant="victim", reply_to=ReplyTo(topic="rdv.config", partition=0))
    problem = request_problem(forged, OWN_REQUESTS, replies_partitions=16)
    assert problem is not None and "'victim'" in problem


def test_a_request_read_from_a_topic_that_is_not_a_requests_topic_is_refused() -> None:
    for topic in (OWN_SCORES, "rdv.config", "rdv.acme.fraud"):
        problem = request_problem(request(), topic, replies_partitions=16)
        assert problem is not None and "not a requests topic" in problem


def test_a_score_must_repeat_its_topic() -> None:
    assert score_problem(score(), OWN_SCORES) is None
    problem = score_problem(score(tenant="victim"), OWN_SCORES)
    assert problem is not None and "'victim'" in problem and OWN_SCORES in problem
    assert score_problem(score(service="payments"), OWN_SCORES) is not None
    assert score_problem(score(), OWN_REQUESTS) is not None


class Metadata:
    """Stands for the broker's metadata: a partition count per call, or an error."""

    def __init__(self, *answers: int | None | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, topic: str) -> int | None:
        assert topic == REPLIES_TOPIC
        self.calls += 1
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_the_replies_partition_count_is_read_once_and_cached() -> None:
    metadata, now = Metadata(8), [0.0]
    replies = RepliesPartitions(metadata, clock=lambda: now[0])
    assert replies.count() == 8
    now[0] = 1000.0
    assert replies.count(ReplyTo(topic=REPLIES_TOPIC, partition=3)) == 8
    assert replies.count(None) == 8
    assert metadata.calls == 1


def test_a_partition_past_the_cached_count_rereads_the_metadata_at_most_every_recheck() -> None:
    metadata, now = Metadata(8, 12), [0.0]
    replies = RepliesPartitions(metadata, recheck_s=30.0, clock=lambda: now[0])
    assert replies.count() == 8
    past = ReplyTo(topic=REPLIES_TOPIC, partition=10)
    assert replies.count(past) == 8 and metadata.calls == 1  # just read: a flood of bad ones waits
    now[0] = 31.0
    assert replies.count(past) == 12 and metadata.calls == 2  # partitions were added meanwhile
    now[0] = 100.0
    assert replies.count(ReplyTo(topic=REPLIES_TOPIC, partition=10**9)) == 12 and metadata.calls == 3


def test_without_metadata_the_platform_count_is_assumed_and_read_again_later() -> None:
    metadata, now = Metadata(None, RuntimeError("broker away"), 4), [0.0]
    replies = RepliesPartitions(metadata, recheck_s=30.0, clock=lambda: now[0])
    assert replies.count() == REPLIES_PARTITIONS
    now[0] = 31.0
    assert replies.count() == REPLIES_PARTITIONS  # the broker failed: keep the assumption
    now[0] = 62.0
    assert replies.count() == 4  # known now, even though fewer than assumed
    now[0] = 1000.0
    assert replies.count() == 4 and metadata.calls == 3


# -- fuzz: whatever a tenant writes, admitting it never raises, and what is admitted agrees with its topic

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
NAMES = st.sampled_from(["acme", "victim", "fraud", "payments", "", "Acme", "a.b", 7, None])
REPLY_TOS = st.none() | JSON | st.fixed_dictionaries({
    "topic": st.sampled_from([REPLIES_TOPIC, "rdv.config", "rdv.victim.fraud.results", "", 3]),
    "partition": st.integers() | st.sampled_from([-1, 0, 15, 16, 2**63, 10**30, "0", None, 1.5]),
})
FIELDS = {
    "request_id": st.text(max_size=8) | JSON,
    "tenant": NAMES,
    "service": NAMES,
    "sent_at": st.floats(allow_nan=False) | JSON,
    "deadline_ms": st.integers() | JSON,
    "config_revision": st.integers() | JSON,
    "inputs": JSON,
    "reply_to": REPLY_TOS,
    "user_key": st.none() | st.text(max_size=4) | JSON,
    # Score fields
    "model": st.text(max_size=4) | JSON,
    "version": st.integers() | JSON,
    "role": st.text(max_size=4),
    "status": st.sampled_from(["ok", "error", "maybe"]),
    "latency_ms": st.floats(allow_nan=False),
    "runner": st.text(max_size=3),
    "scored_at": st.floats(allow_nan=False),
    "output": JSON,
}


@st.composite
def bodies(draw: st.DrawFn) -> bytes | None:
    kind = draw(st.sampled_from(["fields", "fields", "fields", "bytes", "json", "none"]))
    if kind == "bytes":
        return draw(st.binary(max_size=40))
    if kind == "json":
        return msgspec.json.encode(draw(JSON))
    if kind == "none":
        return None
    base = {**to_builtins(request(reply_to=ReplyTo(topic=REPLIES_TOPIC, partition=1))), **to_builtins(score())}
    for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=4)):
        base[name] = draw(FIELDS[name])
    for name in draw(st.lists(st.sampled_from(sorted(base)), max_size=2)):
        base.pop(name, None)
    return msgspec.json.encode(base)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=bodies(), topic=st.sampled_from([OWN_REQUESTS, OWN_SCORES]), partitions=st.integers(1, 64))
def test_admitting_any_bytes_never_raises_and_only_admits_what_agrees_with_the_topic(
    value: bytes | None, topic: str, partitions: int
) -> None:
    admitted = (
        admit_request(value, topic, replies_partitions=lambda _reply_to: partitions)
        if topic == OWN_REQUESTS
        else admit_score(value, topic)
    )
    if isinstance(admitted, Refused):
        assert admitted.reason
        return
    assert (admitted.tenant, admitted.service) == ("acme", "fraud")
    if isinstance(admitted, Request) and admitted.reply_to is not None:
        assert admitted.reply_to.topic == REPLIES_TOPIC and 0 <= admitted.reply_to.partition < partitions


@pytest.mark.parametrize(
    ("deadline_ms", "sent_at", "refused"),
    [
        (100, 1000.0, None),
        (MAX_DEADLINE_MS, 1000.0, None),
        (0, 1000.0, "deadline_ms 0 is outside"),
        (-5, 1000.0, "deadline_ms -5 is outside"),
        (MAX_DEADLINE_MS + 1, 1000.0, "is outside 1..300000"),
        (100, 1000.0 + MAX_CLOCK_SKEW_S, None),
        (100, 1000.0 + MAX_CLOCK_SKEW_S + 1, "ahead of the worker's clock"),
        (100, 1e300, "ahead of the worker's clock"),
        (100, float("nan"), "ahead of the worker's clock"),
    ],
)
def test_a_direct_producer_cannot_ask_the_workers_to_hold_a_request_for_ever(
    deadline_ms: int, sent_at: float, refused: str | None
) -> None:
    held = Request(
        request_id="r1", tenant="mallory", service="iris", sent_at=sent_at, deadline_ms=deadline_ms,
        config_revision=1, inputs={},
    )
    problem = request_problem(held, "rdv.mallory.iris.requests", replies_partitions=16, now=1000.0)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None and refused in problem


# -- drift reports (changed (monitoring)) -----------------------------------------------------------------

def _drift_services(pool: str = "p"):
    from contracts.config import DeploymentSpec, ServiceConfig

    canary = DeploymentSpec(model="m", version=1, role="canary", weight=0, rank=0, pool=pool, format="skops",
                            sha256="0" * 64, artifact_url="http://x/a", features=("x",))
    return {("t", "svc"): ServiceConfig(tenant="t", service="svc", revision=1, deadline_ms=100, partitions=2,
                                        deployments=(canary,), published_at=0.0)}


def _drift_report(pool: str, secret: str, tenant: str = "t", service: str = "svc"):
    from contracts.drift import DriftBuckets
    from contracts.pool_tokens import pool_token

    buckets = DriftBuckets(tenant, service, bucket_s=10.0, pool=pool, runner="r1",
                           token=pool_token(secret=secret, pool=pool))
    buckets.add({"x": 1.0}, 100.0, 0.0)
    return buckets.flush()[0]


def test_a_drift_report_is_admitted_only_from_the_pool_running_the_services_canary():
    from contracts.codec import encode
    from contracts.provenance import admit_drift_report

    secret = "s3cret"
    ok = _drift_report("p", secret)
    admitted = admit_drift_report(encode(ok), b"t/svc", services=_drift_services(), runner_secret=secret)
    assert not isinstance(admitted, Refused) and admitted.report_id == ok.report_id
    cases = {
        "another pool, its own token": (_drift_report("q", secret), b"t/svc", "no canary"),
        "the right pool, a forged token": (_drift_report("p", "guess"), b"t/svc", "not signed"),
        "another service's key": (ok, b"t/other", "under the key"),
        "a service with no config": (_drift_report("p", secret, service="gone"), b"t/gone", "no canary"),
    }
    for label, (report, key, reason) in cases.items():
        refused = admit_drift_report(encode(report), key, services=_drift_services(), runner_secret=secret)
        assert isinstance(refused, Refused) and reason in refused.reason, label
    assert isinstance(admit_drift_report(b"{", b"t/svc", services={}, runner_secret=secret), Refused)
    assert isinstance(admit_drift_report(None, b"t/svc", services={}, runner_secret=secret), Refused)
