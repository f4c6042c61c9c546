"""Records a hostile tenant produces straight to its own requests topics, read by a real runner process.

The runner takes tenant and service from the topic (contracts.provenance): a request whose body names
another tenant or service, or a ``reply_to`` other than an existing partition of ``rdv.replies``, is sent to
``rdv.dlq`` with the reason, once per pool, and is neither scored nor archived. The other tenant's scores
are exactly its own, and the same runner process keeps scoring.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts.codec import decode, decode_scores, encode, to_builtins
from contracts.config import ServiceConfig
from contracts.kafka import KafkaSettings, Record, TopicPartition, make_admin, make_consumer, make_producer
from contracts.messages import DeadLetter, ReplyTo, Request, Score
from contracts.topics import CONFIG_TOPIC, DLQ_TOPIC, REPLIES_TOPIC, service_topics
from contracts.topology import REPLIES_PARTITIONS, platform_topics, service_topic_specs
from tests.kafka_auth import kafka_settings
from tests.model_runner.factories import SavedModel
from tests.model_runner.runner_process import RunnerProcess, high_watermarks, publish_config

PARTITIONS = 4


def _collect(
    settings: KafkaSettings, start: list[TopicPartition], done: Callable[[list[Record]], bool], *, runner: RunnerProcess
) -> list[Record]:
    """Records from ``start`` until ``done`` holds, plus whatever follows in the next second (duplicates)."""
    consumer = make_consumer(settings)
    consumer.assign(start)
    found: list[Record] = []
    give_up, quiet_until = time.monotonic() + 60, None
    try:
        while time.monotonic() < (quiet_until or give_up):
            record = consumer.poll(0.2)
            if record is not None and record.value is not None:
                found.append(record)
            if quiet_until is None and done(found):
                quiet_until = time.monotonic() + 1.0
    finally:
        consumer.close()
    assert quiet_until is not None, f"{len(found)} records on {start[0].topic}, not all expected:\n{runner.output()}"
    return found


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_forged_requests_are_dead_lettered_once_and_never_scored_or_archived(
    client: str, kafka_bootstrap: str, iris_classifier: SavedModel, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:10]
    mallory, victim, pool = f"m-{suffix}", f"v-{suffix}", f"p-{suffix}"
    scored, archived, victims = (
        service_topics(mallory, "iris"), service_topics(mallory, "audit"), service_topics(victim, "iris")
    )
    settings = kafka_settings(kafka_bootstrap, client)
    admin = make_admin(settings)
    admin.ensure_topics(platform_topics())
    for tenant, service in ((mallory, "iris"), (mallory, "audit"), (victim, "iris")):
        admin.ensure_topics(service_topic_specs(tenant, service, PARTITIONS))
    producer = make_producer(settings)

    def spec(model: str, role: str, in_pool: str = pool):  # noqa: ANN202
        return iris_classifier.spec("skops", model=model, version=1, role=role, pool=in_pool)

    configs = {
        # Scored here, with a canary's drift monitor reading the same requests.
        (mallory, "iris"): (spec("iris-lr", "champion"), spec("iris-base", "canary")),
        # Only archived here (scored by another pool): the decoy reads, and dead-letters, its poison.
        (mallory, "audit"): (spec("audit-decoy", "decoy"), spec("audit-lr", "champion", f"{pool}-x")),
        (victim, "iris"): (spec("iris-lr", "champion"),),
    }
    for (tenant, service), deployments in configs.items():
        config = ServiceConfig(
            tenant=tenant, service=service, revision=1, deadline_ms=5000, partitions=PARTITIONS,
            deployments=deployments, published_at=time.time(),
        )
        publish_config(producer, config, tenant=tenant, service=service)

    runner = RunnerProcess(
        bootstrap=kafka_bootstrap, client=client, pool=pool, runner_id=f"test-{suffix}", tmp=tmp_path
    )
    try:
        assert runner.ready.wait(60), f"runner never became ready:\n{runner.output()}"
        pid = runner.process.pid
        starts = {
            topic: high_watermarks(settings, topic, partitions)
            for topic, partitions in (
                (DLQ_TOPIC, 4), (scored.scores, PARTITIONS), (victims.scores, PARTITIONS),
                (archived.archive, PARTITIONS),
            )
        }
        rows = iris_classifier.rows(150)[::15]

        def request(tenant: str, service: str, request_id: str, index: int, change: Any = None) -> bytes:
            legit = Request(
                request_id=request_id, tenant=tenant, service=service, sent_at=time.time(), deadline_ms=60_000,
                config_revision=1, inputs=rows[index % len(rows)],
                reply_to=ReplyTo(topic=REPLIES_TOPIC, partition=index % REPLIES_PARTITIONS),
            )
            return encode({**to_builtins(legit), **(change or {})})

        replies = {"topic": REPLIES_TOPIC}
        forgeries = {
            # the body's change: what the dead letter's error says
            "victim-tenant": ({"tenant": victim}, f"'{victim}'"),
            "victim-service": ({"tenant": victim, "service": "iris"}, "the topic decides"),
            "other-service": ({"service": "payments"}, "'payments'"),
            "reply-results": ({"reply_to": {"topic": victims.results, "partition": 0}}, victims.results),
            "reply-config": ({"reply_to": {"topic": CONFIG_TOPIC, "partition": 0}}, f"'{CONFIG_TOPIC}'"),
            "reply-too-far": ({"reply_to": {**replies, "partition": REPLIES_PARTITIONS}}, "which has partitions"),
            "reply-negative": ({"reply_to": {**replies, "partition": -1}}, f"partition -1 of {REPLIES_TOPIC}"),
            "reply-huge": ({"reply_to": {**replies, "partition": 2**40}}, f"partition {2**40} of"),
            "reply-text": ({"reply_to": {**replies, "partition": "0"}}, "Request:"),
        }

        def send_legit(round_: int) -> tuple[set[str], set[str], set[str]]:
            ours = {f"{suffix}-ours-{round_}-{p}" for p in range(PARTITIONS)}
            theirs = {f"{suffix}-theirs-{round_}-{p}" for p in range(PARTITIONS)}
            kept = {f"{suffix}-kept-{round_}"}
            for index, request_id in enumerate(sorted(ours)):
                producer.produce(scored.requests, request(mallory, "iris", request_id, index), partition=index)
            for index, request_id in enumerate(sorted(theirs)):
                producer.produce(victims.requests, request(victim, "iris", request_id, index), partition=index)
            for request_id in kept:
                producer.produce(archived.requests, request(mallory, "audit", request_id, 1), partition=0)
            assert producer.flush(10) == 0
            return ours, theirs, kept

        ours, theirs, kept = send_legit(0)
        poison: dict[str, tuple[str, str]] = {}  # dead letter key: (topic, reason)
        for name, (change, reason) in forgeries.items():
            for topics, service, partition in ((scored, "iris", 2), (archived, "audit", 0)):
                key = f"{suffix}-{name}-{service}"
                producer.produce(
                    topics.requests, request(mallory, service, key, 0, change), key=key.encode(), partition=partition
                )
                poison[key] = (topics.requests, reason)
        assert producer.flush(10) == 0
        more_ours, more_theirs, more_kept = send_legit(1)  # behind the poison: still scored
        ours, theirs, kept = ours | more_ours, theirs | more_theirs, kept | more_kept

        def ids(records: list[Record], kind: type) -> list[str]:
            if kind is Score:  # a scores record is a ScoreBatch
                return [s.request_id for r in records for s in decode_scores(r.value)]  # type: ignore[arg-type]
            return [decode(kind, r.value).request_id for r in records]  # type: ignore[arg-type]

        letters = _collect(
            settings, starts[DLQ_TOPIC],
            lambda found: poison.keys() <= {r.key.decode() for r in found if r.key}, runner=runner,
        )
        by_key: dict[str, list[DeadLetter]] = {}
        for record in letters:
            if record.key is not None and record.key.decode() in poison:
                by_key.setdefault(record.key.decode(), []).append(decode(DeadLetter, record.value))  # type: ignore[arg-type]
        for key, (topic, reason) in poison.items():
            [letter] = by_key[key]  # once per pool: the canary and the scoring loop read the same record
            assert letter.topic == topic and reason in letter.error, (key, letter.error)

        score_ids = ids(_collect(
            settings, starts[scored.scores], lambda found: len(ids(found, Score)) >= 2 * len(ours), runner=runner,
        ), Score)
        assert sorted(score_ids) == sorted(2 * list(ours)), "each legitimate request once per version; no forgery"
        victim_ids = ids(_collect(
            settings, starts[victims.scores], lambda found: len(ids(found, Score)) >= len(theirs), runner=runner,
        ), Score)
        assert sorted(victim_ids) == sorted(theirs), "the victim's scores are exactly its own requests'"
        archived_ids = ids(_collect(
            settings, starts[archived.archive], lambda found: len(found) >= len(kept), runner=runner), Request)
        assert sorted(archived_ids) == sorted(kept), "the decoy archives no forgery"

        assert runner.process.poll() is None and runner.process.pid == pid, runner.output()
        assert runner.stop() == 0, runner.output()
    finally:
        runner.stop()
        for tenant, service in configs:
            publish_config(producer, None, tenant=tenant, service=service)
        admin.delete_topics(scored.all() + archived.all() + victims.all())
        admin.close()
