"""Acceptance: labels joined to decisions that went through the real broker and the real decisions consumer.

Decisions are produced to the services' decisions topics as rendezvous workers write them (batches and
single records), the decisions consumer stores them in PostgreSQL, labels are posted over HTTP — half of
them before their decision exists — and ``GET …/quality`` must equal what the test works out by hand from
the same predictions, for the champion, the challenger and the canary of a classifier and for the
versions of a regressor.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from sklearn.metrics import f1_score

from contracts import Candidate, Decision, encode, service_topics
from contracts.kafka import Producer, make_producer
from contracts.messages import DecisionBatch
from controlplane.decisions.consumer import DecisionsConsumerSettings
from controlplane.decisions.models import DecisionRecord
from controlplane.routing.models import Service
from controlplane.routing.services import service_create
from controlplane.tenancy.models import Tenant
from tests.controlplane.decisions.test_consumer import ConsumerThread
from tests.factories import TenantFactory, unique_slug

pytestmark = pytest.mark.django_db(transaction=True)

CLASSES = ["setosa", "versicolor", "virginica"]


@pytest.fixture
def producer(kafka: object) -> Iterator[Producer]:
    producer = make_producer(settings.RDV_KAFKA)
    yield producer
    producer.close()


@pytest.fixture
def decisions_consumer(kafka: object) -> Iterator[ConsumerThread]:
    config = DecisionsConsumerSettings.from_django(
        kafka=replace(settings.RDV_KAFKA, client="confluent"), group_id=f"rdv-decisions-{uuid.uuid4().hex[:8]}"
    )
    running = ConsumerThread(config).start()
    yield running
    running.stop()
    assert running.error is None


def _service(tenant: Tenant) -> Service:
    return service_create(
        tenant=tenant, slug=unique_slug("s"), name="Quality", input_schema={"type": "object"}, partitions=2
    )


def _decision(service: Service, candidates: list[Candidate]) -> Decision:
    champion = candidates[0]
    return Decision(
        request_id=uuid.uuid4().hex,
        tenant=service.tenant.slug,
        service=service.slug,
        status="ok",
        output=champion.output,
        model=champion.model,
        version=champion.version,
        reason="champion",
        latency_ms=5.0,
        config_revision=1,
        candidates=candidates,
        decided_at=time.time(),
    )


def _produce(producer: Producer, service: Service, decisions: list[Decision]) -> None:
    topic = service_topics(service.tenant.slug, service.slug).decisions
    # Half in one batch as a rendezvous worker writes them, the rest one record each.
    half = len(decisions) // 2
    producer.produce(topic, encode(DecisionBatch(decisions=decisions[:half])), key=b"batch")
    for decision in decisions[half:]:
        producer.produce(topic, encode(decision), key=decision.request_id.encode())
    assert producer.flush(10.0) == 0


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def _post_labels(client: APIClient, service: Service, labels: dict[str, object]) -> None:
    url = f"/api/v1/tenants/{service.tenant.slug}/services/{service.slug}/feedback"
    items = [{"request_id": rid, "label": label} for rid, label in labels.items()]
    # Some as a batch, some one by one.
    response = client.post(url, items[: len(items) // 2], format="json")
    assert response.status_code == 202 and response.json() == {"accepted": len(items) // 2}
    for item in items[len(items) // 2 :]:
        assert client.post(url, item, format="json").status_code == 202


def _quality(client: APIClient, service: Service) -> dict:
    response = client.get(f"/api/v1/tenants/{service.tenant.slug}/services/{service.slug}/quality?window=1h")
    assert response.status_code == 200, response.json()
    return response.json()


def _guess(rng: random.Random, truth: str, right: float) -> str:
    return truth if rng.random() < right else rng.choice([c for c in CLASSES if c != truth])


def test_accuracy_per_version_equals_the_hand_count_with_labels_sent_before_and_after_their_decisions(
    decisions_consumer: ConsumerThread, producer: Producer, client_for: Callable[..., APIClient]
) -> None:
    rng = random.Random(16)
    tenant = TenantFactory()
    service = _service(tenant)
    client = client_for(tenant, scopes=("read", "predict"))
    truths: dict[str, str] = {}
    said: dict[str, dict[int, str]] = {}  # request → version → what it answered (only the scored ones)
    decisions = []
    for n in range(60):
        truth = rng.choice(CLASSES)
        champion, challenger, canary = _guess(rng, truth, 0.7), _guess(rng, truth, 0.9), _guess(rng, truth, 0.5)
        canary_failed = n % 5 == 0
        decision = _decision(service, [
            Candidate(model="iris", version=1, role="champion", status="ok", output={"label": champion}),
            Candidate(model="iris", version=2, role="challenger", status="ok", output={"label": challenger},
                      late=n % 7 == 0),
            Candidate(model="iris", version=3, role="canary", status="error" if canary_failed else "ok",
                      output=None if canary_failed else {"label": canary, "probabilities": {canary: 0.8}},
                      error="boom" if canary_failed else None),
        ])
        decisions.append(decision)
        said[decision.request_id] = {1: champion, 2: challenger} | ({} if canary_failed else {3: canary})
        # Two requests in three get a label; the rest stay unlabelled and must not count.
        if n % 3:
            truths[decision.request_id] = truth
    labelled = list(truths)
    before = {rid: truths[rid] for rid in labelled[::2]}
    after = {rid: truths[rid] for rid in labelled[1::2]}

    # Labels first, for requests whose decisions nobody has stored yet.
    _post_labels(client, service, before)
    assert _quality(client, service)["labelled_requests"] == 0
    _produce(producer, service, decisions)
    _wait_for(lambda: DecisionRecord.objects.filter(service=service).count() == len(decisions))
    _post_labels(client, service, after)
    body = _quality(client, service)

    assert body["labelled_requests"] == len(truths) == 40
    by_version = {v["version"]: v for v in body["versions"]}
    assert set(by_version) == {1, 2, 3}
    for version in (1, 2, 3):
        pairs = [(truth, said[rid][version]) for rid, truth in truths.items() if version in said[rid]]
        row = by_version[version]
        assert row["labelled"] == len(pairs)
        assert row["accuracy"] == pytest.approx(sum(t == p for t, p in pairs) / len(pairs))
        assert row["f1"] == pytest.approx(f1_score([t for t, _ in pairs], [p for _, p in pairs], average="macro"))
        assert row["mae"] is None and row["rmse"] is None
    assert by_version[3]["labelled"] < 40  # its errors are not scored
    assert [v["roles"] for v in body["versions"] if v["version"] == 2] == [["challenger"]]
    accuracies = [v["accuracy"] for v in body["versions"]]
    assert accuracies == sorted(accuracies, reverse=True) and [v["rank"] for v in body["versions"]] == [1, 2, 3]

    # A corrected label replaces the first one and moves the numbers with it.
    corrected = labelled[0]
    champion_was_right = said[corrected][1] == truths[corrected]
    new_label = next(c for c in CLASSES if c != truths[corrected] and (champion_was_right or c == said[corrected][1]))
    _post_labels(client, service, {corrected: new_label, labelled[1]: truths[labelled[1]]})
    truths[corrected] = new_label
    champion_pairs = [(truth, said[rid][1]) for rid, truth in truths.items()]
    assert {v["version"]: v for v in _quality(client, service)["versions"]}[1]["accuracy"] == pytest.approx(
        sum(t == p for t, p in champion_pairs) / len(champion_pairs)
    )


def test_mae_and_rmse_of_a_regressor_equal_the_hand_count(
    decisions_consumer: ConsumerThread, producer: Producer, client_for: Callable[..., APIClient]
) -> None:
    rng = random.Random(61)
    tenant = TenantFactory()
    service = _service(tenant)
    client = client_for(tenant, scopes=("read", "deploy"))
    truths: dict[str, float] = {}
    said: dict[str, dict[int, float]] = {}
    decisions = []
    for n in range(30):
        truth = round(rng.uniform(50, 500), 2)
        champion, challenger = truth + rng.gauss(0, 20), truth + rng.gauss(0, 5)
        decision = _decision(service, [
            Candidate(model="price", version=4, role="champion", status="ok", output={"value": champion}),
            Candidate(model="price", version=5, role="challenger", status="ok", output={"value": challenger}),
        ])
        decisions.append(decision)
        said[decision.request_id] = {4: champion, 5: challenger}
        if n % 4:
            truths[decision.request_id] = truth
    labelled = list(truths)

    _post_labels(client, service, {rid: truths[rid] for rid in labelled[:10]})
    _produce(producer, service, decisions)
    _wait_for(lambda: DecisionRecord.objects.filter(service=service).count() == len(decisions))
    _post_labels(client, service, {rid: truths[rid] for rid in labelled[10:]})
    body = _quality(client, service)

    by_version = {v["version"]: v for v in body["versions"]}
    for version in (4, 5):
        errors = [said[rid][version] - truth for rid, truth in truths.items()]
        assert by_version[version]["labelled"] == len(errors) == 22
        assert by_version[version]["mae"] == pytest.approx(sum(abs(e) for e in errors) / len(errors))
        assert by_version[version]["rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / len(errors)))
        assert by_version[version]["accuracy"] is None and by_version[version]["f1"] is None
    # The challenger's smaller errors put it first.
    assert [v["version"] for v in body["versions"]] == [5, 4]
