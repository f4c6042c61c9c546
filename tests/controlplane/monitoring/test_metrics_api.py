"""GET …/metrics?window=: the shape, the window's validation, and only for the token's own tenant."""

from __future__ import annotations

import time

import pytest

from controlplane.monitoring.services import RecordDecisions, rollups_store
from controlplane.routing.models import Service
from tests.controlplane.monitoring.builders import assert_metrics_match, random_decisions
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def _url(service: Service, window: str | None = None, tenant: str | None = None) -> str:
    query = f"?window={window}" if window is not None else ""
    return f"/api/v1/tenants/{tenant or service.tenant.slug}/services/{service.slug}/metrics{query}"


def _store(service: Service, count: int, seed: int) -> list:
    decisions = random_decisions(service.tenant.slug, service.slug, count, seed=seed, decided_at=time.time() - 5)
    topic = f"rdv.{service.tenant.slug}.{service.slug}.decisions"
    rollups_store(records=[RecordDecisions(service.pk, topic, 0, 0, decisions)])
    return decisions


def test_answers_every_deployment_with_its_numbers(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    decisions = _store(service, 200, seed=1)

    response = client_for(service.tenant, scopes=("read",)).get(_url(service, "15m"))

    assert response.status_code == 200
    body = response.json()
    assert body["window"] == "15m" and body["relative_accuracy"] == 0.01
    assert [(d["model"], d["version"], d["role"]) for d in body["deployments"]] == [
        ("iris", 1, "champion"), ("iris", 2, "challenger"), ("tree", 4, "fallback")
    ]
    assert_metrics_match(body, decisions, body["relative_accuracy"])


def test_no_decisions_no_deployments_and_the_default_window_is_an_hour(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    body = client_for(service.tenant, scopes=("read",)).get(_url(service)).json()
    assert body["window"] == "1h" and body["deployments"] == []


@pytest.mark.parametrize("window", ["15", "1w", "0h", "1.5h", "91d", "abc"])
def test_a_bad_window_is_a_400_that_says_why(client_for, window: str) -> None:  # noqa: ANN001
    service = ServiceFactory()
    response = client_for(service.tenant, scopes=("read",)).get(_url(service, window))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid" and "window" in response.json()["detail"]


def test_another_tenants_service_is_not_found_even_with_its_slug(client_for) -> None:  # noqa: ANN001
    victim = ServiceFactory()
    _store(victim, 20, seed=2)
    attacker = ServiceFactory(slug=victim.slug)  # same service slug, another tenant
    client = client_for(attacker.tenant, scopes=("read", "admin"))

    # Through the attacker's own tenant path: its own (empty) service, never the victim's numbers.
    assert client.get(_url(attacker, "1h")).json()["deployments"] == []
    # Through the victim's tenant path: refused before anything is read (tenants are public slugs: 403).
    refused = client.get(_url(victim, "1h"))
    assert refused.status_code == 403 and "deployments" not in refused.json()
    # A service slug of the victim's only, under the attacker's tenant: 404.
    other = ServiceFactory(tenant=victim.tenant)
    assert client.get(_url(other, "1h", tenant=attacker.tenant.slug)).status_code == 404


def test_the_read_scope_is_needed(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    assert client_for(service.tenant, scopes=("predict",)).get(_url(service)).status_code == 403


def test_labelled_feedback_fills_each_versions_accuracy(client_for) -> None:  # noqa: ANN001
    """The quality fields come from the labels joined to the decision records (controlplane.feedback.quality)."""
    from controlplane.decisions.services import decisions_store
    from controlplane.feedback.models import Feedback

    service = ServiceFactory()
    decisions = _store(service, 60, seed=3)
    decisions_store(decisions=decisions)
    truth = {d.request_id: 1 for d in decisions[:40]}
    Feedback.objects.bulk_create(
        [Feedback(service=service, request_id=rid, label=label) for rid, label in truth.items()]
    )

    body = client_for(service.tenant, scopes=("read",)).get(_url(service, "15m")).json()

    by_version = {(d["model"], d["version"]): d for d in body["deployments"]}
    for (model, version), numbers in by_version.items():
        outputs = [c.output["label"] for d in decisions[:40] for c in d.candidates
                   if (c.model, c.version) == (model, version) and c.status == "ok"]
        assert numbers["labelled"] == len(outputs)
        assert numbers["accuracy"] == pytest.approx(sum(o == 1 for o in outputs) / len(outputs))
        assert numbers["mae"] is None and numbers["rmse"] is None
