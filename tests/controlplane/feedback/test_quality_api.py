"""GET …/quality: the league table over stored decisions and labels, its window, and who may read it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from contracts import Candidate
from controlplane.decisions.services import decisions_store
from controlplane.feedback.models import Feedback
from controlplane.feedback.quality import Quality, labelled_decisions, quality_by_version, tally_labelled
from controlplane.routing.models import Service
from tests.controlplane.decisions.builders import decision_for
from tests.factories import ServiceFactory, TenantFactory

pytestmark = pytest.mark.django_db


def _url(service: Service, window: str | None = None) -> str:
    query = "" if window is None else f"?window={window}"
    return f"/api/v1/tenants/{service.tenant.slug}/services/{service.slug}/quality{query}"


def _decided(service: Service, request_id: str, champion: str, challenger: str, *, age_s: float = 0.0) -> None:
    decisions_store(decisions=[decision_for(
        service,
        request_id,
        decided_at=time.time() - age_s,
        candidates=[
            Candidate(model="iris", version=1, role="champion", status="ok", output={"label": champion}),
            Candidate(model="iris", version=2, role="challenger", status="ok", output={"label": challenger}),
        ],
    )])


def _label(service: Service, request_id: str, label: object) -> None:
    Feedback.objects.create(service=service, request_id=request_id, label=label)


def test_the_league_table_ranks_versions_over_the_labelled_decisions_of_the_window(
    client_for: Callable[..., APIClient],
) -> None:
    service = ServiceFactory()
    # r1..r4 labelled: the champion is right on r1, r2; the challenger on r1, r2, r3.
    for request_id, champion, challenger, truth in [
        ("r1", "a", "a", "a"), ("r2", "b", "b", "b"), ("r3", "a", "b", "b"), ("r4", "a", "b", "c"),
    ]:
        _decided(service, request_id, champion, challenger)
        _label(service, request_id, truth)
    _decided(service, "unlabelled", "a", "a")
    # Decided two hours ago: inside 7d, outside 1h.
    _decided(service, "old", "a", "a", age_s=7200)
    _label(service, "old", "a")
    # A label whose decision has not arrived yet: joins nothing, for now.
    _label(service, "pending", "a")

    week = client_for(service.tenant, scopes=("read",)).get(_url(service))
    hour = client_for(service.tenant, scopes=("read",)).get(_url(service, "1h"))

    assert week.status_code == 200, week.json()
    body = week.json()
    assert body["window"] == "7d" and body["labelled_requests"] == 5
    assert [(v["rank"], v["version"], v["roles"], v["labelled"]) for v in body["versions"]] == [
        (1, 2, ["challenger"], 5), (2, 1, ["champion"], 5),
    ]
    assert body["versions"][0]["accuracy"] == pytest.approx(4 / 5)
    assert body["versions"][1]["accuracy"] == pytest.approx(3 / 5)
    assert body["versions"][0]["mae"] is None and body["versions"][0]["rmse"] is None
    hourly = {v["version"]: v for v in hour.json()["versions"]}
    assert hour.json()["labelled_requests"] == 4
    assert hourly[1]["accuracy"] == pytest.approx(2 / 4) and hourly[2]["accuracy"] == pytest.approx(3 / 4)


def test_quality_by_version_is_what_the_metrics_endpoint_reads() -> None:
    service = ServiceFactory()
    _decided(service, "r1", "a", "b")
    _label(service, "r1", "b")
    now = timezone.now()

    qualities = quality_by_version(service, now - timedelta(minutes=5), now + timedelta(seconds=1))
    nothing = quality_by_version(service, now - timedelta(days=2), now - timedelta(days=1))

    assert qualities == {
        ("iris", 1): Quality(labelled=1, accuracy=0.0, f1=0.0, mae=None, rmse=None),
        ("iris", 2): Quality(labelled=1, accuracy=1.0, f1=1.0, mae=None, rmse=None),
    }
    assert nothing == {}


def test_the_database_grouping_counts_exactly_what_the_plain_count_does() -> None:
    """PostgreSQL groups identical answers in the query; the plain path (SQLite) counts each candidate."""
    service = ServiceFactory()
    outputs: list[tuple[object, list[Candidate]]] = [
        (2, [Candidate(model="c", version=1, role="champion", status="ok", output={"label": 2.0}),
             Candidate(model="c", version=2, role="challenger", status="ok", output={"label": 1, "probabilities": {}}),
             Candidate(model="c", version=3, role="canary", status="error", error="x"),
             Candidate(model="c", version=4, role="decoy", status="missing")]),
        (True, [Candidate(model="c", version=1, role="champion", status="ok", output={"label": 1}),
                Candidate(model="c", version=2, role="fallback", status="ok", output={"label": True})]),
        ("x", [Candidate(model="c", version=1, role="champion", status="ok", output={"label": "x"}),
               Candidate(model="c", version=2, role="challenger", status="ok", output={"label": None})]),
        (1.5, [Candidate(model="r", version=1, role="champion", status="ok", output={"value": 2}),
               Candidate(model="r", version=2, role="challenger", status="ok", output={"value": 1.25}),
               Candidate(model="r", version=3, role="challenger", status="ok", output={"raw": [0.1, 0.9]})]),
        (2.5, [Candidate(model="r", version=1, role="champion", status="ok", output={"value": 2}),
               Candidate(model="r", version=2, role="challenger", status="ok", output={"value": 3.5})]),
    ]
    for number, (label, candidates) in enumerate(outputs * 3):
        decisions_store(decisions=[decision_for(service, f"r{number}", candidates=candidates)])
        _label(service, f"r{number}", label)
    now = timezone.now()
    since, until = now - timedelta(minutes=5), now + timedelta(seconds=1)

    grouped = quality_by_version(service, since, until)
    plain = {
        key: tally.quality()
        for key, tally in tally_labelled(labelled_decisions(service=service, since=since, until=until)).items()
    }

    assert grouped == plain
    assert set(grouped) == {("c", 1), ("c", 2), ("c", 3), ("r", 1), ("r", 2), ("r", 3)}
    assert grouped[("c", 1)].labelled == 9 and grouped[("c", 1)].accuracy == pytest.approx(2 / 3)
    assert grouped[("r", 2)].mae == pytest.approx(0.625) and grouped[("r", 3)].labelled == 0


@pytest.mark.parametrize("window", ["7", "0d", "-1h", "1w", "1.5h", "91d", "2161h", "1d1h", "abc", "99999999m"])
def test_a_bad_window_is_400(client_for: Callable[..., APIClient], window: str) -> None:
    service = ServiceFactory()

    response = client_for(service.tenant, scopes=("read",)).get(_url(service, window))

    assert response.status_code == 400 and response.json()["error"] == "invalid"
    assert "window" in response.json()["detail"]


@pytest.mark.parametrize("window", ["15m", "1h", "90d", "2160h"])
def test_good_windows(client_for: Callable[..., APIClient], window: str) -> None:
    service = ServiceFactory()

    response = client_for(service.tenant, scopes=("read",)).get(_url(service, window))

    assert response.status_code == 200 and response.json()["window"] == window
    assert response.json()["versions"] == [] and response.json()["labelled_requests"] == 0


def test_another_tenant_can_neither_label_nor_read_a_service(client_for: Callable[..., APIClient]) -> None:
    victim = ServiceFactory()
    _decided(victim, "r1", "a", "b")
    _label(victim, "r1", "a")
    attacker = TenantFactory()
    # The attacker's own service with the victim's slug: its URL must reach its own, empty, service.
    namesake = ServiceFactory(tenant=attacker, slug=victim.slug)
    client = client_for(attacker, scopes=("read", "predict", "deploy", "admin"))
    feedback = f"/api/v1/tenants/{victim.tenant.slug}/services/{victim.slug}/feedback"

    foreign_read = client.get(_url(victim))
    foreign_write = client.post(feedback, {"request_id": "r1", "label": "b"}, format="json")
    # The victim's service under the attacker's tenant path: not found.
    unknown_read = client.get(f"/api/v1/tenants/{attacker.slug}/services/{victim.slug}x/quality")
    own = client.get(_url(namesake))
    own_label = client.post(_url(namesake).replace("/quality", "/feedback"), {"request_id": "r1", "label": "b"},
                            format="json")

    assert foreign_read.status_code == 403 and foreign_write.status_code == 403
    assert "versions" not in foreign_read.json()
    assert unknown_read.status_code == 404
    assert own.status_code == 200 and own.json()["versions"] == []
    assert own_label.status_code == 202
    assert Feedback.objects.get(service=victim, request_id="r1").label == "a"
    assert client_for(victim.tenant, scopes=("read",)).get(_url(victim)).json()["versions"][0]["labelled"] == 1


def test_reading_quality_needs_the_read_scope(client_for: Callable[..., APIClient]) -> None:
    service = ServiceFactory()

    response = client_for(service.tenant, scopes=("predict",)).get(_url(service))

    assert response.status_code == 403
