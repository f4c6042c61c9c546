"""GET …/requests/<request_id>: the Decision as DESIGN §6 shapes it, and only for the token's tenant."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from controlplane.decisions.services import decisions_store
from controlplane.routing.models import Service
from tests.controlplane.decisions.builders import decision_for
from tests.factories import ServiceFactory, TenantFactory

pytestmark = pytest.mark.django_db


def _url(service: Service, request_id: str, tenant: str | None = None) -> str:
    return f"/api/v1/tenants/{tenant or service.tenant.slug}/services/{service.slug}/requests/{request_id}"


def test_answers_the_result_fields_and_every_candidate(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    decisions_store(decisions=[decision_for(service, "req-1")])

    response = client_for(service.tenant, scopes=("read",)).get(_url(service, "req-1"))

    assert response.status_code == 200
    assert response.json() == {
        "request_id": "req-1",
        "status": "ok",
        "output": {"label": 0},
        "model": "iris",
        "version": 1,
        "reason": "champion",
        "latency_ms": 6.0,
        "config_revision": 3,
        "candidates": [
            {"model": "iris", "version": 1, "role": "champion", "status": "ok", "output": {"label": 0},
             "error": None, "latency_ms": 0.42, "late": False, "demoted": None},
            {"model": "iris", "version": 2, "role": "challenger", "status": "missing", "output": None,
             "error": None, "latency_ms": None, "late": False, "demoted": None},
            {"model": "iris", "version": 3, "role": "fallback", "status": "error", "output": None,
             "error": "boom", "latency_ms": 250.0, "late": True,
             "demoted": "error rate 62% over its last 50 requests"},
        ],
    }


def test_a_timeout_has_no_model(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    decisions_store(
        decisions=[decision_for(service, "req-1", status="timeout", output=None, model=None, version=None,
                                reason="deadline", latency_ms=200.0, candidates=[])]
    )

    body = client_for(service.tenant).get(_url(service, "req-1")).json()

    assert (body["status"], body["model"], body["version"], body["output"]) == ("timeout", None, None, None)
    assert body["candidates"] == []


def test_unknown_request_or_service_is_a_json_404(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    client = client_for(service.tenant)

    unknown_request = client.get(_url(service, "never-decided"))
    unknown_service = client.get(f"/api/v1/tenants/{service.tenant.slug}/services/s-nothing/requests/req-1")

    assert unknown_request.status_code == 404 and unknown_request.json()["error"] == "not_found"
    assert "never-decided" in unknown_request.json()["detail"]
    assert unknown_service.status_code == 404 and unknown_service.json()["error"] == "not_found"


def test_another_tenants_token_is_403_even_for_a_known_request(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    decisions_store(decisions=[decision_for(service, "req-1")])

    response = client_for(TenantFactory()).get(_url(service, "req-1"))

    assert response.status_code == 403 and response.json()["error"] == "forbidden"


def test_same_request_id_in_another_tenants_service_is_not_visible(client_for) -> None:  # noqa: ANN001
    mine, theirs = ServiceFactory(), ServiceFactory()
    decisions_store(decisions=[decision_for(theirs, "req-1")])

    response = client_for(mine.tenant).get(_url(theirs, "req-1", tenant=mine.tenant.slug))

    assert response.status_code == 404


def test_needs_the_read_scope_and_a_token(client_for) -> None:  # noqa: ANN001
    service = ServiceFactory()
    decisions_store(decisions=[decision_for(service, "req-1")])

    predict_only = client_for(service.tenant, scopes=("predict",)).get(_url(service, "req-1"))
    anonymous = APIClient().get(_url(service, "req-1"))

    assert predict_only.status_code == 403 and "read" in predict_only.json()["detail"]
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "not_authenticated"


def test_schema_documents_the_decision_lookup() -> None:
    document = Client().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    operation = document["paths"]["/api/v1/tenants/{tenant}/services/{service}/requests/{request_id}"]["get"]
    schema_ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    decision = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(decision["properties"]) == {
        "request_id", "status", "output", "model", "version", "reason", "latency_ms", "config_revision", "candidates",
    }
