"""Records a hostile tenant produces straight to its own topics, read by a real rendezvous process.

Tenants may write their services' ``requests`` topics themselves (DESIGN.md §3), so nothing in a record's
body is trusted: a request or score naming another tenant or service than its topic, or a ``reply_to``
other than an existing partition of ``rdv.replies``, goes to ``rdv.dlq`` with the reason and is never
answered. Meanwhile the other tenant's answers and decision records are exactly what they would have been,
and the worker (the same process) keeps answering.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from contracts.codec import encode, to_builtins
from contracts.kafka import TopicPartition, make_consumer
from contracts.messages import ReplyTo, Request, Result, Score
from contracts.topics import CONFIG_TOPIC, REPLIES_TOPIC
from contracts.topology import REPLIES_PARTITIONS
from tests.rendezvous_worker.integration.conftest import ServiceFactory
from tests.rendezvous_worker.integration.harness import (
    PARTITIONS,
    Inbox,
    ServiceUnderTest,
    deployment,
    ok,
    output_of,
)

CHAMPION = deployment("champ", "champion", weight=100)
SHADOW = deployment("shadow", "challenger")
PLAN = {"champ": ok(0), "shadow": ok(20)}


def _request(of: ServiceUnderTest, request_id: str, **body: Any) -> dict[str, Any]:
    """A request of ``of`` as JSON-ready data, with ``body`` changed (the forgery)."""
    request = Request(
        request_id=request_id, tenant=of.tenant, service=of.service, sent_at=time.time(),
        deadline_ms=500, config_revision=1, inputs={"x": 1.0, "plan": PLAN},
    )
    return {**to_builtins(request), **body}


class RepliesReader:
    """Everything the rendezvous writes to ``rdv.replies`` from now on, by key."""

    def __init__(self, service: ServiceUnderTest) -> None:
        self._consumer = make_consumer(service.settings)
        self._consumer.assign(
            [TopicPartition(REPLIES_TOPIC, p, self._consumer.watermarks(REPLIES_TOPIC, p)[1])
             for p in range(REPLIES_PARTITIONS)]
        )
        self.seen: dict[str, list[int]] = {}

    def read(self, *, until: set[str], timeout: float) -> dict[str, list[int]]:
        give_up = time.monotonic() + timeout
        while not until <= self.seen.keys() and time.monotonic() < give_up:
            self._drain(0.2)
        self._drain(0.5)
        return self.seen

    def _drain(self, wait: float) -> None:
        record = self._consumer.poll(wait)
        while record is not None:
            if record.key is not None and record.value is not None:
                self.seen.setdefault(record.key.decode(), []).append(record.partition)
            record = self._consumer.poll(0)

    def close(self) -> None:
        self._consumer.close()


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_forged_records_go_to_the_dead_letter_topic_and_other_tenants_are_untouched(
    client: str, make_service: ServiceFactory
) -> None:
    mallory = make_service(client, (CHAMPION, SHADOW), deadline_ms=2000, grace_ms=300)
    victim = make_service(client, (CHAMPION, SHADOW), deadline_ms=2000, grace_ms=300)
    # One worker serves every service on the broker: mallory's and the victim's.
    worker = mallory.start_worker()
    victim.workers.append(worker)  # so the victim's failure messages quote its log too
    pid = worker.process.pid
    mallory.warm_up(PLAN)
    victim.warm_up(PLAN)
    replies = RepliesReader(mallory)
    tag = uuid.uuid4().hex[:6]

    victim_before = [victim.send(PLAN, partition=p) for p in range(PARTITIONS)]
    # Scored late by the victim's own champion; a score of mallory's naming the same request id comes first.
    hijacked = victim.send({"champ": ok(600), "shadow": ok(20)}, partition=1)

    def forged_score(request_id: str, **body: Any) -> bytes:
        score = Score(
            request_id=request_id, tenant=mallory.tenant, service=mallory.service, model="champ", version=1,
            role="champion", status="ok", output={"label": "forged"}, latency_ms=1.0, runner="mallory",
            scored_at=time.time(),
        )
        return encode({**to_builtins(score), **body})

    # Well-formed for mallory's own scores topic, but naming the victim's request id: it must not answer it.
    mallory.produce_raw(mallory.topics.scores, forged_score(hijacked.request_id), key=b"hijack", partition=1)

    rdv_replies = {"topic": REPLIES_TOPIC}
    forged_requests: dict[str, tuple[dict[str, Any] | bytes | None, str]] = {
        # request id: (the body produced to mallory's requests topic, what the dead letter's error says)
        f"victim-tenant-{tag}": (_request(mallory, f"victim-tenant-{tag}", tenant=victim.tenant), victim.tenant),
        f"victim-service-{tag}": (
            _request(mallory, f"victim-service-{tag}", tenant=victim.tenant, service=victim.service),
            "the topic decides",
        ),
        f"other-service-{tag}": (_request(mallory, f"other-service-{tag}", service="payments"), "'payments'"),
        f"reply-results-{tag}": (
            _request(mallory, f"reply-results-{tag}", reply_to={"topic": victim.topics.results, "partition": 0}),
            victim.topics.results,
        ),
        f"reply-config-{tag}": (
            _request(mallory, f"reply-config-{tag}", reply_to={"topic": CONFIG_TOPIC, "partition": 0}),
            f"'{CONFIG_TOPIC}'",
        ),
        f"reply-too-far-{tag}": (
            _request(mallory, f"reply-too-far-{tag}", reply_to={**rdv_replies, "partition": REPLIES_PARTITIONS}),
            f"partition {REPLIES_PARTITIONS} of {REPLIES_TOPIC}",
        ),
        f"reply-huge-{tag}": (
            _request(mallory, f"reply-huge-{tag}", reply_to={**rdv_replies, "partition": 2**40}),
            f"partition {2**40} of",
        ),
        f"reply-negative-{tag}": (
            _request(mallory, f"reply-negative-{tag}", reply_to={**rdv_replies, "partition": -1}),
            f"partition -1 of {REPLIES_TOPIC}",
        ),
        # Fuzz: wrong types, a number past any integer type, missing fields, not JSON, a tombstone.
        f"reply-string-{tag}": (_request(mallory, f"reply-string-{tag}", reply_to=REPLIES_TOPIC), "Request:"),
        f"partition-text-{tag}": (
            _request(mallory, f"partition-text-{tag}", reply_to={**rdv_replies, "partition": "0"}), "Request:"
        ),
        f"partition-10e30-{tag}": (
            _request(mallory, f"partition-10e30-{tag}", reply_to={**rdv_replies, "partition": 10**30}),
            f"partition {10**30} of",
        ),
        f"tenant-number-{tag}": (_request(mallory, f"tenant-number-{tag}", tenant=7), "Request:"),
        f"no-tenant-{tag}": ({k: v for k, v in _request(mallory, "x").items() if k != "tenant"}, "Request:"),
        f"not-json-{tag}": (b'{"request_id": "', "Request:"),
        f"tombstone-{tag}": (None, "tombstone"),
    }
    for request_id, (body, _) in forged_requests.items():
        value = body if body is None or isinstance(body, bytes) else encode(body)
        mallory.produce_raw(mallory.topics.requests, value, key=request_id.encode(), partition=2)  # type: ignore[arg-type]

    forged_scores = {
        f"score-victim-{tag}": (forged_score(hijacked.request_id, tenant=victim.tenant), victim.tenant),
        f"score-service-{tag}": (forged_score(hijacked.request_id, service="payments"), "'payments'"),
    }
    for key, (value, _) in forged_scores.items():
        mallory.produce_raw(mallory.topics.scores, value, key=key.encode(), partition=1)
    # Legitimate traffic after the poison, on every partition; mallory's own with a valid reply_to.
    victim_after = [victim.send(PLAN, partition=p) for p in range(PARTITIONS)]
    with_reply = {}
    for p in range(PARTITIONS):
        request = Request(**{
            **_request(mallory, f"with-reply-{tag}-{p}"),
            "reply_to": ReplyTo(topic=REPLIES_TOPIC, partition=REPLIES_PARTITIONS - 1 - p),
            "deadline_ms": 2000,
        })
        mallory.produce_raw(mallory.topics.requests, encode(request), key=request.request_id.encode(), partition=p)
        with_reply[request.request_id] = REPLIES_PARTITIONS - 1 - p

    # Every legitimate request is answered once, by its own service's champion, and recorded in full.
    for request in [*victim_before, hijacked, *victim_after]:
        result = victim.result(request.request_id).message
        assert (result.status, result.reason, result.model) == ("ok", "champion", "champ"), result
        assert result.output == output_of("champ", request.request_id)
        decision = victim.decision(request.request_id)
        assert {c.model: (c.status, c.output) for c in decision.candidates} == {
            "champ": ("ok", output_of("champ", request.request_id)),
            "shadow": ("ok", output_of("shadow", request.request_id)),
        }, decision
        assert len(victim.collector.results(request.request_id)) == 1
    for request_id in with_reply:
        result: Result = mallory.result(request_id).message
        assert (result.status, result.model, result.tenant) == ("ok", "champ", mallory.tenant)
    seen_replies = replies.read(until=set(with_reply), timeout=10)
    replies.close()
    for request_id, partition in with_reply.items():
        assert seen_replies.get(request_id) == [partition], seen_replies.get(request_id)

    # Each forgery is in the dead-letter topic with its reason, and nothing answered it anywhere.
    expected = {**forged_requests, **forged_scores}

    def all_dead_lettered(inbox: Inbox) -> bool:
        return expected.keys() <= {letter.key for letter in inbox.dead_letters}

    assert mallory.collector.wait_until(all_dead_lettered, 15), (
        sorted(expected.keys() - {letter.key for letter in mallory.collector.dead_letters()}),
        worker.output(),
    )
    letters = {letter.key: letter for letter in mallory.collector.dead_letters() if letter.key in expected}
    for key, (_, reason) in forged_requests.items():
        letter = letters[key]
        assert (letter.topic, letter.partition) == (mallory.topics.requests, 2)
        assert reason in letter.error, (key, letter.error)
    for key, (value, reason) in forged_scores.items():
        letter = letters[key]
        assert letter.topic == mallory.topics.scores and letter.value.encode() == value
        assert reason in letter.error, (key, letter.error)
    for request_id in forged_requests:
        assert not mallory.collector.results(request_id) and not victim.collector.results(request_id), request_id
        assert not mallory.collector.decisions(request_id) and request_id not in seen_replies, request_id

    # The same process did all of it, and still answers.
    assert worker.process.poll() is None and worker.process.pid == pid, worker.output()
    last = victim.send(PLAN, partition=0)
    assert victim.result(last.request_id).message.reason == "champion"
